"""Options, named as the reference net-queue's where they mean the same."""
import enum
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from . import errors, nqswig
from .events import EventOptions
from .serializers import PickleSerializer

_pickle = PickleSerializer()


class Protocol(enum.StrEnum):
    """Transport (MQTT and gRPC raise UnsupportedError until the library has them)."""
    TCP = enum.auto()
    MQTT = enum.auto()
    GRPC = enum.auto()


class Purpose(enum.StrEnum):
    SERVER = enum.auto()
    CLIENT = enum.auto()


class QueuePolicy(enum.IntEnum):
    """What a full receive queue does (the library's nq_queue_policy)."""
    BLOCK = 0
    DROP_OLDEST = 1
    DROP_NEWEST = 2


class Dialect(enum.IntEnum):
    CURRENT = 0  # net-queue 1.x/2.x
    LEGACY = 1   # net-queue 0.1.x


class NetworkLocation(NamedTuple):
    host: str = "127.0.0.1"
    port: int = 51966

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """put_merge, transport_size and message_size mean what they mean in the
    reference. The reference's queue_size/drop_oldest count messages; the
    library bounds the receive queue in bytes instead: queue_limit and
    queue_policy. get_merge is accepted and always on (messages arrive
    contiguous). send_limit bounds bytes of puts not yet written (0: none).

    connect_timeout (seconds, default the library's 30): a client's puts
    still pending after this long without reaching the server fail with
    AddressError (an OSError); None keeps them waiting until close.
    keepalive (seconds, default the library's 30; 1 .. 86400): a connection
    whose peer stays unreachable this long is cut (TCP keepalive and user
    timeout); None or 0 turns detection off."""
    get_merge: bool = True
    put_merge: bool = True
    transport_size: int = 16 * 1024 ** 2
    message_size: int = 1 * 1024 ** 3
    queue_limit: int = 32 * 1024 ** 2
    queue_policy: QueuePolicy = QueuePolicy.BLOCK
    send_limit: int = 0
    connect_timeout: float | None = nqswig.DEFAULT_CONNECT_TIMEOUT_MS / 1000
    keepalive: float | None = nqswig.DEFAULT_KEEPALIVE_MS / 1000
    dialect: Dialect = Dialect.CURRENT


@dataclass(frozen=True, slots=True)
class SerializationOptions:
    """load(memoryview) -> object and dump(object) -> bytes-like; pickle by default."""
    load: Callable[[Any], Any] = _pickle.load
    dump: Callable[[Any], Any] = _pickle.dump


@dataclass(frozen=True, slots=True)
class SecurityOptions:
    """TLS: a server's key and certificate chain; a client's trust chain in
    cert (None: the system's). server_name and verify are this binding's."""
    key: Path | str | None = None
    cert: Path | str | None = None
    server_name: str | None = None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class CommunicatorOptions:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    netloc: NetworkLocation = NetworkLocation()
    connection: ConnectionOptions = ConnectionOptions()
    serialization: SerializationOptions = SerializationOptions()
    security: SecurityOptions | None = None
    workers: int = 1
    events: EventOptions = EventOptions()


def _millis(name: str, seconds: float | None, none: int) -> int:
    """Seconds as the library's milliseconds (None: none); negative ones are
    refused here, since -0.001 s would round to the library's -1 (forever)."""
    if seconds is None:
        return none
    if seconds < 0:
        raise errors.InvalidArgumentError(
            f"options: {name} {seconds} s is negative (None: {'forever' if none < 0 else 'off'})",
            nqswig.strerror_(1))
    return math.ceil(seconds * 1000)  # a positive value never becomes 0


def to_native(options: CommunicatorOptions, purpose: Purpose) -> nqswig.Options:
    """An nqswig.Options for these options (setters raise on bad values)."""
    o = nqswig.Options()
    o.set_id(options.id.bytes)
    o.set_host(options.netloc.host)
    o.set_port(options.netloc.port)
    o.set_workers(options.workers)
    c = options.connection
    o.set_merge(int(c.put_merge))
    o.set_transport_size(c.transport_size)
    o.set_message_limit(min(c.message_size, 1 << 62))
    o.set_queue_limit(c.queue_limit)
    o.set_queue_policy(int(c.queue_policy))
    o.set_send_limit(c.send_limit)
    o.set_dialect(int(c.dialect))
    o.set_connect_timeout(_millis("connect timeout", c.connect_timeout, -1))
    o.set_keepalive(_millis("keepalive", c.keepalive, 0))
    mask = options.events.mask()
    if mask:
        o.set_events(mask)
    s = options.security
    if s is not None:
        o.set_tls(1)
        o.set_tls_verify(int(s.verify))
        if s.server_name:
            o.set_tls_server_name(s.server_name)
        if purpose == Purpose.SERVER:
            if s.key is not None:
                o.set_tls_key(str(s.key))
            if s.cert is not None:
                o.set_tls_cert(str(s.cert))
        elif s.cert is not None:
            o.set_tls_ca(str(s.cert))
    return o
