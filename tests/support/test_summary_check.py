#!/usr/bin/env python3
"""Checks scripts/test-summary.py, the judge of scripts/test.sh, on made-up
ctest outputs: a skipped, a not-run or a failed test fails the suite, an
allowlisted skip does not, inner skips (cmocka, pytest, cargo) count as
skips, and the per-label counts are right."""
import json
import os
import subprocess
import sys
import tempfile

SUMMARY = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "test-summary.py")


def tests_json(tests):
    return {"kind": "ctestInfo", "tests": [
        {"name": n, "properties": [{"name": "LABELS", "value": labels}]} for n, labels in tests]}


def case(name, status="run", out="", extra=""):
    return (f'<testcase name="{name}" classname="{name}" time="0.1" status="{status}">{extra}'
            f"<system-out>{out}</system-out></testcase>")


def run(tmp, tests, cases, allow=""):
    with open(os.path.join(tmp, "t.json"), "w") as f:
        json.dump(tests_json(tests), f)
    with open(os.path.join(tmp, "j.xml"), "w") as f:
        f.write('<?xml version="1.0"?><testsuite name="x">' + "".join(cases) + "</testsuite>")
    with open(os.path.join(tmp, "allow.txt"), "w") as f:
        f.write(allow)
    r = subprocess.run([sys.executable, SUMMARY, f"{tmp}/t.json", f"{tmp}/allow.txt", f"{tmp}/j.xml"],
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def expect(what, got_rc, want_rc, out, *needles):
    ok = got_rc == want_rc and all(n in out for n in needles)
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        print(f"  exit {got_rc}, wanted {want_rc}; wanted {needles} in:\n{out}")
    return ok


def main():
    good = True
    with tempfile.TemporaryDirectory() as tmp:
        two = [("a", ["unit", "tcp"]), ("b", ["unit"])]
        rc, out = run(tmp, two, [case("a"), case("b")])
        good &= expect("all passed", rc, 0, out, "SUITE PASSED", "unit      2       2       0        0        0")
        rc, out = run(tmp, two, [case("a"), case("b", "fail", extra='<failure message="x"/>')])
        good &= expect("a failure fails", rc, 1, out, "failed   b", "tcp       1       1       0        0        0")
        rc, out = run(tmp, two, [case("a")])
        good &= expect("a test in no run fails", rc, 1, out, "not run  b")
        skipped = case("b", "notrun", extra='<skipped message="SKIP_RETURN_CODE=77"/>')
        rc, out = run(tmp, two, [case("a"), skipped])
        good &= expect("a ctest skip fails", rc, 1, out, "skipped  b")
        rc, out = run(tmp, two, [case("a"), skipped], allow="# why\nb  needs a GPU we do not have\n")
        good &= expect("an allowlisted skip passes", rc, 0, out, "allowlist: needs a GPU")
        rc, out = run(tmp, two, [case("a"), case("b", "disabled")])
        good &= expect("a disabled test fails", rc, 1, out, "skipped  b")
        for tool, text in [("cmocka", "[ RUN      ] t1\n[  SKIPPED ] t1\n"),
                           ("pytest", "3 passed, 1 skipped in 0.52s\n"),
                           ("cargo", "test result: ok. 4 passed; 0 failed; 2 ignored; 0 measured;\n")]:
            rc, out = run(tmp, two, [case("a"), case("b", out=text)])
            good &= expect(f"an inner {tool} skip fails", rc, 1, out, "skipped  b", tool)
        rc, out = run(tmp, two, [case("a"), case("b", out="3 passed in 0.52s\ntest result: ok. 4 passed; 0 failed; 0 ignored;\n")])
        good &= expect("zero inner skips pass", rc, 0, out, "SUITE PASSED")
        rc, out = run(tmp, two, [case("a"), case("b")], allow="b\n")
        good &= expect("an allowlist entry needs a reason", rc, 1, out, "needs a reason")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
