package nq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func header(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func TestAppendFrameWire(t *testing.T) {
	// wire-protocol.md: pickle of b"abc" framed.
	payload := []byte{0x80, 0x05, 0x95, 0x07, 0, 0, 0, 0, 0, 0, 0, 0x43, 0x03, 'a', 'b', 'c', 0x94, 0x2e}
	got := AppendFrame(nil, payload)
	want := append([]byte{0, 0, 0, 0, 0, 0, 0, 0x12}, payload...)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame = %x, want %x", got, want)
	}
	if got := AppendFrame(nil, nil); !bytes.Equal(got, make([]byte, 8)) {
		t.Fatalf("empty frame = %x, want the bare header", got)
	}
}

// Frames of several sizes, the stream handed over one byte per read and
// in one piece: the same messages come out, then a clean EOF.
func TestFrameReaderReassembles(t *testing.T) {
	sizes := []int{0, 1, 15, 16, 17, 70000, 3}
	var stream []byte
	for i, n := range sizes {
		stream = AppendFrame(stream, bytes.Repeat([]byte{byte(i + 1)}, n))
	}
	for _, name := range []string{"one-byte-reads", "one-piece"} {
		var r io.Reader = bytes.NewReader(stream)
		if name == "one-byte-reads" {
			r = iotest.OneByteReader(r)
		}
		fr := NewFrameReader(r, DefaultMessageLimit)
		for i, n := range sizes {
			p, err := fr.Next()
			if err != nil {
				t.Fatalf("%s: frame %d: %v", name, i, err)
			}
			if !bytes.Equal(p, bytes.Repeat([]byte{byte(i + 1)}, n)) {
				t.Fatalf("%s: frame %d: %d bytes, want %d of %d", name, i, len(p), n, i+1)
			}
		}
		if _, err := fr.Next(); err != io.EOF {
			t.Fatalf("%s: after the last frame: %v, want io.EOF", name, err)
		}
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	full := AppendFrame(nil, []byte("hello"))
	for cut := 1; cut < len(full); cut++ {
		fr := NewFrameReader(bytes.NewReader(full[:cut]), DefaultMessageLimit)
		if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("stream cut after %d bytes: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

// Lengths above the limit, including absurd ones, are refused from the
// header alone: nothing is allocated for them.
func TestFrameReaderTooBig(t *testing.T) {
	for _, n := range []uint64{1<<30 + 1, 1<<63 + 1, 1<<64 - 1} {
		fr := NewFrameReader(bytes.NewReader(header(n)), DefaultMessageLimit)
		if _, err := fr.Next(); !errors.Is(err, ErrTooBig) {
			t.Fatalf("length %d: %v, want ErrTooBig", n, err)
		}
	}
	fr := NewFrameReader(bytes.NewReader(AppendFrame(nil, make([]byte, 17))), 16)
	if _, err := fr.Next(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("17 bytes with limit 16: %v, want ErrTooBig", err)
	}
}

// A header declaring more than is trusted up front, whose bytes never
// come, ends with io.ErrUnexpectedEOF rather than a big allocation.
func TestFrameReaderLyingHeader(t *testing.T) {
	stream := append(header(1<<29), make([]byte, 100)...)
	fr := NewFrameReader(bytes.NewReader(stream), DefaultMessageLimit)
	if _, err := fr.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("%v, want io.ErrUnexpectedEOF", err)
	}
}

func TestFrameReaderBig(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (16<<20)/16+1) // 16 MiB + 16
	fr := NewFrameReader(bytes.NewReader(AppendFrame(nil, big)), DefaultMessageLimit)
	p, err := fr.Next()
	if err != nil || !bytes.Equal(p, big) {
		t.Fatalf("16 MiB + 16 bytes: err %v, %d bytes back", err, len(p))
	}
}

func TestClassify(t *testing.T) {
	peer := ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	other := ID{16}
	cases := []struct {
		name    string
		d       Dialect
		payload []byte
		want    Kind
	}{
		{"current: the peer's id is fin", Current, peer[:], Fin},
		{"current: other 16 bytes are data", Current, other[:], Data},
		{"current: empty is data", Current, nil, Data},
		{"current: 17 bytes are data", Current, append(peer[:], 0), Data},
		{"legacy: empty is fin", Legacy, []byte{}, Fin},
		{"legacy: the peer's id is data", Legacy, peer[:], Data},
	}
	for _, c := range cases {
		if got := Classify(c.d, peer, c.payload); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if !IsIni(other[:]) || IsIni(nil) || IsIni(make([]byte, 17)) {
		t.Error("IsIni: only 16 bytes can be an ini")
	}
	own := NewID()
	if f := FinPayload(Current, own); !bytes.Equal(f, own[:]) {
		t.Errorf("current fin = %x, want our id", f)
	}
	if f := FinPayload(Legacy, own); len(f) != 0 {
		t.Errorf("legacy fin = %x, want empty", f)
	}
}

func TestIDHex(t *testing.T) {
	id := NewID()
	back, err := ParseID(id.Hex())
	if err != nil || back != id || len(id.Hex()) != 32 {
		t.Fatalf("%s -> %v, %v", id.Hex(), back, err)
	}
	if id[6]>>4 != 4 || id[8]>>6 != 2 {
		t.Fatalf("%s is not a version-4 UUID", id.Hex())
	}
	for _, bad := range []string{"", "zz", id.Hex()[:30], id.Hex() + "00"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}
