// Framing: each direction of a connection is a stream of frames, an
// unsigned 64-bit big-endian payload length followed by the payload
// (docs/protocol.md §2.1, wire-protocol.md §1).
package nq

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the size of a frame header (the payload length).
const HeaderSize = 8

// DefaultMessageLimit is the largest payload a FrameReader accepts unless
// told otherwise (1 GiB, netqueue's default, docs/protocol.md §8.1).
const DefaultMessageLimit = 1 << 30

// trustedAlloc is how much of a declared length is allocated before the
// bytes arrive: a lying header must not cost its declared size.
const trustedAlloc = 8 << 20

// ErrTooBig is returned for a header declaring more than the limit.
var ErrTooBig = errors.New("frame length above the message limit")

// AppendFrame appends the frame carrying payload (header and bytes) to dst.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(payload)))
	return append(dst, payload...)
}

// FrameReader reassembles frames from a byte stream cut anywhere.
type FrameReader struct {
	r     *bufio.Reader
	limit uint64
}

// NewFrameReader reads frames from r, refusing payloads above limit bytes.
func NewFrameReader(r io.Reader, limit uint64) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), limit: limit}
}

// Next returns the next frame's payload. io.EOF means the stream ended
// cleanly between frames; io.ErrUnexpectedEOF that it ended inside one;
// an error wrapping ErrTooBig that the header declared too much (nothing
// of that frame was read past its header).
func (fr *FrameReader) Next() ([]byte, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint64(hdr[:])
	if n > fr.limit {
		return nil, fmt.Errorf("%w: %d > %d", ErrTooBig, n, fr.limit)
	}
	if n <= trustedAlloc {
		buf := make([]byte, n)
		if _, err := io.ReadFull(fr.r, buf); err != nil {
			return nil, unexpected(err)
		}
		return buf, nil
	}
	// Grows as bytes arrive, never past n.
	var b bytes.Buffer
	b.Grow(trustedAlloc)
	got, err := io.CopyN(&b, fr.r, int64(n))
	if got < int64(n) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, unexpected(err)
	}
	return b.Bytes(), nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
