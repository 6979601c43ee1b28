"""Reports: a readable summary, a JSON report and JUnit XML (the HTML page:
html_report.py)."""
import collections
import json
import xml.etree.ElementTree as ET

from .verdict import VERDICTS


def counts(results):
    """{transport: Counter(verdict)} plus a "total" row."""
    rows = collections.OrderedDict()
    for r in results:
        rows.setdefault(r["transport"], collections.Counter())[r["verdict"]] += 1
    rows["total"] = sum(rows.values(), collections.Counter())
    return rows


def summary(results, impl, unexpected, stale, wire_logs=True, coverage_short=()):
    out = [f"nq-conformance: {impl}"]
    for r in results:
        mark = r["verdict"]
        dev = r.get("deviation")
        if dev:
            mark += f" ({dev['label']}: {dev['reason']}; {dev['version']})"
        line = f"  {r['id']:<22} {r['level']:<6} {mark}"
        if r.get("scope") == "netqueue":
            line += "  [netqueue level]"
        if r.get("rules"):
            line += f"  ({', '.join(r['rules'])})"
        if r["verdict"] in ("FAIL", "NON-STRICT") and r.get("detail"):
            line += f"\n      {r['detail']}"
        out.append(line)
    out.append("")
    out.append(f"  {'transport':<10}" + "".join(f"{v:>15}" for v in VERDICTS))
    for t, c in counts(results).items():
        out.append(f"  {t:<10}" + "".join(f"{c.get(v, 0):>15}" for v in VERDICTS))
    out.append(scope_line(results, unexpected))
    if wire_logs:
        for r in results:
            if r["verdict"] == "FAIL" and not r.get("deviation") and r.get("wire_log"):
                out.append(f"\n--- wire log of {r['id']} ---")
                out += r["wire_log"]
    if unexpected:
        out.append(f"\nFAIL: {len(unexpected)} case(s): {' '.join(unexpected)}")
    if stale:
        out.append(f"\nSTALE: recorded as failing but passed: {' '.join(stale)}")
    if coverage_short:
        out.append("")
        out += [f"COVERAGE TOO LOW: {msg}" for msg in coverage_short]
        out.append("nq-conformance: the run checked too little to pass; fix the adapter, select "
                   "the cases it supports (--transport, --case), or pass --allow-unsupported")
    if not unexpected and not stale and not coverage_short:
        out.append("\nOK: no unexpected failure")
    return "\n".join(out) + "\n"


def scope_line(results, unexpected):
    """The verdict per requirement level, so that a full run still gives a
    clean answer for the protocol level alone."""
    parts = []
    for scope in ("protocol", "netqueue"):
        rs = [r for r in results if r.get("scope", "protocol") == scope]
        if rs:
            bad = sum(r["id"] in unexpected for r in rs)
            parts.append(f"{scope} level: {len(rs)} cases, {bad} unexpected FAIL")
    return "  " + "; ".join(parts)


def as_dict(results, impl, meta):
    """The report as the JSON file holds it (and the HTML page reads it)."""
    return {"implementation": impl, **meta,
            "counts": {t: dict(c) for t, c in counts(results).items()},
            "results": results}


def to_json(results, impl, meta):
    return json.dumps(as_dict(results, impl, meta), indent=1)


def to_junit(results, impl):
    suites = ET.Element("testsuites", name=f"nq-conformance {impl}")
    by_t = collections.OrderedDict()
    for r in results:
        by_t.setdefault(r["transport"], []).append(r)
    for t, rs in by_t.items():
        s = ET.SubElement(suites, "testsuite", name=f"{impl}.{t}", tests=str(len(rs)),
                          failures=str(sum(r["verdict"] == "FAIL" and not r.get("deviation") for r in rs)),
                          skipped=str(sum(r["verdict"] == "UNSUPPORTED" for r in rs)))
        for r in rs:
            tc = ET.SubElement(s, "testcase", classname=f"{impl}.{t}.{r['group']}",
                               name=r["id"], time=f"{r.get('seconds', 0):.3f}")
            if r.get("rules"):
                props = ET.SubElement(tc, "properties")
                ET.SubElement(props, "property", name="rules", value=", ".join(r["rules"]))
            text = "\n".join(r.get("wire_log") or [])
            if r["verdict"] == "FAIL" and not r.get("deviation"):
                ET.SubElement(tc, "failure", message=r.get("detail") or "failed").text = text
            elif r["verdict"] == "UNSUPPORTED":
                ET.SubElement(tc, "skipped", message="unsupported by the adapter")
            elif r["verdict"] != "PASS" or r.get("deviation"):
                dev = r.get("deviation")
                note = f"{r['verdict']}" + (f" ({dev['label']}: {dev['reason']})" if dev else "")
                if r.get("detail"):
                    note += f": {r['detail']}"
                ET.SubElement(tc, "system-out").text = note
    return ET.tostring(suites, encoding="unicode")
