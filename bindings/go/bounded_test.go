package netqueue

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// Nothing waits forever by default (issue 11): Close without a deadline is
// bounded by DefaultCloseTimeout, WaitForever still waits without a bound,
// and the connect timeout and keepalive options are checked.

// margin is what the tests allow beyond a bound (a loaded machine).
const margin = 3 * time.Second

// freePort is a loopback port with nothing listening on it (bound, then
// closed).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// futureErr waits (bounded) for f and returns its error.
func futureErr(t *testing.T, f *Future) error {
	t.Helper()
	select {
	case <-f.Done():
		return f.Err()
	case <-time.After(10 * time.Second):
		t.Fatal("put still pending")
		return nil
	}
}

func TestDefaultCloseTimeoutIsTenSeconds(t *testing.T) {
	if DefaultCloseTimeout != 10*time.Second {
		t.Fatalf("DefaultCloseTimeout = %v", DefaultCloseTimeout)
	}
}

func TestDeferredCloseOfClientWithoutServerIsBounded(t *testing.T) {
	port := freePort(t)
	var f *Future
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- func() (err error) {
			c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
			if err != nil {
				return err
			}
			defer func() { err = c.Close(context.Background()) }()
			f, err = c.Put([]byte("nobody hears this"))
			return err
		}()
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(DefaultCloseTimeout + margin):
		t.Fatal("Close(context.Background()) still waiting")
	}
	if took := time.Since(start); took > DefaultCloseTimeout+margin {
		t.Fatalf("close took %v", took)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusTimedOut || !strings.Contains(e.Detail, "was not reached") {
		t.Fatalf("close: %v, want a timeout with the library's detail", err)
	}
	if err := futureErr(t, f); !errors.Is(err, ErrCanceled) {
		t.Fatalf("put: %v, want ErrCanceled", err)
	}
}

func TestShortCloseDeadlineIsHonoured(t *testing.T) {
	c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	f := mustPut(t, c, []byte("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Close(ctx); !errors.Is(err, ErrTimedOut) {
		t.Fatalf("close: %v", err)
	}
	if took := time.Since(start); took > 300*time.Millisecond+margin {
		t.Fatalf("close took %v", took)
	}
	if err := futureErr(t, f); !errors.Is(err, ErrCanceled) {
		t.Fatalf("put: %v", err)
	}
}

func TestWaitForeverClosePassesTheDefaultBound(t *testing.T) {
	port := freePort(t)
	c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	f := mustPut(t, c, []byte("late but delivered"))
	closed := make(chan error, 1)
	go func() { closed <- c.Close(WaitForever(context.Background())) }()
	select {
	case err := <-closed:
		t.Fatalf("WaitForever close gave up: %v", err)
	case <-time.After(DefaultCloseTimeout + time.Second):
	}
	s, err := New(TCP, Server, WithHost("127.0.0.1"), WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	closeAt(t, s)
	ctx := testCtx(t)
	if msg := mustGet(t, ctx, s); string(msg.Data) != "late but delivered" {
		t.Fatalf("got %q", msg.Data)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("close did not end once the server came")
	}
	if err := futureErr(t, f); err != nil {
		t.Fatalf("put: %v", err)
	}
}

func TestConnectTimeoutFailsPendingPuts(t *testing.T) {
	c, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(freePort(t)),
		WithConnectTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil && !errors.Is(err, ErrTimedOut) {
			t.Errorf("close: %v", err)
		}
	}()
	err = futureErr(t, mustPut(t, c, []byte("x")))
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusAddress || !strings.Contains(e.Detail, "not reached within the connect timeout") {
		t.Fatalf("put: %v, want ErrAddress saying why", err)
	}
}

func TestConnectTimeoutAndKeepaliveOptions(t *testing.T) {
	if DefaultConnectTimeout != 30*time.Second || DefaultKeepalive != 30*time.Second {
		t.Fatalf("defaults %v %v", DefaultConnectTimeout, DefaultKeepalive)
	}
	ctx := testCtx(t)
	s, port := newServer(t)
	for _, opt := range []Option{WithKeepalive(time.Second), WithKeepalive(0), WithKeepalive(24 * time.Hour),
		WithConnectTimeout(NoTimeout), WithConnectTimeout(0)} {
		c := newClient(t, port, opt)
		if err := mustPut(t, c, []byte("ok")).Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if msg := mustGet(t, ctx, s); string(msg.Data) != "ok" {
			t.Fatalf("got %q", msg.Data)
		}
	}
	for _, bad := range []struct {
		opt  Option
		text string
	}{
		{WithKeepalive(500 * time.Millisecond), "keepalive"},
		{WithKeepalive(24*time.Hour + time.Millisecond), "keepalive"},
		{WithKeepalive(-time.Second), "keepalive"},
		{WithConnectTimeout(-time.Second), "connect timeout"},
		{WithConnectTimeout(-time.Microsecond), "connect timeout"},
	} {
		_, err := New(TCP, Client, WithHost("127.0.0.1"), WithPort(port), bad.opt)
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusInvalid || !strings.Contains(e.Detail, bad.text) {
			t.Errorf("%s: got %v, want an invalid-argument error about it", bad.text, err)
		}
	}
}
