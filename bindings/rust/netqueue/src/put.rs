use crate::error::completion;
use crate::Result;
use netqueue_sys as sys;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The completion of one put: a [`Future`] (`.await` it in any executor)
/// and a blocking handle ([`Put::wait`]). Ok once the message is written to
/// every target's transport; an error if a peer went away
/// ([`crate::Status::Reset`], [`crate::Status::NoPeer`]) or the
/// communicator closed first ([`crate::Status::Canceled`]).
pub struct Put {
    pub(crate) shared: Arc<Completion>,
}

/// Shared by a [`Put`] and the library, which holds one reference (given
/// to C as the callback's user pointer, see `Comm::put`) until the put
/// completes. Small on purpose: one ~32-byte allocation per put, and
/// completing costs the library's thread a store, a fence and a load. The
/// lock, condvar and waker live in a side allocation made only if someone
/// waits (or polls) before the put completes; completing then also wakes
/// them. (A condvar notify per put, a futex syscall even with nobody
/// waiting, used to be the largest cost of a 64 B put.)
pub(crate) struct Completion {
    status: AtomicU32, // PENDING, then the nq_status
    waiters: OnceLock<Box<Waiters>>,
}

const PENDING: u32 = u32::MAX;
/// Yields of a waiter before it sleeps (see `Put::yield_until_done`).
const YIELDS_BEFORE_SLEEP: u32 = 3;

#[derive(Default)]
struct Waiters {
    state: Mutex<WaitState>,
    cond: Condvar,
}

#[derive(Default)]
struct WaitState {
    waker: Option<Waker>,
    sleepers: u32, // threads blocked on cond
}

impl Completion {
    pub(crate) fn new() -> Completion {
        Completion { status: AtomicU32::new(PENDING), waiters: OnceLock::new() }
    }

    /// Called once, from the library's thread (or the closing one).
    pub(crate) fn complete(&self, status: sys::nq_status) {
        self.status.store(status, Ordering::Release);
        // Pairs with the fence in waiters(): either a waiter's check sees
        // the status, or this sees the waiter.
        fence(Ordering::SeqCst);
        if let Some(w) = self.waiters.get() {
            let (waker, sleepers) = {
                // taking the lock orders this after a waiter's check-then-wait
                let mut s = w.state.lock().unwrap_or_else(|e| e.into_inner());
                (s.waker.take(), s.sleepers)
            };
            if sleepers > 0 {
                w.cond.notify_all();
            }
            if let Some(w) = waker {
                w.wake(); // outside the lock: a waker may run arbitrary code
            }
        }
    }

    fn result(&self) -> Option<Result<()>> {
        match self.status.load(Ordering::Acquire) {
            PENDING => None,
            st => Some(completion(st as sys::nq_status)),
        }
    }

    /// The side allocation, made on first need; the caller then re-checks
    /// the status under its lock.
    fn waiters(&self) -> &Waiters {
        let w = self.waiters.get_or_init(Box::default);
        fence(Ordering::SeqCst);
        w
    }
}

impl Put {
    /// True once the put has completed.
    pub fn is_done(&self) -> bool {
        self.shared.status.load(Ordering::Acquire) != PENDING
    }

    /// Give the CPU away a few times while the put is pending, before
    /// sleeping: a waiter that sleeps costs a side allocation, a condvar
    /// wait and the library's thread a wake-up (futex calls on both sides,
    /// ~4k per 400k puts for a loop that waits on each in turn), while
    /// completions come in batches, so the next one is usually a yield
    /// away.
    fn yield_until_done(&self) -> Option<Result<()>> {
        for _ in 0..YIELDS_BEFORE_SLEEP {
            if let Some(r) = self.shared.result() {
                return Some(r);
            }
            std::thread::yield_now();
        }
        self.shared.result()
    }

    /// Block until the put completes; its outcome.
    pub fn wait(&self) -> Result<()> {
        if let Some(r) = self.yield_until_done() {
            return r;
        }
        let w = self.shared.waiters();
        let mut s = w.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = self.shared.result() {
                return r;
            }
            s.sleepers += 1;
            s = w.cond.wait(s).unwrap_or_else(|e| e.into_inner());
            s.sleepers -= 1;
        }
    }

    /// As [`Put::wait`], giving up after `timeout` (None then).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<()>> {
        if let Some(r) = self.shared.result() {
            return Some(r);
        }
        if !timeout.is_zero() {
            if let Some(r) = self.yield_until_done() {
                return Some(r);
            }
        }
        let w = self.shared.waiters();
        let mut s = w.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.shared.result().is_none() {
            s.sleepers += 1;
            s = w
                .cond
                .wait_timeout_while(s, timeout, |_| self.shared.result().is_none())
                .unwrap_or_else(|e| e.into_inner())
                .0;
            s.sleepers -= 1;
        }
        drop(s);
        self.shared.result()
    }
}

impl Future for Put {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(r) = self.shared.result() {
            return Poll::Ready(r);
        }
        let w = self.shared.waiters();
        let mut s = w.state.lock().unwrap_or_else(|e| e.into_inner());
        match self.shared.result() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
