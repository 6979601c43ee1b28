// Sessions: what one side keeps per peer — the frames queued for it, the
// connection carrying it, and where its fin exchange stands
// (docs/protocol.md §1, §3, §5.2).
package nq

import (
	"errors"
	"sync"
)

// Errors a put completes with.
var (
	ErrNoPeer   = errors.New("no session with that peer")
	ErrCanceled = errors.New("canceled: the communicator was closed before the frame was sent")
	ErrReset    = errors.New("the peer's session was lost before the frame was sent")
	ErrRefused  = errors.New("refused: the communicator is closing or its session ended")
)

// PutFunc receives a put's outcome (nil: every target's frame was handed
// to its connection). It may run on any goroutine, exactly once.
type PutFunc func(err error)

// putOp counts a put's targets still to be written.
type putOp struct {
	remaining int
	err       error
	done      PutFunc
}

// settle records one target's outcome; it returns the callback to run
// (outside the lock) once every target is settled.
func (op *putOp) settle(err error) func() {
	if err != nil && op.err == nil {
		op.err = err
	}
	op.remaining--
	if op.remaining > 0 {
		return nil
	}
	e := op.err
	return func() { op.done(e) }
}

// outFrame is one frame queued for one peer; a broadcast shares data.
type outFrame struct {
	data []byte // header and payload
	put  *putOp // nil for ini and fin
	fin  bool
}

// session is one peer's state. Every field is guarded by the owning
// communicator's mutex.
type session struct {
	peer      ID // a client learns it from the server's ini
	queue     []*outFrame
	link      *link
	finQueued bool // our fin is queued (or sent): no more puts to it
	finSent   bool
	finRecv   bool
	ended     bool // fin both ways and nothing left: the link is cut
}

func (s *session) push(f *outFrame) { s.queue = append(s.queue, f) }

// pushFront puts a frame ahead of everything queued (our ini on a new
// connection); only while no writer runs for the session.
func (s *session) pushFront(f *outFrame) {
	s.queue = append([]*outFrame{f}, s.queue...)
}

func (s *session) queueFin(d Dialect, own ID) {
	s.finQueued = true
	s.push(&outFrame{data: AppendFrame(nil, FinPayload(d, own)), fin: true})
}

// checkEnd marks the session ended once fin went both ways and nothing is
// left to send (the link is then cut, no half-close).
func (s *session) checkEnd() bool {
	if !s.ended && s.finSent && s.finRecv && len(s.queue) == 0 {
		s.ended = true
	}
	return s.ended
}

// failAll completes every queued put with err and empties the queue; it
// returns the callbacks to run outside the lock.
func (s *session) failAll(err error) []func() {
	var calls []func()
	for _, f := range s.queue {
		if f.put != nil {
			if c := f.put.settle(err); c != nil {
				calls = append(calls, c)
			}
		}
	}
	s.queue = nil
	return calls
}

func runAll(calls []func()) {
	for _, c := range calls {
		c()
	}
}

// signal lets goroutines wait for "something changed" with a deadline
// (a sync.Cond cannot time out).
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next notify.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
