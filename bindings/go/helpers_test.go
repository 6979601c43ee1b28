package netqueue

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// testCtx bounds a whole test so that a hang fails instead of blocking the
// run; it is a safety net, not a timing assertion.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// closeAt closes m when the test ends (and reports an error then).
func closeAt(t *testing.T, m *Comm) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// newServer is a binding server on a free loopback port.
func newServer(t *testing.T, opts ...Option) (*Comm, int) {
	t.Helper()
	s, err := New(TCP, Server, append([]Option{WithHost("127.0.0.1"), WithPort(0)}, opts...)...)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	closeAt(t, s)
	port, err := s.Port()
	if err != nil || port == 0 {
		t.Fatalf("port: %d %v", port, err)
	}
	return s, port
}

func newClient(t *testing.T, port int, opts ...Option) *Comm {
	t.Helper()
	c, err := New(TCP, Client, append([]Option{WithHost("127.0.0.1"), WithPort(port)}, opts...)...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	closeAt(t, c)
	return c
}

// nqTool is the C command-line peer: $NQ_CLI, else the build tree's.
func nqTool(t *testing.T) string {
	p := os.Getenv("NQ_CLI")
	if p == "" {
		p, _ = filepath.Abs("../../build/src/cli/nq")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no nq tool at %s (set NQ_CLI)", p)
	}
	return p
}

var listenRe = regexp.MustCompile(`listening on .*:(\d+)`)

// startPeer runs a server program that says "listening on HOST:PORT" on
// stderr and returns its port; it is killed when the test ends.
func startPeer(t *testing.T, prog string, args ...string) int {
	t.Helper()
	cmd := exec.Command(prog, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
			go func() { // keep draining so the peer never blocks on stderr
				for sc.Scan() {
					t.Logf("%s: %s", filepath.Base(prog), sc.Text())
				}
			}()
			port, _ := strconv.Atoi(m[1])
			return port
		}
		t.Logf("%s: %s", filepath.Base(prog), sc.Text())
	}
	t.Fatalf("%s exited without listening", prog)
	return 0
}

func mustPut(t *testing.T, m *Comm, data []byte, to ...ID) *Future {
	t.Helper()
	f, err := m.Put(data, to...)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return f
}

func mustGet(t *testing.T, ctx context.Context, m *Comm, from ...ID) *Message {
	t.Helper()
	msg, err := m.Get(ctx, from...)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return msg
}
