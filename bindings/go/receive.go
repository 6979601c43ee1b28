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
	const char *detail; // an event's detail (valid until nq_msg_free)
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
	out->detail = out->kind == NQ_MSG_DATA ? "" : nq_msg_event_detail(m);
	nq_msg_peer(m, out->peer);
}

// One data message (events stay queued for the events receive), waiting up
// to timeout; on a failure other than a timeout, the detail of
// nq_last_error() read on the same thread (malloc'd; the caller frees it).
// Returned by value: nothing of Go's escapes for the call.
typedef struct { nq_status st; nqgo_msg m; char *detail; } nqgo_got;

static nqgo_got nqgo_get(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout)
{
	nqgo_got r;
	nq_msg *m = NULL;
	memset(&r, 0, sizeof r);
	r.st = nq_comm_get_kinds(c, NQ_KINDS_DATA, peers, npeers, timeout, &m);
	if (r.st == NQ_OK)
		nqgo_describe(m, &r.m);
	else if (r.st != NQ_ETIMEDOUT)
		r.detail = strdup(nq_last_error());
	return r;
}

// Take up to cap data messages already queued (timeout 0) in one cgo call,
// stopping once max_bytes of payload are taken: a busy queue costs one
// crossing for many messages. Returns how many; *st is the status that
// ended the run (NQ_ETIMEDOUT: nothing more queued; NQ_OK: cap reached).
static long nqgo_take(nq_comm *c, const uint8_t *peers, size_t npeers, nqgo_msg *out, long cap,
                      size_t max_bytes, nq_status *st)
{
	long n = 0;
	size_t bytes = 0;
	*st = NQ_OK;
	while (n < cap && bytes < max_bytes) {
		nq_msg *m = NULL;
		nq_status s = nq_comm_get_kinds(c, NQ_KINDS_DATA, peers, npeers, 0, &m);
		if (s != NQ_OK) {
			*st = s;
			break;
		}
		nqgo_describe(m, &out[n]);
		bytes += out[n++].size;
	}
	return n;
}

static void nqgo_free_msgs(nqgo_msg *m, long n)
{
	for (long i = 0; i < n; i++) {
		nq_msg_free(m[i].msg);
		m[i].msg = NULL;
	}
}

// A data receive posted to the completion queue, its operation id, and the
// detail of a failure read on the same thread.
typedef struct { nq_status st; uint64_t op; char *detail; } nqgo_getres;

static nqgo_getres nqgo_get_cq(nq_comm *c, const uint8_t *peers, size_t npeers, nq_cq *cq,
                               uint64_t tag)
{
	nqgo_getres r = { NQ_OK, 0, NULL };
	r.st = nq_comm_get_kinds_cq(c, NQ_KINDS_DATA, peers, npeers, NQ_FOREVER, cq, tag, &r.op);
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
	"sync"
	"unsafe"
)

const (
	// readAhead bounds one batch taken from the library in one cgo call:
	// messages, and payload bytes (the batch stops once over).
	readAhead      = 64
	readAheadBytes = 64 << 10
)

// getResult is a receive's completion as the drain goroutine hands it on:
// the message already copied into Go memory (the C one freed).
type getResult struct {
	st  C.nq_status
	msg *Message
}

// getOps maps the tags of receives in flight to the channels their Get
// waits on.
type getOps struct {
	mu   sync.Mutex
	next uint64 // tag 0 is the events receive's (events.go)
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

// resultChans recycles the one-slot channels a waiting Get receives its
// completion on: each gets exactly one result, which its Get takes out.
var resultChans = sync.Pool{New: func() any { return make(chan getResult, 1) }}

// drainGets hands receive completions to their Get, and the events
// receive's to the events pump. Like drain, it blocks in C on a thread of
// its own, so no C thread ever calls into Go; it returns once Close has
// freed the communicator (every receive then has completed) and shut the
// queue down. It copies each message into Go memory and frees the batch in
// one cgo call.
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
			if ctags[i] == 0 {
				m.eventDone(cres[i], &cmsgs[i])
				continue
			}
			var msg *Message
			if cmsgs[i].msg != nil {
				msg = m.toMessage(&cmsgs[i])
			}
			if ch := m.gets.take(uint64(ctags[i])); ch != nil {
				ch <- getResult{cres[i], msg} // one slot: never blocks
			} // else cannot happen: every tag is registered first
		}
		C.nqgo_free_msgs(&cmsgs[0], C.long(n))
	}
}

