"""Nothing waits forever by default (issue 11): close and `with` are bounded
by netqueue.DEFAULT_CLOSE_TIMEOUT, close(timeout=None) still waits without
a bound, a blocking get gives way to Ctrl-C, and the connect timeout and
keepalive options are checked."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import netqueue as nq
from conftest import at

# What the tests allow beyond a bound: thread start-up, a loaded machine.
MARGIN = 3.0


def free_port():
    """A loopback port with nothing listening on it (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_bounded(fn, limit):
    """Run fn on a daemon thread; (what it returned or raised, seconds it
    took). Fails the test if it is still running after limit seconds."""
    out = {}

    def body():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    start = time.monotonic()
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"still waiting after {limit} s"
    return out, time.monotonic() - start


def test_default_close_timeout_is_ten_seconds():
    assert nq.DEFAULT_CLOSE_TIMEOUT == 10.0


def test_with_on_a_client_whose_server_never_existed_exits_within_the_bound():
    port = free_port()
    futures = []

    def body():
        with nq.new(options=at(port)) as c:
            futures.append(c.put("nobody hears this"))

    out, took = run_bounded(body, nq.DEFAULT_CLOSE_TIMEOUT + MARGIN)
    assert took < nq.DEFAULT_CLOSE_TIMEOUT + MARGIN
    # the close timed out: a TimeoutError (an OSError, as the reference's
    # ConnectionRefusedError is) carrying the library's detail and saying
    # that the server was never reached
    err = out.get("error")
    assert isinstance(err, nq.errors.TimeoutError_), out
    assert isinstance(err, OSError)
    assert "was not reached" in str(err)
    notes = "\n".join(getattr(err, "__notes__", []))
    assert f"127.0.0.1:{port}" in notes and "timeout=None" in notes, notes
    # and the put made there is reported: cancelled by the close
    put_err = futures[0].exception(timeout=0)
    assert isinstance(put_err, nq.errors.CanceledError)
    assert "closed before the message was written" in str(put_err)


def test_with_whose_body_raised_keeps_that_exception_and_warns_about_close():
    port = free_port()

    def body():
        with pytest.warns(RuntimeWarning, match="was not reached"):
            with nq.new(options=at(port)) as c:
                c.put("lost")
                raise LookupError("the body's own error")

    out, took = run_bounded(body, nq.DEFAULT_CLOSE_TIMEOUT + MARGIN)
    assert isinstance(out.get("error"), LookupError), out


def test_explicit_short_close_timeout_is_honoured():
    c = nq.new(options=at(free_port()))
    f = c.put("x")
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="was not reached"):
        c.close(timeout=0.3)
    assert time.monotonic() - start < 0.3 + MARGIN
    assert isinstance(f.exception(timeout=5), nq.errors.CanceledError)
    c.close()  # closed already: nothing to wait for


def test_close_none_waits_past_the_default_bound():
    """close(timeout=None) is the explicit forever: it is still waiting
    after DEFAULT_CLOSE_TIMEOUT, and ends well once a server shows up."""
    port = free_port()
    c = nq.new(options=at(port))
    f = c.put("late but delivered")
    out = {}
    closer = threading.Thread(target=lambda: out.setdefault("r", c.close(timeout=None)), daemon=True)
    closer.start()
    closer.join(nq.DEFAULT_CLOSE_TIMEOUT + 1)
    assert closer.is_alive(), "close(None) gave up"
    with nq.new(purpose=nq.Purpose.SERVER, options=at(port)) as s:
        assert s.get(timeout=30).data == "late but delivered"
        closer.join(30)
        assert not closer.is_alive()
    assert "r" in out and out["r"] is None
    assert f.result(timeout=0) is None


def test_connect_timeout_fails_pending_puts_with_an_address_error():
    c = nq.new(options=at(free_port(), connection=nq.ConnectionOptions(connect_timeout=0.3)))
    f = c.put("x")
    err = f.exception(timeout=10)  # the retry backoff is 50 ms doubling: well within 10 s
    assert isinstance(err, nq.errors.AddressError) and isinstance(err, OSError), err
    assert "not reached within the connect timeout" in str(err), err
    try:
        c.close(timeout=1)
    except TimeoutError:
        pass


def test_connect_timeout_and_keepalive_defaults_and_validation(server):
    conn = nq.ConnectionOptions()
    assert conn.connect_timeout == 30.0 and conn.keepalive == 30.0
    # accepted: the library's range, off, forever
    for kw in ({"keepalive": 1.0}, {"keepalive": 0}, {"keepalive": None},
               {"keepalive": 86400}, {"connect_timeout": None}, {"connect_timeout": 0}):
        with nq.new(options=at(server.port, connection=nq.ConnectionOptions(**kw))) as c:
            c.put("ok").result(10)
            assert server.get(timeout=10).data == "ok"
    # refused by the library, with its detail
    for kw, text in (({"keepalive": 0.5}, "keepalive"), ({"keepalive": 86401}, "keepalive"),
                     ({"connect_timeout": -1}, "connect timeout"), ({"keepalive": -1}, "keepalive")):
        with pytest.raises(ValueError, match=text) as e:
            nq.new(options=at(server.port, connection=nq.ConnectionOptions(**kw)))
        assert isinstance(e.value, nq.errors.InvalidArgumentError), kw


def _blocked_in_get(script):
    """Run script (which prints "ready" just before it blocks in get) in a
    new Python; return the process once it is blocked."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # well inside get now
    assert p.poll() is None
    return p


@pytest.mark.parametrize("script", [
    # a server that nobody talks to
    """
    import netqueue as nq
    opts = nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", 0))
    with nq.new(purpose=nq.Purpose.SERVER, options=opts) as s:
        print("ready")
        s.get()
    """,
    # a client whose server never existed, with a put pending: leaving the
    # `with` by Ctrl-C does not wait for the close bound either
    """
    import socket
    import netqueue as nq
    with socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
    opts = nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", port))
    with nq.new(options=opts) as c:
        c.put("pending")
        print("ready")
        c.get(timeout=None)
    """,
], ids=["server", "client-without-server"])
def test_sigint_interrupts_a_blocking_get(script):
    p = _blocked_in_get(script)
    start = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=5)
    finally:
        p.kill()
    assert time.monotonic() - start < 2.0, "Ctrl-C was not seen promptly"
    assert p.returncode != 0
    assert "KeyboardInterrupt" in err, err
