"""Verdicts, and the recorded expected failures of an implementation.

PASS           the script ran through
FAIL           a MUST case failed (or a SHOULD case under --strict)
NON-STRICT     a SHOULD case failed, without --strict
INFORMATIONAL  an INFO case: what happened is recorded, nothing is judged
UNSUPPORTED    the adapter exited 127 (transport, role or dialect not there)

A FAIL listed in an expected-failures file (conformance/deviations.json for
the Python reference, known-failures-netqueue.json for ours) stays FAIL in
the report, marked with the recorded reason; it does not make the run fail.
A listed case that now passes is reported as stale and does make it fail,
so the file always says what really happens (except entries marked
"intermittent": a race that fails only sometimes).
"""
import json

VERDICTS = ("PASS", "NON-STRICT", "INFORMATIONAL", "UNSUPPORTED", "FAIL")


def verdict(level, outcome, strict=False):
    """level: MUST/SHOULD/INFO; outcome: pass, fail or unsupported."""
    if outcome == "unsupported":
        return "UNSUPPORTED"
    if level == "INFO":
        return "INFORMATIONAL"
    if outcome == "pass":
        return "PASS"
    if level == "SHOULD" and not strict:
        return "NON-STRICT"
    return "FAIL"


class Expected:
    """An expected-failures file: {"implementation", "upstream_version",
    "label", "failures": [{"case", "reason", "version"?}]}."""

    def __init__(self, doc=None, source=None):
        doc = doc or {}
        self.source = source
        self.label = doc.get("label", "expected failure")
        self.version = doc.get("upstream_version", "")
        self.by_id = {}
        for f in doc.get("failures", []):
            if not {"case", "reason"} <= set(f):
                raise ValueError(f"{source}: each failure needs case and reason")
            self.by_id[f["case"]] = f

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), path)

    def lookup(self, case_id):
        f = self.by_id.get(case_id)
        if not f:
            return None
        return {"label": self.label, "reason": f["reason"],
                "version": f.get("version", self.version),
                "intermittent": bool(f.get("intermittent"))}


def judge(results, expected):
    """Mark results with their recorded deviation; return (unexpected FAIL
    ids, stale ids: recorded failures that passed)."""
    unexpected, stale = [], []
    for r in results:
        dev = expected.lookup(r["id"]) if expected else None
        if dev:
            r["deviation"] = dev
        if r["verdict"] == "FAIL" and not dev:
            unexpected.append(r["id"])
        elif dev and r["verdict"] == "PASS" and not dev.get("intermittent"):
            stale.append(r["id"])
    return unexpected, stale
