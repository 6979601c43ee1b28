"""One-bug mutants of mini. Exactly one is switched on per process
(--mutant NAME or NQ_MINI_MUTANT); the code asks `on(name)` where the bug
lives. Each entry: the transports it applies to and the bug, in words.

Counted mutants act on the data message numbered NTH (1-based, per
session and direction): well past the first 1,000, where only the long
cases look.
"""
ALL = ("tcp", "tls", "mqtt", "grpc")
STREAM = ("tcp", "tls")
NTH = 1500

MUTANTS = {
    # -- message accounting (each direction, each role) --------------------
    "drop-recv-server": (ALL, "the server loses the 1,500th message it receives from a client"),
    "drop-recv-client": (ALL, "the client loses the 1,500th message it receives from the server"),
    "drop-send-server": (ALL, "the server's 1,500th put to a client is reported done but never sent"),
    "drop-send-client": (ALL, "the client's 1,500th put is reported done but never sent"),
    "dup-recv-server": (ALL, "the server delivers the 1,500th message from a client twice"),
    "dup-send-server": (ALL, "the server sends its 1,500th put to a client twice"),
    "reorder-recv-client": (ALL, "the client delivers the server's 1,500th and 1,501st messages swapped"),
    "reorder-send-client": (ALL, "the client sends its 1,500th and 1,501st puts swapped"),
    "extra-after-last": (ALL, "a closing client sends its last message again before its fin"),
    # -- fin ------------------------------------------------------------------
    "fin-no-wait": (ALL, "a closing client sends fin and closes without waiting for the server's fin"),
    "fin-before-data": (ALL, "a closing client sends fin ahead of its queued puts"),
    "fin-unanswered": (ALL, "the server never answers a client's fin"),
    "server-fin-before-data": (ALL, "the server answers a fin ahead of the data it has queued for that client"),
    "after-fin-is-fin": (ALL, "a client that has sent fin takes any frame from the server for the server's fin"),
    "any16-is-fin": (ALL, "after ini, any 16-byte frame is taken for fin, not only the peer's id"),
    "own-id-is-fin": (ALL, "fin is recognised as a 16-byte frame equal to the receiver's own id, not the sender's"),
    "legacy-id-is-fin": (ALL, "in the legacy dialect a 16-byte frame equal to the peer's id is taken for fin"),
    "legacy-empty-is-data": (ALL, "in the legacy dialect the empty frame is delivered as data, not taken for fin"),
    # -- ini ------------------------------------------------------------------
    "ini-early": (STREAM, "the server sends its ini on accept, before the client's first bytes"),
    "ini-after-data": (ALL, "the server sends its ini only behind its first frame to that client (data or fin)"),
    "client-waits-ini": (ALL, "the client sends nothing, not even its ini, until the server's ini arrives"),
    # -- routing --------------------------------------------------------------
    "put-unknown-ok": (ALL, "a put naming an unknown peer reports success (and sends nothing)"),
    "put-unknown-broadcast": (ALL, "a put naming an unknown peer goes to every client"),
    "put-finished-ok": (ALL, "a put naming a client whose session ended with fin reports success"),
    "targeted-broadcast": (ALL, "a put naming one client goes to every client"),
    "wrong-peer-id": (ALL, "the client delivers the server's messages under its own id"),
    # -- framing --------------------------------------------------------------
    "len-little-endian": (ALL, "frame lengths are written little-endian"),
    "len-off-by-one": (ALL, "a frame is taken as complete only once a byte past its end has arrived"),
    "split-header": (ALL, "bytes of a header cut at the end of a read are thrown away"),
    "over-limit-accepted": (STREAM, "a header over the message limit is not rejected: the receiver waits for its payload"),
    "bad-first-frame-kept": (STREAM, "a first frame that is not 16 bytes is delivered as data; the connection stays"),
    # -- TLS ------------------------------------------------------------------
    "tls-no-verify": (("tls",), "the client does not verify the server's certificate chain"),
    "tls-no-hostname": (("tls",), "the client verifies the chain but not the host name"),
    "tls-ignore-server-name": (("tls",), "the client checks the host it dialled, ignoring --server-name"),
    "tls-plaintext": (("tls",), "the server serves a client that does not start TLS, in plaintext"),
    # -- MQTT -----------------------------------------------------------------
    "mqtt-topic-swap": (("mqtt",), "topic directions swapped: the client publishes on s2c/ and the server on c2s/"),
    "mqtt-hex-upper": (("mqtt",), "topic ids in upper-case hex"),
    "mqtt-qos1": (("mqtt",), "publishes at QoS 1 instead of 0"),
    "mqtt-publish-before-subscribe": (("mqtt",), "the client publishes its ini before its subscription is acknowledged"),
    "mqtt-id-from-topic": (("mqtt",), "the server names a client after the first 16 hex digits of its topic"),
    "mqtt-malformed-topic": (("mqtt",), "the server takes any topic under c2s/ for a client, malformed or not"),
    # -- gRPC -----------------------------------------------------------------
    "grpc-no-poll": (("grpc",), "the client never polls: server data arrives only on rounds its own puts start"),
    "grpc-wrong-method": (("grpc",), "the client calls /grpc.grpc/comm instead of /grpc/comm"),
    "grpc-empty-ends-round": (("grpc",), "an empty request message is taken as the end of the round"),
    "grpc-round-early": (("grpc",), "the server ends a round after the messages that have arrived, without reading to the half-close"),
    "grpc-status-ignored": (("grpc",), "the client takes a round that ended with an error status as a normal round and polls on"),
    "grpc-channel-per-round": (("grpc",), "the client opens a new channel for every round"),
}

# Mutants no wire observation can tell from the correct implementation
# (excluded from the score; docs/conformance.md says why).
EQUIVALENT = {
    "mqtt-qos1": "the scripted peer subscribes at QoS 0, so the broker delivers at QoS 0 whatever "
                 "the publisher's QoS: nothing on the wire the suite sees differs",
}

_active = None


def activate(name):
    global _active
    if name and name not in MUTANTS:
        raise SystemExit(f"mini: unknown mutant {name!r}")
    _active = name or None


def on(name):
    return _active == name


def active():
    return _active


def for_transport(transport):
    return [n for n, (ts, _) in MUTANTS.items() if transport in ts]
