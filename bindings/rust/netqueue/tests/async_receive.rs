//! The async API under tokio (a dev-dependency only: the crate itself
//! needs no runtime): get_async, the Stream, drop-cancel with messages in
//! flight, peer events, statistics. Server and clients are communicators of
//! this process on loopback TCP.
mod common;
use common::*;
use futures_core::Stream;
use netqueue::{Comm, EventKind, Message, Options, Received, Receiver, Status};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap()
}

/// Every await in these tests is bounded: a hang fails, it does not block.
async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(PATIENCE.unwrap(), f).await.unwrap_or_else(|_| panic!("{what}: no result in time"))
}

async fn next(s: &mut Receiver<'_>) -> Option<netqueue::Result<Received>> {
    bounded("stream", poll_fn(|cx| Pin::new(&mut *s).poll_next(cx))).await
}

fn data(r: Received) -> Message {
    match r {
        Received::Data(m) => m,
        Received::Event(e) => panic!("expected data, got {e:?}"),
    }
}

fn numbered(m: &Message) -> u32 {
    u32::from_le_bytes(m.data()[..4].try_into().unwrap())
}

/// Put n messages numbered 0..n from c, each 4 bytes of its number.
fn put_numbered(c: &Comm, n: u32) -> Vec<netqueue::Put> {
    (0..n).map(|i| c.put(&i.to_le_bytes(), &[]).unwrap()).collect()
}

#[test]
fn get_async_round_trip_and_timeout() {
    runtime().block_on(async {
        let (s, port) = server(Options::new().unwrap());
        let c = client(port, Options::new().unwrap());
        // nothing sent yet: a short deadline completes TimedOut
        let err = bounded("timeout", s.get_async(&[], Some(Duration::from_millis(50)))).await.unwrap_err();
        assert_eq!(err.status, Status::TimedOut);
        // the receive is queued before the put
        let pending = s.get_async(&[], PATIENCE);
        bounded("put", c.put(b"ping", &[]).unwrap()).await.unwrap();
        let m = bounded("server get", pending).await.unwrap();
        assert_eq!(m.data(), b"ping");
        assert_eq!(m.peer(), c.id().unwrap());
        assert!(m.is_data() && m.event().is_none());
        bounded("reply", s.put(b"pong", &[m.peer()]).unwrap()).await.unwrap();
        let r = bounded("client get", c.get_async(&[s.id().unwrap()], PATIENCE)).await.unwrap();
        assert_eq!(r.data(), b"pong");
        c.close(PATIENCE).unwrap();
        s.close(PATIENCE).unwrap();
        // closed and drained: Closed, at once
        let err = bounded("closed", s.get_async(&[], None)).await.unwrap_err();
        assert_eq!(err.status, Status::Closed);
    });
}

#[test]
fn stream_in_order_then_ends_at_close() {
    runtime().block_on(async {
        let (s, port) = server(Options::new().unwrap());
        let c = client(port, Options::new().unwrap());
        const N: u32 = 2000;
        let puts = put_numbered(&c, N);
        let mut st = s.stream(&[]);
        for want in 0..N {
            let m = data(next(&mut st).await.expect("stream ended early").unwrap());
            assert_eq!(numbered(&m), want);
        }
        for p in puts {
            bounded("put", p).await.unwrap();
        }
        c.close(PATIENCE).unwrap();
        s.close(PATIENCE).unwrap();
        assert!(next(&mut st).await.is_none(), "stream goes on after close");
    });
}

