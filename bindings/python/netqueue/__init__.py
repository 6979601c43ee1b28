"""netqueue: Python binding of libnetqueue (the net-queue protocol in C).

Same names as the reference net-queue where they mean the same:

    import netqueue as nq
    with nq.new(purpose=nq.Purpose.SERVER) as queue:
        message = queue.get()
        queue.put("Hello, Client!")
"""
from . import errors
from .comm import DEFAULT_CLOSE_TIMEOUT, Communicator, Message
from .errors import Error
from .options import (CommunicatorOptions, ConnectionOptions, Dialect, NetworkLocation, Protocol,
                      Purpose, QueuePolicy, SecurityOptions, SerializationOptions)
from .serializers import BufferSerializer, PickleSerializer
from . import nqswig as _nqswig

__all__ = (
    "Protocol", "Purpose", "CommunicatorOptions", "NetworkLocation", "ConnectionOptions",
    "SerializationOptions", "SecurityOptions", "QueuePolicy", "Dialect", "Message",
    "Communicator", "PickleSerializer", "BufferSerializer", "Error", "errors", "new",
    "version", "DEFAULT_CLOSE_TIMEOUT",
)


def new(protocol=Protocol.TCP, purpose=Purpose.CLIENT, options=None) -> Communicator:
    """Create a communicator (a client by default) and start it."""
    return Communicator(protocol, purpose, options)


def version() -> str:
    """The loaded libnetqueue's version ("1.0.0")."""
    return _nqswig.version_string()
