//! Asynchronous receive: [`GetFuture`] (one message) and [`Receiver`] (a
//! [`Stream`] of them), built on `nq_comm_get_async`. Executor-agnostic:
//! the library's I/O thread completes a receive and wakes the task's
//! [`Waker`]; no runtime is needed or assumed.
//!
//! Dropping a pending receive cancels it (`nq_comm_get_cancel`). When that
//! is too late (the library already handed it a message), the message is
//! not lost: it goes to the communicator's *spill* queue, which every later
//! receive ([`crate::Comm::get`], [`crate::Comm::get_async`], a
//! [`Receiver`]) whose peer filter accepts it takes first. Dropping waits
//! for that hand-over (the I/O thread's next step, microseconds), so a
//! later receive never overtakes the dropped one's message.
use crate::error::check;
use crate::{Codec, Comm, Error, Id, Message, Received, Result, Status};
use futures_core::Stream;
use netqueue_sys as sys;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Bound of the wait in a dropped receive's Drop for the message the
/// library already gave it (it is on its way from the I/O thread); only a
/// guard against waiting on the I/O thread itself, past it the message
/// still reaches the spill queue, maybe after a newer one.
const HANDOVER_PATIENCE: Duration = Duration::from_secs(5);

/// Messages of dropped receives that the library handed over too late to
/// cancel, oldest first; shared by a communicator and its receives.
#[derive(Default)]
pub(crate) struct Spill {
    q: Mutex<VecDeque<Message>>,
    total: std::sync::atomic::AtomicU64, // messages ever spilled (tests)
    late: std::sync::atomic::AtomicU64,  // of them, cancels answered NQ_ESTATE
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Spill {
    /// The oldest spilled message that `from` accepts (any, when empty).
    pub(crate) fn take(&self, from: &[Id]) -> Option<Message> {
        let mut q = relock(&self.q);
        if q.is_empty() {
            return None;
        }
        let at = q.iter().position(|m| from.is_empty() || from.contains(&m.peer()))?;
        q.remove(at)
    }

    fn push(&self, m: Message) {
        relock(&self.q).push_back(m);
        self.total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Free what is left (a communicator's Drop, before nq_comm_free).
    pub(crate) fn clear(&self) {
        relock(&self.q).clear();
    }

    pub(crate) fn total(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.total.load(Relaxed), self.late.load(Relaxed))
    }
}

/// Shared by a [`GetFuture`] and the library (which holds one reference,
/// the callback's user pointer, until the receive completes).
struct GetShared {
    state: Mutex<GetState>,
    done: Condvar,
    spill: Arc<Spill>,
    codec: Codec,
}

#[derive(Default)]
struct GetState {
    result: Option<Result<Message>>,
    waker: Option<Waker>,
    completed: bool,
    abandoned: bool, // the future was dropped: a message goes to the spill
}

/// A receive's completion status as an error (the library gives a
/// completion no detail: these say why, as the other bindings do).
fn get_error(st: sys::nq_status) -> Error {
    let why = match st {
        sys::NQ_ETIMEDOUT => "get: no message within the timeout",
        sys::NQ_ECANCELED => "get: the receive was cancelled",
        sys::NQ_ECLOSED => "get: the communicator is closed and drained",
        _ => "get: the receive failed",
    };
    Error::new(Status::from_raw(st), why)
}

/// Completion of nq_comm_get_async, on the library's I/O thread (or the
/// closing one): store the result and wake the task, or spill the message
/// of a dropped future.
unsafe extern "C" fn get_trampoline(user: *mut c_void, st: sys::nq_status, msg: *mut sys::nq_msg) {
    // SAFETY: user is the reference given by GetFuture::start, given back once.
    let shared = unsafe { Arc::from_raw(user as *const GetShared) };
    let result = if st == sys::NQ_OK {
        // SAFETY: the library hands the completion the message to own.
        Ok(unsafe { Message::from_raw(msg, shared.codec) })
    } else {
        Err(get_error(st))
    };
    // the waker runs user code: keep a panic out of C
    let caught = catch_unwind(AssertUnwindSafe(move || {
        let waker = {
            let mut s = relock(&shared.state);
            s.completed = true;
            if s.abandoned {
                if let Ok(m) = result {
                    shared.spill.push(m); // under the state lock: Drop waits for this
                }
            } else {
                s.result = Some(result);
            }
            s.waker.take()
        };
        shared.done.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }));
    if let Err(payload) = caught {
        std::mem::forget(payload);
    }
}

/// Timeout in the C ABI's milliseconds: None waits forever.
pub(crate) fn millis(timeout: Option<Duration>) -> i64 {
    match timeout {
        None => sys::NQ_FOREVER as i64,
        Some(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
    }
}

/// One asynchronous receive ([`Comm::get_async`]): a [`Future`] of the next
/// message. The receive is queued when it is created (receivers are served
/// first come, first served, with blocking gets), not when first polled.
/// Dropping it before it is ready cancels it without losing a message (see
/// the module's rule: a message already handed to it goes to the next
/// receive that accepts its peer).
#[must_use = "a receive future does nothing useful unless awaited; dropping it cancels the receive"]
pub struct GetFuture<'a> {
    comm: &'a Comm,
    op: u64,
    shared: Option<Arc<GetShared>>, // None: ready (or finished) without the library
    ready: Option<Result<Message>>,
}

impl<'a> GetFuture<'a> {
    pub(crate) fn start(comm: &'a Comm, from: &[Id], timeout: Option<Duration>) -> GetFuture<'a> {
        let done = |r| GetFuture { comm, op: 0, shared: None, ready: Some(r) };
        // A message already queued (or spilled) is taken here, on this
        // thread: nq_comm_get_async would complete it on the I/O thread,
        // two thread hand-overs per message. It takes nothing an older
        // receive would get (a message is queued only when no pending
        // receive accepts it), so the order is the same.
        match comm.get(from, Some(Duration::ZERO)) {
            Err(e) if e.status == Status::TimedOut && timeout != Some(Duration::ZERO) => {}
            r => return done(r), // a message, Closed (and drained), or an error
        }
        let shared = Arc::new(GetShared {
            state: Mutex::new(GetState::default()),
            done: Condvar::new(),
            spill: comm.spill.clone(),
            codec: comm.codec,
        });
        let user = Arc::into_raw(shared.clone()) as *mut c_void;
        let mut op = 0u64;
        // SAFETY: live handle; ids copied by the call; user is a reference
        // the trampoline takes back exactly once.
        let st = unsafe {
            sys::nq_comm_get_async(comm.raw(), crate::comm::ids_ptr(from), from.len(), millis(timeout),
                                   Some(get_trampoline), user, &mut op)
        };
        if st == sys::NQ_OK {
            return GetFuture { comm, op, shared: Some(shared), ready: None };
        }
        let err = check(st).unwrap_err();
        // SAFETY: the library did not take the reference.
        drop(unsafe { Arc::from_raw(user as *const GetShared) });
        if err.status == Status::Closed {
            // closed meanwhile: no I/O thread to complete receives; drain
            return done(comm.get(from, Some(Duration::ZERO)).map_err(|e| {
                if e.status == Status::TimedOut { get_error(sys::NQ_ECLOSED) } else { e }
            }));
        }
        done(Err(err))
    }
}

impl Future for GetFuture<'_> {
    type Output = Result<Message>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        if let Some(r) = self.ready.take() {
            self.shared = None;
            return Poll::Ready(r);
        }
        let Some(shared) = self.shared.as_ref() else {
            panic!("GetFuture polled after it completed");
        };
        let mut s = relock(&shared.state);
        if let Some(r) = s.result.take() {
            drop(s);
            self.shared = None;
            return Poll::Ready(r);
        }
        match &mut s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for GetFuture<'_> {
    fn drop(&mut self) {
        if let Some(Ok(m)) = self.ready.take() {
            self.comm.spill.push(m); // ready but never polled: not lost either
        }
        let Some(shared) = self.shared.take() else { return };
        {
            let mut s = relock(&shared.state);
            if let Some(r) = s.result.take() {
                if let Ok(m) = r {
                    shared.spill.push(m);
                }
                return;
            }
            if s.completed {
                return;
            }
            s.abandoned = true;
        }
        // SAFETY: live handle (the future borrows the communicator).
        let st = unsafe { sys::nq_comm_get_cancel(self.comm.raw(), self.op) };
        if st == sys::NQ_ESTATE {
            shared.spill.late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // too late: the completion is on its way with a message; wait
            // for it to reach the spill so that no later receive overtakes it
            let s = relock(&shared.state);
            let _ = shared.done.wait_timeout_while(s, HANDOVER_PATIENCE, |s| !s.completed);
        }
    }
}

/// A [`Stream`] of received messages and peer events ([`Comm::stream`]),
/// in the order the library hands them out. It ends (`None`) once the
/// communicator is closed and drained; a receive error is an item.
///
/// It takes what is already queued directly (`nq_comm_get` with timeout 0,
/// on the polling thread) and keeps one asynchronous receive pending only
/// when the queue is empty, so a busy stream costs no thread hand-over per
/// message. Dropping it cancels that receive without losing a message (see
/// [`GetFuture`]).
pub struct Receiver<'a> {
    comm: &'a Comm,
    from: Vec<Id>,
    pending: Option<GetFuture<'a>>,
    ended: bool,
}

impl<'a> Receiver<'a> {
    pub(crate) fn new(comm: &'a Comm, from: &[Id]) -> Receiver<'a> {
        Receiver { comm, from: from.to_vec(), pending: None, ended: false }
    }
}

impl Stream for Receiver<'_> {
    type Item = Result<Received>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Received>>> {
        let me = &mut *self;
        if me.ended {
            return Poll::Ready(None);
        }
        let r = match me.pending.as_mut() {
            Some(f) => match Pin::new(f).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => {
                    me.pending = None;
                    r
                }
            },
            None => {
                // the pending receive (if any) is done: nothing older waits
                let mut f = GetFuture::start(me.comm, &me.from, None);
                match Pin::new(&mut f).poll(cx) {
                    Poll::Ready(r) => r,
                    Poll::Pending => {
                        me.pending = Some(f);
                        return Poll::Pending;
                    }
                }
            }
        };
        Poll::Ready(match r {
            Ok(m) => Some(Ok(Received::from(m))),
            Err(e) if e.status == Status::Closed => {
                me.ended = true;
                None
            }
            Err(e) => Some(Err(e)),
        })
    }
}
