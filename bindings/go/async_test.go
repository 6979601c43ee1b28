package netqueue

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"
)

// pair is a binding server and a binding client connected over loopback TCP.
func pair(t *testing.T, serverOpts ...Option) (*Comm, *Comm) {
	t.Helper()
	s, port := newServer(t, serverOpts...)
	return s, newClient(t, port)
}

func putWait(t *testing.T, c *Comm, data []byte, to ...ID) {
	t.Helper()
	f, err := c.Put(data, to...)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := f.Wait(testCtx(t)); err != nil {
		t.Fatalf("put completion: %v", err)
	}
}

func TestGetCtxRoundTrip(t *testing.T) {
	s, c := pair(t)
	ctx := testCtx(t)
	cid, _ := c.ID()
	putWait(t, c, []byte("ping"))
	msg, err := s.Get(ctx)
	if err != nil || msg.Text() != "ping" || msg.Peer != cid {
		t.Fatalf("server get: %v %v", msg, err)
	}
	// An asynchronous receive posted before the message exists.
	got := make(chan *Message, 1)
	go func() {
		m, err := c.Get(ctx)
		if err != nil {
			t.Errorf("client get: %v", err)
		}
		got <- m
	}()
	time.Sleep(50 * time.Millisecond) // let the receive be pending in C
	f, err := s.Put([]byte("pong"), msg.Peer)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done(): // a put future works in select
	case <-ctx.Done():
		t.Fatal("put future never done")
	}
	if m := <-got; m == nil || m.Text() != "pong" {
		t.Fatalf("client got %v", m)
	}
	// A deadline with nothing queued: the context's error, in time.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Get(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline took %v", d)
	}
}

// Cancelled Gets while messages stream in: every message is received
// exactly once, in the order sent (one sender), whether the cancel came in
// time or too late.
func TestGetCancelInFlight(t *testing.T) {
	s, c := pair(t)
	ctx := testCtx(t)
	const n = 3000
	go func() {
		buf := make([]byte, 8)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(buf, uint64(i))
			if _, err := c.Put(buf); err != nil {
				t.Errorf("put %d: %v", i, err)
				return
			}
			if i%50 == 49 {
				// Gaps, so that receives are often pending when messages
				// arrive and their cancels race the hand-over.
				time.Sleep(200 * time.Microsecond)
			}
		}
	}()
	var mu sync.Mutex
	seen := make(map[uint64]int)
	cancelled := 0
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				mu.Lock()
				all := len(seen) == n
				mu.Unlock()
				if all {
					return
				}
				// Short and varied deadlines, so that some cancels land
				// while a message is being handed over.
				gctx, cancel := context.WithTimeout(ctx, time.Duration((i+w)%7)*20*time.Microsecond)
				msg, err := s.Get(gctx)
				cancel()
				mu.Lock()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						mu.Unlock()
						t.Errorf("get: %v", err)
						return
					}
					cancelled++
				} else {
					seen[binary.LittleEndian.Uint64(msg.Data)]++
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("only %d of %d messages received", len(seen), n)
	}
	for i := uint64(0); i < n; i++ {
		if seen[i] != 1 {
			t.Fatalf("message %d received %d times", i, seen[i])
		}
	}
	if s.cancels.Load() == 0 {
		t.Fatal("no pending receive was cancelled: the test did not exercise cancellation")
	}
	// Nothing left anywhere: neither held nor queued in C.
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st["recv_queue_msgs"] != 0 || s.held() != 0 {
		t.Fatalf("left over: queued %d held %d", st["recv_queue_msgs"], s.held())
	}
	t.Logf("%d gets ended by their context, %d pending receives cancelled", cancelled, s.cancels.Load())
}

