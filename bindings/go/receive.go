package netqueue

/*
#include <stdlib.h>
#include <string.h>
#include <netqueue/netqueue.h>

// A received message described in one go, so that Go copies it without a
// cgo call per getter (each crossing costs more than a 64-byte copy).
typedef struct {
	nq_msg *msg;
	const void *data;
	size_t size;
	int kind;
	uint8_t peer[16];
} nqgo_msg;

static void nqgo_describe(nq_msg *m, nqgo_msg *out)
{
	out->msg = m;
	if (!m)
		return;
	out->kind = (int)nq_msg_kind_of(m);
	out->size = nq_msg_size(m);
	out->data = nq_msg_data(m);
	nq_msg_peer(m, out->peer);
}

// One nq_comm_get; on failure other than a timeout, the detail of
// nq_last_error() read on the same thread (malloc'd; the caller frees it).
static nq_status nqgo_get(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout,
                          nqgo_msg *out, char **detail)
{
	nq_msg *m = NULL;
	nq_status st = nq_comm_get(c, peers, npeers, timeout, &m);
	if (st == NQ_OK)
		nqgo_describe(m, out);
	else if (st != NQ_ETIMEDOUT)
		*detail = strdup(nq_last_error());
	return st;
}

// Take up to cap messages already queued (timeout 0) in one cgo call: a
// busy queue costs one crossing for many messages. Returns how many; *st
// is the status that ended the run (NQ_ETIMEDOUT: nothing more queued).
static long nqgo_get_now(nq_comm *c, const uint8_t *peers, size_t npeers, nqgo_msg *out,
                         long cap, nq_status *st)
{
	long n = 0;
	*st = NQ_OK;
	while (n < cap) {
		nq_msg *m = NULL;
		nq_status s = nq_comm_get(c, peers, npeers, 0, &m);
		if (s != NQ_OK) {
			*st = s;
			break;
		}
		nqgo_describe(m, &out[n++]);
	}
	return n;
}

static void nqgo_free_msgs(nqgo_msg *m, long n)
{
	for (long i = 0; i < n; i++)
		nq_msg_free(m[i].msg);
}

// A receive posted to the completion queue, its operation id, and the
// detail of a failure read on the same thread.
typedef struct { nq_status st; uint64_t op; char *detail; } nqgo_getres;

static nqgo_getres nqgo_get_cq(nq_comm *c, const uint8_t *peers, size_t npeers, nq_cq *cq,
                               uint64_t tag)
{
	nqgo_getres r = { NQ_OK, 0, NULL };
	r.st = nq_comm_get_cq(c, peers, npeers, NQ_FOREVER, cq, tag, &r.op);
	if (r.st != NQ_OK)
		r.detail = strdup(nq_last_error());
	return r;
}

// Wait for one receive completion, then take those already posted, up to
// cap. -1 once the queue is shut down and drained.
static long nqgo_rcq_drain(nq_cq *cq, uint64_t *tags, nq_status *res, nqgo_msg *msgs, long cap)
{
	nq_msg *m = NULL;
	if (nq_cq_next_msg(cq, NQ_FOREVER, &tags[0], &res[0], &m) != NQ_OK)
		return -1;
	nqgo_describe(m, &msgs[0]);
	long n = 1;
	while (n < cap && nq_cq_next_msg(cq, 0, &tags[n], &res[n], &m) == NQ_OK)
		nqgo_describe(m, &msgs[n++]);
	return n;
}
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// getResult is a receive's completion as the drain goroutine hands it on.
type getResult struct {
	st  C.nq_status
	msg C.nqgo_msg // msg.msg owned by the receiver of the result, if any
}

// getOps maps the tags of receives in flight to the channels their Get
// waits on.
type getOps struct {
	mu   sync.Mutex
	next uint64
	ops  map[uint64]chan getResult
}

func (g *getOps) add(ch chan getResult) uint64 {
	g.mu.Lock()
	if g.ops == nil {
		g.ops = make(map[uint64]chan getResult)
	}
	g.next++
	tag := g.next
	g.ops[tag] = ch
	g.mu.Unlock()
	return tag
}

func (g *getOps) take(tag uint64) chan getResult {
	g.mu.Lock()
	ch := g.ops[tag]
	delete(g.ops, tag)
	g.mu.Unlock()
	return ch
}

// drainGets hands receive completions to their Get. Like drain, it blocks
// in C on a thread of its own, so no C thread ever calls into Go; it
// returns once Close has freed the communicator (every receive then has
// completed) and shut the queue down.
func (m *Comm) drainGets() {
	defer close(m.rdrained)
	const batch = 64
	ctags := (*[batch]C.uint64_t)(C.malloc(C.size_t(batch * unsafe.Sizeof(C.uint64_t(0)))))
	cres := (*[batch]C.nq_status)(C.malloc(C.size_t(batch * unsafe.Sizeof(C.nq_status(0)))))
	cmsgs := (*[batch]C.nqgo_msg)(C.malloc(C.size_t(batch * unsafe.Sizeof(C.nqgo_msg{}))))
	defer C.free(unsafe.Pointer(ctags))
	defer C.free(unsafe.Pointer(cres))
	defer C.free(unsafe.Pointer(cmsgs))
	for {
		n := int(C.nqgo_rcq_drain(m.rcq, &ctags[0], &cres[0], &cmsgs[0], batch))
		if n < 0 {
			return
		}
		for i := 0; i < n; i++ {
			if ch := m.gets.take(uint64(ctags[i])); ch != nil {
				ch <- getResult{cres[i], cmsgs[i]} // buffered: never blocks
			} else if cmsgs[i].msg != nil {
				C.nq_msg_free(cmsgs[i].msg) // cannot happen: every tag is registered first
			}
		}
	}
}

// held keeps messages that were taken from the library but reached no
// caller: the receive of a cancelled Get that was already complete (the
// library's "too late"), and what a Messages stream had taken when its
// context ended. The next Get or stream returns them first, so a
// cancellation never loses a message.
type held struct {
	n    atomic.Int32 // len(msgs), read without the lock on the fast path
	mu   sync.Mutex
	msgs []*Message
}

func (h *held) push(msgs ...*Message) {
	if len(msgs) == 0 {
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, msgs...)
	h.n.Store(int32(len(h.msgs)))
	h.mu.Unlock()
}

// take removes the oldest held message from one of from (any if empty).
func (h *held) take(from []ID) *Message {
	if h.n.Load() == 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, msg := range h.msgs {
		if accepts(from, msg.Peer) {
			h.msgs = append(h.msgs[:i], h.msgs[i+1:]...)
			h.n.Store(int32(len(h.msgs)))
			return msg
		}
	}
	return nil
}

func accepts(from []ID, peer ID) bool {
	if len(from) == 0 {
		return true
	}
	for _, id := range from {
		if id == peer {
			return true
		}
	}
	return false
}

// Get takes the next data message, from any peer or from one of those
// named, waiting until one comes or ctx ends (then ctx.Err()).
//
// With a context that can end, the wait is an asynchronous receive
// (nq_comm_get_cq) that ctx's end cancels; if the receive had already got
// its message (nq_comm_get_cancel's "too late"), Get still returns
// ctx.Err() and the message is kept for the next Get or Messages stream:
// nothing is lost and nothing comes twice. With a context that never ends
// (context.Background()), Get blocks in C, the cheapest wait.
//
// Peer events (WithEvents) met on the way go to the Events channel, in
// their order with the data. After Close, the messages still queued are
// returned, then ErrClosed.
func (m *Comm) Get(ctx context.Context, from ...ID) (*Message, error) {
	peers, n := peerArray(from)
	defer runtime.KeepAlive(from)
	for {
		if msg := m.held.take(from); msg != nil {
			return msg, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var cmsg C.nqgo_msg
		var err error
		if ctx.Done() == nil {
			cmsg, err = m.getOnce(peers, n, int64(C.NQ_FOREVER))
		} else {
			cmsg, err = m.getOnce(peers, n, 0) // one already queued: no wait to set up
			if isStatus(err, StatusTimedOut) {
				cmsg, err = m.getAsync(ctx, peers, n)
			}
		}
		if err != nil {
			return nil, err
		}
		if msg := m.route(&cmsg, true); msg != nil {
			return msg, nil
		}
	}
}

// getOnce is one nq_comm_get; the caller owns the message.
func (m *Comm) getOnce(peers *C.uint8_t, n C.size_t, timeout int64) (C.nqgo_msg, error) {
	// Shared lock while blocked in C: Close calls nq_comm_close first,
	// which wakes this get, and only then waits for the lock to free.
	var out C.nqgo_msg
	var detail *C.char
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		return out, &Error{Op: "get", Status: StatusClosed}
	}
	st := C.nqgo_get(m.c, peers, n, C.int64_t(timeout), &out, &detail)
	m.mu.RUnlock()
	if st != C.NQ_OK {
		err := &Error{Op: "get", Status: Status(st)}
		if detail != nil {
			err.Detail = C.GoString(detail)
			C.free(unsafe.Pointer(detail))
		}
		return out, err
	}
	return out, nil
}

// getAsync posts a receive to the completion queue and waits for it or
// for ctx, which cancels it.
func (m *Comm) getAsync(ctx context.Context, peers *C.uint8_t, n C.size_t) (C.nqgo_msg, error) {
	done := make(chan getResult, 1)
	tag := m.gets.add(done) // before the call: the completion may come at once
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		m.gets.take(tag)
		return C.nqgo_msg{}, &Error{Op: "get", Status: StatusClosed}
	}
	r := C.nqgo_get_cq(m.c, peers, n, m.rcq, C.uint64_t(tag))
	m.mu.RUnlock()
	if r.st != C.NQ_OK {
		m.gets.take(tag)
		err := &Error{Op: "get", Status: Status(r.st), Detail: C.GoString(r.detail)}
		C.free(unsafe.Pointer(r.detail))
		return C.nqgo_msg{}, err
	}
	select {
	case res := <-done:
		return res.msg, statusErr("get", res.st)
	case <-ctx.Done():
	}
	m.cancels.Add(1)
	if testHookCancel != nil {
		testHookCancel(done)
	}
	m.mu.RLock()
	if m.c != nil {
		// NQ_OK: it completes with NQ_ECANCELED; NQ_ESTATE: too late,
		// its completion brings the message. Either way one comes.
		C.nq_comm_get_cancel(m.c, r.op)
	} // else freed: every receive has completed into the queue
	m.mu.RUnlock()
	if res := <-done; res.msg.msg != nil {
		if msg := m.route(&res.msg, true); msg != nil {
			m.held.push(msg)
		}
	}
	return C.nqgo_msg{}, ctx.Err()
}

// testHookCancel, when a test sets it, runs between ctx's end and the
// cancel, to make the too-late case happen on purpose.
var testHookCancel func(done <-chan getResult)

// route converts a received message: data is returned, an event goes to
// the event queue (nil returned). It frees the C message if free is set.
func (m *Comm) route(d *C.nqgo_msg, free bool) *Message {
	if free {
		defer C.nq_msg_free(d.msg)
	}
	if d.kind != C.NQ_MSG_DATA {
		ev := Event{Kind: EventKind(d.kind), Detail: C.GoString(C.nq_msg_event_detail(d.msg))}
		copy(ev.Peer[:], unsafe.Slice((*byte)(unsafe.Pointer(&d.peer[0])), IDSize))
		m.events.push(ev)
		return nil
	}
	msg := &Message{codec: m.codec}
	copy(msg.Peer[:], unsafe.Slice((*byte)(unsafe.Pointer(&d.peer[0])), IDSize))
	if d.size > 0 {
		msg.Data = C.GoBytes(d.data, C.int(d.size))
	} else {
		msg.Data = []byte{}
	}
	return msg
}

// getNow appends the data messages already queued (up to cap(buf)) to
// buf, in one cgo call; err is set only when nothing was taken and the
// communicator is closed and drained.
func (m *Comm) getNow(buf []*Message, peers *C.uint8_t, n C.size_t) ([]*Message, error) {
	const batch = 64
	var cmsgs [batch]C.nqgo_msg
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		return buf, &Error{Op: "get", Status: StatusClosed}
	}
	var st C.nq_status
	got := int(C.nqgo_get_now(m.c, peers, n, &cmsgs[0], C.long(min(batch, cap(buf)-len(buf))), &st))
	m.mu.RUnlock()
	for i := range cmsgs[:got] {
		if msg := m.route(&cmsgs[i], false); msg != nil {
			buf = append(buf, msg)
		}
	}
	if got > 0 {
		C.nqgo_free_msgs(&cmsgs[0], C.long(got)) // one crossing for the batch
	}
	if got == 0 && st == C.NQ_ECLOSED {
		return buf, &Error{Op: "get", Status: StatusClosed}
	}
	return buf, nil
}

// Messages streams the data messages from any peer or from those named on
// a channel, until ctx ends or the communicator is closed and drained;
// then the channel is closed. Messages are taken in batches (one cgo call
// for all those already queued), so a stream is the fastest way to
// receive. When ctx ends, the messages taken but not yet received from the
// channel are kept for the next Get or stream: none is lost. Several
// streams and Gets may run at once; each message goes to one of them.
func (m *Comm) Messages(ctx context.Context, from ...ID) <-chan *Message {
	ch := make(chan *Message)
	go func() {
		defer close(ch)
		peers, n := peerArray(from)
		defer runtime.KeepAlive(from)
		buf := make([]*Message, 0, 64)
		for {
			buf = buf[:0]
			for len(buf) < cap(buf) {
				msg := m.held.take(from)
				if msg == nil {
					break
				}
				buf = append(buf, msg)
			}
			var err error
			if len(buf) == 0 {
				buf, err = m.getNow(buf, peers, n)
			}
			if err == nil && len(buf) == 0 {
				var msg *Message
				msg, err = m.Get(ctx, from...)
				if msg != nil {
					buf = append(buf, msg)
				}
			}
			if err != nil {
				return
			}
			for i, msg := range buf {
				select {
				case ch <- msg:
				case <-ctx.Done():
					m.held.push(buf[i:]...)
					return
				}
			}
		}
	}()
	return ch
}
