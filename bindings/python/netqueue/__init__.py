"""netqueue: Python binding of libnetqueue (the net-queue protocol in C).

Same names as the reference net-queue where they mean the same:

    import netqueue as nq
    with nq.new(purpose=nq.Purpose.SERVER) as queue:
        message = queue.get()
        queue.put("Hello, Client!")
"""
from importlib.metadata import version as _dist_version

from . import errors
from .comm import DEFAULT_CLOSE_TIMEOUT, Communicator, Message
from .errors import Error
from .events import Event, EventKind, EventOptions
from .options import (CommunicatorOptions, ConnectionOptions, Dialect, NetworkLocation, Protocol,
                      Purpose, QueuePolicy, SecurityOptions, SerializationOptions)
from .serializers import BufferSerializer, PickleSerializer
from . import nqswig as _nqswig

__all__ = (
    "Protocol", "Purpose", "CommunicatorOptions", "NetworkLocation", "ConnectionOptions",
    "SerializationOptions", "SecurityOptions", "QueuePolicy", "Dialect", "Message",
    "Communicator", "PickleSerializer", "BufferSerializer", "Error", "errors", "new",
    "version", "abi_version", "DEFAULT_CLOSE_TIMEOUT", "Event", "EventKind", "EventOptions",
)

#: This package's version ("1.3.0"): it follows the C ABI it was built
#: for (abi/netqueue/version.h), as every netqueue package does.
__version__: str = _dist_version(__name__)


def new(protocol: Protocol | str = Protocol.TCP, purpose: Purpose | str = Purpose.CLIENT,
        options: CommunicatorOptions | None = None) -> Communicator:
    """Create a communicator (a client by default) and start it."""
    return Communicator(protocol, purpose, options)


def version() -> str:
    """The version of the libnetqueue actually loaded ("1.3.0"), which may be
    newer than __version__ (the one this package was built for)."""
    return _nqswig.version_string()


def abi_version() -> int:
    """The loaded libnetqueue's NQ_ABI_VERSION (0xMMmmpp)."""
    return _nqswig.abi_version()
