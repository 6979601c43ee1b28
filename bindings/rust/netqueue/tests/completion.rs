mod common;
use common::*;
use netqueue::{Options, Status};
use std::sync::mpsc;
use std::thread;

/// Callbacks run on the library's I/O thread, not the caller's; async
/// futures are woken from there too.
#[test]
fn completion_from_library_thread() {
    let (s, port) = server(Options::new().unwrap());
    let c = client(port, Options::new().unwrap());
    let (tx, rx) = mpsc::channel();
    for i in 0..100u8 {
        let tx = tx.clone();
        c.put_with(&[i], &[], move |r| tx.send((r, thread::current().id())).unwrap()).unwrap();
    }
    for _ in 0..100 {
        let (r, tid) = rx.recv().unwrap();
        r.unwrap();
        assert_ne!(tid, thread::current().id());
    }
    // A panicking callback is caught at the C boundary: the library goes on.
    c.put_with(b"boom", &[], |_| panic!("callback panic (expected by the test)")).unwrap();
    let after = c.put(b"after", &[]).unwrap();
    assert_eq!(after.wait_timeout(PATIENCE.unwrap()), Some(Ok(())));
    for _ in 0..102 {
        s.get(&[], PATIENCE).unwrap();
    }
    c.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
}

/// The Put future works under an executor: a minimal block_on whose waker
/// unparks the polling thread.
#[test]
fn put_as_future() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake};
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let (s, port) = server(Options::new().unwrap());
    let c = client(port, Options::new().unwrap());
    let mut fut = Box::pin(c.put(b"async", &[]).unwrap());
    let waker = Arc::new(Unpark(thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let r = loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => break r,
            Poll::Pending => thread::park(),
        }
    };
    r.unwrap();
    assert_eq!(s.get(&[], PATIENCE).unwrap().data(), b"async");
    c.close(PATIENCE).unwrap();
    s.close(PATIENCE).unwrap();
}

/// Comm is Send + Sync: puts from many threads through one &Comm.
#[test]
fn puts_from_many_threads() {
    let (s, port) = server(Options::new().unwrap());
    let c = client(port, Options::new().unwrap());
    thread::scope(|scope| {
        for t in 0..8u8 {
            let c = &c;
            scope.spawn(move || {
                for i in 0..200u8 {
                    c.put(&[t, i], &[]).unwrap().wait().unwrap();
                }
            });
        }
    });
    for _ in 0..1600 {
        s.get(&[], PATIENCE).unwrap();
    }
    c.close(PATIENCE).unwrap();
    assert!(matches!(c.put(b"x", &[]), Err(e) if e.status == Status::Closed));
    s.close(PATIENCE).unwrap();
}
