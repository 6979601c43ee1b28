package nq

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// ID is a communicator's 16-byte id (a UUID, raw bytes in RFC 4122 order).
type ID [16]byte

// NewID draws a random version-4 UUID.
func NewID() ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// Hex is the id as 32 lowercase hex digits (the adapter protocol's form).
func (id ID) Hex() string { return hex.EncodeToString(id[:]) }

// ParseID reads 32 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad peer id %q: want 32 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}
