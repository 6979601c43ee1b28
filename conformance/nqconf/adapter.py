"""Driving an implementation through its adapter (the adapter protocol,
docs/spec/adapter.md)."""
import json
import re
import subprocess
import threading
import time

UNSUPPORTED_EXIT = 127
RETRY_EXIT = 75  # EX_TEMPFAIL before ready: a transient start failure
# The adapter protocol this runner speaks (docs/spec/adapter.md, ADAPTER-2):
# an adapter of another major version is refused, a newer minor accepted
# (minors only add optional fields and commands).
PROTOCOL = (1, 0)
VERSION = re.compile(r"^(\d+)\.(\d+)$")
NO_VERSION_WARNING = ("the adapter's ready event has no \"adapter_protocol\": taken as 1.0 "
                      "(docs/spec/adapter.md, ADAPTER-2)")


class Retry(Exception):
    pass


class Unsupported(Exception):
    pass


class AdapterError(Exception):
    pass


class Incompatible(Exception):
    """The adapter speaks an adapter protocol this runner does not: no
    case can be run with it (the run ends with exit 2)."""


def check_version(ready):
    """-> a warning (str) or None for a ready event; raises Incompatible
    for a version of another major, or one that is not "MAJOR.MINOR"."""
    if "adapter_protocol" not in ready:
        return NO_VERSION_WARNING
    v = ready["adapter_protocol"]
    m = VERSION.match(v) if isinstance(v, str) else None
    if not m:
        raise Incompatible(f"the adapter's ready event has adapter_protocol {v!r}, not a "
                           f"\"MAJOR.MINOR\" string; this runner speaks {PROTOCOL[0]}.{PROTOCOL[1]}")
    if int(m.group(1)) != PROTOCOL[0]:
        raise Incompatible(f"the adapter speaks adapter protocol {v}; this runner speaks "
                           f"{PROTOCOL[0]}.{PROTOCOL[1]} and refuses any other major version "
                           "(docs/spec/adapter.md, ADAPTER-2)")
    return None


class Adapter:
    def __init__(self, argv, log):
        self.argv = argv
        self.log = log  # callable(str)
        self.events = []
        self.cond = threading.Condition()
        self.proc = None
        self.stderr = []
        self.exited = None
        self.warning = None  # set by start: see check_version

    def start(self, timeout):
        self.log("impl $ " + " ".join(self.argv))
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        ev = self.wait(lambda e: e.get("event") == "ready", timeout, consume=False)
        if ev is None:
            if self.exited == UNSUPPORTED_EXIT:
                raise Unsupported("adapter exited 127")
            if self.exited == RETRY_EXIT:
                raise Retry("adapter exited 75 (transient) before ready")
            raise AdapterError(f"no ready event within {timeout} s (exit {self.exited})")
        self.warning = check_version(ev)
        return ev

    def _read_out(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                self.log(f"impl > (not JSON) {line[:200]!r}")
                continue
            shown = dict(ev)
            if isinstance(shown.get("data"), str) and len(shown["data"]) > 96:
                shown["data"] = shown["data"][:96] + "…"
            self.log("impl > " + json.dumps(shown))
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        self.exited = self.proc.wait()
        self.log(f"impl exited {self.exited}")
        with self.cond:
            self.cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace").rstrip())
            self.log("impl stderr: " + self.stderr[-1][:300])

    def send(self, cmd):
        shown = dict(cmd)
        if isinstance(shown.get("data"), str) and len(shown["data"]) > 96:
            shown["data"] = shown["data"][:96] + "…"
        self.log("impl < " + json.dumps(shown))
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise AdapterError(f"adapter's stdin closed: {e}") from None

    def wait(self, pred, timeout, consume=True):
        """The first event matching pred (removed unless consume is False),
        or None after timeout or once the adapter has exited."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, ev in enumerate(self.events):
                    if pred(ev):
                        return self.events.pop(i) if consume else ev
                left = deadline - time.monotonic()
                if left <= 0 or self.exited is not None:
                    return None
                self.cond.wait(left)

    def stop(self, grace=2.0):
        if not self.proc:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
