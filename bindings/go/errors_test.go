package netqueue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBadOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"port":    WithPort(70000),
		"workers": WithWorkers(0),
		"host":    WithHost(""),
	} {
		_, err := New(TCP, Server, opt)
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusInvalid || e.Detail == "" {
			t.Errorf("%s: got %v, want an invalid-argument error with detail", name, err)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: errors.Is(ErrInvalid) is false for %v", name, err)
		}
	}
	_, err := New(TCP, Server, WithPort(0), WithTLS(TLS{Key: "/nonexistent/key.pem", Cert: "/nonexistent/cert.pem"}))
	if err == nil {
		t.Fatal("TLS server with missing files was created")
	}
}

func TestUnknownAndClosedPeer(t *testing.T) {
	ctx := testCtx(t)
	s, port := newServer(t)
	if _, err := s.Put([]byte("x"), ID{1, 2, 3}); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("put to an unknown id: %v", err)
	}
	c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, []byte("hi"))
	peer := mustGet(t, ctx, s).Peer
	if err := c.Close(ctx); err != nil {
		t.Fatalf("client close: %v", err)
	}
	// The client said fin and left. The server may still be ending the
	// session when the client's Close returns: then the put is accepted
	// and its future fails instead of the call.
	f, err := s.Put([]byte("late"), peer)
	if err == nil {
		err = f.Wait(ctx)
	}
	if !errors.Is(err, ErrNoPeer) && !errors.Is(err, ErrReset) {
		t.Fatalf("put to a peer that closed: %v", err)
	}
	if _, err := c.Put([]byte("after close")); !errors.Is(err, ErrClosed) {
		t.Fatalf("put on a closed communicator: %v", err)
	}
	if _, err := c.Get(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("get on a closed communicator: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// A server that never reads fills up; the client closes with a short
// deadline while megabytes are still queued. Close must cut the
// connection, and every put must complete, the unsent ones cancelled.
func TestCloseWhileInFlight(t *testing.T) {
	ctx := testCtx(t)
	// Not newServer: the server keeps the cut client's session for its
	// return (60 s), so its own close can only end by its deadline.
	s, err := New(TCP, Server, WithHost("127.0.0.1"), WithPort(0), WithQueueLimit(1024, QueueBlock))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := s.Close(short); err != nil && !errors.Is(err, ErrTimedOut) {
			t.Errorf("server close: %v", err)
		}
	}()
	port, _ := s.Port()
	c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	var futures []*Future
	for range 64 {
		futures = append(futures, mustPut(t, c, chunk))
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := c.Close(short); err != nil && !errors.Is(err, ErrTimedOut) {
		t.Fatalf("close: %v", err)
	}
	canceled := 0
	for i, f := range futures {
		select {
		case <-f.Done():
		default:
			t.Fatalf("put %d has not completed after Close", i)
		}
		switch err := f.Err(); {
		case err == nil:
		case errors.Is(err, ErrCanceled), errors.Is(err, ErrReset):
			canceled++
		default:
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if canceled == 0 {
		t.Fatal("64 MiB went into a server that does not read")
	}
}