// eventDone is the receive drain's half: the events receive completed.
// Runs on the drain goroutine; never blocks (one receive, one slot).
func (m *Comm) eventDone(st C.nq_status, d *C.nqgo_msg) {
	if st != C.NQ_OK || d.msg == nil {
		m.ev.in <- evResult{}
		return
	}
	ev := Event{Kind: EventKind(d.kind), Detail: C.GoString(d.detail)}
	copyPeer(&ev.Peer, d) // the drain frees the C message with its batch
	m.ev.in <- evResult{ev: ev, ok: true}
}

// recvState holds the data messages taken from the library that no caller
// has got yet, oldest first: a batch read ahead by Get (one cgo call for
// many messages), what a cancelled Get's receive had got when it was too
// late (nq_comm_get_cancel's NQ_ESTATE), and what a Messages stream had
// taken when its context ended. Every receive looks here first, so a
// cancellation never loses a message and read-ahead keeps each peer's
// order.
//
// Read-ahead happens only while none of our receives waits in the library
// (waiters, counted under mu from the moment a receive found nothing here):
// a receive that waits there cannot see a message that later lands here, so
// nothing must land here for it meanwhile.
type recvState struct {
	mu      sync.Mutex
	q       []*Message // q[h:] are held, oldest first
	h       int
	bytes   uint64 // payload bytes held, for Stats
	waiters int    // data receives of ours waiting in the library
	// Used under mu by one batch at a time: where the library describes
	// it (C memory, from New until Close frees the communicator: no cgo
	// pointer check per call) and its copies before they are handed out.
	descs   *[readAhead]C.nqgo_msg
	scratch [readAhead]*Message
}

func newDescs() *[readAhead]C.nqgo_msg {
	return (*[readAhead]C.nqgo_msg)(C.calloc(readAhead, C.size_t(unsafe.Sizeof(C.nqgo_msg{}))))
}

// close runs in Close once the communicator is freed (a batch takes mu,
// then finds the communicator freed before it looks at descs): the
// messages held are dropped with those still queued in the library.
func (r *recvState) close() {
	r.mu.Lock()
	C.free(unsafe.Pointer(r.descs))
	r.descs = nil
	clear(r.q)
	r.q, r.h, r.bytes = nil, 0, 0
	r.mu.Unlock()
}

func (r *recvState) len() int { return len(r.q) - r.h }

// take removes the oldest held message from one of from (any if empty).
func (r *recvState) take(from []ID) *Message {
	if r.h == len(r.q) {
		return nil
	}
	if len(from) == 0 {
		msg := r.q[r.h]
		r.q[r.h] = nil
		r.h++
		if r.h == len(r.q) {
			r.q, r.h = r.q[:0], 0
		}
		r.bytes -= uint64(len(msg.Data))
		return msg
	}
	for i := r.h; i < len(r.q); i++ {
		if msg := r.q[i]; accepts(from, msg.Peer) {
			copy(r.q[i:], r.q[i+1:])
			r.q[len(r.q)-1] = nil
			r.q = r.q[:len(r.q)-1]
			r.bytes -= uint64(len(msg.Data))
			return msg
		}
	}
	return nil
}

// pushBack appends messages newer than every held one.
func (r *recvState) pushBack(msgs []*Message) {
	if r.h > 0 && r.h >= len(r.q)/2 { // reuse the room of those taken
		n := copy(r.q, r.q[r.h:])
		clear(r.q[n:])
		r.q, r.h = r.q[:n], 0
	}
	r.q = append(r.q, msgs...)
	for _, msg := range msgs {
		r.bytes += uint64(len(msg.Data))
	}
}

