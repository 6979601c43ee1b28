package netqueue

/*
#include <netqueue/netqueue.h>

// The events-only receive, posted to the receive completion queue under
// tag 0 (receives for Get use tags from 1).
static nq_status nqgo_arm_events(nq_comm *c, nq_cq *cq)
{
	return nq_comm_get_kinds_cq(c, NQ_KINDS_EVENTS, NULL, 0, NQ_FOREVER, cq, 0, NULL);
}
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
		b.events = true
		return C.nq_options_set_events(b.o, mask)
	}
}

// EventsBuffer is the capacity of the Events channel. While it is full the
// binding does not ask the library for more events, so further events wait
// in the library's receive queue (bounded by WithQueueLimit) until the
// program reads: nothing is dropped, and nothing grows without bound.
const EventsBuffer = 128

// eventsBuffer is EventsBuffer; the tests lower it.
var eventsBuffer = EventsBuffer

// evResult is the completion of the events-only receive as the receive
// drain hands it on (already copied: it holds nothing of C's).
type evResult struct {
	ev Event
	ok bool // false: the receive ended without an event (closed)
}

// events is the events side of a communicator. With WithEvents, one
// events-only receive (nq_comm_get_kinds_cq, NQ_KINDS_EVENTS, tag 0) is
// pending from New until Close; the receive drain hands its completion to
// the pump goroutine, which puts the event on ch and only then posts the
// next receive. So events never wait for a Get, data receives (which
// accept NQ_KINDS_DATA only) never see one, and at most one event is in
// flight between C and ch.
type events struct {
	on      bool
	ch      chan Event
	in      chan evResult // drain -> pump; one receive pending at a time
	closing chan struct{} // Close: nq_comm_close has returned
	settled chan struct{} // pump: ended, or blocked on a full ch after closing
	stop    chan struct{} // Close: the communicator is freed; give up
	done    chan struct{} // pump has returned (and closed ch)
	settle  func()
}

func (e *events) init(on bool) {
	e.on = on
	if !on {
		e.ch = make(chan Event) // closed by Close; nothing is ever sent
		return
	}
	e.ch = make(chan Event, eventsBuffer)
	e.in = make(chan evResult, 1)
	e.closing = make(chan struct{})
	e.settled = make(chan struct{})
	e.stop = make(chan struct{})
	e.done = make(chan struct{})
	e.settle = sync.OnceFunc(func() { close(e.settled) })
}

// armEvents posts the events-only receive; false once the communicator is
// freed (or the library refused, which ends the events too).
func (m *Comm) armEvents() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return false
	}
	return C.nqgo_arm_events(m.c, m.rcq) == C.NQ_OK
}

// pumpEvents puts each event on the channel, then asks for the next one:
// while the channel is full no receive is pending, so the next events stay
// queued in the library (bounded by its queue limit) until the program
// reads. It closes the channel when the events end: after Close, once the
// library has no more (NQ_ECLOSED) or, if the channel is full then, when
// Close has freed the communicator (the events not yet on the channel are
// dropped with the messages not yet got).
func (m *Comm) pumpEvents() {
	e := &m.ev
	defer close(e.done)
	defer close(e.ch)
	defer e.settle()
	for {
		var r evResult
		select {
		case r = <-e.in:
		case <-e.stop:
			return
		}
		if !r.ok {
			return
		}
		select {
		case e.ch <- r.ev:
		default: // full: the program is behind; wait for it, not for C
			select {
			case e.ch <- r.ev:
			case <-e.closing:
				e.settle() // Close need not wait for the reader
				select {
				case e.ch <- r.ev:
				case <-e.stop:
					return
				}
			}
		}
		if !m.armEvents() {
			return
		}
	}
}

// Events is the channel of the peer events enabled with WithEvents, in the
// order they happened.
//
// The binding keeps an events-only receive pending from New to Close, so
// events come whether or not anything receives data, and Get and Messages
// never return or wait behind one. The cost of that independence: events
// are in order among themselves, not with the data. A peer's connected
// event may come on the channel after its first message was got, and its
// finished (or lost) event while its last messages are still queued for
// Get.
//
// The channel holds EventsBuffer events; while it is full, further events
// wait in the library's receive queue, where they count against
// WithQueueLimit (with the blocking queue policy a queue full of unread
// events stops reading from peers, data included), so a program that
// enables events should read them. Without WithEvents nothing is ever
// sent. The channel is closed by Close: the events that happened before
// Close are delivered as far as the channel has room, then it is closed
// once they have been read.
func (m *Comm) Events() <-chan Event { return m.ev.ch }
