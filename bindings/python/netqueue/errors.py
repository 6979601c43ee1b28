"""Exceptions mapped from the library's nq_status codes.

Every error is a netqueue.Error carrying .status (the stable nq_status
number) and .name (nq_strerror); each also derives from the built-in
exception a Python user would catch: a closed communicator is a
ConnectionAbortedError (as the reference raises), a lost peer a
ConnectionResetError, a timeout a TimeoutError, a bad option a ValueError.
"""


class Error(Exception):
    """A libnetqueue call failed; .status is the nq_status number."""

    status = -1

    def __init__(self, message="", name=""):
        super().__init__(message)
        self.name = name

    def __str__(self):
        text = super().__str__()
        return f"{self.name}: {text}" if self.name and text else (text or self.name)


def _make(cls_name, status, *bases):
    return type(cls_name, (Error, *bases), {"status": status, "__module__": __name__})


InvalidArgumentError = _make("InvalidArgumentError", 1, ValueError)
OutOfMemoryError = _make("OutOfMemoryError", 2, MemoryError)
ClosedError = _make("ClosedError", 3, ConnectionAbortedError)
CanceledError = _make("CanceledError", 4, ConnectionAbortedError)
TimeoutError_ = _make("TimeoutError", 5, TimeoutError)
NoPeerError = _make("NoPeerError", 6, ConnectionResetError)
ResetError = _make("ResetError", 7, ConnectionResetError)
ProtocolError = _make("ProtocolError", 8, ConnectionError)
TooBigError = _make("TooBigError", 9, ValueError)
IOError_ = _make("IOError", 10, OSError)
TLSError = _make("TLSError", 11, OSError)
UnsupportedError = _make("UnsupportedError", 12, NotImplementedError)
AgainError = _make("AgainError", 13, BlockingIOError)
CodecError = _make("CodecError", 14, ValueError)
AddressError = _make("AddressError", 15, OSError)
StateError = _make("StateError", 16, RuntimeError)

_BY_STATUS = {c.status: c for c in (
    InvalidArgumentError, OutOfMemoryError, ClosedError, CanceledError, TimeoutError_,
    NoPeerError, ResetError, ProtocolError, TooBigError, IOError_, TLSError,
    UnsupportedError, AgainError, CodecError, AddressError, StateError)}


# Why a put failed, by completion status: the library gives a completion no
# detail (nq_last_error belongs to the thread of a failed call). The same
# words in every binding.
PUT_FAILED = {
    4: "the communicator was closed before the message was written",
    7: "the connection to the peer was lost before the message was written",
    15: "the server was not reached within the connect timeout (the library's log says why)",
}


def put_failure(status, name):
    """The exception a put's future fails with."""
    return from_status(status, name, "put: " + PUT_FAILED.get(status, name))


def from_status(status, name, detail):
    """The exception for an nq_status (called by the SWIG layer)."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = type("Error", (Error,), {"status": status, "__module__": __name__})
    return cls(detail or name, name)
