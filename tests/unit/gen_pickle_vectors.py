#!/usr/bin/env python3
"""Write tests/unit/pickle_vectors.h: the exact bytes Python's pickle makes.

Run with Python 3.13 (the version whose output nq_pickle_dump reproduces):
    python3.13 tests/unit/gen_pickle_vectors.py > tests/unit/pickle_vectors.h

Each vector carries the value twice: as Python's pickle, and as a small
description (below) the C test turns into an nq_value with the public
constructors, so that dump and load are checked against independent data.
Both are stored as runs (pattern, repeat count) so that the >64 KiB cases
stay small in the header.

Description format (text where it can be):
  N | T | F                          None, True, False
  i<decimal>;                        int within int64
  I<hex>;                            int: little-endian two's complement bytes
  D<hex>;                            float: the 8 bytes of a little-endian double
  S|B|A<n>:<n bytes>                 str (UTF-8), bytes, bytearray
  L|U|M<n>:<items>                   list, tuple, dict (n pairs: key, item)
"""
import pickle
import pickletools
import struct
import sys

assert sys.version_info[:2] == (3, 13), "run with Python 3.13"
sys.setrecursionlimit(20000)


def desc(v):
    if v is None:
        return b"N"
    if v is True:
        return b"T"
    if v is False:
        return b"F"
    if type(v) is int:
        if -2**63 <= v < 2**63:
            return b"i%d;" % v
        n = (v.bit_length() + 8) // 8
        return b"I" + v.to_bytes(n, "little", signed=True).hex().encode() + b";"
    if type(v) is float:
        return b"D" + struct.pack("<d", v).hex().encode() + b";"
    if type(v) in (str, bytes, bytearray):
        tag = {str: b"S", bytes: b"B", bytearray: b"A"}[type(v)]
        b = v.encode("utf-8") if type(v) is str else bytes(v)
        return tag + b"%d:" % len(b) + b
    if type(v) in (list, tuple):
        tag = b"L" if type(v) is list else b"U"
        return tag + b"%d:" % len(v) + b"".join(desc(x) for x in v)
    if type(v) is dict:
        out = [b"M%d:" % len(v)]
        for k, x in v.items():
            out += [desc(k), desc(x)]
        return b"".join(out)
    raise TypeError(type(v))


def runs(data):
    """Split data into (pattern, count): periodic stretches become one run."""
    out, lit, i, n = [], bytearray(), 0, len(data)
    while i < n:
        best = None
        for p in range(1, 25):
            if i + 2 * p > n:
                break
            r = 1
            while i + (r + 1) * p <= n and data[i + r * p:i + (r + 1) * p] == data[i:i + p]:
                r += 1
            if p * r >= 64 and (best is None or p * r > best[0] * best[1]):
                best = (p, r)
        if best:
            if lit:
                out.append((bytes(lit), 1))
                lit = bytearray()
            out.append((data[i:i + best[0]], best[1]))
            i += best[0] * best[1]
        else:
            lit.append(data[i])
            i += 1
    if lit:
        out.append((bytes(lit), 1))
    return out


def c_string(b):
    s = []
    for c in b:
        ch = chr(c)
        if ch in '"\\?':
            s.append("\\" + ch)
        elif 32 <= c < 127:
            s.append(ch)
        else:
            s.append("\\%03o" % c)
    text = "".join(s)
    # Keep lines short: split the literal every 100 characters of text.
    parts, cur = [], ""
    for tok in _tokens(text):
        if len(cur) + len(tok) > 100:
            parts.append(cur)
            cur = ""
        cur += tok
    parts.append(cur)
    return "\n        ".join('"%s"' % p for p in parts)


def _tokens(text):
    i = 0
    while i < len(text):
        if text[i] == "\\":
            j = i + 2 if text[i + 1] in '"\\?' else i + 4
        else:
            j = i + 1
        yield text[i:j]
        i = j


def emit_runs(name, data):
    rs = runs(data)
    lines = ["static const nq_run %s[] = {" % name]
    for pat, count in rs:
        lines.append("    {%s,\n        %d, %d}," % (c_string(pat), len(pat), count))
    lines.append("};")
    return "\n".join(lines), len(rs)


