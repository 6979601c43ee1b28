//! Safe Rust API of libnetqueue, the C library of the net-queue protocol:
//! put/get message queues between a server and its clients over TCP or
//! TLS, wire-compatible with the Python package `net-queue`.
//!
//! ```no_run
//! use netqueue::{Comm, Options, Protocol, Purpose};
//! # fn main() -> netqueue::Result<()> {
//! let opts = Options::new()?.host("127.0.0.1")?.port(51966)?;
//! let client = Comm::new(Protocol::Tcp, Purpose::Client, &opts)?;
//! client.put(b"hello", &[])?.wait()?;            // or .await
//! let reply = client.get(&[], None)?;
//! println!("{} says {:?}", reply.peer(), reply.data());
//! client.close(Some(netqueue::DEFAULT_CLOSE_TIMEOUT))?;
//! # Ok(()) }
//! ```
//!
//! Async receive works in any executor: [`Comm::get_async`] is a
//! [`std::future::Future`] of one message, [`Comm::stream`] a
//! `futures_core::Stream` of messages and peer events ([`Received`];
//! opt-in with [`Options::events`]); dropping either cancels without
//! losing a message. [`Comm::stats`] and [`Comm::peer_stats`] snapshot the
//! statistics.
//!
//! Thread rules follow the C ABI: a [`Comm`] is `Send + Sync` (every
//! `nq_comm_*` call is safe from any thread until it is freed, which only
//! `Drop` does); [`Options`] is `Send` but not `Sync`; a [`Message`]
//! belongs to whoever got it.

mod comm;
mod error;
mod event;
mod id;
mod message;
mod options;
mod put;
mod receive;
mod stats;
mod value;

pub use comm::{Comm, Protocol, Purpose, DEFAULT_CLOSE_TIMEOUT};
pub use error::{Error, Result, Status};
pub use id::Id;
pub use message::Message;
pub use options::{Codec, Dialect, Options, QueuePolicy};
pub use event::{Event, EventKind, Received};
pub use put::Put;
pub use receive::{GetFuture, Receiver};
pub use stats::Stats;
pub use value::Value;

/// Version string of the loaded libnetqueue ("1.3.0").
pub fn version() -> String {
    // SAFETY: nq_version_string returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(netqueue_sys::nq_version_string()) }
        .to_string_lossy()
        .into_owned()
}
