"""Run by python.sh with an installed netqueue package, from a directory
outside the source tree: the package has the expected version, and a
pickled object makes a round trip through `nq server --echo` on loopback.
Prints where the package and the libnetqueue this process loaded are, for
python.sh to check. Type-annotated: python.sh also checks it with
mypy --strict against the installed package (its py.typed and stubs)."""
import sys
import uuid

import netqueue as nq


def main() -> None:
    port, expected = int(sys.argv[1]), sys.argv[2]
    if nq.__version__ != expected:
        sys.exit(f"netqueue.__version__ is {nq.__version__!r}, expected {expected!r}")
    if nq.version() != expected or nq.abi_version() >> 16 != int(expected.split(".")[0]):
        sys.exit(f"the loaded libnetqueue is {nq.version()!r} ({nq.abi_version():#x}), expected {expected!r}")
    payload = {"id": uuid.uuid4(), "bytes": bytes(range(256)) * 256, "text": "round trip"}
    opts = nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", port))
    with nq.new(options=opts) as client:
        client.put(payload).result(timeout=10)
        msg: nq.Message = client.get(timeout=10)
    if msg.data != payload:
        sys.exit(f"echo returned {type(msg.data).__name__} that differs from what was put")
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "libnetqueue" in line})
    print("package", nq.__file__)
    for lib in libs:
        print("libnetqueue", lib)


if __name__ == "__main__":
    main()
