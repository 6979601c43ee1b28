//! Peer events (opt-in with [`crate::Options::events`]): connected,
//! finished, lost, expired, refused, received in order with the data
//! messages of the same peer.
use crate::{Id, Message};
use netqueue_sys as sys;

/// Kind of a peer event (`nq_msg_kind` of the C ABI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The peer's ini arrived: its session (re)starts on a new connection.
    Connected,
    /// The peer's fin arrived: its session ended cleanly.
    Finished,
    /// The connection went away without fin (detail: the cause).
    Lost,
    /// Server: a lost peer did not come back within the linger.
    Expired,
    /// A connection failed its handshake before its id was known (the
    /// peer is 16 zero bytes; the detail names the connection and cause).
    Refused,
    /// A kind newer than this crate (to be ignored).
    Other(u32),
}

impl EventKind {
    /// Every kind this crate knows, for [`crate::Options::events`].
    pub const ALL: [EventKind; 5] =
        [EventKind::Connected, EventKind::Finished, EventKind::Lost, EventKind::Expired, EventKind::Refused];

    pub(crate) fn from_raw(k: sys::nq_msg_kind) -> Option<EventKind> {
        Some(match k {
            sys::NQ_MSG_DATA => return None,
            sys::NQ_EVENT_CONNECTED => EventKind::Connected,
            sys::NQ_EVENT_FINISHED => EventKind::Finished,
            sys::NQ_EVENT_LOST => EventKind::Lost,
            sys::NQ_EVENT_EXPIRED => EventKind::Expired,
            sys::NQ_EVENT_REFUSED => EventKind::Refused,
            other => EventKind::Other(other),
        })
    }

    /// The kind's number in the C ABI.
    pub fn raw(self) -> u32 {
        match self {
            EventKind::Connected => sys::NQ_EVENT_CONNECTED,
            EventKind::Finished => sys::NQ_EVENT_FINISHED,
            EventKind::Lost => sys::NQ_EVENT_LOST,
            EventKind::Expired => sys::NQ_EVENT_EXPIRED,
            EventKind::Refused => sys::NQ_EVENT_REFUSED,
            EventKind::Other(k) => k,
        }
    }
}

/// A peer event, taken out of its [`Message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The peer it is about (16 zero bytes for [`EventKind::Refused`]).
    pub peer: Id,
    /// The cause of a loss, the failed handshake, ...; often empty.
    pub detail: String,
}

/// What a receive got: a message a peer put, or a peer event. Items of a
/// [`crate::Receiver`]; `Received::from(message)` sorts any message.
#[derive(Debug)]
pub enum Received {
    Data(Message),
    Event(Event),
}

impl From<Message> for Received {
    fn from(m: Message) -> Received {
        match m.event() {
            Some(e) => Received::Event(e),
            None => Received::Data(m),
        }
    }
}
