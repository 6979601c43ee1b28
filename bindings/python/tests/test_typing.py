"""Type information: the package passes mypy --strict (its annotations and
the stubs of its C extensions), the stubs match the built extensions
(mypy's stubtest: names, parameters, classes), and code using the
installed package is checked against those types (py.typed is shipped),
so a wrong call is caught."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "netqueue"


def _need_mypy():
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail(f"mypy is not installed in {sys.executable} (scripts/setup.d/bindings-python-java.sh installs it)")


def mypy(*args, cwd):
    _need_mypy()
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args],
                          cwd=cwd, capture_output=True, text=True)


def test_package_passes_mypy_strict(tmp_path):
    r = mypy(str(PACKAGE), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stubs_match_the_built_extensions(tmp_path):
    """The stubs of the source tree against the installed modules: a
    function renamed or a parameter added in netqueue.i or _fastput.c
    without the stub following fails here."""
    _need_mypy()
    env = dict(os.environ, MYPYPATH=str(PACKAGE.parent))
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--concise",
                        "netqueue.nqswig", "netqueue._fastput"],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_user_code_is_checked_against_installed_types(tmp_path):
    good = tmp_path / "good.py"
    good.write_text(textwrap.dedent("""\
        import uuid
        from concurrent.futures import Future
        import netqueue as nq

        def echo(port: int) -> bytes:
            opts = nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", port))
            with nq.new(options=opts) as c:
                f: Future[None] = c.put(b"x")
                f.result(timeout=5)
                m: nq.Message = c.get(timeout=5.0)
                peer: uuid.UUID = m.peer
                data: bytes = m.data
                return data
        version: str = nq.__version__ + nq.version()

        async def aecho(c: nq.Communicator) -> list[bytes]:
            await c.put(b"x")  # a put's future is awaitable
            m: nq.Message = await c.aget(timeout=5.0)
            out = [m.data]
            async for n in c:
                out.append(n.data)
            async for e in c.events():
                k: nq.EventKind | int = e.kind
                d: str = e.detail
            s: dict[str, int] = c.stats()
            p: dict[str, int] = c.peer_stats(m.peer)
            return out
        ev = nq.EventOptions(ini=lambda p: None, deliver=[nq.EventKind.LOST])
        """))
    r = mypy(str(good), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""\
        import netqueue as nq
        nq.new(options=5)
        nq.NetworkLocation("127.0.0.1", "51966")
        c: nq.Communicator = nq.new()
        c.close(timeout="soon")
        async def f() -> None:
            await c.aget(timeout="soon")
        """))
    r = mypy(str(bad), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    # one error per wrong call, each about the argument given
    for line in (2, 3, 5, 7):
        assert f"bad.py:{line}: error: Argument" in r.stdout, r.stdout
    assert "py.typed" not in r.stdout and "import-untyped" not in r.stdout, r.stdout
