"""Driving an implementation through its adapter (docs/conformance.md)."""
import json
import subprocess
import threading
import time

UNSUPPORTED_EXIT = 127
RETRY_EXIT = 75  # EX_TEMPFAIL before ready: a transient start failure


class Retry(Exception):
    pass


class Unsupported(Exception):
    pass


class AdapterError(Exception):
    pass


class Adapter:
    def __init__(self, argv, log):
        self.argv = argv
        self.log = log  # callable(str)
        self.events = []
        self.cond = threading.Condition()
        self.proc = None
        self.stderr = []
        self.exited = None

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