// A stream cancelled midway keeps what it had taken: the next stream
// continues in order, nothing lost or duplicated.
func TestMessagesChannel(t *testing.T) {
	s, c := pair(t)
	ctx := testCtx(t)
	const n = 200
	for i := 0; i < n; i++ {
		buf := binary.LittleEndian.AppendUint64(nil, uint64(i))
		if _, err := c.Put(buf); err != nil {
			t.Fatal(err)
		}
	}
	next := uint64(0)
	expect := func(msg *Message) {
		t.Helper()
		if v := binary.LittleEndian.Uint64(msg.Data); v != next {
			t.Fatalf("got message %d, want %d", v, next)
		}
		next++
	}
	sctx, cancel := context.WithCancel(ctx)
	ch := s.Messages(sctx)
	for i := 0; i < n/2; i++ {
		select {
		case msg := <-ch:
			expect(msg)
		case <-ctx.Done():
			t.Fatal("stream stalled")
		}
	}
	cancel()
	for msg := range ch { // it may still hand some over; what it had taken is kept
		expect(msg)
	}
	ch2 := s.Messages(ctx)
	for next < n {
		select {
		case msg := <-ch2:
			expect(msg)
		case <-ctx.Done():
			t.Fatalf("stream stalled at %d", next)
		}
	}
	// Get and a stream share one queue: a further message goes to either.
	putWait(t, c, []byte("last"))
	if msg := <-ch2; msg.Text() != "last" {
		t.Fatalf("got %q", msg.Text())
	}
}

func TestWithEventsRejectsUnknownKind(t *testing.T) {
	_, err := New(TCP, Server, WithPort(0), WithEvents(EventKind(42)))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
}

// Stats agree with the traffic: messages and bytes in, queued, per peer.
func TestStats(t *testing.T) {
	s, c := pair(t)
	ctx := testCtx(t)
	cid, _ := c.ID()
	payload := make([]byte, 64)
	for i := 0; i < 10; i++ {
		putWait(t, c, payload)
	}
	for i := 0; i < 4; i++ {
		if _, err := s.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The puts completed when written; wait until the server has read all.
	var st map[string]uint64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if st, err = s.Stats(); err != nil {
			t.Fatal(err)
		}
		if st["msgs_in"] == 10 || time.Now().After(deadline) {
			break
		}
	}
	if st["msgs_in"] != 10 || st["bytes_in"] != 640 || st["recv_queue_msgs"] != 6 || st["recv_queue_bytes"] != 384 {
		t.Fatalf("server stats: %v", st)
	}
	ps, err := s.PeerStats(cid)
	if err != nil {
		t.Fatal(err)
	}
	if ps["msgs_in"] != 10 || ps["recv_queue_msgs"] != 6 {
		t.Fatalf("peer stats: %v", ps)
	}
	cs, err := c.Stats()
	if err != nil || cs["msgs_out"] != 10 || cs["puts_ok"] != 10 {
		t.Fatalf("client stats: %v %v", cs, err)
	}
	if _, err := s.PeerStats(ID{1}); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("unknown peer: want ErrNoPeer, got %v", err)
	}
}

// The too-late case on purpose: the receive has its message when ctx's
// cancel comes (nq_comm_get_cancel says NQ_ESTATE). Get returns ctx.Err()
// and the next Get returns that message.
func TestGetCancelTooLate(t *testing.T) {
	s, c := pair(t)
	ctx := testCtx(t)
	putWait(t, c, []byte("first")) // the connection is up
	if msg, err := s.Get(ctx); err != nil || msg.Text() != "first" {
		t.Fatalf("get: %v %v", msg, err)
	}
	testHookCancel = func(done <-chan getResult) {
		putWait(t, c, []byte("late"))
		for deadline := time.Now().Add(10 * time.Second); len(done) == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the pending receive never got the message")
				return
			}
		}
	}
	defer func() { testHookCancel = nil }()
	gctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if msg, err := s.Get(gctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v %v", msg, err)
	}
	testHookCancel = nil
	if s.held() != 1 {
		t.Fatalf("held %d messages, want 1", s.held())
	}
	// A filter that does not match leaves it held; one that does takes it.
	cid, _ := c.ID()
	octx, ocancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer ocancel()
	if msg, err := s.Get(octx, ID{7}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("other peer: want deadline exceeded, got %v %v", msg, err)
	}
	if msg, err := s.Get(ctx, cid); err != nil || msg.Text() != "late" {
		t.Fatalf("want the late message, got %v %v", msg, err)
	}
	st, _ := s.Stats()
	if st["recv_queue_msgs"] != 0 || s.held() != 0 {
		t.Fatalf("duplicated: queued %d held %d", st["recv_queue_msgs"], s.held())
	}
}

