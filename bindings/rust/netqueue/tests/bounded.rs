//! Nothing waits forever by default (issue 11): dropping a Comm closes it
//! within DEFAULT_CLOSE_TIMEOUT, close(None) still waits without a bound,
//! and the connect timeout and keepalive options are checked.
mod common;
use common::*;
use netqueue::{Comm, Options, Protocol, Purpose, Status, DEFAULT_CLOSE_TIMEOUT};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What the tests allow beyond a bound (a loaded machine).
const MARGIN: Duration = Duration::from_secs(3);

/// A loopback port with nothing listening on it (bound, then closed).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn default_close_timeout_is_ten_seconds() {
    assert_eq!(DEFAULT_CLOSE_TIMEOUT, Duration::from_secs(10));
}

#[test]
fn drop_of_a_client_without_server_is_bounded() {
    let port = free_port();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    thread::spawn(move || {
        let c = client(port, Options::new().unwrap());
        let put = c.put(b"nobody hears this", &[]).unwrap();
        drop(c);
        tx.send(put.wait()).unwrap();
    });
    let outcome = rx.recv_timeout(DEFAULT_CLOSE_TIMEOUT + MARGIN).expect("drop still waiting");
    let took = start.elapsed();
    // it waited for the orderly end, up to the bound, not less
    assert!(took >= DEFAULT_CLOSE_TIMEOUT - Duration::from_millis(100), "took {took:?}");
    // the put made there is reported: cancelled by the close
    assert_eq!(outcome.err().map(|e| e.status), Some(Status::Canceled));
}

#[test]
fn close_timing_out_says_why() {
    let c = client(free_port(), Options::new().unwrap());
    let put = c.put(b"x", &[]).unwrap();
    let start = Instant::now();
    let e = c.close(Some(Duration::from_millis(300))).expect_err("close to nobody succeeded");
    assert!(start.elapsed() < Duration::from_millis(300) + MARGIN, "took {:?}", start.elapsed());
    assert_eq!(e.status, Status::TimedOut);
    assert!(e.detail.contains("was not reached"), "{}", e.detail);
    assert_eq!(put.wait().err().map(|e| e.status), Some(Status::Canceled));
    let start = Instant::now();
    drop(c); // closed already: nothing to wait for
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn close_none_waits_past_the_default_bound() {
    let port = free_port();
    let c = client(port, Options::new().unwrap());
    let put = c.put(b"late but delivered", &[]).unwrap();
    let (tx, rx) = mpsc::channel();
    let closer = thread::spawn(move || tx.send(c.close(None)).unwrap());
    assert!(rx.recv_timeout(DEFAULT_CLOSE_TIMEOUT + Duration::from_secs(1)).is_err(), "close(None) gave up");
    let opts = Options::new().unwrap().host("127.0.0.1").unwrap().port(port).unwrap();
    let s = Comm::new(Protocol::Tcp, Purpose::Server, &opts).unwrap();
    assert_eq!(s.get(&[], PATIENCE).unwrap().data(), b"late but delivered");
    let closed = rx.recv_timeout(Duration::from_secs(30)).expect("close did not end once the server came");
    closed.unwrap();
    closer.join().unwrap();
    put.wait().unwrap();
    s.close(PATIENCE).unwrap();
}

#[test]
fn connect_timeout_fails_pending_puts() {
    let c = client(free_port(), Options::new().unwrap().connect_timeout(Duration::from_millis(300)).unwrap());
    let put = c.put(b"x", &[]).unwrap();
    let outcome = put.wait_timeout(Duration::from_secs(10)).expect("put still pending");
    let e = outcome.expect_err("put to nobody succeeded");
    assert_eq!(e.status, Status::Address);
    assert!(e.detail.contains("not reached within the connect timeout"), "{e}");
    let _ = c.close(Some(Duration::from_secs(1)));
}

#[test]
fn connect_timeout_and_keepalive_options() {
    assert_eq!(Options::DEFAULT_CONNECT_TIMEOUT, Duration::from_secs(30));
    assert_eq!(Options::DEFAULT_KEEPALIVE, Duration::from_secs(30));
    let (s, port) = server(Options::new().unwrap());
    let good = [
        Options::new().unwrap().keepalive(Duration::from_secs(1)),
        Options::new().unwrap().keepalive(Duration::ZERO),
        Options::new().unwrap().keepalive(None),
        Options::new().unwrap().keepalive(Duration::from_secs(86_400)),
        Options::new().unwrap().connect_timeout(None),
        Options::new().unwrap().connect_timeout(Some(Duration::ZERO)),
    ];
    for opts in good {
        let c = client(port, opts.expect("a good value refused"));
        c.put(b"ok", &[]).unwrap().wait().unwrap();
        assert_eq!(s.get(&[], PATIENCE).unwrap().data(), b"ok");
        c.close(PATIENCE).unwrap();
    }
    for d in [Duration::from_millis(500), Duration::from_nanos(1), Duration::from_secs(86_400) + Duration::from_millis(1)] {
        let e = Options::new().unwrap().keepalive(d).err().expect("a bad keepalive accepted");
        assert_eq!(e.status, Status::Invalid);
        assert!(e.detail.contains("keepalive"), "{}", e.detail);
    }
    s.close(PATIENCE).unwrap();
}

#[test]
fn get_timeout_is_honoured() {
    let (s, _port) = server(Options::new().unwrap());
    let start = Instant::now();
    assert_eq!(s.get(&[], Some(Duration::from_millis(200))).err().map(|e| e.status), Some(Status::TimedOut));
    assert!(start.elapsed() < Duration::from_millis(200) + MARGIN);
    s.close(PATIENCE).unwrap();
}
