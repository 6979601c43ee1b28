"""Peer events (ABI 1.2): what they are and how a communicator asks for them.

Two ways, which may be combined:

- the reference net-queue's `EventOptions(ini=..., fin=...)`: handlers
  called with the peer's id when its session starts (its ini arrived) and
  when it finished (fin exchanged). The reference runs them on a thread of
  its own as they happen; this binding runs them on the thread (or asyncio
  task) that receives, when its get reaches the event, in order with that
  peer's messages: a program that never gets sees no handler run.
- this binding's `EventOptions(deliver=...)`: events of the kinds asked for
  come out of get / aget / `async for` as `Event` objects, in order with the
  data messages (`Message`) of the same peer; `Communicator.events()` is an
  async iterator of the events alone.
"""
import enum
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import nqswig


class EventKind(enum.IntEnum):
    """The library's nq_msg_kind (the numbers are the ABI's)."""
    CONNECTED = nqswig.EVENT_CONNECTED  # the peer's ini arrived (before its first message)
    FINISHED = nqswig.EVENT_FINISHED    # fin exchanged (after its last message)
    LOST = nqswig.EVENT_LOST            # connection gone without fin (detail: why)
    EXPIRED = nqswig.EVENT_EXPIRED      # server: a lost peer did not come back in time
    REFUSED = nqswig.EVENT_REFUSED      # a handshake failed (peer: the nil UUID)


@dataclass(frozen=True, slots=True)
class Event:
    """A peer event, received in order with that peer's messages."""
    kind: EventKind | int  # an int for a kind newer than this package
    peer: uuid.UUID
    detail: str = ""


def _nop_event_handler(peer: uuid.UUID) -> None:
    """The reference's default handler: nothing."""


@dataclass(frozen=True, slots=True)
class EventOptions:
    """ini / fin as in the reference (handlers of a peer's id; see the
    module's note on where they run). deliver: the kinds get returns as
    Event objects (True: all, False: none)."""
    ini: Callable[[uuid.UUID], None] = _nop_event_handler
    fin: Callable[[uuid.UUID], None] = _nop_event_handler
    deliver: bool | Iterable[EventKind] = False

    def delivered(self) -> frozenset[int]:
        if self.deliver is True:
            return frozenset(int(k) for k in EventKind)
        if self.deliver is False:
            return frozenset()
        return frozenset(int(EventKind(k)) for k in self.deliver)

    def mask(self) -> int:
        """The library's event mask: what is delivered, and what a handler needs."""
        kinds = set(self.delivered())
        if self.ini is not _nop_event_handler:
            kinds.add(int(EventKind.CONNECTED))
        if self.fin is not _nop_event_handler:
            kinds.add(int(EventKind.FINISHED))
        m = 0
        for k in kinds:
            m |= 1 << k
        return m