/// Receives dropped while messages keep coming, so that some are
/// cancelled and some are too late to cancel (the library already handed
/// them a message). Every message arrives exactly once, in order.
#[test]
fn dropped_receives_lose_and_duplicate_nothing() {
    runtime().block_on(async {
        let (s, port) = server(Options::new().unwrap());
        let c = client(port, Options::new().unwrap());
        const N: usize = 5_000;
        // a sender in bursts, so that receives are pending when messages
        // come; it goes on until told to stop and says how many it sent
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let sender = std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..8 {
                    drop(c.put(&i.to_le_bytes(), &[]).unwrap());
                    i += 1;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            (c, i)
        });
        let mut got = Vec::new();
        let mut dropped = 0u32;
        let mut round = 0u32;
        // until N messages came and a cancel was too late at least once
        // (rare: the I/O thread must be between handing a message to the
        // receive and completing it), bounded by PATIENCE
        let deadline = std::time::Instant::now() + PATIENCE.unwrap();
        while (got.len() < N || s.spilled_total().1 == 0) && std::time::Instant::now() < deadline {
            round += 1;
            match round % 5 {
                // poll once (it may or may not have a message then), drop
                0 | 1 => {
                    let mut f = s.get_async(&[], PATIENCE);
                    if let Poll::Ready(r) = poll_fn(|cx| Poll::Ready(Pin::new(&mut f).poll(cx))).await {
                        got.push(numbered(&r.unwrap()));
                    } else {
                        dropped += 1;
                        // a message may come meanwhile: then it is too late
                        // to cancel (handed over, or even completed)
                        std::thread::sleep(Duration::from_micros(u64::from(round % 3) * 40));
                    }
                    drop(f);
                }
                // a stream that takes a few and is dropped waiting
                2 => {
                    let mut st = s.stream(&[]);
                    for _ in 0..3 {
                        got.push(numbered(&data(next(&mut st).await.unwrap().unwrap())));
                    }
                    let once = poll_fn(|cx| Poll::Ready(Pin::new(&mut st).poll_next(cx)));
                    if let Poll::Ready(Some(r)) = once.await {
                        got.push(numbered(&data(r.unwrap())));
                    }
                    dropped += 1;
                }
                // several pending at once, dropped oldest first while
                // messages come in: some cancels answer too late
                // (taken oldest first, up to the first still pending: a
                // later one polled first would rightly have a later message)
                3 => {
                    let mut fs: Vec<_> = (0..8).map(|_| s.get_async(&[], PATIENCE)).collect();
                    let mut taken = 0;
                    for f in &mut fs {
                        match poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await {
                            Poll::Ready(r) => got.push(numbered(&r.unwrap())),
                            Poll::Pending => break,
                        }
                        taken += 1;
                    }
                    dropped += (fs.len() - taken) as u32;
                    drop(fs); // oldest first (the completed ones do nothing)
                }
                // and the blocking get, which must see spilled messages first
                _ => got.push(numbered(&s.get(&[], PATIENCE).unwrap())),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (c, sent) = sender.join().unwrap();
        while got.len() < sent as usize {
            got.push(numbered(&bounded("rest", s.get_async(&[], PATIENCE)).await.unwrap()));
        }
        assert!(dropped > 0);
        let want: Vec<u32> = (0..sent).collect();
        if got != want {
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            let at = first.unwrap_or(0);
            let around = &got[at.saturating_sub(3)..(at + 6).min(got.len())];
            panic!("{} messages of {sent}, first difference at {first:?}: {around:?}", got.len());
        }
        // the too-late case happened (else this test proves little)
        let (spilled, late) = s.spilled_total();
        eprintln!("{dropped} receives dropped, {spilled} messages spilled, {late} cancels too late");
        assert!(spilled > 0 && late > 0, "no cancel was too late in {PATIENCE:?} ({dropped} dropped)");
        // nothing more: no duplicate is left anywhere
        let err = bounded("extra", s.get_async(&[], Some(Duration::from_millis(200)))).await.unwrap_err();
        assert_eq!(err.status, Status::TimedOut);
        c.close(PATIENCE).unwrap();
        s.close(PATIENCE).unwrap();
    });
}

#[test]
fn events_in_order_with_data() {
    runtime().block_on(async {
        let (s, port) = server(Options::new().unwrap().events(&EventKind::ALL).unwrap());
        let c = client(port, Options::new().unwrap());
        let cid = c.id().unwrap();
        bounded("put", c.put(b"a", &[]).unwrap()).await.unwrap();
        bounded("put", c.put(b"b", &[]).unwrap()).await.unwrap();
        c.close(PATIENCE).unwrap();
        let mut st = s.stream(&[]);
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(match next(&mut st).await.unwrap().unwrap() {
                Received::Data(m) => {
                    assert_eq!(m.peer(), cid);
                    format!("data {}", String::from_utf8_lossy(m.data()))
                }
                Received::Event(e) => {
                    assert_eq!(e.peer, cid);
                    format!("{:?}", e.kind)
                }
            });
        }
        assert_eq!(seen, ["Connected", "data a", "data b", "Finished"]);
        s.close(PATIENCE).unwrap();
        // a communicator that did not ask gets no events
        let (s2, port2) = server(Options::new().unwrap());
        let c2 = client(port2, Options::new().unwrap());
        bounded("put", c2.put(b"only", &[]).unwrap()).await.unwrap();
        c2.close(PATIENCE).unwrap();
        let m = bounded("get", s2.get_async(&[], PATIENCE)).await.unwrap();
        assert!(m.is_data());
        assert_eq!(m.data(), b"only");
        s2.close(PATIENCE).unwrap();
        assert!(Options::new().unwrap().events(&[EventKind::Other(9)]).is_err());
    });
}

