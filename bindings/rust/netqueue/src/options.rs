use crate::comm::ceil_millis;
use crate::error::check;
use crate::{Id, Result};
use netqueue_sys as sys;
use std::ffi::CString;
use std::ptr::NonNull;
use std::time::Duration;

/// Payload encoding of [`crate::Comm::put_value`] and [`crate::Message::value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Codec {
    /// Bytes as they are (the reference's BufferSerializer).
    #[default]
    Raw,
    /// The safe pickle subset, Python net-queue peers' default.
    Pickle,
}

impl Codec {
    pub(crate) fn raw(self) -> sys::nq_codec {
        match self {
            Codec::Raw => sys::NQ_CODEC_RAW,
            Codec::Pickle => sys::NQ_CODEC_PICKLE,
        }
    }
}

/// What a full receive queue does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueuePolicy {
    Block,
    DropOldest,
    DropNewest,
}

/// Which fin a session uses (see docs/protocol.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Current,
    Legacy,
}

/// Communicator options: a builder over `nq_options`. Every setter
/// validates its value and fails with [`crate::Status::Invalid`] and a
/// detail on a bad one:
///
/// ```no_run
/// # fn main() -> netqueue::Result<()> {
/// let opts = netqueue::Options::new()?.host("127.0.0.1")?.port(0)?;
/// # Ok(()) }
/// ```
pub struct Options {
    raw: NonNull<sys::nq_options>,
    pub(crate) codec: Codec,
}

// SAFETY: the handle is plain memory, usable from any one thread at a time
// (not Sync: the C rules say one thread at a time).
unsafe impl Send for Options {}

impl Options {
    /// Default of [`Options::connect_timeout`] (the library's).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(sys::NQ_DEFAULT_CONNECT_TIMEOUT_MS as u64);
    /// Default of [`Options::keepalive`] (the library's).
    pub const DEFAULT_KEEPALIVE: Duration = Duration::from_millis(sys::NQ_DEFAULT_KEEPALIVE_MS as u64);

