use crate::error::{check, completion};
use crate::put::{Completion, Put};
use crate::receive::{millis, GetFuture, Receiver, Spill};
use crate::stats::Stats;
use crate::value::OwnedValue;
use crate::{Codec, Id, Message, Options, Result, Value};
use netqueue_sys as sys;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

/// Transport of a communicator. Only TCP (plain or TLS) is built in this
/// release; the others fail [`Comm::new`] with [`crate::Status::Unsupported`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Mqtt,
    Grpc,
}

/// Whether a communicator listens or connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Client,
    Server,
}

/// How long dropping a [`Comm`] waits for the orderly end of its session
/// (10 s, as in every binding); then connections are cut. Call
/// [`Comm::close`] for another bound, `close(None)` for none, or to see the
/// outcome.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A communicator: one end of net-queue, a server or a client, with an I/O
/// thread of its own. Dropping it closes it as [`Comm::close`] does, bounded
/// by [`DEFAULT_CLOSE_TIMEOUT`] (without waiting while the thread panics),
/// ignoring the outcome, and frees it.
pub struct Comm {
    raw: NonNull<sys::nq_comm>,
    pub(crate) codec: Codec,
    /// Messages of dropped receive futures (see crate::receive).
    pub(crate) spill: Arc<Spill>,
}

// SAFETY: the C ABI makes every nq_comm_* call safe from any thread,
// concurrently, until nq_comm_free, which only Drop calls (with no borrow
// left).
unsafe impl Send for Comm {}
unsafe impl Sync for Comm {}

/// Completion trampoline of put_with, one per closure type (so the closure
/// is one allocation, not a boxed trait object in a box): runs once per
/// accepted put, on the library's I/O thread (or the thread that closes the
/// communicator). A panic in the user's callback must not unwind into C,
/// so it is caught here.
unsafe extern "C" fn done_trampoline<F>(user: *mut c_void, status: sys::nq_status)
where
    F: FnOnce(Result<()>) + Send + 'static,
{
    // SAFETY: user is the Box<F> leaked by with_callback, given back once.
    let cb = unsafe { Box::from_raw(user as *mut F) };
    let caught = catch_unwind(AssertUnwindSafe(move || cb(completion(status))));
    if let Err(payload) = caught {
        // Dropping a payload can panic too; forget it rather than risk that.
        std::mem::forget(payload);
    }
}

/// Completion trampoline of put and put_value: user is the library's
/// reference to the put's Completion (Arc::into_raw), given back once.
unsafe extern "C" fn put_trampoline(user: *mut c_void, status: sys::nq_status) {
    // SAFETY: see above; the Put keeps its own reference.
    let shared = unsafe { Arc::from_raw(user as *const Completion) };
    // complete() only runs user code through a waker; keep its panic out of C
    let caught = catch_unwind(AssertUnwindSafe(move || shared.complete(status)));
    if let Err(payload) = caught {
        std::mem::forget(payload);
    }
}

/// Hand the library a reference to a new Completion as (put_trampoline,
/// user) for `call`; take it back if the call fails (no completion then).
fn with_completion(call: impl FnOnce(sys::nq_done_fn, *mut c_void) -> sys::nq_status) -> Result<Put> {
    let shared = Arc::new(Completion::new());
    let user = Arc::into_raw(shared.clone()) as *mut c_void;
    let result = check(call(Some(put_trampoline), user));
    if result.is_err() {
        // SAFETY: the library did not take the reference.
        drop(unsafe { Arc::from_raw(user as *const Completion) });
    }
    result.map(|()| Put { shared })
}


