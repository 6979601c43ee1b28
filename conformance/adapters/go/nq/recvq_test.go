package nq

import (
	"testing"
	"time"
)

type outcome struct {
	m   *Message
	err error
}

func collect() (GetFunc, chan outcome) {
	ch := make(chan outcome, 1)
	return func(m *Message, err error) { ch <- outcome{m, err} }, ch
}

func await(t *testing.T, ch chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("get not answered within 5 s")
		return outcome{}
	}
}

// Gets on chosen peers leave other peers' messages queued, in order.
func TestRecvQueuePeersAndOrder(t *testing.T) {
	var q RecvQueue
	a, b := ID{1}, ID{2}
	q.Push(&Message{Peer: a, Data: []byte("a1")})
	q.Push(&Message{Peer: b, Data: []byte("b1")})
	q.Push(&Message{Peer: a, Data: []byte("a2")})
	for _, want := range []struct {
		peers []ID
		data  string
	}{{[]ID{b}, "b1"}, {nil, "a1"}, {nil, "a2"}} {
		f, ch := collect()
		q.Get(want.peers, 0, f)
		if o := await(t, ch); o.err != nil || string(o.m.Data) != want.data {
			t.Fatalf("got %+v, want %s", o, want.data)
		}
	}
	f, ch := collect()
	q.Get(nil, 10*time.Millisecond, f)
	if o := await(t, ch); o.err != ErrTimeout {
		t.Fatalf("empty queue: %+v, want ErrTimeout", o)
	}
}

// A waiting get gets the next message for it; close ends the others,
// and later gets drain what is left, then see ErrClosed.
func TestRecvQueueWaitersAndClose(t *testing.T) {
	var q RecvQueue
	a, b := ID{1}, ID{2}
	fa, cha := collect()
	fw, chw := collect()
	q.Get([]ID{a}, -1, fa)
	q.Get([]ID{a}, -1, fw)
	q.Push(&Message{Peer: b, Data: []byte("b1")})
	q.Push(&Message{Peer: a, Data: []byte("a1")})
	if o := await(t, cha); o.err != nil || string(o.m.Data) != "a1" {
		t.Fatalf("first waiter: %+v", o)
	}
	q.Close()
	if o := await(t, chw); o.err != ErrClosed {
		t.Fatalf("second waiter after close: %+v, want ErrClosed", o)
	}
	f, ch := collect()
	q.Get(nil, -1, f)
	if o := await(t, ch); o.err != nil || string(o.m.Data) != "b1" {
		t.Fatalf("after close, queued message: %+v", o)
	}
	f, ch = collect()
	q.Get(nil, -1, f)
	if o := await(t, ch); o.err != ErrClosed {
		t.Fatalf("after close, empty: %+v, want ErrClosed", o)
	}
}

// Over the limit, Push waits for gets to bring the queue down to half
// (the reader stops reading), and nothing is dropped.
func TestRecvQueueBackpressure(t *testing.T) {
	var q RecvQueue
	big := make([]byte, QueueLimit/4)
	pushed := make(chan int, 8)
	go func() {
		for i := 0; i < 8; i++ {
			q.Push(&Message{Data: append([]byte{byte(i)}, big...)})
			pushed <- i
		}
	}()
	deadline := time.After(5 * time.Second)
	for n := 0; n < 4; n++ { // 4 quarters and their overhead: over the limit
		select {
		case <-pushed:
		case <-deadline:
			t.Fatalf("only %d pushes under the limit", n)
		}
	}
	select {
	case i := <-pushed:
		t.Fatalf("push %d went through with the queue over its limit", i)
	case <-time.After(100 * time.Millisecond):
	}
	for want := 0; want < 8; want++ {
		f, ch := collect()
		q.Get(nil, 5*time.Second, f)
		if o := await(t, ch); o.err != nil || o.m.Data[0] != byte(want) {
			t.Fatalf("message %d: %+v", want, o.err)
		}
	}
}
