"""Test peers: the C `nq server` on a free loopback port (it picks port 0
and says which), and in-process servers of this binding."""
import os
import re
import subprocess
from pathlib import Path

import pytest

import netqueue as nq

REPO = Path(__file__).resolve().parents[3]
NQ_CLI = Path(os.environ.get("NQ_CLI", REPO / "build" / "src" / "cli" / "nq"))
REF_PYTHON = Path(os.environ.get("NQ_REF_PYTHON", REPO / ".venv-ref" / "bin" / "python"))


def at(port, **kw):
    return nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", port), **kw)


@pytest.fixture
def c_server():
    """Start `nq server ARGS...` on a free port; yields the port."""
    procs = []

    def start(*args):
        if not NQ_CLI.exists():
            pytest.skip(f"no nq tool at {NQ_CLI}")
        p = subprocess.Popen([str(NQ_CLI), "server", "--host", "127.0.0.1", "--port", "0", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        said = []
        for line in p.stderr:
            said.append(line)
            m = re.search(r"listening on .*:(\d+)", line)
            if m:
                return int(m.group(1))
        raise RuntimeError("nq server did not start: " + "".join(said))

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


@pytest.fixture
def server():
    """A server of this binding on a free port."""
    s = nq.new(purpose=nq.Purpose.SERVER, options=at(0))
    yield s
    s.close(timeout=5)
