// The receive queue: messages from every peer in arrival order, handed to
// gets in the order the gets were made.
package nq

import (
	"errors"
	"sync"
	"time"
)

// ErrTimeout and ErrClosed end a get without a message.
var (
	ErrTimeout = errors.New("timeout")
	ErrClosed  = errors.New("closed")
)

// Message is one received message.
type Message struct {
	Peer ID
	Data []byte
}

// GetFunc receives a get's outcome: a message, or ErrTimeout / ErrClosed.
type GetFunc func(m *Message, err error)

type waiter struct {
	peers []ID
	done  GetFunc
	timer *time.Timer
}

// stop disarms the timer of a waiter taken off the list: whoever takes it
// off (under the lock) answers it, so a timer that already fired finds it
// gone and stays silent.
func (w *waiter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *waiter) wants(p ID) bool {
	if len(w.peers) == 0 {
		return true
	}
	for _, q := range w.peers {
		if q == p {
			return true
		}
	}
	return false
}

// QueueLimit is how much queued messages may cost (payload plus
// msgOverhead each) before Push blocks: a peer that sends faster than
// gets take is pushed back through TCP flow control, nothing is dropped
// (as netqueue's default, docs/protocol.md §7.2).
const (
	QueueLimit  = 64 << 20
	msgOverhead = 100
)

// RecvQueue holds received messages and waiting gets. The zero value is
// ready to use.
type RecvQueue struct {
	mu      sync.Mutex
	msgs    []*Message
	waiters []*waiter
	closed  bool
	cost    int
	room    *sync.Cond // signalled when cost falls to half the limit, or on close
}

func msgCost(m *Message) int { return len(m.Data) + msgOverhead }

// Push queues m, or hands it to the oldest waiting get that wants it.
// While the queue holds more than QueueLimit it blocks (the caller is a
// connection's reader) until gets bring it down to half, or Close.
func (q *RecvQueue) Push(m *Message) {
	q.mu.Lock()
	if q.room == nil {
		q.room = sync.NewCond(&q.mu)
	}
	for q.cost > QueueLimit && !q.closed {
		q.room.Wait()
	}
	for i, w := range q.waiters {
		if w.wants(m.Peer) {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.mu.Unlock()
			w.stop()
			w.done(m, nil)
			return
		}
	}
	q.msgs = append(q.msgs, m)
	q.cost += msgCost(m)
	q.mu.Unlock()
}

// take removes queued message i (under the lock).
func (q *RecvQueue) take(i int) *Message {
	m := q.msgs[i]
	q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
	q.cost -= msgCost(m)
	if q.room != nil && q.cost <= QueueLimit/2 {
		q.room.Broadcast()
	}
	return m
}

// Get answers done with the oldest queued message from one of peers (any
// peer when empty), or with the next one to arrive within timeout
// (negative: no timeout), or ErrTimeout, or ErrClosed once the queue is
// closed and holds nothing for it. done may run on the caller's goroutine.
func (q *RecvQueue) Get(peers []ID, timeout time.Duration, done GetFunc) {
	w := &waiter{peers: peers, done: done}
	q.mu.Lock()
	for i, m := range q.msgs {
		if w.wants(m.Peer) {
			q.take(i)
			q.mu.Unlock()
			done(m, nil)
			return
		}
	}
	if q.closed {
		q.mu.Unlock()
		done(nil, ErrClosed)
		return
	}
	if timeout >= 0 {
		w.timer = time.AfterFunc(timeout, func() {
			if q.remove(w) {
				done(nil, ErrTimeout)
			}
		})
	}
	q.waiters = append(q.waiters, w)
	q.mu.Unlock()
}

func (q *RecvQueue) remove(w *waiter) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// Close ends every waiting get with ErrClosed; later gets still take the
// messages left in the queue, then get ErrClosed.
func (q *RecvQueue) Close() {
	q.mu.Lock()
	q.closed = true
	if q.room != nil {
		q.room.Broadcast()
	}
	ws := q.waiters
	q.waiters = nil
	q.mu.Unlock()
	for _, w := range ws {
		w.stop()
		w.done(nil, ErrClosed)
	}
}
