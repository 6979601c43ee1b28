mod common;
use common::*;
use netqueue::Options;

/// Rust client, Go server: $NQ_GO_ECHO is the Go binding's echo-server
/// example (bindings/go/cross-rust.sh builds it and sets the variable).
#[test]
fn rust_client_go_server() {
    let Ok(prog) = std::env::var("NQ_GO_ECHO") else {
        eprintln!("skipped: NQ_GO_ECHO not set (run bindings/go/cross-rust.sh)");
        return;
    };
    let (_peer, port) = start_peer(&prog, &["-port", "0", "-count", "2"]);
    let c = client(port, Options::new().unwrap());
    for text in ["Rust to Go", "and back"] {
        c.put(text.as_bytes(), &[]).unwrap().wait().unwrap();
        assert_eq!(c.get(&[], PATIENCE).unwrap().data(), text.as_bytes());
    }
    c.close(PATIENCE).unwrap();
}
