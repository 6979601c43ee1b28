package netqueue

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// IDSize is the length of a communicator id (a UUID).
const IDSize = 16

// ID is a communicator id: 16 bytes, a UUID in RFC 4122 byte order.
type ID [IDSize]byte

// String is the id as 32 lowercase hex digits, as the nq tool prints it.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads 32 hex digits (dashes ignored).
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != IDSize {
		return id, fmt.Errorf("netqueue: id %q is not 32 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}
