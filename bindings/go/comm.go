package netqueue

/*
#include <stdlib.h>
#include <string.h>
#include <netqueue/netqueue.h>

// A put through the completion queue and, if it fails, the detail of
// nq_last_error() read on the same thread, in one cgo call (no OS thread
// locking per put). detail is malloc'd; the caller frees it.
typedef struct { nq_status st; char *detail; } nqgo_result;

static nqgo_result nqgo_put_cq(nq_comm *c, const void *data, size_t size, const uint8_t *peers,
                               size_t npeers, nq_cq *cq, uint64_t tag)
{
	nqgo_result r = { nq_comm_put_cq(c, data, size, peers, npeers, cq, tag), NULL };
	if (r.st != NQ_OK)
		r.detail = strdup(nq_last_error());
	return r;
}

// Wait for the next completion, then take the ones already queued too, up
// to cap, in one cgo call (one lock in C per 64). Returns how many; -1
// once the queue is shut down and drained.
static long nqgo_cq_drain(nq_cq *cq, uint64_t *tags, nq_status *results, long cap)
{
	size_t n = 0;
	if (nq_cq_next_batch(cq, NQ_FOREVER, tags, results, (size_t)cap, &n) != NQ_OK)
		return -1;
	return (long)n;
}
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Comm is a communicator: one end of net-queue, a server or a client. Its
// methods are safe for concurrent use. Close it when done: it owns a C I/O
// thread and a goroutine that delivers put completions.
type Comm struct {
	// mu guards c against nq_comm_free: calls hold it shared, Close
	// takes it exclusively to free.
	mu    sync.RWMutex
	c     *C.nq_comm
	cq    *C.nq_cq
	codec Codec

	closeMu sync.Mutex // one Close at a time
	closed  bool       // under closeMu

	pending pending
	drained chan struct{} // closed when the drain goroutine has returned

	// Receives (receive.go): a completion queue of their own, so that the
	// put drain's nq_cq_next_batch never frees a received message.
	rcq      *C.nq_cq
	gets     getOps
	rdrained chan struct{} // closed when the receive drain has returned
	recv     recvState     // messages taken from C that no caller got yet
	cancels  atomic.Uint64 // receives cancelled by a context (tests look)
	ev       events        // the events receive and channel (events.go)
}

// pending maps the tags given to C (slot numbers) to the futures of puts
// in flight: a slice and a free list rather than a map, since every put
// adds one and every completion takes it out.
type pending struct {
	mu    sync.Mutex
	slots []*Future
	free  []uint64
}

func (p *pending) add(f *Future) uint64 {
	p.mu.Lock()
	var tag uint64
	if n := len(p.free); n > 0 {
		tag = p.free[n-1]
		p.free = p.free[:n-1]
		p.slots[tag] = f
	} else {
		tag = uint64(len(p.slots))
		p.slots = append(p.slots, f)
	}
	p.mu.Unlock()
	return tag
}

// take removes the futures of tags into out (nil for an unknown tag).
func (p *pending) take(tags []uint64, out []*Future) {
	p.mu.Lock()
	for i, tag := range tags {
		if tag < uint64(len(p.slots)) {
			out[i] = p.slots[tag]
			p.slots[tag] = nil
			p.free = append(p.free, tag)
		} else {
			out[i] = nil
		}
	}
	p.mu.Unlock()
}

// New creates a communicator and starts its I/O. A server is listening when
// New returns; a client connects in the background, and puts made
// meanwhile wait for the connection.
func New(protocol Protocol, purpose Purpose, opts ...Option) (*Comm, error) {
	// One OS thread for the setters, nq_comm_new and nq_last_error().
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := builder{}
	fail := func(op string, st C.nq_status) error {
		if b.detail != "" {
			return &Error{Op: op, Status: Status(st), Detail: b.detail}
		}
		return &Error{Op: op, Status: Status(st), Detail: C.GoString(C.nq_last_error())}
	}
	if st := C.nq_options_new(&b.o); st != C.NQ_OK {
		return nil, fail("options", st)
	}
	defer C.nq_options_free(b.o)
	for _, o := range opts {
		if st := o(&b); st != C.NQ_OK {
			return nil, fail("options", st)
		}
	}
	m := &Comm{codec: b.codec, drained: make(chan struct{}), rdrained: make(chan struct{})}
	m.ev.init(b.events)
	if st := C.nq_cq_new(&m.cq); st != C.NQ_OK {
		return nil, fail("new", st)
	}
	if st := C.nq_cq_new(&m.rcq); st != C.NQ_OK {
		err := fail("new", st)
		C.nq_cq_free(m.cq)
		return nil, err
	}
	if st := C.nq_comm_new(&m.c, C.nq_protocol(protocol), C.nq_purpose(purpose), b.o); st != C.NQ_OK {
		err := fail("new", st)
		C.nq_cq_free(m.cq)
		C.nq_cq_free(m.rcq)
		return nil, err
	}
	m.recv.descs = newDescs()
	go m.drain()
	go m.drainGets()
	if m.ev.on {
		// The events receive is pending before New returns, so events
		// never wait for a data receive (events.go).
		if !m.armEvents() {
			err := &Error{Op: "new", Status: StatusNoMemory, Detail: "events: cannot post the events receive"}
			m.ev.on = false // no pump: Close closes the channel itself
			m.Close(context.Background())
			return nil, err
		}
		go m.pumpEvents()
	}
	return m, nil
}

// drain delivers completions from the C completion queue to the futures.
// It blocks in C on a thread of its own; it returns once Close has freed
// the communicator (every put then has completed) and shut the queue down.
// Completions come in batches of up to drainBatch per cgo call: a busy
// queue costs one call and one lock for many puts.
func (m *Comm) drain() {
	defer close(m.drained)
	const drainBatch = 256
	ctags := (*[drainBatch]C.uint64_t)(C.malloc(C.size_t(drainBatch * unsafe.Sizeof(C.uint64_t(0)))))
	cres := (*[drainBatch]C.nq_status)(C.malloc(C.size_t(drainBatch * unsafe.Sizeof(C.nq_status(0)))))
	defer C.free(unsafe.Pointer(ctags))
	defer C.free(unsafe.Pointer(cres))
	var tags [drainBatch]uint64
	var futures [drainBatch]*Future
	for {
		n := int(C.nqgo_cq_drain(m.cq, &ctags[0], &cres[0], drainBatch))
		if n < 0 {
			return // shut down and drained
		}
		for i := 0; i < n; i++ {
			tags[i] = uint64(ctags[i])
		}
		m.pending.take(tags[:n], futures[:n])
		for i, f := range futures[:n] {
			if f != nil {
				f.complete(statusErr("put", cres[i]))
				futures[i] = nil
			}
		}
	}
}

// ID is the communicator's own id.
func (m *Comm) ID() (ID, error) {
	var id ID
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return id, &Error{Op: "id", Status: StatusClosed}
	}
	err := call("id", func() C.nq_status { return C.nq_comm_id(m.c, (*C.uint8_t)(unsafe.Pointer(&id[0]))) })
	return id, err
}

// Port is the port a server listens on (useful after WithPort(0)).
func (m *Comm) Port() (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return 0, &Error{Op: "port", Status: StatusClosed}
	}
	var p C.int
	err := call("port", func() C.nq_status { return C.nq_comm_port(m.c, &p) })
	return int(p), err
}

// Peers lists the ids of the peers connected now (a client: its server,
// once the handshake is done).
func (m *Comm) Peers() ([]ID, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, &Error{Op: "peers", Status: StatusClosed}
	}
	for {
		var n C.size_t
		if err := call("peers", func() C.nq_status { return C.nq_comm_peers(m.c, nil, 0, &n) }); err != nil {
			return nil, err
		}
		ids := make([]ID, int(n)+1) // room for one more joining meanwhile
		var got C.size_t
		err := call("peers", func() C.nq_status {
			return C.nq_comm_peers(m.c, (*C.uint8_t)(unsafe.Pointer(&ids[0][0])), C.size_t(len(ids)), &got)
		})
		if err != nil {
			return nil, err
		}
		if int(got) <= len(ids) {
			return ids[:got], nil
		}
	}
}

// Put sends data as one message: to the server (a client), or to every
// connected client (a server with no ids), or to the clients named. data
// is copied before Put returns. The returned future completes once the
// message is written to every target's transport, or failed (ErrReset,
// ErrNoPeer, ErrCanceled on close).
func (m *Comm) Put(data []byte, to ...ID) (*Future, error) {
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		return nil, &Error{Op: "put", Status: StatusClosed}
	}
	f := new(Future)
	tag := m.pending.add(f) // before the put: the completion may come at once
	var peers *C.uint8_t
	if len(to) > 0 {
		// ID is [16]byte: a slice of them is the ids back to back
		peers = (*C.uint8_t)(unsafe.Pointer(&to[0][0]))
	}
	r := C.nqgo_put_cq(m.c, bytesPtr(data), C.size_t(len(data)), peers, C.size_t(len(to)), m.cq, C.uint64_t(tag))
	m.mu.RUnlock()
	if r.st != C.NQ_OK {
		m.pending.take([]uint64{tag}, []*Future{nil})
		err := &Error{Op: "put", Status: Status(r.st), Detail: C.GoString(r.detail)}
		C.free(unsafe.Pointer(r.detail))
		return nil, err
	}
	return f, nil
}

// put registers a future under a new tag before the C call, since the
// completion may reach the drain goroutine before the call returns.
func (m *Comm) put(op string, do func(*C.nq_comm, *C.uint8_t, C.size_t, C.uint64_t) C.nq_status, to []ID) (*Future, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, &Error{Op: op, Status: StatusClosed}
	}
	f := new(Future)
	tag := m.pending.add(f)
	peers, n := peerArray(to)
	err := call(op, func() C.nq_status { return do(m.c, peers, n, C.uint64_t(tag)) })
	runtime.KeepAlive(to)
	if err != nil {
		m.pending.take([]uint64{tag}, []*Future{nil})
		return nil, err
	}
	return f, nil
}

// DefaultCloseTimeout bounds Close when its context has no deadline (10 s,
// as in every binding): then the connections are cut and Close returns an
// error of StatusTimedOut. Use a context with a deadline for another bound,
// or WaitForever for none.
const DefaultCloseTimeout = 10 * time.Second

type waitForeverKey struct{}

// WaitForever returns a context that makes Close wait for the peers
// without a bound when it has no deadline:
//
//	err := c.Close(netqueue.WaitForever(context.Background()))
func WaitForever(ctx context.Context) context.Context {
	return context.WithValue(ctx, waitForeverKey{}, true)
}

// Close ends the communicator: a client sends its queued puts and its fin
// and waits for the server's; a server stops accepting and waits for its
// clients to finish. The wait ends at ctx's deadline, or after
// DefaultCloseTimeout if ctx has none (unless ctx comes from WaitForever);
// then connections are cut and an error of StatusTimedOut is returned.
// Either way the communicator is closed and freed afterwards, and every
// put's future has completed (those not sent with ErrCanceled). Closing
// again returns nil. Cancelling ctx cannot interrupt the wait.
func (m *Comm) Close(ctx context.Context) error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	timeout := closeMillis(ctx)
	m.mu.RLock()
	err := call("close", func() C.nq_status { return C.nq_comm_close(m.c, C.int64_t(timeout)) })
	m.mu.RUnlock()
	if m.ev.on {
		// Closed: the events receive now completes at once with what is
		// left. Let the pump put those events on the channel until the
		// library has none (NQ_ECLOSED) or the channel is full.
		close(m.ev.closing)
		<-m.ev.settled
	}

	m.mu.Lock()
	C.nq_comm_free(m.c) // completes every put and receive still pending into the cqs
	m.c = nil
	m.mu.Unlock()
	m.recv.close()
	C.nq_cq_shutdown(m.cq)
	C.nq_cq_shutdown(m.rcq)
	<-m.drained
	<-m.rdrained
	C.nq_cq_free(m.cq)
	C.nq_cq_free(m.rcq)
	m.cq = nil
	m.rcq = nil
	if m.ev.on {
		close(m.ev.stop)
		<-m.ev.done // the pump has closed the channel
	} else {
		close(m.ev.ch)
	}
	return err
}

// closeMillis is Close's bound in the library's milliseconds (NQ_FOREVER
// for none).
func closeMillis(ctx context.Context) int64 {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl).Milliseconds(), 0)
	}
	if forever, _ := ctx.Value(waitForeverKey{}).(bool); forever {
		return int64(C.NQ_FOREVER)
	}
	return DefaultCloseTimeout.Milliseconds()
}

func isStatus(err error, s Status) bool {
	e, ok := err.(*Error)
	return ok && e.Status == s
}
