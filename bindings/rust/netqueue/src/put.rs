use crate::Result;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
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

#[derive(Default)]
pub(crate) struct Completion {
    state: Mutex<State>,
    cond: Condvar,
}

#[derive(Default)]
struct State {
    result: Option<Result<()>>,
    waker: Option<Waker>,
}

impl Completion {
    /// Called once, from the library's thread (or the closing one).
    pub(crate) fn complete(&self, result: Result<()>) {
        let waker = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.result = Some(result);
            s.waker.take()
        };
        self.cond.notify_all();
        if let Some(w) = waker {
            w.wake(); // outside the lock: a waker may run arbitrary code
        }
    }
}

impl Put {
    /// True once the put has completed.
    pub fn is_done(&self) -> bool {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).result.is_some()
    }

    /// Block until the put completes; its outcome.
    pub fn wait(&self) -> Result<()> {
        let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = &s.result {
                return r.clone();
            }
            s = self.shared.cond.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// As [`Put::wait`], giving up after `timeout` (None then).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<()>> {
        let s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let (s, _) = self
            .shared
            .cond
            .wait_timeout_while(s, timeout, |s| s.result.is_none())
            .unwrap_or_else(|e| e.into_inner());
        s.result.clone()
    }
}

impl Future for Put {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        match &s.result {
            Some(r) => Poll::Ready(r.clone()),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
