package netqueue

// Message is one received message. Data is a Go copy of the payload, so a
// Message needs no freeing.
type Message struct {
	Peer  ID     // the sender
	Data  []byte // the payload
	codec Codec
}

// Text is the payload as a string (raw codec).
func (m *Message) Text() string { return string(m.Data) }
