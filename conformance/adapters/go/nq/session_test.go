package nq

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func putWait(t *testing.T, put func(PutFunc)) {
	t.Helper()
	ch := make(chan error, 1)
	put(func(err error) { ch <- err })
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("put: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("put not done within 5 s")
	}
}

func getWait(t *testing.T, q *RecvQueue) *Message {
	t.Helper()
	f, ch := collect()
	q.Get(nil, 5*time.Second, f)
	o := await(t, ch)
	if o.err != nil {
		t.Fatalf("get: %v", o.err)
	}
	return o.m
}

// Our server and client over loopback, both dialects: messages both ways
// (including the frames that look like fin in the other dialect), then
// the client's close and the server's close both finish cleanly.
func TestServerClientExchange(t *testing.T) {
	for _, d := range []Dialect{Current, Legacy} {
		t.Run(fmt.Sprint("dialect", d), func(t *testing.T) {
			srv, err := Listen(Config{ID: NewID(), Dialect: d, Addr: "127.0.0.1:0", Log: func(string) {}})
			if err != nil {
				t.Fatal(err)
			}
			cid := NewID()
			cli := Dial(Config{ID: cid, Dialect: d, Addr: fmt.Sprintf("127.0.0.1:%d", srv.Port()), Log: func(string) {}})
			// Each side may send the other's id (data), not its own (its
			// fin) in the current dialect; in the legacy dialect any 16
			// bytes are data and an empty frame is fin.
			big := bytes.Repeat([]byte{7}, 100000)
			c2s := [][]byte{[]byte("hello"), {}, srv.cfg.ID[:], big}
			s2c := [][]byte{[]byte("hello"), {}, cid[:], big}
			if d == Legacy {
				c2s = [][]byte{[]byte("hello"), cid[:], srv.cfg.ID[:], big}
				s2c = [][]byte{[]byte("hello"), srv.cfg.ID[:], cid[:], big}
			}
			for i := range c2s {
				m := c2s[i]
				putWait(t, func(f PutFunc) { cli.Put(m, nil, f) })
				got := getWait(t, &srv.Recv)
				if got.Peer != cid || !bytes.Equal(got.Data, m) {
					t.Fatalf("c2s %d: server got %d bytes from %s, want %d from %s", i, len(got.Data), got.Peer.Hex(), len(m), cid.Hex())
				}
				m = s2c[i]
				putWait(t, func(f PutFunc) { srv.Put(m, []ID{cid}, f) })
				got = getWait(t, &cli.Recv)
				if got.Peer != srv.cfg.ID || !bytes.Equal(got.Data, m) {
					t.Fatalf("s2c %d: client got %d bytes, want %d", i, len(got.Data), len(m))
				}
			}
			if err := cli.Close(5 * time.Second); err != nil {
				t.Fatalf("client close: %v", err)
			}
			if err := srv.Close(5 * time.Second); err != nil {
				t.Fatalf("server close: %v", err)
			}
			ch := make(chan error, 1)
			srv.Put([]byte("late"), []ID{cid}, func(err error) { ch <- err })
			if err := <-ch; err == nil {
				t.Fatal("a put after close succeeded")
			}
		})
	}
}

// A put naming a peer without a session fails and sends nothing.
func TestServerPutUnknownPeer(t *testing.T) {
	srv, err := Listen(Config{ID: NewID(), Addr: "127.0.0.1:0", Log: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(0)
	ch := make(chan error, 1)
	srv.Put([]byte("x"), []ID{NewID()}, func(err error) { ch <- err })
	if err := <-ch; err == nil {
		t.Fatal("a put to an unknown peer succeeded")
	}
}
