// The session handshake: ini, data and fin frames, in both dialects
// (docs/protocol.md §3, wire-protocol.md §2).
package nq

import "bytes"

// Dialect selects the fin frame.
type Dialect int

const (
	// Current (net-queue 1.x/2.x): fin is the sender's id again.
	Current Dialect = iota
	// Legacy (net-queue 0.1.x): fin is an empty frame.
	Legacy
)

// Kind is what a frame after the peer's ini is taken as.
type Kind int

const (
	Data Kind = iota
	Fin
)

// Classify tells a frame received after the peer's ini apart: in the
// current dialect only a 16-byte frame equal to the peer's id is fin (any
// other 16 bytes, and an empty frame, are data); in the legacy dialect
// only an empty frame is.
func Classify(d Dialect, peer ID, payload []byte) Kind {
	if d == Legacy {
		if len(payload) == 0 {
			return Fin
		}
		return Data
	}
	if bytes.Equal(payload, peer[:]) {
		return Fin
	}
	return Data
}

// IsIni says whether a connection's first frame can be the peer's ini:
// exactly 16 bytes, any content.
func IsIni(payload []byte) bool { return len(payload) == len(ID{}) }

// FinPayload is the payload of our fin.
func FinPayload(d Dialect, own ID) []byte {
	if d == Legacy {
		return []byte{}
	}
	return append([]byte(nil), own[:]...)
}
