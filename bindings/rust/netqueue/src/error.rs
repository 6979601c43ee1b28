use netqueue_sys as sys;
use std::ffi::CStr;
use std::fmt;

/// A libnetqueue status code other than success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    Invalid,
    NoMemory,
    Closed,
    Canceled,
    TimedOut,
    NoPeer,
    Reset,
    Protocol,
    TooBig,
    Io,
    Tls,
    Unsupported,
    Again,
    Codec,
    Address,
    State,
    /// A code newer than this crate.
    Other(u32),
}

impl Status {
    pub(crate) fn from_raw(st: sys::nq_status) -> Status {
        match st {
            sys::NQ_EINVAL => Status::Invalid,
            sys::NQ_ENOMEM => Status::NoMemory,
            sys::NQ_ECLOSED => Status::Closed,
            sys::NQ_ECANCELED => Status::Canceled,
            sys::NQ_ETIMEDOUT => Status::TimedOut,
            sys::NQ_ENOPEER => Status::NoPeer,
            sys::NQ_ERESET => Status::Reset,
            sys::NQ_EPROTO => Status::Protocol,
            sys::NQ_ETOOBIG => Status::TooBig,
            sys::NQ_EIO => Status::Io,
            sys::NQ_ETLS => Status::Tls,
            sys::NQ_EUNSUPPORTED => Status::Unsupported,
            sys::NQ_EAGAIN => Status::Again,
            sys::NQ_ECODEC => Status::Codec,
            sys::NQ_EADDR => Status::Address,
            sys::NQ_ESTATE => Status::State,
            other => Status::Other(other),
        }
    }

    fn raw(self) -> sys::nq_status {
        match self {
            Status::Invalid => sys::NQ_EINVAL,
            Status::NoMemory => sys::NQ_ENOMEM,
            Status::Closed => sys::NQ_ECLOSED,
            Status::Canceled => sys::NQ_ECANCELED,
            Status::TimedOut => sys::NQ_ETIMEDOUT,
            Status::NoPeer => sys::NQ_ENOPEER,
            Status::Reset => sys::NQ_ERESET,
            Status::Protocol => sys::NQ_EPROTO,
            Status::TooBig => sys::NQ_ETOOBIG,
            Status::Io => sys::NQ_EIO,
            Status::Tls => sys::NQ_ETLS,
            Status::Unsupported => sys::NQ_EUNSUPPORTED,
            Status::Again => sys::NQ_EAGAIN,
            Status::Codec => sys::NQ_ECODEC,
            Status::Address => sys::NQ_EADDR,
            Status::State => sys::NQ_ESTATE,
            Status::Other(n) => n as sys::nq_status,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: nq_strerror never returns NULL; the string is static.
        let s = unsafe { CStr::from_ptr(sys::nq_strerror(self.raw())) };
        f.write_str(&s.to_string_lossy())
    }
}

/// A failed libnetqueue call: its status and the library's detail message
/// (`nq_last_error()`, empty when there is none, e.g. for put completions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub detail: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "netqueue: {}", self.status)
        } else {
            write!(f, "netqueue: {} ({})", self.status, self.detail)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(status: Status, detail: impl Into<String>) -> Error {
        Error { status, detail: detail.into() }
    }
}

/// Turn a status returned by a call of this thread into a Result, reading
/// the thread-local detail right away (before any other library call).
pub(crate) fn check(st: sys::nq_status) -> Result<()> {
    if st == sys::NQ_OK {
        return Ok(());
    }
    // SAFETY: nq_last_error returns a valid thread-local string.
    let detail = unsafe { CStr::from_ptr(sys::nq_last_error()) }.to_string_lossy().into_owned();
    Err(Error { status: Status::from_raw(st), detail })
}

/// A put's completion status. The library gives a completion no detail
/// (nq_last_error belongs to the thread of a failed call), so the detail
/// says why in the same words as every binding.
pub(crate) fn completion(st: sys::nq_status) -> Result<()> {
    let why = match st {
        sys::NQ_OK => return Ok(()),
        sys::NQ_ECANCELED => "put: the communicator was closed before the message was written",
        sys::NQ_ERESET => "put: the connection to the peer was lost before the message was written",
        sys::NQ_EADDR => "put: the server was not reached within the connect timeout (the library's log says why)",
        _ => "",
    };
    Err(Error::new(Status::from_raw(st), why))
}
