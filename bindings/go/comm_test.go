package netqueue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
)

func TestRoundTripWithCServer(t *testing.T) {
	ctx := testCtx(t)
	port := startPeer(t, nqTool(t), "server", "--host", "127.0.0.1", "--port", "0", "--echo")
	c := newClient(t, port)
	f := mustPut(t, c, []byte("hello from Go"))
	if err := f.Wait(ctx); err != nil {
		t.Fatalf("put completed with %v", err)
	}
	msg := mustGet(t, ctx, c)
	if msg.Text() != "hello from Go" {
		t.Fatalf("echo: got %q", msg.Data)
	}
	if msg.Peer == (ID{}) {
		t.Fatal("echo has no sender id")
	}
}

func TestBroadcastAndTargeted(t *testing.T) {
	ctx := testCtx(t)
	s, port := newServer(t)
	a, b := newClient(t, port), newClient(t, port)
	mustPut(t, a, []byte("a"))
	mustPut(t, b, []byte("b"))
	ids := map[string]ID{}
	for range 2 {
		msg := mustGet(t, ctx, s)
		ids[msg.Text()] = msg.Peer
	}
	aID, _ := a.ID()
	if ids["a"] != aID {
		t.Fatalf("server saw a as %v, a says %v", ids["a"], aID)
	}
	mustPut(t, s, []byte("to all"))
	mustPut(t, s, []byte("only a"), ids["a"])
	mustPut(t, s, []byte("end"))
	for _, c := range []struct {
		comm *Comm
		want []string
	}{{a, []string{"to all", "only a", "end"}}, {b, []string{"to all", "end"}}} {
		for _, w := range c.want {
			if got := mustGet(t, ctx, c.comm).Text(); got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		}
	}
}

func TestBigMessage(t *testing.T) {
	ctx := testCtx(t)
	s, port := newServer(t)
	c := newClient(t, port)
	data := make([]byte, 16<<20)
	rand.Read(data)
	f := mustPut(t, c, data)
	msg := mustGet(t, ctx, s)
	if !bytes.Equal(msg.Data, data) {
		t.Fatalf("16 MiB message differs (got %d bytes)", len(msg.Data))
	}
	if err := f.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTenThousandInOrder(t *testing.T) {
	ctx := testCtx(t)
	s, port := newServer(t)
	c := newClient(t, port)
	const n = 10000
	futures := make([]*Future, n)
	var done sync.WaitGroup
	done.Add(1)
	go func() { // the server reads while the client puts
		defer done.Done()
		for i := range n {
			msg, err := s.Get(ctx)
			if err != nil {
				t.Errorf("get %d: %v", i, err)
				return
			}
			if got := binary.BigEndian.Uint32(msg.Data); got != uint32(i) {
				t.Errorf("message %d carries %d", i, got)
				return
			}
		}
	}()
	for i := range n {
		futures[i] = mustPut(t, c, binary.BigEndian.AppendUint32(nil, uint32(i)))
	}
	for i, f := range futures {
		if err := f.Wait(ctx); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	done.Wait()
}

// Completions come from the library's I/O thread into the completion queue
// and reach Go through the drain goroutine; many goroutines put at once.
func TestCompletionFromLibraryThread(t *testing.T) {
	ctx := testCtx(t)
	s, port := newServer(t)
	c := newClient(t, port)
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				f, err := c.Put([]byte{byte(g), byte(i)})
				if err != nil {
					t.Errorf("put: %v", err)
					return
				}
				select {
				case <-f.Done():
					if f.Err() != nil {
						t.Errorf("completion: %v", f.Err())
					}
				case <-ctx.Done():
					t.Error("completion never came")
					return
				}
			}
		}()
	}
	for range goroutines * each {
		mustGet(t, ctx, s)
	}
	wg.Wait()
}

func TestPickleValues(t *testing.T) {
	ctx := testCtx(t)
	s, port := newServer(t, WithCodec(CodecPickle))
	c := newClient(t, port, WithCodec(CodecPickle))
	in := []any{nil, true, int64(-7), 2.5, "héllo", []byte{0, 1}, map[any]any{"k": int64(1)}}
	sent := []any{nil, true, -7, 2.5, "héllo", []byte{0, 1}, map[string]any{"k": 1}}
	if _, err := c.PutValue(sent); err != nil {
		t.Fatal(err)
	}
	got, err := mustGet(t, ctx, s).Value()
	if err != nil {
		t.Fatal(err)
	}
	list, ok := got.([]any)
	if !ok || len(list) != len(in) {
		t.Fatalf("got %#v", got)
	}
	for i := range in {
		if !equalValue(list[i], in[i]) {
			t.Errorf("item %d: got %#v, want %#v", i, list[i], in[i])
		}
	}
	if _, err := c.PutValue(struct{}{}); !errors.Is(err, ErrCodec) {
		t.Fatalf("struct value: %v", err)
	}
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !equalValue(v, y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestGetHonoursContext(t *testing.T) {
	s, _ := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled context: %v", err)
	}
}
