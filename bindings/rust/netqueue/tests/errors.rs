mod common;
use common::*;
use netqueue::{Comm, Id, Options, Protocol, Purpose, QueuePolicy, Status};
use std::time::Duration;

#[test]
fn bad_options() {
    for (name, r) in [
        ("workers", Options::new().unwrap().workers(0)),
        ("workers", Options::new().unwrap().workers(65)),
        ("host", Options::new().unwrap().host("")),
    ] {
        match r {
            Err(e) => {
                assert_eq!(e.status, Status::Invalid, "{name}");
                assert!(!e.detail.is_empty(), "{name}: no detail");
            }
            Ok(_) => panic!("{name}: bad value accepted"),
        }
    }
    let opts = Options::new().unwrap().port(0).unwrap().tls().unwrap()
        .tls_key("/nonexistent/key.pem").unwrap().tls_cert("/nonexistent/cert.pem").unwrap();
    assert!(Comm::new(Protocol::Tcp, Purpose::Server, &opts).is_err());
}

#[test]
fn unknown_and_closed_peer() {
    let (s, port) = server(Options::new().unwrap());
    let e = s.put(b"x", &[Id([1; 16])]).err().expect("put to an unknown id");
    assert_eq!(e.status, Status::NoPeer);
    let c = client(port, Options::new().unwrap());
    c.put(b"hi", &[]).unwrap();
    let peer = s.get(&[], PATIENCE).unwrap().peer();
    c.close(PATIENCE).unwrap();
    // The client said fin and left. The server may still be ending the
    // session when the client's close returns: then the put is accepted
    // and its completion fails instead of the call.
    let late = s.put(b"late", &[peer]).and_then(|p| p.wait());
    let status = late.err().map(|e| e.status);
    assert!(matches!(status, Some(Status::NoPeer | Status::Reset)), "put to a peer that closed: {status:?}");
    assert_eq!(c.put(b"after", &[]).err().map(|e| e.status), Some(Status::Closed));
    assert_eq!(c.get(&[], PATIENCE).err().map(|e| e.status), Some(Status::Closed));
    c.close(PATIENCE).unwrap(); // a second close is fine
    s.close(PATIENCE).unwrap();
}

/// A server that never reads fills up; the client closes with a short
/// deadline while megabytes are queued: the connection is cut and every
/// put completes, the unsent ones cancelled.
#[test]
fn close_while_in_flight() {
    let (s, port) = server(Options::new().unwrap().queue_limit(1024, QueuePolicy::Block).unwrap());
    let c = client(port, Options::new().unwrap());
    let chunk = vec![0u8; 1 << 20];
    let puts: Vec<_> = (0..64).map(|_| c.put(&chunk, &[]).unwrap()).collect();
    match c.close(Some(Duration::from_millis(200))) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.status, Status::TimedOut),
    }
    let mut cancelled = 0;
    for (i, p) in puts.iter().enumerate() {
        assert!(p.is_done(), "put {i} not complete after close");
        match p.wait() {
            Ok(()) => {}
            Err(e) if matches!(e.status, Status::Canceled | Status::Reset) => cancelled += 1,
            Err(e) => panic!("put {i}: {e}"),
        }
    }
    assert!(cancelled > 0, "64 MiB went into a server that does not read");
    drop(c);
    // The server keeps the cut client's session for its return (60 s), so
    // its close ends by its deadline.
    let _ = s.close(Some(Duration::from_millis(100)));
}