// pushFront puts back messages older than every held one of their peers
// (a receive's, taken out before them), in their order.
func (r *recvState) pushFront(msgs []*Message) {
	if len(msgs) == 0 {
		return
	}
	q := make([]*Message, 0, len(msgs)+r.len())
	q = append(append(q, msgs...), r.q[r.h:]...)
	r.q, r.h = q, 0
	for _, msg := range msgs {
		r.bytes += uint64(len(msg.Data))
	}
}

// held is how many messages are held (tests look).
func (m *Comm) held() int {
	m.recv.mu.Lock()
	defer m.recv.mu.Unlock()
	return m.recv.len()
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

// copyPeer copies a described message's peer id.
func copyPeer(dst *ID, d *C.nqgo_msg) {
	copy(dst[:], unsafe.Slice((*byte)(unsafe.Pointer(&d.peer[0])), IDSize))
}

// toMessage copies a described data message into Go memory; the C message
// is left for the caller to free.
func (m *Comm) toMessage(d *C.nqgo_msg) *Message {
	msg := &Message{codec: m.codec}
	copyPeer(&msg.Peer, d)
	msg.Data = make([]byte, int(d.size))
	if d.size > 0 {
		copy(msg.Data, unsafe.Slice((*byte)(d.data), int(d.size)))
	}
	return msg
}

// takeNow takes up to max data messages already queued in the library
// (one cgo call, and one to free them) and appends their copies to buf.
// Under recv.mu. err only when nothing was taken and the communicator is
// closed (or freed).
func (m *Comm) takeNow(buf []*Message, peers *C.uint8_t, n C.size_t, max int) ([]*Message, error) {
	r := &m.recv
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		return buf, &Error{Op: "get", Status: StatusClosed}
	}
	var st C.nq_status
	got := int(C.nqgo_take(m.c, peers, n, &r.descs[0], C.long(min(max, readAhead)), readAheadBytes, &st))
	m.mu.RUnlock()
	for i := range r.descs[:got] {
		buf = append(buf, m.toMessage(&r.descs[i]))
	}
	if got > 0 {
		C.nqgo_free_msgs(&r.descs[0], C.long(got)) // one crossing for the batch
	} else if st == C.NQ_ECLOSED {
		return buf, &Error{Op: "get", Status: StatusClosed}
	}
	return buf, nil
}

