package netqueue

/*
#include <netqueue/netqueue.h>
*/
import "C"

import "unsafe"

// Message is one received message. Data is a Go copy of the payload, so a
// Message needs no freeing.
type Message struct {
	Peer  ID     // the sender
	Data  []byte // the payload
	codec Codec
}

// takeMessage copies msg into Go memory and frees it.
func takeMessage(msg *C.nq_msg, codec Codec) *Message {
	defer C.nq_msg_free(msg)
	m := &Message{codec: codec}
	C.nq_msg_peer(msg, (*C.uint8_t)(unsafe.Pointer(&m.Peer[0])))
	if n := C.nq_msg_size(msg); n > 0 {
		m.Data = C.GoBytes(C.nq_msg_data(msg), C.int(n))
	} else {
		m.Data = []byte{}
	}
	return m
}

// Text is the payload as a string (raw codec).
func (m *Message) Text() string { return string(m.Data) }
