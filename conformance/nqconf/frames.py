"""Frames and payloads as the catalogue describes them, and a stream reader.

A frame spec is a small dict (docs/conformance.md, "Frame specs"):
  {"ini": true} / {"fin": true}     the sender's handshake frames
  {"id": "impl"|"<conn>"}           a 16-byte payload equal to an id
  {"size": N, "seed": K}            N bytes of a seeded pattern
  {"text": "..."} / {"hex": "..."}  literal payloads
  {"raw": "hex"}                    bytes with no header (garbage, cuts)
  {"header": N}                     a bare header declaring N bytes
  "repeat": R                       R frames, seeds K, K+1, ...
"""
import hashlib
import struct

HEADER = struct.Struct(">Q")


def pattern(size, seed=0):
    """Position- and seed-dependent bytes: a shifted, cut or swapped
    payload never compares equal. Fast for MiB sizes."""
    block = hashlib.sha256(b"nq-conformance:%d" % seed).digest() * 64  # 2 KiB
    reps, rest = divmod(size, len(block))
    out = bytearray(block * reps + block[:rest])
    # Stamp the offset every 2 KiB so that a repeated block also shows.
    for off in range(0, size - 8 + 1, 2048):
        out[off:off + 8] = HEADER.pack(off)
    return bytes(out)


def payload(spec, ids):
    """Payload bytes of a data-ish frame spec; ids maps names to 16 bytes."""
    if "size" in spec:
        return pattern(spec["size"], spec.get("seed", 0))
    if "text" in spec:
        return spec["text"].encode()
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "id" in spec:
        return ids[spec["id"]]
    raise ValueError(f"frame spec without payload: {spec!r}")


def expand(specs):
    """Unroll "repeat" into single specs with increasing seeds."""
    for spec in specs:
        for i in range(spec.get("repeat", 1)):
            one = dict(spec)
            one.pop("repeat", None)
            if "size" in one:
                one["seed"] = spec.get("seed", 0) + i
            yield one


def encode(specs, own, ids, dialect="current"):
    """Bytes on the wire for a list of frame specs sent by `own` (a name in
    ids)."""
    out = bytearray()
    for spec in expand(specs):
        if "raw" in spec:
            out += bytes.fromhex(spec["raw"])
        elif "header" in spec:
            out += HEADER.pack(spec["header"])
        elif spec.get("ini"):
            out += HEADER.pack(16) + ids[own]
        elif spec.get("fin"):
            out += HEADER.pack(0) if dialect == "legacy" else HEADER.pack(16) + ids[own]
        else:
            p = payload(spec, ids)
            out += HEADER.pack(len(p)) + p
    return bytes(out)


def cut(data, how):
    """Split bytes into transport pieces: "none", "every-byte", {"chunk": N},
    or a list of offsets."""
    if how in (None, "none"):
        return [data] if data else []
    if how == "every-byte":
        return [data[i:i + 1] for i in range(len(data))]
    if isinstance(how, dict) and "chunk" in how:
        n = how["chunk"]
        return [data[i:i + n] for i in range(0, len(data), n)]
    if isinstance(how, list):
        bounds = [0] + [o for o in how if 0 < o < len(data)] + [len(data)]
        return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    raise ValueError(f"bad cut {how!r}")


class Reader:
    """Reassembles frames from pieces of a byte stream."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def frame(self):
        """The next whole frame's payload, or None."""
        if len(self.buf) < 8:
            return None
        (n,) = HEADER.unpack_from(self.buf)
        if len(self.buf) < 8 + n:
            return None
        p = bytes(self.buf[8:8 + n])
        del self.buf[:8 + n]
        return p


def matches(spec, got, sender, ids, dialect="current"):
    """Does a received payload match an expected frame spec from `sender`?
    Returns None when it does, else a short reason."""
    if spec.get("any"):
        return None
    if spec.get("ini"):
        want = ids[sender]
    elif spec.get("fin"):
        want = b"" if dialect == "legacy" else ids[sender]
    elif spec.get("any_size") is not None:
        return None if len(got) == spec["any_size"] else f"expected {spec['any_size']} bytes, got {len(got)}"
    else:
        want = payload(spec, ids)
    if got == want:
        return None
    return f"expected {describe(want)}, got {describe(got)}"


def describe(b):
    if len(b) <= 32:
        return f"{len(b)} bytes {b.hex()}"
    return f"{len(b)} bytes {b[:16].hex()}…(sha256 {hashlib.sha256(b).hexdigest()[:12]})"
