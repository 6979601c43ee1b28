package netqueue

/*
#include <netqueue/netqueue.h>
*/
import "C"

import "sync"

// EventKind is what happened to a peer (nq_msg_kind).
type EventKind int

// Peer events, opt-in with WithEvents.
const (
	// EventConnected: the peer's ini arrived; its session (re)starts.
	EventConnected EventKind = C.NQ_EVENT_CONNECTED
	// EventFinished: the peer's fin arrived, after its last message.
	EventFinished EventKind = C.NQ_EVENT_FINISHED
	// EventLost: the connection went away without fin (Detail: the cause).
	EventLost EventKind = C.NQ_EVENT_LOST
	// EventExpired: a lost peer did not come back within the linger.
	EventExpired EventKind = C.NQ_EVENT_EXPIRED
	// EventRefused: a connection failed its handshake before any peer id
	// was known (Peer is zero; Detail names the connection and cause).
	EventRefused EventKind = C.NQ_EVENT_REFUSED
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "connected"
	case EventFinished:
		return "finished"
	case EventLost:
		return "lost"
	case EventExpired:
		return "expired"
	case EventRefused:
		return "refused"
	}
	return "unknown"
}

// Event is a peer event.
type Event struct {
	Kind   EventKind
	Peer   ID
	Detail string
}

// WithEvents makes the communicator report the peer events of the kinds
// given (every kind if none) on its Events channel. Default: none.
func WithEvents(kinds ...EventKind) Option {
	return func(b *builder) C.nq_status {
		mask := C.uint(C.NQ_EVENTS_ALL)
		if len(kinds) > 0 {
			mask = 0
			for _, k := range kinds {
				if k < EventConnected || k > EventRefused {
					return b.refuse("no event kind %d", int(k))
				}
				mask |= 1 << uint(k)
			}
		}
		return C.nq_options_set_events(b.o, mask)
	}
}

// eventQueue holds events between the receiver that met them and the
// Events channel, without bound, so a receiver never waits for the
// program to read events.
type eventQueue struct {
	mu     sync.Mutex
	q      []Event
	wake   chan struct{} // one token: the queue has news
	closed bool
	once   sync.Once
	ch     chan Event
}

func (e *eventQueue) init() { e.wake = make(chan struct{}, 1) }

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	e.q = append(e.q, ev)
	e.mu.Unlock()
	e.poke()
}

func (e *eventQueue) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.poke()
}

// Events is the channel of the peer events enabled with WithEvents, in the
// order they happened and in order with the data of the same peer.
//
// Events share the receive queue with data: they are taken by whatever
// receives (Get, Messages), which hands them here and goes on waiting for
// data. A program that wants events but no data still needs a receiver
// running (for instance a Messages stream it drains). The channel is
// closed after Close, once every event queued before has been read.
func (m *Comm) Events() <-chan Event {
	e := &m.events
	e.once.Do(func() {
		e.ch = make(chan Event)
		go func() {
			defer close(e.ch)
			for {
				e.mu.Lock()
				q, closed := e.q, e.closed
				e.q = nil
				e.mu.Unlock()
				for _, ev := range q {
					e.ch <- ev
				}
				if closed && len(q) == 0 {
					return
				}
				if len(q) == 0 {
					<-e.wake
				}
			}
		}()
	})
	return e.ch
}
