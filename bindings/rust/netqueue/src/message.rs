use crate::error::check;
use crate::value::OwnedValue;
use crate::{Codec, Id, Result, Value};
use netqueue_sys as sys;
use std::ptr::{self, NonNull};

/// A received message. Its payload stays in the library's buffer
/// ([`Message::data`] borrows it, no copy) until the message is dropped.
pub struct Message {
    raw: NonNull<sys::nq_msg>,
    codec: Codec,
}

// SAFETY: a message belongs to its holder and is read-only after get.
unsafe impl Send for Message {}
unsafe impl Sync for Message {}

impl Message {
    /// SAFETY: raw is a message from nq_comm_get that nobody else owns.
    pub(crate) unsafe fn from_raw(raw: *mut sys::nq_msg, codec: Codec) -> Message {
        Message { raw: NonNull::new(raw).expect("nq_comm_get gave NULL"), codec }
    }

    /// The sender's id.
    pub fn peer(&self) -> Id {
        let mut id = Id::default();
        // SAFETY: live message, 16 writable bytes.
        unsafe { sys::nq_msg_peer(self.raw.as_ptr(), id.0.as_mut_ptr()) };
        id
    }

    /// The payload.
    pub fn data(&self) -> &[u8] {
        // SAFETY: the bytes are valid and unchanged until nq_msg_free (Drop).
        unsafe {
            let n = sys::nq_msg_size(self.raw.as_ptr());
            if n == 0 {
                return &[];
            }
            std::slice::from_raw_parts(sys::nq_msg_data(self.raw.as_ptr()).cast(), n)
        }
    }

    /// The peer event this message is, or None for data a peer put
    /// (events come only when enabled with [`crate::Options::events`]).
    pub fn event(&self) -> Option<crate::Event> {
        // SAFETY: live message.
        let kind = crate::EventKind::from_raw(unsafe { sys::nq_msg_kind_of(self.raw.as_ptr()) })?;
        // SAFETY: never NULL, valid until nq_msg_free.
        let detail = unsafe { std::ffi::CStr::from_ptr(sys::nq_msg_event_detail(self.raw.as_ptr())) };
        Some(crate::Event { kind, peer: self.peer(), detail: detail.to_string_lossy().into_owned() })
    }

    /// True for data a peer put (not an event).
    pub fn is_data(&self) -> bool {
        // SAFETY: live message.
        unsafe { sys::nq_msg_kind_of(self.raw.as_ptr()) == sys::NQ_MSG_DATA }
    }

    /// The payload decoded with the communicator's codec (under
    /// [`Codec::Raw`]: [`Value::Bytes`]).
    pub fn value(&self) -> Result<Value> {
        let mut out = ptr::null_mut();
        // SAFETY: live message, valid out pointer.
        check(unsafe { sys::nq_msg_value(self.raw.as_ptr(), self.codec.raw(), &mut out) })?;
        // SAFETY: a new value tree that we own.
        let owned = unsafe { OwnedValue::from_raw(out) };
        Ok(owned.to_value())
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: we own the message.
        unsafe { sys::nq_msg_free(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message").field("peer", &self.peer()).field("len", &self.data().len()).finish()
    }
}