// Close ends a pending Get(ctx) with ErrClosed and closes streams.
func TestGetCtxClose(t *testing.T) {
	s, _ := newServer(t)
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Get(ctx)
		errc <- err
	}()
	stream := s.Messages(ctx)
	time.Sleep(50 * time.Millisecond) // let both wait in C
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("want ErrClosed, got %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Get not ended by Close")
	}
	select {
	case msg, ok := <-stream:
		if ok {
			t.Fatalf("stream gave %v after Close", msg)
		}
	case <-ctx.Done():
		t.Fatal("stream not closed by Close")
	}
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("stats after close: %v", err)
	}
	select {
	case _, ok := <-s.Events():
		if ok {
			t.Fatal("event without WithEvents")
		}
	case <-ctx.Done():
		t.Fatal("events channel not closed after Close")
	}
}

// Get takes what is queued in one batch and holds the rest for the next
// Gets: each peer's order is kept, peer filters apply to held messages,
// Stats count them as queued, and nothing is read ahead while another Get
// waits in the library (it would not see held messages).
func TestGetReadAhead(t *testing.T) {
	s, port := newServer(t)
	ctx := testCtx(t)
	c1, c2 := newClient(t, port), newClient(t, port)
	id1, _ := c1.ID()
	id2, _ := c2.ID()
	const n = 50
	for i := 0; i < n; i++ {
		for _, c := range []*Comm{c1, c2} {
			if _, err := c.Put(binary.LittleEndian.AppendUint64(nil, uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitStat(t, s, "recv_queue_msgs", 2*n)
	next := map[ID]uint64{}
	expect := func(msg *Message) {
		t.Helper()
		if v := binary.LittleEndian.Uint64(msg.Data); v != next[msg.Peer] {
			t.Fatalf("peer %v: got %d, want %d", msg.Peer, v, next[msg.Peer])
		}
		next[msg.Peer]++
	}
	expect(mustGet(t, ctx, s))
	if s.held() == 0 {
		t.Fatal("nothing read ahead")
	}
	if st, _ := s.Stats(); st["recv_queue_msgs"] != 2*n-1 || st["recv_queue_bytes"] != 8*(2*n-1) {
		t.Fatalf("stats with held messages: %v", st)
	}
	for next[id2] < n {
		msg := mustGet(t, ctx, s, id2)
		if msg.Peer != id2 {
			t.Fatalf("filtered get returned %v", msg.Peer)
		}
		expect(msg)
	}
	for next[id1] < n {
		expect(mustGet(t, ctx, s))
	}
	waitStat(t, s, "recv_queue_msgs", 0)

	// Another Get waits in the library: no read-ahead meanwhile.
	wctx, cancel := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() {
		_, err := s.Get(wctx, ID{9})
		waited <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.recv.mu.Lock()
		w := s.recv.waiters
		s.recv.mu.Unlock()
		if w == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the filtered Get never waited")
		}
	}
	for i := 0; i < 10; i++ {
		if _, err := c1.Put(binary.LittleEndian.AppendUint64(nil, uint64(n+i))); err != nil {
			t.Fatal(err)
		}
	}
	waitStat(t, s, "recv_queue_msgs", 10)
	for i := 0; i < 10; i++ {
		expect(mustGet(t, ctx, s))
		if h := s.held(); h != 0 {
			t.Fatalf("read ahead %d while another Get waits", h)
		}
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting get: %v", err)
	}
}