def no_sharing(p):
    """A pickle without BINGET: Python saw no object twice."""
    return all(op.name not in ("BINGET", "LONG_BINGET", "GET")
               for op, _, _ in pickletools.genops(p))


def distinct_str(s):
    # CPython shares '' and 1-char strs; build a fresh object when possible.
    return "".join(list(s)) if len(s) > 1 else s


VALUES = [
    ("none", None), ("true", True), ("false", False),
    ("int_0", 0), ("int_1", 1), ("int_m1", -1), ("int_255", 255), ("int_256", 256),
    ("int_65535", 65535), ("int_65536", 65536), ("int_m256", -256),
    ("int_2p31m1", 2**31 - 1), ("int_2p31", 2**31), ("int_m2p31", -2**31),
    ("int_m2p31m1", -2**31 - 1), ("int_2p63", 2**63), ("int_m2p63", -2**63),
    ("int_2p63m1", 2**63 - 1), ("int_2p64", 2**64), ("int_m2p64", -2**64),
    ("int_2p200", 2**200), ("int_m2p200", -2**200), ("int_128", 128),
    ("int_m128", -128), ("int_m129", -129), ("int_2p2047", 2**2047),
    ("int_m2p2100", -2**2100 - 12345),
    ("float_0", 0.0), ("float_m0", -0.0), ("float_1_5", 1.5), ("float_inf", float("inf")),
    ("float_minf", float("-inf")), ("float_nan", float("nan")), ("float_1e308", 1e308),
    ("float_tiny", 5e-324), ("float_pi", 3.141592653589793),
    ("str_empty", ""), ("str_ascii", distinct_str("hello")),
    ("str_unicode", distinct_str("h\u00e9llo w\u00f6rld \u4e16\u754c \U0001f600")),
    ("str_nul", distinct_str("a\x00b")),
    ("str_255", "x" * 255), ("str_256", "y" * 256), ("str_1000", "z" * 1000),
    ("str_64k_m1", "a" * 65535), ("str_64k", "b" * 65536), ("str_70k_utf8", "\u00e9" * 35000),
    ("bytes_empty", b""), ("bytes_short", bytes(range(10))), ("bytes_255", b"\xff" * 255),
    ("bytes_256", b"\x01" * 256), ("bytes_64k", bytes(range(16)) * 4096),
    ("bytes_100k", b"q" * 100000),
    ("bytearray_empty", bytearray()), ("bytearray_short", bytearray(b"xyz")),
    ("bytearray_70k", bytearray(b"r" * 70000)),
    ("list_empty", []), ("list_1", [1]), ("list_2", [1, 2]), ("list_3", [None, True, 2.5]),
    ("list_1000", list(range(1000))), ("list_1001", list(range(1001))),
    ("list_2500", list(range(2500))),
    ("tuple_empty", ()), ("tuple_1", (1,)), ("tuple_2", (1, 2)), ("tuple_3", (1, 2, 3)),
    ("tuple_4", (1, 2, 3, 4)), ("tuple_nested", ((), (1,), ((2, 3), [4]))),
    ("dict_empty", {}), ("dict_1", {"k": 1}), ("dict_2", {"a": 1, "b": [2, 3]}),
    ("dict_1000", {i: -i for i in range(1000)}), ("dict_1001", {i: i for i in range(1001)}),
    ("dict_2000", {i: None for i in range(2000)}),
    ("dict_keys", {1: "a1", 2.5: "b1", (1, 2): "c1", None: "d1", b"k": "e1"}),
    ("nested", {"list": [1, [2, [3, [4, {"deep": (5, 6, 7, 8)}]]]], "t": (b"x1", bytearray(b"y"))}),
    ("hello", distinct_str("Hello, Server!")), ("abc", b"abc"),
    ("frames_str", ["s%03d" % i + "w" * 296 for i in range(300)]),
    ("frames_float", [1.5] * 30000), ("frames_int", [7] * 40000),
    ("frames_mixed", ["a" * 60000, b"b" * 70000, 1, "c" * 5000, bytearray(b"d" * 65536), "e" * 10]),
    ("deep_1000", None),
]