    /// The defaults: random id, 127.0.0.1:51966, raw codec, no TLS...
    pub fn new() -> Result<Options> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: raw is a valid out pointer.
        check(unsafe { sys::nq_options_new(&mut raw) })?;
        Ok(Options { raw: NonNull::new(raw).expect("nq_options_new gave NULL"), codec: Codec::Raw })
    }

    pub(crate) fn as_ptr(&self) -> *const sys::nq_options {
        self.raw.as_ptr()
    }

    fn set(self, f: impl FnOnce(*mut sys::nq_options) -> sys::nq_status) -> Result<Options> {
        check(f(self.raw.as_ptr()))?;
        Ok(self)
    }

    fn set_str(self, s: &str, f: unsafe extern "C" fn(*mut sys::nq_options, *const std::ffi::c_char) -> sys::nq_status) -> Result<Options> {
        let c = CString::new(s).map_err(|_| crate::Error::new(crate::Status::Invalid, "string contains NUL"))?;
        // SAFETY: valid handle and NUL-terminated string; the library copies it.
        self.set(|o| unsafe { f(o, c.as_ptr()) })
    }

    /// Own id (default: random).
    pub fn id(self, id: Id) -> Result<Options> {
        // SAFETY: id.0 is 16 readable bytes.
        self.set(|o| unsafe { sys::nq_options_set_id(o, id.0.as_ptr()) })
    }
    /// Host to bind (server) or connect to (client).
    pub fn host(self, host: &str) -> Result<Options> {
        self.set_str(host, sys::nq_options_set_host)
    }
    /// TCP port; a server given 0 binds a free one, which
    /// [`crate::Comm::port`] returns as the same `u16`.
    pub fn port(self, port: u16) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_port(o, i32::from(port)) })
    }
    /// A server's I/O threads, 1..64.
    pub fn workers(self, n: u32) -> Result<Options> {
        // The C call takes an int: a count beyond it is refused here, with
        // the same status as the library's own range check, rather than
        // wrapped into some other value.
        let Ok(n) = i32::try_from(n) else {
            return Err(crate::Error::new(crate::Status::Invalid, format!("options: workers {n} is not in 1..64")));
        };
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_workers(o, n) })
    }
    /// Largest single transport write.
    pub fn transport_size(self, bytes: u64) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_transport_size(o, bytes) })
    }
    /// Merge small frames into one write.
    pub fn merge(self, on: bool) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_merge(o, on as i32) })
    }
    /// Largest message accepted or put.
    pub fn message_limit(self, bytes: u64) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_message_limit(o, bytes) })
    }
    /// Bound of the receive queue in bytes, and what happens above it.
    pub fn queue_limit(self, bytes: u64, policy: QueuePolicy) -> Result<Options> {
        let p = match policy {
            QueuePolicy::Block => sys::NQ_QUEUE_BLOCK,
            QueuePolicy::DropOldest => sys::NQ_QUEUE_DROP_OLDEST,
            QueuePolicy::DropNewest => sys::NQ_QUEUE_DROP_NEWEST,
        };
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_queue_limit(o, bytes) })?
            .set(|o| unsafe { sys::nq_options_set_queue_policy(o, p) })
    }
    /// Bound on bytes put and not yet written (0: none).
    pub fn send_limit(self, bytes: u64) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_send_limit(o, bytes) })
    }
    pub fn dialect(self, d: Dialect) -> Result<Options> {
        let d = match d {
            Dialect::Current => sys::NQ_DIALECT_CURRENT,
            Dialect::Legacy => sys::NQ_DIALECT_LEGACY,
        };
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_dialect(o, d) })
    }
    pub fn codec(self, c: Codec) -> Result<Options> {
        // SAFETY: valid handle.
        let mut me = self.set(|o| unsafe { sys::nq_options_set_codec(o, c.raw()) })?;
        me.codec = c;
        Ok(me)
    }
    /// Turn TLS on.
    pub fn tls(self) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_tls(o, 1) })
    }
    /// Server: private key (PEM file).
    pub fn tls_key(self, path: &str) -> Result<Options> {
        self.set_str(path, sys::nq_options_set_tls_key)
    }
    /// Server: certificate chain (PEM file).
    pub fn tls_cert(self, path: &str) -> Result<Options> {
        self.set_str(path, sys::nq_options_set_tls_cert)
    }
    /// Client: CA file to verify the server against (default: the system's).
    pub fn tls_ca(self, path: &str) -> Result<Options> {
        self.set_str(path, sys::nq_options_set_tls_ca)
    }
    /// Client: name to verify instead of the host.
    pub fn tls_server_name(self, name: &str) -> Result<Options> {
        self.set_str(name, sys::nq_options_set_tls_server_name)
    }
    /// Client: verify the server (default); false is for testing only.
    pub fn tls_verify(self, on: bool) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_tls_verify(o, on as i32) })
    }
    /// Client: puts still pending after this long without reaching the
    /// server fail with [`crate::Status::Address`] (default
    /// [`Options::DEFAULT_CONNECT_TIMEOUT`], 30 s). `None` keeps them
    /// waiting until close. Takes a `Duration` or an `Option<Duration>`.
    pub fn connect_timeout(self, d: impl Into<Option<Duration>>) -> Result<Options> {
        let ms = d.into().map_or(sys::NQ_FOREVER as i64, ceil_millis);
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_connect_timeout(o, ms) })
    }
    /// Dead-peer detection: a connection whose peer stays unreachable for
    /// about this long is cut (default [`Options::DEFAULT_KEEPALIVE`], 30 s;
    /// 1 s ..= 24 h, else [`crate::Status::Invalid`]). `None` or
    /// `Duration::ZERO` turns it off.
    pub fn keepalive(self, d: impl Into<Option<Duration>>) -> Result<Options> {
        let ms = d.into().map_or(0, ceil_millis);
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_keepalive(o, ms) })
    }
    /// Queue these peer events for the receivers, as messages of their
    /// own kind ([`crate::Message::event`], [`crate::Received::Event`]);
    /// default none. [`crate::EventKind::ALL`] for all.
    pub fn events(self, kinds: &[crate::EventKind]) -> Result<Options> {
        let mask = kinds.iter().fold(0u32, |m, k| m | 1u32.checked_shl(k.raw()).unwrap_or(0));
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_events(o, mask) })
    }
    /// Server: bound on the bytes queued to one peer and not yet written;
    /// past it the peer is cut and its pending puts fail with
    /// [`crate::Status::Reset`] (default 256 MiB; 1 KiB ..= 2^62, 0: none).
    pub fn peer_limit(self, bytes: u64) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_peer_limit(o, bytes) })
    }
    /// Bound on the bytes of all partially received frames together,
    /// over every connection (default 1 GiB; 1 KiB ..= 2^62, 0: none).
    pub fn partial_limit(self, bytes: u64) -> Result<Options> {
        // SAFETY: valid handle.
        self.set(|o| unsafe { sys::nq_options_set_partial_limit(o, bytes) })
    }
    /// Server: require client certificates signed by this CA (PEM file).
    pub fn tls_client_ca(self, path: &str) -> Result<Options> {
        self.set_str(path, sys::nq_options_set_tls_client_ca)
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { sys::nq_options_free(self.raw.as_ptr()) }
    }
}
