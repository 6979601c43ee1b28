"""One-bug mutants of mini. Exactly one is switched on per process
(--mutant NAME or NQ_MINI_MUTANT); the code asks `on(name)` where the bug
lives. Each entry: the transports it applies to, the bug in words, and the cases
(group/n) expected to kill it: the self-test runs those first, then every
other case, so a hint only saves time and never decides a kill.

Counted mutants act on the data message numbered NTH (1-based, per
session and direction): well past the first 1,000, where only the long
cases look.
"""
ALL = ("tcp", "tls", "mqtt", "grpc")
STREAM = ("tcp", "tls")
NTH = 1500

MUTANTS = {
    # -- message accounting (each direction, each role) --------------------
    "drop-recv-server": (ALL, "the server loses the 1,500th message it receives from a client", "c2s/3"),
    "drop-recv-client": (ALL, "the client loses the 1,500th message it receives from the server", "interleave/9"),
    "drop-send-server": (ALL, "the server's 1,500th put to a client is reported done but never sent", "interleave/8"),
    "drop-send-client": (ALL, "the client's 1,500th put is reported done but never sent", "interleave/9"),
    "dup-recv-server": (ALL, "the server delivers the 1,500th message from a client twice", "c2s/3"),
    "dup-send-server": (ALL, "the server sends its 1,500th put to a client twice", "interleave/8"),
    "reorder-recv-client": (ALL, "the client delivers the server's 1,500th and 1,501st messages swapped", "interleave/9"),
    "reorder-send-client": (ALL, "the client sends its 1,500th and 1,501st puts swapped", "interleave/9"),
    "extra-after-last": (ALL, "a closing client sends its last message again before its fin", "fin/3 c2s/2"),
    # -- fin ------------------------------------------------------------------
    "fin-no-wait": (ALL, "a closing client sends fin and closes without waiting for the server's fin", "fin/16"),
    "fin-before-data": (ALL, "a closing client sends fin ahead of its queued puts", "fin/21 fin/3"),
    "fin-unanswered": (ALL, "the server never answers a client's fin", "fin/1"),
    "server-fin-before-data": (ALL, "the server answers a fin ahead of the data it has queued for that client", "fin/22 fin/18 fin/4"),
    "after-fin-is-fin": (ALL, "a client that has sent fin takes any frame from the server for the server's fin", "fin/17"),
    "any16-is-fin": (ALL, "after ini, any 16-byte frame is taken for fin, not only the peer's id", "c2s/6"),
    "own-id-is-fin": (ALL, "fin is recognised as a 16-byte frame equal to the receiver's own id, not the sender's", "fin/1"),
    "legacy-id-is-fin": (ALL, "in the legacy dialect a 16-byte frame equal to the peer's id is taken for fin", "fin/14 fin/19"),
    "legacy-empty-is-data": (ALL, "in the legacy dialect the empty frame is delivered as data, not taken for fin", "fin/12"),
    # -- ini ------------------------------------------------------------------
    "ini-early": (STREAM, "the server sends its ini on accept, before the client's first bytes", "ini/13 ini/4"),
    "ini-after-data": (ALL, "the server sends its ini only behind its first frame to that client (data or fin)", "ini/1"),
    "client-waits-ini": (ALL, "the client sends nothing, not even its ini, until the server's ini arrives", "ini/5"),
    # -- routing --------------------------------------------------------------
    "put-unknown-ok": (ALL, "a put naming an unknown peer reports success (and sends nothing)", "s2c/9"),
    "put-unknown-broadcast": (ALL, "a put naming an unknown peer goes to every client", "s2c/9"),
    "put-finished-ok": (ALL, "a put naming a client whose session ended with fin reports success", "s2c/10"),
    "targeted-broadcast": (ALL, "a put naming one client goes to every client", "s2c/3"),
    "wrong-peer-id": (ALL, "the client delivers the server's messages under its own id", "s2c/5"),
    # -- framing --------------------------------------------------------------
    "len-little-endian": (ALL, "frame lengths are written little-endian", "ini/1"),
    "len-off-by-one": (ALL, "a frame is taken as complete only once a byte past its end has arrived", "ini/1 fin/1"),
    "split-header": (ALL, "bytes of a header cut at the end of a read are thrown away", "ini/2 frame/10"),
    "over-limit-skipped": (ALL, "a header over the message limit is skipped and the bytes after it are read as frames", "frame/11 frame/13"),
    "bad-first-frame-kept": (STREAM, "a first frame that is not 16 bytes is delivered as data; the connection stays", "frame/4"),
    # -- TLS ------------------------------------------------------------------
    "tls-no-verify": (("tls",), "the client does not verify the server's certificate chain", "tls/1 tls/3"),
    "tls-no-hostname": (("tls",), "the client verifies the chain but not the host name", "tls/2"),
    "tls-ignore-server-name": (("tls",), "the client checks the host it dialled, ignoring --server-name", "tls/6"),
    "tls-plaintext": (("tls",), "the server serves a client that does not start TLS, in plaintext", "tls/5"),
    # -- MQTT -----------------------------------------------------------------
    "mqtt-topic-swap": (("mqtt",), "topic directions swapped: the client publishes on s2c/ and the server on c2s/", "ini/1"),
    "mqtt-hex-upper": (("mqtt",), "topic ids in upper-case hex", "ini/1"),
    "mqtt-qos1": (("mqtt",), "publishes at QoS 1 instead of 0", ""),
    "mqtt-publish-before-subscribe": (("mqtt",), "the client publishes its ini without waiting for its SUBACK (its SUBSCRIBE goes 0.2 s later, as a slow broker would make it take effect)", "mqtt/7"),
    "mqtt-id-from-topic": (("mqtt",), "the server takes a client's id from its topic as a UUID in little-endian field order (bytes_le)", "s2c/1"),
    "mqtt-malformed-topic": (("mqtt",), "the server takes any topic under c2s/ for a client, malformed or not", "mqtt/8 mqtt/4"),
    # -- gRPC -----------------------------------------------------------------
    "grpc-no-poll": (("grpc",), "the client never polls: server data arrives only on rounds its own puts start", "s2c/5 ini/7"),
    "grpc-wrong-method": (("grpc",), "the client calls /grpc.grpc/comm instead of /grpc/comm", "ini/5"),
    "grpc-empty-ends-round": (("grpc",), "an empty request message is taken as the end of the round", "grpc/6"),
    "grpc-round-early": (("grpc",), "a round in which the server sent messages ends without reading the client's (they are lost)", "grpc/4"),
    "grpc-status-error": (("grpc",), "the server ends every round in which it sent messages with status UNKNOWN instead of OK", "ini/1"),
    "grpc-channel-per-round": (("grpc",), "the client opens a new channel for every round", "fin/2"),
}

# Mutants no wire observation can tell from the correct implementation
# (excluded from the score; docs/conformance.md says why), by name, or
# "transport:name" where only one transport hides the bug.
EQUIVALENT = {
    "mqtt-qos1": "the scripted peer subscribes at QoS 0, so the broker delivers at QoS 0 whatever "
                 "the publisher's QoS: nothing on the wire the suite sees differs",
    "grpc:server-fin-before-data": "mini's gRPC server streams everything queued for a client before "
                                   "it reads that round's messages, so nothing is queued when it reads "
                                   "a fin: the bug cannot show on the wire",
}


def equivalent(transport, name):
    """Why name is an equivalent mutant on transport, or None."""
    return EQUIVALENT.get(f"{transport}:{name}") or EQUIVALENT.get(name)

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
    return [n for n, (ts, _, _) in MUTANTS.items() if transport in ts]
