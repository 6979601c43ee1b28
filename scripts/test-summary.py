#!/usr/bin/env python3
"""Summary of a scripts/test.sh run: every registered test, per ctest label.

    test-summary.py TESTS_JSON ALLOWLIST JUNIT...

TESTS_JSON is `ctest --show-only=json-v1` (every registered test and its
labels); each JUNIT is a `ctest --output-junit` file of this run. A test is
counted as passed, failed, skipped (ctest skipped or disabled it, or its
output shows skipped inner cases: cmocka, pytest, cargo, go -v), or not run
(registered but in no JUnit file, or "notrun"). Prints one line per label
and exits 1 when any test is not passed, except tests named in ALLOWLIST
(one per line: NAME REASON; # comments) that were skipped or not run.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

# Output lines that mean a test passed while part of it did not run.
INNER_SKIPS = [
    (re.compile(r"^\[  SKIPPED \] (\S+)", re.M), "cmocka skipped {}"),
    (re.compile(r"\b([1-9]\d*) skipped\b.* in [\d.]+s", re.M), "pytest skipped {} test(s)"),
    (re.compile(r"^test result: .*; ([1-9]\d*) ignored;", re.M), "cargo ignored {} test(s)"),
    (re.compile(r"^\s*--- SKIP: (\S+)", re.M), "go skipped {}"),
]


def load_allowlist(path):
    allowed = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    name, _, reason = line.partition(" ")
                    if not reason.strip():
                        sys.exit(f"test-summary: {path}: '{name}' needs a reason")
                    allowed[name] = reason.strip()
    except FileNotFoundError:
        pass
    return allowed


def results(junit_files):
    """name -> (state, why) from the JUnit files; a later file wins."""
    out = {}
    for path in junit_files:
        for tc in ET.parse(path).getroot().iter("testcase"):
            status = tc.get("status", "run")
            text = tc.findtext("system-out") or ""
            skipped = tc.find("skipped")
            why = skipped.get("message", "") if skipped is not None else ""
            if status == "fail" or tc.find("failure") is not None:
                state = "failed"
            elif status == "disabled":
                state, why = "skipped", "disabled"
            elif status == "notrun":  # SKIP_RETURN_CODE, or a failed fixture
                state = "skipped" if "skip" in why.lower() else "not run"
            else:
                inner = [msg.format(m.group(1)) for rx, msg in INNER_SKIPS for m in rx.finditer(text)]
                state, why = ("skipped", "; ".join(inner)) if inner else ("passed", "")
            out[tc.get("name")] = (state, why)
    return out


def main():
    tests_json, allow_path, *junits = sys.argv[1:]
    with open(tests_json) as f:
        registered = json.load(f)["tests"]
    allowed = load_allowlist(allow_path)
    got = results(junits)
    states = ("passed", "failed", "skipped", "not run")
    per_label = {}
    bad = []
    for t in registered:
        name = t["name"]
        labels = next((p["value"] for p in t.get("properties", []) if p["name"] == "LABELS"), []) or ["(none)"]
        state, why = got.get(name, ("not run", "in no ctest run of this script"))
        for label in labels:
            per_label.setdefault(label, dict.fromkeys(states, 0))[state] += 1
        if state == "passed":
            continue
        if state in ("skipped", "not run") and name in allowed:
            print(f"allowed {state}: {name} ({why}) -- allowlist: {allowed[name]}")
        else:
            bad.append((name, state, why))
    for name in sorted(set(allowed) - {t["name"] for t in registered}):
        print(f"test-summary: allowlist names '{name}', which is not a registered test")

    width = max(len(l) for l in per_label) if per_label else 5
    print(f"\n{'label':<{width}}  tests  passed  failed  skipped  not-run")
    for label in sorted(per_label):
        c = per_label[label]
        print(f"{label:<{width}}  {sum(c.values()):5}  {c['passed']:6}  {c['failed']:6}  {c['skipped']:7}  {c['not run']:7}")
    total = dict.fromkeys(states, 0)
    for name in {t["name"] for t in registered}:
        total[got.get(name, ("not run", ""))[0]] += 1
    print(f"{'ALL':<{width}}  {sum(total.values()):5}  {total['passed']:6}  {total['failed']:6}  "
          f"{total['skipped']:7}  {total['not run']:7}   (each test counted once)")
    if bad:
        print(f"\nSUITE FAILED: {len(bad)} test(s) not passed (skipped and not run count as failures; "
              "see docs/testing.md):")
        for name, state, why in sorted(bad):
            print(f"  {state:8} {name}" + (f"  ({why})" if why else ""))
        return 1
    print(f"\nSUITE PASSED: all {total['passed']} registered tests ran and passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