// next is the first step of every Get: the oldest held message it
// accepts, else one already queued in the library. A Get that finds the
// queue busy and no other receive of ours waiting takes a batch and holds
// the rest for the next Gets. With nothing there it returns nil, nil, and
// the caller now counts as waiting (it must call unwait).
func (m *Comm) next(ctx context.Context, from []ID, peers *C.uint8_t, n C.size_t) (*Message, error) {
	r := &m.recv
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg := r.take(from); msg != nil {
		return msg, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	max := readAhead
	if r.waiters > 0 {
		max = 1 // another waits in C: it would not see what we hold
	}
	got, err := m.takeNow(r.scratch[:0], peers, n, max)
	defer clear(got)
	switch {
	case err != nil:
		return nil, err
	case len(got) == 0:
		r.waiters++
		return nil, nil
	}
	r.pushBack(got[1:])
	return got[0], nil
}

// unwait ends a wait that next counted, putting back first what a
// cancelled receive got too late.
func (m *Comm) unwait(kept *Message) {
	r := &m.recv
	r.mu.Lock()
	if kept != nil {
		r.pushFront([]*Message{kept})
	}
	r.waiters--
	r.mu.Unlock()
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
// Get never returns a peer event: those go to the Events channel
// (WithEvents). After Close it returns ErrClosed.
func (m *Comm) Get(ctx context.Context, from ...ID) (*Message, error) {
	peers, n := peerArray(from)
	for {
		msg, err := m.next(ctx, from, peers, n)
		if msg != nil || err != nil {
			return msg, err
		}
		if ctx.Done() == nil {
			msg, err = m.getWait(peers, n)
		} else {
			msg, err = m.getAsync(ctx, peers, n)
		}
		if msg != nil || err != nil {
			return msg, err
		}
	}
}

// getWait blocks in C for one message; counted as waiting (next).
func (m *Comm) getWait(peers *C.uint8_t, n C.size_t) (*Message, error) {
	defer m.unwait(nil)
	// Shared lock while blocked in C: Close calls nq_comm_close first,
	// which wakes this get, and only then waits for the lock to free.
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		return nil, &Error{Op: "get", Status: StatusClosed}
	}
	r := C.nqgo_get(m.c, peers, n, C.NQ_FOREVER)
	m.mu.RUnlock()
	if r.st != C.NQ_OK {
		err := &Error{Op: "get", Status: Status(r.st)}
		if r.detail != nil {
			err.Detail = C.GoString(r.detail)
			C.free(unsafe.Pointer(r.detail))
		}
		return nil, err
	}
	msg := m.toMessage(&r.m)
	C.nq_msg_free(r.m.msg)
	return msg, nil
}

// getAsync posts a receive to the completion queue and waits for it or
// for ctx, which cancels it; counted as waiting (next).
func (m *Comm) getAsync(ctx context.Context, peers *C.uint8_t, n C.size_t) (*Message, error) {
	done := resultChans.Get().(chan getResult)
	defer resultChans.Put(done) // empty again: each result is taken below
	tag := m.gets.add(done)     // before the call: the completion may come at once
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		m.gets.take(tag)
		m.unwait(nil)
		return nil, &Error{Op: "get", Status: StatusClosed}
	}
	r := C.nqgo_get_cq(m.c, peers, n, m.rcq, C.uint64_t(tag))
	m.mu.RUnlock()
	if r.st != C.NQ_OK {
		m.gets.take(tag)
		m.unwait(nil)
		err := &Error{Op: "get", Status: Status(r.st), Detail: C.GoString(r.detail)}
		C.free(unsafe.Pointer(r.detail))
		return nil, err
	}
	select {
	case res := <-done:
		m.unwait(nil)
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
	res := <-done
	m.unwait(res.msg) // a message got too late is kept, first in line
	return nil, ctx.Err()
}

// testHookCancel, when a test sets it, runs between ctx's end and the
// cancel, to make the too-late case happen on purpose.
var testHookCancel func(done <-chan getResult)

// nextBatch is a stream's next step: the held messages it accepts, else
// those queued in the library (one batch, one cgo call), else nothing.
func (m *Comm) nextBatch(buf []*Message, from []ID, peers *C.uint8_t, n C.size_t) ([]*Message, error) {
	r := &m.recv
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(buf) < cap(buf) {
		msg := r.take(from)
		if msg == nil {
			break
		}
		buf = append(buf, msg)
	}
	if len(buf) > 0 {
		return buf, nil
	}
	return m.takeNow(buf, peers, n, cap(buf))
}

// Messages streams the data messages from any peer or from those named on
// a channel, until ctx ends or the communicator is closed and drained;
// then the channel is closed. Messages are taken in batches (one cgo call
// for all those already queued). When ctx ends, the messages taken but not
// yet received from the channel are kept for the next Get or stream: none
// is lost. Several streams and Gets may run at once; each message goes to
// one of them.
func (m *Comm) Messages(ctx context.Context, from ...ID) <-chan *Message {
	ch := make(chan *Message)
	go func() {
		defer close(ch)
		peers, n := peerArray(from)
		buf := make([]*Message, 0, readAhead)
		for ctx.Err() == nil {
			var err error
			buf, err = m.nextBatch(buf[:0], from, peers, n)
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
					m.recv.mu.Lock()
					m.recv.pushFront(buf[i:])
					m.recv.mu.Unlock()
					return
				}
			}
			clear(buf)
		}
	}()
	return ch
}
