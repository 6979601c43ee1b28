package netqueue

import (
	"os"
	"testing"
)

// Go client, Rust server: $NQ_RUST_ECHO is the Rust binding's echo_server
// example (bindings/go/cross-rust.sh builds it and sets the variable).
func TestCrossLanguageRustServer(t *testing.T) {
	prog := os.Getenv("NQ_RUST_ECHO")
	if prog == "" {
		t.Skip("NQ_RUST_ECHO not set (run bindings/go/cross-rust.sh)")
	}
	ctx := testCtx(t)
	port := startPeer(t, prog, "--port", "0", "--count", "2")
	c := newClient(t, port)
	for _, text := range []string{"Go to Rust", "and back"} {
		mustPut(t, c, []byte(text))
		if got := mustGet(t, ctx, c).Text(); got != text {
			t.Fatalf("echo from Rust: got %q, want %q", got, text)
		}
	}
}
