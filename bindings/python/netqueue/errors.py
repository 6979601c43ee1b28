"""Exceptions mapped from the library's nq_status codes.

Every error is a netqueue.Error carrying .status (the stable nq_status
number) and .name (nq_strerror); each also derives from the built-in
exception a Python user would catch: a closed communicator is a
ConnectionAbortedError (as the reference raises), a lost peer a
ConnectionResetError, a timeout a TimeoutError, a bad option a ValueError.
"""


class Error(Exception):
    """A libnetqueue call failed; .status is the nq_status number."""

    status: int = -1

    def __init__(self, message: str = "", name: str = "") -> None:
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.name}: {text}" if self.name and text else (text or self.name)


# One class per nq_status, written out (not made by a loop) so that type
# checkers know them.
class InvalidArgumentError(Error, ValueError):
    status = 1


class OutOfMemoryError(Error, MemoryError):
    status = 2


class ClosedError(Error, ConnectionAbortedError):
    status = 3


class CanceledError(Error, ConnectionAbortedError):
    status = 4


class TimeoutError_(Error, TimeoutError):
    status = 5


class NoPeerError(Error, ConnectionResetError):
    status = 6


class ResetError(Error, ConnectionResetError):
    status = 7


class ProtocolError(Error, ConnectionError):
    status = 8


class TooBigError(Error, ValueError):
    status = 9


class IOError_(Error, OSError):
    status = 10


class TLSError(Error, OSError):
    status = 11


class UnsupportedError(Error, NotImplementedError):
    status = 12


class AgainError(Error, BlockingIOError):
    status = 13


class CodecError(Error, ValueError):
    status = 14


class AddressError(Error, OSError):
    status = 15


class StateError(Error, RuntimeError):
    status = 16


# The trailing _ only avoids shadowing the built-ins: the names shown are the library's.
TimeoutError_.__name__ = TimeoutError_.__qualname__ = "TimeoutError"
IOError_.__name__ = IOError_.__qualname__ = "IOError"

_BY_STATUS: dict[int, type[Error]] = {c.status: c for c in (
    InvalidArgumentError, OutOfMemoryError, ClosedError, CanceledError, TimeoutError_,
    NoPeerError, ResetError, ProtocolError, TooBigError, IOError_, TLSError,
    UnsupportedError, AgainError, CodecError, AddressError, StateError)}


# Why a put failed, by completion status: the library gives a completion no
# detail (nq_last_error belongs to the thread of a failed call). The same
# words in every binding.
PUT_FAILED: dict[int, str] = {
    4: "the communicator was closed before the message was written",
    7: "the connection to the peer was lost before the message was written",
    15: "the server was not reached within the connect timeout (the library's log says why)",
}


def put_failure(status: int, name: str) -> Error:
    """The exception a put's future fails with."""
    return from_status(status, name, "put: " + PUT_FAILED.get(status, name))


def from_status(status: int, name: str, detail: str) -> Error:
    """The exception for an nq_status (called by the SWIG layer)."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = type("Error", (Error,), {"status": status, "__module__": __name__})  # a newer library's
    return cls(detail or name, name)