def deep(n):
    v = []
    for _ in range(n - 1):
        v = [v]
    return v


def main():
    out = ["/* Generated by gen_pickle_vectors.py with Python %s: do not edit. */" %
           sys.version.split()[0],
           "#ifndef NQ_TEST_PICKLE_VECTORS_H", "#define NQ_TEST_PICKLE_VECTORS_H", "",
           "#include <stddef.h>", "",
           "typedef struct nq_run { const char *pattern; size_t len; size_t count; } nq_run;",
           "typedef struct nq_vector {",
           "    const char *name;",
           "    int protocol;          /* pickle.dumps protocol */",
           "    int exact;             /* dump must equal pickle (protocol 5, nothing shared) */",
           "    const nq_run *desc; size_t ndesc;",
           "    const nq_run *pickle; size_t npickle;",
           "} nq_vector;", ""]
    table = []
    bad = []

    descs = {}

    def add(name, v, proto, exact):
        p = pickle.dumps(v, protocol=proto)
        if exact:
            assert no_sharing(p), name
        if name not in descs:
            d, nd = emit_runs("d_%s" % name, desc(v))
            out.append(d)
            descs[name] = nd
        cname = "p_%s_%d" % (name, proto)
        pk, npk = emit_runs(cname, p)
        out.append(pk)
        table.append('    {"%s", %d, %d, d_%s, %d, %s, %d},' %
                     (name, proto, int(exact), name, descs[name], cname, npk))
        return p

    for name, v in VALUES:
        if name == "deep_1000":
            v = deep(1000)
        p5 = add(name, v, 5, True)
        # Older protocols, where Python writes these types without REDUCE;
        # big values only at protocol 4 (framing) to keep the header small.
        flat = repr(v) if name != "deep_1000" else ""
        for proto in (2, 3, 4) if len(p5) <= 2048 or name == "list_1001" else (4,):
            if proto < 5 and ("bytearray" in flat or "bytearray" in name):
                continue
            if proto < 3 and (b"B" in desc(v) or "b'" in flat or 'b"' in flat):
                continue
            add(name, v, proto, False)

    # Python shares objects: the C side copies them (load only).
    x = [1, "two", b"three"]
    s = "shared string"
    add("shared_list", [x, x, {"x": x}], 5, False)
    add("shared_str", [s, s, s, (s, s)], 5, False)
    add("shared_empty_str", ["", "", ""], 5, False)
    add("shared_1000", [x] * 1000, 4, False)
    y = [1, "two", 3.0]
    add("shared_p2", [y, y], 2, False)
    # Protocol 1 has no PROTO opcode; its binary opcodes are a subset.
    add("p1_str", "".join(["pr", "oto1"]), 1, False)

    # Real Python pickles the safe subset refuses.
    L = []
    L.append(L)
    D = {}
    D["self"] = D
    T = []
    T.append((T,))
    for name, v, proto in [("set", {1, 2}, 5), ("frozenset", frozenset([1]), 5),
                           ("empty_set", set(), 5), ("complex", 1 + 2j, 5),
                           ("bytes_p2", b"abc", 2), ("bytearray_p4", bytearray(b"a"), 4),
                           ("recursive_list", L, 5), ("recursive_dict", D, 5),
                           ("recursive_tuple", T, 5), ("range", range(3), 5),
                           ("type", int, 5), ("p0_list", [1, "a"], 0)]:
        cname = "bad_%s" % name
        pk, npk = emit_runs(cname, pickle.dumps(v, protocol=proto))
        out.append(pk)
        bad.append('    {"%s", %d, 0, NULL, 0, %s, %d},' % (name, proto, cname, npk))

    out.append("static const nq_vector nq_vectors[] = {")
    out.extend(table)
    out.append("};")
    out.append("static const nq_vector nq_bad_vectors[] = {")
    out.extend(bad)
    out.append("};")
    out.append("")
    out.append("#endif")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