#[test]
fn stats_match_the_traffic() {
    runtime().block_on(async {
        let (s, port) = server(Options::new().unwrap());
        let c = client(port, Options::new().unwrap());
        const N: u32 = 100;
        for p in put_numbered(&c, N) {
            bounded("put", p).await.unwrap();
        }
        // take 60, leave 40 queued
        for want in 0..60 {
            assert_eq!(numbered(&bounded("get", s.get_async(&[], PATIENCE)).await.unwrap()), want);
        }
        // the last put completed: wait until the server has all 100 in
        let deadline = std::time::Instant::now() + PATIENCE.unwrap();
        let st = loop {
            let st = s.stats().unwrap();
            if st.get("msgs_in") == Some(N as u64) || std::time::Instant::now() > deadline {
                break st;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(st.get("msgs_in"), Some(N as u64));
        assert_eq!(st.get("bytes_in"), Some(4 * N as u64));
        assert_eq!(st.get("recv_queue_msgs"), Some(40));
        assert_eq!(st.get("sessions_live"), Some(1));
        assert_eq!(st.get("no_such_key"), None);
        assert_eq!(st.to_map().len(), st.entries.len());
        let peer = s.peer_stats(c.id().unwrap()).unwrap();
        assert_eq!(peer.get("msgs_in"), Some(N as u64));
        assert_eq!(peer.get("recv_queue_msgs"), Some(40));
        assert_eq!(peer.get("connected"), Some(1));
        let cs = c.stats().unwrap();
        assert_eq!(cs.get("msgs_out"), Some(N as u64));
        assert_eq!(cs.get("puts_ok"), Some(N as u64));
        let err = s.peer_stats(netqueue::Id::default()).expect_err("a stranger has stats");
        assert_eq!(err.status, Status::NoPeer);
        c.close(PATIENCE).unwrap();
        s.close(PATIENCE).unwrap();
    });
}

#[test]
fn limit_setters_of_1_1() {
    let o = Options::new().unwrap().peer_limit(1 << 20).unwrap().partial_limit(0).unwrap();
    assert_eq!(o.peer_limit(1).err().expect("accepted").status, Status::Invalid); // below 1 KiB
    assert_eq!(Options::new().unwrap().partial_limit(5).err().expect("accepted").status, Status::Invalid);
    assert_eq!(Options::new().unwrap().tls_client_ca("").err().expect("accepted").status, Status::Invalid);
    // the option reaches the library: a server without TLS refuses it
    let o = Options::new().unwrap().host("127.0.0.1").unwrap().port(0).unwrap();
    let o = o.tls_client_ca("/nonexistent/ca.pem").unwrap();
    let err = Comm::new(netqueue::Protocol::Tcp, netqueue::Purpose::Server, &o).err().expect("accepted");
    assert_eq!(err.status, Status::Invalid, "{err}");
}
