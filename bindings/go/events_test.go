package netqueue

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// nextEvent waits for an event (the test fails after a few seconds).
func nextEvent(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("events channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

// waitStat polls a statistic until it has the value wanted.
func waitStat(t *testing.T, m *Comm, key string, want uint64) {
	t.Helper()
	var st map[string]uint64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if st, err = m.Stats(); err != nil {
			t.Fatal(err)
		}
		if st[key] == want || time.Now().After(deadline) {
			break
		}
	}
	if st[key] != want {
		t.Fatalf("%s = %d, want %d (%v)", key, st[key], want, st)
	}
}

// Events come without any data receive: connected as soon as a client is
// there, finished while its messages are still queued; Get returns the
// data and never an event.
func TestEventsWithoutReceive(t *testing.T) {
	s, port := newServer(t, WithEvents())
	ctx := testCtx(t)
	events := s.Events()
	c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	cid, _ := c.ID()
	// No Get, no stream: the events receive alone brings it.
	if ev := nextEvent(t, events); ev.Kind != EventConnected || ev.Peer != cid || ev.Detail == "" {
		t.Fatalf("want connected of %v, got %+v", cid, ev)
	}
	for _, p := range []string{"a", "b", "c"} {
		if _, err := c.Put([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Finished comes while the three messages wait for a Get.
	if ev := nextEvent(t, events); ev.Kind != EventFinished || ev.Peer != cid || ev.Kind.String() != "finished" {
		t.Fatalf("want finished of %v, got %+v", cid, ev)
	}
	waitStat(t, s, "recv_queue_msgs", 3)
	for i, want := range []string{"a", "b", "c"} {
		msg, err := s.Get(ctx)
		if err != nil || msg.Text() != want || msg.Peer != cid {
			t.Fatalf("get %d: %v %v", i, msg, err)
		}
	}
	// Nothing else for Get: the events went to the channel only.
	gctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if msg, err := s.Get(gctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want no more data, got %v %v", msg, err)
	}
	select {
	case ev := <-events:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

// Data receives of every form never see an event, whichever comes first:
// a stream and blocking Gets running while clients come and go.
func TestEventsApartFromData(t *testing.T) {
	s, port := newServer(t, WithEvents())
	ctx := testCtx(t)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	stream := s.Messages(sctx)
	events := s.Events()
	const clients = 4
	for i := 0; i < clients; i++ {
		c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
		if err != nil {
			t.Fatal(err)
		}
		putWait(t, c, []byte{byte(i)})
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < clients; i++ {
		select {
		case msg := <-stream:
			if len(msg.Data) != 1 {
				t.Fatalf("stream got %q", msg.Data)
			}
		case <-ctx.Done():
			t.Fatal("stream stalled")
		}
	}
	// Each client: connected, then finished, in order per peer.
	state := map[ID]EventKind{}
	for i := 0; i < 2*clients; i++ {
		ev := nextEvent(t, events)
		switch ev.Kind {
		case EventConnected:
			if _, seen := state[ev.Peer]; seen {
				t.Fatalf("connected twice: %+v", ev)
			}
		case EventFinished:
			if state[ev.Peer] != EventConnected {
				t.Fatalf("finished before connected: %+v", ev)
			}
		default:
			t.Fatalf("unexpected event %+v", ev)
		}
		state[ev.Peer] = ev.Kind
	}
	if len(state) != clients {
		t.Fatalf("events of %d peers, want %d", len(state), clients)
	}
}

// A program that does not read events: the channel fills up to its
// capacity, the rest wait in the library's queue (no receive pending for
// them), nothing is dropped, and reading brings them all, in order. Data
// receives go on meanwhile.
func TestEventsBounded(t *testing.T) {
	eventsBuffer = 3
	defer func() { eventsBuffer = EventsBuffer }()
	s, port := newServer(t, WithEvents())
	ctx := testCtx(t)
	const clients = 5 // 10 events
	var ids []ID
	for i := 0; i < clients; i++ {
		c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := c.ID()
		ids = append(ids, id)
		putWait(t, c, []byte("x"))
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 3 on the channel, 1 held by the pump waiting for room, 6 queued in
	// C beside the 5 messages.
	waitStat(t, s, "recv_queue_msgs", uint64(clients+2*clients-eventsBuffer-1))
	events := s.Events()
	if len(events) != eventsBuffer || cap(events) != eventsBuffer {
		t.Fatalf("channel holds %d of %d", len(events), cap(events))
	}
	for i := 0; i < clients; i++ {
		if msg := mustGet(t, ctx, s); msg.Text() != "x" {
			t.Fatalf("got %q", msg.Text())
		}
	}
	for i, id := range ids {
		for _, want := range []EventKind{EventConnected, EventFinished} {
			if ev := nextEvent(t, events); ev.Kind != want || ev.Peer != id {
				t.Fatalf("client %d: want %v, got %+v", i, want, ev)
			}
		}
	}
	waitStat(t, s, "recv_queue_msgs", 0)
}

// Close ends the events: the channel is closed (after what it held), even
// when nobody reads it and it is full, and no goroutine is left behind.
func TestEventsClose(t *testing.T) {
	ctx := testCtx(t)
	before := runtime.NumGoroutine()
	for _, read := range []bool{true, false} {
		eventsBuffer = 2
		s, err := New(TCP, Server, WithHost("127.0.0.1"), WithPort(0), WithEvents())
		eventsBuffer = EventsBuffer
		if err != nil {
			t.Fatal(err)
		}
		port, _ := s.Port()
		for i := 0; i < 3; i++ { // 6 events
			c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
			if err != nil {
				t.Fatal(err)
			}
			putWait(t, c, []byte("x"))
			if err := c.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		if read {
			for ; got < 6; got++ {
				nextEvent(t, s.Events())
			}
		} else {
			waitStat(t, s, "recv_queue_msgs", 3+6-2-1)
		}
		done := make(chan error, 1)
		go func() { done <- s.Close(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close hangs")
		}
		for range s.Events() { // what the channel held, then closed
			got++
		}
		if read && got != 6 || !read && got != 2 {
			t.Fatalf("read=%v: %d events", read, got)
		}
		if _, err := s.Get(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("get after close: %v", err)
		}
	}
	// Every goroutine of those communicators has ended.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