/// An option's duration in milliseconds, rounded up (a positive duration
/// never becomes 0, which the library reads as off or at once).
pub(crate) fn ceil_millis(d: Duration) -> i64 {
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Ids as the C calls take them (16 bytes each, back to back): Id is a
/// repr(transparent) [u8; 16], so a slice of them already is that.
pub(crate) fn ids_ptr(ids: &[Id]) -> *const u8 {
    if ids.is_empty() { ptr::null() } else { ids.as_ptr().cast() }
}

impl Comm {
    /// Create a communicator and start its I/O. A server is listening when
    /// this returns; a client connects in the background (puts wait).
    pub fn new(protocol: Protocol, purpose: Purpose, opts: &Options) -> Result<Comm> {
        let proto = match protocol {
            Protocol::Tcp => sys::NQ_TCP,
            Protocol::Mqtt => sys::NQ_MQTT,
            Protocol::Grpc => sys::NQ_GRPC,
        };
        let purp = match purpose {
            Purpose::Client => sys::NQ_CLIENT,
            Purpose::Server => sys::NQ_SERVER,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: valid out pointer and options handle (copied by the call).
        check(unsafe { sys::nq_comm_new(&mut raw, proto, purp, opts.as_ptr()) })?;
        Ok(Comm {
            raw: NonNull::new(raw).expect("nq_comm_new gave NULL"),
            codec: opts.codec,
            spill: Arc::default(),
        })
    }

    /// The communicator's own id.
    pub fn id(&self) -> Result<Id> {
        let mut id = Id::default();
        // SAFETY: live handle, 16 writable bytes.
        check(unsafe { sys::nq_comm_id(self.raw.as_ptr(), id.0.as_mut_ptr()) })?;
        Ok(id)
    }

    /// The port a server listens on.
    pub fn port(&self) -> Result<u16> {
        let mut port = 0;
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::nq_comm_port(self.raw.as_ptr(), &mut port) })?;
        // the library reports a TCP port, which options kept in 0..65535
        Ok(u16::try_from(port).expect("nq_comm_port gives a TCP port"))
    }

    /// Ids of the peers connected now.
    pub fn peers(&self) -> Result<Vec<Id>> {
        loop {
            let mut n = 0;
            // SAFETY: count-only call (NULL, 0).
            check(unsafe { sys::nq_comm_peers(self.raw.as_ptr(), ptr::null_mut(), 0, &mut n) })?;
            let mut ids = vec![Id::default(); n + 1]; // room for one joining meanwhile
            let mut got = 0;
            // SAFETY: ids has room for ids.len() ids of 16 bytes, contiguous.
            check(unsafe {
                sys::nq_comm_peers(self.raw.as_ptr(), ids.as_mut_ptr().cast(), ids.len(), &mut got)
            })?;
            if got <= ids.len() {
                ids.truncate(got);
                return Ok(ids);
            }
        }
    }

    /// Send `data` as one message: to the server (a client), every
    /// connected client (a server, `to` empty) or the clients in `to`.
    /// The bytes are copied before this returns.
    pub fn put(&self, data: &[u8], to: &[Id]) -> Result<Put> {
        with_completion(|fn_, user| unsafe {
            // SAFETY: live handle; data and the ids are read before returning.
            sys::nq_comm_put(self.raw.as_ptr(), data.as_ptr().cast(), data.len(),
                             ids_ptr(to), to.len(), fn_, user)
        })
    }

    /// As [`Comm::put`], running `done` once with the outcome, on the
    /// library's I/O thread (or the thread that closes or drops the
    /// communicator, for puts cancelled then). `done` must not block and
    /// must not close or drop this communicator; a panic in it is caught.
    pub fn put_with<F>(&self, data: &[u8], to: &[Id], done: F) -> Result<()>
    where
        F: FnOnce(Result<()>) + Send + 'static,
    {
        self.with_callback(done, |fn_, user| unsafe {
            // SAFETY: live handle; data and the ids are read before returning.
            sys::nq_comm_put(self.raw.as_ptr(), data.as_ptr().cast(), data.len(),
                             ids_ptr(to), to.len(), fn_, user)
        })
    }

    /// Encode `value` with the communicator's codec ([`Options::codec`])
    /// and put it. Under [`Codec::Raw`] the value must be bytes or a str.
    pub fn put_value(&self, value: &Value, to: &[Id]) -> Result<Put> {
        let owned = OwnedValue::from_value(value)?;
        with_completion(|fn_, user| unsafe {
            // SAFETY: live handles; the value is encoded before returning.
            sys::nq_comm_put_value(self.raw.as_ptr(), owned.as_ptr(), ids_ptr(to), to.len(), fn_, user)
        })
    }

    /// Hand `done` to a C put call as (trampoline, user); take it back if
    /// the call fails, since the library then never calls it.
    fn with_callback<F>(&self, done: F, call: impl FnOnce(sys::nq_done_fn, *mut c_void) -> sys::nq_status) -> Result<()>
    where
        F: FnOnce(Result<()>) + Send + 'static,
    {
        let user = Box::into_raw(Box::new(done)).cast::<c_void>();
        let st = call(Some(done_trampoline::<F>), user);
        let result = check(st);
        if result.is_err() {
            // SAFETY: the library did not take the callback.
            drop(unsafe { Box::from_raw(user as *mut F) });
        }
        result
    }

    /// Take the next message, from any peer (`from` empty) or one of
    /// those named, waiting up to `timeout` (None: forever). Errors:
    /// [`crate::Status::TimedOut`]; [`crate::Status::Closed`] once closed
    /// and drained.
    /// A message of a dropped receive future that accepts `from` comes
    /// first (see [`Comm::get_async`]).
    pub fn get(&self, from: &[Id], timeout: Option<Duration>) -> Result<Message> {
        if let Some(m) = self.spill.take(from) {
            return Ok(m);
        }
        let mut msg = ptr::null_mut();
        // SAFETY: live handle, ids readable, valid out pointer.
        check(unsafe {
            sys::nq_comm_get(self.raw.as_ptr(), ids_ptr(from), from.len(), millis(timeout), &mut msg)
        })?;
        // SAFETY: the library handed us a message of our own.
        Ok(unsafe { Message::from_raw(msg, self.codec) })
    }

    /// Receive asynchronously: a [`std::future::Future`] of the next
    /// message from any peer (`from` empty) or one of those named, ready
    /// with [`crate::Status::TimedOut`] after `timeout` (None: never) and
    /// [`crate::Status::Closed`] once closed and drained. Works in any
    /// executor: the library's I/O thread completes it and wakes the task.
    /// The receive is queued now, in line with other receives and blocking
    /// gets (first come, first served); a message already queued is taken
    /// at once, on this thread. Dropping the future cancels it; a
    /// message the library had already handed to it is kept for the next
    /// receive that accepts its peer, so none is lost or duplicated.
    pub fn get_async(&self, from: &[Id], timeout: Option<Duration>) -> GetFuture<'_> {
        GetFuture::start(self, from, timeout)
    }

    /// A [`futures_core::Stream`] of messages and (if enabled with
    /// [`crate::Options::events`]) peer events from any peer (`from`
    /// empty) or those named, ending once the communicator is closed and
    /// drained. It takes queued messages directly and waits with one
    /// asynchronous receive when there are none.
    pub fn stream(&self, from: &[Id]) -> Receiver<'_> {
        Receiver::new(self, from)
    }

    /// A snapshot of the communicator's statistics (docs/abi.md,
    /// "Statistics"). Works after close (final figures).
    pub fn stats(&self) -> Result<Stats> {
        let mut out = ptr::null_mut();
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::nq_comm_stats(self.raw.as_ptr(), &mut out) })?;
        // SAFETY: a new snapshot of our own.
        Ok(unsafe { Stats::from_raw(out) })
    }

    /// A snapshot of one peer's statistics; [`crate::Status::NoPeer`] if
    /// the communicator has no session with it.
    pub fn peer_stats(&self, peer: Id) -> Result<Stats> {
        let mut out = ptr::null_mut();
        // SAFETY: live handle, 16 readable bytes, valid out pointer.
        check(unsafe { sys::nq_comm_peer_stats(self.raw.as_ptr(), peer.0.as_ptr(), &mut out) })?;
        // SAFETY: a new snapshot of our own.
        Ok(unsafe { Stats::from_raw(out) })
    }

    /// How many messages dropped receives left for later ones (the spill
    /// rule of [`Comm::get_async`]), and how many drops found their cancel
    /// too late (NQ_ESTATE); for tests of that rule.
    #[doc(hidden)]
    pub fn spilled_total(&self) -> (u64, u64) {
        self.spill.total()
    }

    pub(crate) fn raw(&self) -> *mut sys::nq_comm {
        self.raw.as_ptr()
    }

    /// Orderly close: a client sends its queued puts and fin and waits for
    /// the server's; a server waits for its clients to finish. After
    /// `timeout` (`None`: forever; dropping uses [`DEFAULT_CLOSE_TIMEOUT`])
    /// connections are cut and [`crate::Status::TimedOut`] is returned.
    /// Either way the communicator is closed: unsent puts complete with
    /// [`crate::Status::Canceled`]. Closing again returns Ok.
    pub fn close(&self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::nq_comm_close(self.raw.as_ptr(), millis(timeout)) })
    }
}

impl Drop for Comm {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // the outcome is the caller's to see through close(); a closed
            // communicator returns at once
            let _ = self.close(Some(DEFAULT_CLOSE_TIMEOUT));
        }
        // messages nobody took, freed while their communicator still is
        self.spill.clear();
        // SAFETY: we own the handle and nothing borrows it any more.
        unsafe { sys::nq_comm_free(self.raw.as_ptr()) }
    }
}
