"""The HTML report: one self-contained page from one or more JSON reports
(docs/conformance.md, "Reading the report").

The page is a matrix of cases (rows) by implementation x transport
(columns), a summary per implementation and transport, and the wire log of
every case whose report kept one, in a <details> block that the matrix
cell links to. It loads nothing: inline CSS, one small inline script (only
to open the block a link points at; the page reads the same without it),
and a Content-Security-Policy that forbids any fetch and any other script.

Everything that comes from a report is text written by an implementation
or its adapter (names, details, stderr, wire bytes) and is escaped: a
hostile implementation must not be able to inject markup into the page.
"""
import base64
import collections
import datetime
import hashlib
import html
import json
import re

from .catalogue import GROUPS, TRANSPORTS

# Cell categories, in the order of the legend and the summary columns:
# (label, css class, background, text colour, meaning).
CATEGORIES = (
    ("PASS", "pass", "#b9e4bc", "#10381a", "the case ran through"),
    ("NON-STRICT", "nonstrict", "#ffd591", "#4a2c00", "a SHOULD case failed (FAIL under --strict)"),
    ("INFO", "info", "#b3d4f5", "#0b2e59", "an INFO case: observed, not judged"),
    ("UNSUPPORTED", "unsupported", "#d9d9d9", "#333333", "the adapter exited 127"),
    ("FAIL", "fail", "#c62828", "#ffffff", "a MUST case failed (or SHOULD under --strict)"),
    ("expected FAIL", "xfail", "#f5b6c8", "#5c0a23", "failed, as recorded in the expected-failures file"),
    ("STALE", "stale", "#cdb3f0", "#2e1257", "recorded as failing but passed: the file is out of date"),
)
LABELS = tuple(c[0] for c in CATEGORIES)
CSS_CLASS = {c[0]: c[1] for c in CATEGORIES}
# The verdict colours as RGB, for tests that look at a rendered page.
COLOURS = {c[0]: tuple(int(c[2][i:i + 2], 16) for i in (1, 3, 5)) for c in CATEGORIES}

# A long stream's wire log has 100,000 lines and more, and a crashing
# implementation can print a traceback per connection; the page shows the
# head and tail of a long log with every step line between, and the ends of
# a long run of stderr lines (the JSON report keeps everything).
LOG_HEAD, LOG_TAIL = 400, 200
STDERR_RUN = (20, 5)  # lines kept from the start and end of a longer stderr run
LINE_MAX = 1000


class ReportError(ValueError):
    pass


def load(path):
    """A JSON report written by --json, checked enough to render."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror}") from None
    except ValueError as e:
        raise ReportError(f"{path}: not JSON: {e}") from None
    check(doc, path)
    return doc


def check(doc, where):
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ReportError(f"{where}: not an nq-conformance JSON report (no 'results' list)")
    for i, r in enumerate(doc["results"]):
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or "verdict" not in r:
            raise ReportError(f"{where}: result {i + 1} has no id or verdict")
        if not isinstance(r.get("wire_log", []), list) or not isinstance(r.get("deviation") or {}, dict):
            raise ReportError(f"{where}: result {i + 1} ({r['id']}): wire_log must be a list, "
                              "deviation an object")
    if not isinstance(doc.get("stale_expected_failures") or [], list):
        raise ReportError(f"{where}: stale_expected_failures must be a list")


def category(r, stale=()):
    """The cell label of one result: a verdict, or expected FAIL / STALE
    once the recorded expected failures are taken into account."""
    v, dev = r.get("verdict"), r.get("deviation")
    if v == "FAIL" and dev:
        return "expected FAIL"
    if v == "PASS" and (r.get("id") in stale or (dev and not dev.get("intermittent"))):
        return "STALE"
    if v == "INFORMATIONAL":
        return "INFO"
    return v if v in LABELS else str(v)


def esc(x):
    return html.escape("" if x is None else str(x), quote=True)


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-") or "x"


def row_key(r):
    """Rows are the transport-independent case: group/n."""
    g, n = r.get("group"), r.get("n")
    if g is None or n is None:  # a report without them: <transport>/<group>/<n>
        parts = r["id"].split("/")
        g, n = ("/".join(parts[1:-1]), parts[-1]) if len(parts) >= 3 else (r["id"], "")
        n = int(n) if n.isdigit() else n
    return (str(g), n if isinstance(n, int) else str(n))


def row_order(key):
    g, n = key
    gi = GROUPS.index(g) if g in GROUPS else len(GROUPS)
    return (gi, g, 0 if isinstance(n, int) else 1, n if isinstance(n, int) else 0, str(n))


def transport_of(r):
    return str(r.get("transport") or r["id"].split("/")[0])


def transport_order(t):
    return (TRANSPORTS.index(t) if t in TRANSPORTS else len(TRANSPORTS), str(t))


class _Impl:
    """One report, as the page shows it."""

    def __init__(self, index, doc, source):
        self.index = index
        self.doc = doc
        self.source = source
        self.name = str(doc.get("implementation") or f"implementation {index + 1}")
        self.stale = {str(x) for x in doc.get("stale_expected_failures") or ()}
        self.results = doc["results"]
        self.transports = sorted({transport_of(r) for r in self.results}, key=transport_order)
        self.cells = {}      # (row key, transport) -> result
        self.anchors = {}    # result id -> anchor
        used = set()
        for r in self.results:
            self.cells.setdefault((row_key(r), transport_of(r)), r)
            if r.get("wire_log"):
                self.anchors[r["id"]] = unique(f"log-{index + 1}-{slug(r['id'])}", used)

    def count(self, transport=None):
        c = collections.Counter()
        for r in self.results:
            if transport is None or transport_of(r) == transport:
                c[category(r, self.stale)] += 1
        return c

    def unexpected(self):
        u = self.doc.get("unexpected_failures")
        if u is None:
            u = [r["id"] for r in self.results if r["verdict"] == "FAIL" and not r.get("deviation")]
        return list(u)


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#111;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px}
table{border-collapse:collapse}
th,td{border:1px solid #bbb;padding:2px 6px;vertical-align:top}
th{background:#f0f0f0;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{text-align:center;white-space:nowrap;font-weight:600}
.v a{color:inherit;text-decoration:underline}
.chip{display:inline-block;padding:1px 8px;margin:2px 4px 2px 0;border-radius:3px;font-weight:600}
.matrix td.desc{max-width:520px}
.matrix td.v{min-width:4.5em}
.empty{color:#999;text-align:center}
.ok{color:#10381a;font-weight:600}.bad{color:#b00020;font-weight:600}a.ok,a.bad{text-decoration:none}
.meta td,.meta th{border:none;padding:0 12px 0 0;background:none}.meta th{white-space:nowrap}.meta td{overflow-wrap:anywhere}
.impls{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #bbb;padding:4px 10px;flex:1 1 300px;max-width:560px}
.card h3{margin:2px 0 4px;font-size:16px}.card p{margin:4px 0}
#legend .item{display:inline-block;margin:0 14px 4px 0}
details.log{border:1px solid #bbb;margin:6px 0;border-left-width:8px}
details.log>summary{cursor:pointer;padding:4px 8px;background:#f7f7f7}
details.log:target>summary{outline:3px solid #1565c0}
.log pre{margin:0;padding:6px 8px;overflow-x:auto;font:12px/1.35 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.log .note{padding:4px 8px;margin:0}
.t{color:#777}.l-step{font-weight:700;color:#000}.l-out{color:#0b4f9c}.l-in{color:#1b6e20}
.l-cmd{color:#6a1b9a}.l-ev{color:#8a5a00}.l-err{color:#b00020}.l-run{color:#444;font-style:italic}
.l-end{font-weight:700}.elided{color:#b00020;font-style:italic}
""" + "".join(f".v-{c[1]}{{background:{c[2]};color:{c[3]}}}details.log.b-{c[1]}{{border-left-color:{c[2]}}}"
              for c in CATEGORIES)

# Opens the <details> a link points at (a no-JS reader clicks its summary).
SCRIPT = ("function o(){var e=location.hash&&document.getElementById(location.hash.slice(1));"
          "if(e&&e.tagName==='DETAILS')e.open=true}addEventListener('hashchange',o);o();")


def line_class(msg):
    for prefix, cls in (("-- step", "l-step"), ("impl $ ", "l-run"), ("impl < ", "l-cmd"),
                        ("impl > ", "l-ev"), ("impl stderr:", "l-err"), ("outcome:", "l-end"),
                        ("impl exited", "l-run")):
        if msg.startswith(prefix):
            return cls
    m = re.match(r"peer \S+ ([<>]) ", msg)
    if m:
        return "l-out" if m.group(1) == ">" else "l-in"
    return ""


def render_line(line):
    line = str(line)
    if len(line) > LINE_MAX:
        line = line[:LINE_MAX] + f"… ({len(line) - LINE_MAX} more characters)"
    m = re.match(r"^\s*(\d+\.\d+) (.*)$", line, re.S)
    if not m:
        return esc(line)
    t, msg = m.groups()
    cls = line_class(msg)
    body = f'<span class="{cls}">{esc(msg)}</span>' if cls else esc(msg)
    return f'<span class="t">{esc(t)}</span> {body}'


def message(line):
    m = re.match(r"^\s*\d+\.\d+ (.*)$", str(line), re.S)
    return m.group(1) if m else str(line)


def kept_lines(lines, head=LOG_HEAD, tail=LOG_TAIL, run=STDERR_RUN):
    """Indices of the lines of a wire log that the page shows."""
    keep, i = [], 0
    while i < len(lines):
        j = i
        while j < len(lines) and message(lines[j]).startswith("impl stderr:"):
            j += 1
        if j - i > sum(run):
            keep += list(range(i, i + run[0])) + list(range(j - run[1], j))
        else:
            keep += list(range(i, max(j, i + 1)))
        i = max(j, i + 1)
    if len(keep) > head + tail:
        keep = (keep[:head] + [k for k in keep[head:-tail] if message(lines[k]).startswith("-- step")]
                + keep[-tail:])
    return keep


def render_log(lines):
    lines = list(lines)
    keep = kept_lines(lines)
    out, prev = [], -1
    for k in keep:
        if k > prev + 1:
            out.append(f'<span class="elided">… {k - prev - 1} lines left out …</span>')
        out.append(render_line(lines[k]))
        prev = k
    if prev < len(lines) - 1:
        out.append(f'<span class="elided">… {len(lines) - 1 - prev} lines left out …</span>')
    note = (f'<p class="note elided">{len(keep)} of {len(lines)} lines shown (the JSON report has '
            "them all).</p>" if len(keep) < len(lines) else "")
    return note + "<pre>" + "\n".join(out) + "</pre>"


def chip(label):
    cls = CSS_CLASS.get(label, "unknown")
    return f'<span class="chip v-{cls}">{esc(label)}</span>'


def cell(impl, r):
    label = category(r, impl.stale)
    tip = [r["id"], str(r.get("verdict"))]
    dev = r.get("deviation")
    if dev:
        tip.append(f"{dev.get('label', 'expected failure')}: {dev.get('reason', '')}"
                   + (" (intermittent)" if dev.get("intermittent") else ""))
    if r.get("detail"):
        tip.append(str(r["detail"]))
    text = esc(label)
    a = impl.anchors.get(r["id"])
    if a:
        text = f'<a href="#{a}">{text}</a>'
    cls = CSS_CLASS.get(label, "unknown")
    return (f'<td class="v v-{cls}" data-impl="{esc(impl.label)}" data-case="{esc(r["id"])}" '
            f'data-verdict="{esc(label)}" '
            f'title="{esc(" — ".join(tip))}">{text}</td>')


def distinct(values):
    seen = []
    for v in values:
        if v not in (None, "") and str(v) not in seen:
            seen.append(str(v))
    return " / ".join(seen)


def meta_rows(impl):
    d = impl.doc
    rows = [("source", impl.source), ("adapter", d.get("adapter")),
            ("scope", d.get("scope", "")), ("strict", "yes" if d.get("strict") else "no")]
    shown = {"implementation", "adapter", "scope", "strict", "results", "counts", "coverage",
             "unexpected_failures", "stale_expected_failures", "coverage_shortfalls", "warnings"}
    # Whatever else a newer runner records (e.g. an adapter protocol version).
    rows += [(k, v if isinstance(v, (str, int, float)) else json.dumps(v))
             for k, v in d.items() if k not in shown and v not in (None, "", [], {})]
    return "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v not in (None, ""))


def status(impl):
    bad = impl.unexpected()
    stale = sorted(impl.stale)
    short = impl.doc.get("coverage_shortfalls") or []
    out = []
    if bad:
        out.append(f'<p class="bad">FAIL: {len(bad)} unexpected: {esc(" ".join(map(str, bad)))}</p>')
    if stale:
        out.append(f'<p class="bad">STALE: recorded as failing but passed: {esc(" ".join(stale))}</p>')
    out += [f'<p class="bad">COVERAGE TOO LOW: {esc(m)}</p>' for m in short]
    if not out:
        out.append('<p class="ok">OK: no unexpected failure</p>')
    # e.g. an adapter whose ready named no adapter protocol version
    out += [f'<p>WARNING: {esc(w)}</p>' for w in impl.doc.get("warnings") or []]
    return "".join(out)


def short_status(impl):
    """The run's verdict in a few words, for the summary table."""
    parts = []
    if impl.unexpected():
        parts.append(f"FAIL: {len(impl.unexpected())} unexpected")
    if impl.stale:
        parts.append(f"STALE: {len(impl.stale)}")
    if impl.doc.get("coverage_shortfalls"):
        parts.append("COVERAGE TOO LOW")
    cls = "bad" if parts else "ok"
    return f'<a class="{cls}" href="#impl-{impl.index + 1}">{esc("; ".join(parts) or "OK")}</a>'


def unique(base, used):
    """base, or base-2, base-3...: an id not in used (then added to it)."""
    a, k = base, 2
    while a in used:
        a, k = f"{base}-{k}", k + 1
    used.add(a)
    return a


def render(docs, sources=None, title="nq-conformance report", now=None):
    """The page, as a string, for JSON report dicts docs (in column order);
    sources names where each came from."""
    sources = list(sources or ["this run"] * len(docs))
    impls = [_Impl(i, d, s) for i, d, s in zip(range(len(docs)), docs, sources)]
    names = collections.Counter(i.name for i in impls)
    for i in impls:
        i.label = i.name if names[i.name] == 1 else f"{i.name} ({i.index + 1})"
    now = now or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    h = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
         f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
         f"<h1>{esc(title)}</h1>",
         f"<p>Made {esc(now)} from {len(impls)} report(s): "
         + ", ".join(f"<b>{esc(i.label)}</b> ({esc(i.source)})" for i in impls) + ".</p>",
         '<p id="legend">' + "".join(f'<span class="item">{chip(c[0])}{esc(c[4])}</span>'
                                     for c in CATEGORIES) + "</p>"]
    h += summary_table(impls)
    h += matrix(impls)
    h.append('<h2 id="implementations">Implementations</h2><div class="impls">')
    for i in impls:
        h.append(f'<div class="card"><h3 id="impl-{i.index + 1}">{esc(i.label)}</h3>'
                 f'<table class="meta">{meta_rows(i)}</table>{status(i)}</div>')
    h.append("</div>")
    h += wire_logs(impls)
    h.append(f"<script>{SCRIPT}</script></body></html>\n")
    return "".join(h)


def summary_table(impls):
    """One row per implementation and transport, then its total and the
    run's result."""
    h = ['<h2 id="summary">Summary</h2><table class="summary"><thead><tr><th>implementation</th>'
         "<th>transport</th>" + "".join(f'<th class="v v-{CSS_CLASS[x]}">{esc(x)}</th>' for x in LABELS)
         + "<th>cases</th><th>run</th></tr></thead><tbody>"]
    for i in impls:
        for t in i.transports + [None]:
            c = i.count(t)
            extra = sorted(k for k in c if k not in LABELS)
            h.append(f"<tr><td>{esc(i.label)}</td><td>{'<b>total</b>' if t is None else esc(t)}</td>"
                     + "".join(f'<td class="n">{c.get(x, 0)}</td>' for x in LABELS)
                     + f'<td class="n">{sum(c.values())}'
                     + (f" (other: {esc(', '.join(extra))})" if extra else "") + "</td>"
                     + f"<td>{short_status(i) if t is None else ''}</td></tr>")
    h.append("</tbody></table>")
    return h


def matrix(impls):
    """Rows: cases (group/n); columns: implementation x transport."""
    cols = [(i, t) for i in impls for t in i.transports]
    keys = sorted({k for i in impls for (k, _t) in i.cells}, key=row_order)
    h = ['<h2 id="matrix">Cases by implementation and transport</h2>'
         '<table class="matrix"><thead><tr><th rowspan="2">case</th><th rowspan="2">level</th>'
         '<th rowspan="2">scope</th><th rowspan="2">description</th>'
         + "".join(f'<th colspan="{len(i.transports)}">{esc(i.label)}</th>' for i in impls if i.transports)
         + "</tr><tr>" + "".join(f"<th>{esc(t)}</th>" for _i, t in cols) + "</tr></thead><tbody>"]
    used = set()
    for k in keys:
        rs = [i.cells[(k, t)] for i, t in cols if (k, t) in i.cells]
        case = f"{k[0]}/{k[1]}" if k[1] != "" else k[0]
        h.append(f'<tr id="{unique("case-" + slug(case), used)}"><th>{esc(case)}</th>'
                 f"<td>{esc(distinct(r.get('level') for r in rs))}</td>"
                 f"<td>{esc(distinct(r.get('scope') for r in rs))}</td>"
                 f'<td class="desc">{esc(distinct(r.get("description") for r in rs))}</td>'
                 + "".join(cell(i, i.cells[(k, t)]) if (k, t) in i.cells else '<td class="empty">—</td>'
                           for i, t in cols)
                 + "</tr>")
    h.append("</tbody></table>")
    return h


def wire_logs(impls):
    """Every kept wire log in a <details> a cell links to, failures first."""
    h = ['<h2 id="logs">Wire logs</h2><p>Each block: every byte the scripted peer sent (<span '
         'class="l-out">peer x &gt;</span>) and received (<span class="l-in">peer x &lt;</span>) '
         'with its time in seconds, the commands sent to the adapter (<span class="l-cmd">impl '
         '&lt;</span>) and its events (<span class="l-ev">impl &gt;</span>), and its stderr '
         '(<span class="l-err">impl stderr</span>).</p>']
    rank = {"FAIL": 0, "STALE": 1, "expected FAIL": 2, "NON-STRICT": 3}
    logs = [(i, r) for i in impls for r in i.results if r["id"] in i.anchors]
    logs.sort(key=lambda ir: (rank.get(category(ir[1], ir[0].stale), 4), ir[0].index))
    if not logs:
        h.append("<p>No case kept a wire log (the runner keeps those of FAIL, NON-STRICT and INFO "
                 "cases; --all-logs keeps every one).</p>")
    for i, r in logs:
        label = category(r, i.stale)
        dev = r.get("deviation")
        h.append(f'<details class="log b-{CSS_CLASS.get(label, "unknown")}" id="{i.anchors[r["id"]]}">'
                 f"<summary>{chip(label)} <b>{esc(r['id'])}</b> · {esc(i.label)} · "
                 f"{esc(r.get('level', ''))} · {esc(r.get('description', ''))}</summary>")
        if r.get("detail"):
            h.append(f'<p class="note">{esc(r["detail"])}</p>')
        if dev:
            h.append(f'<p class="note">{esc(dev.get("label", "expected failure"))}: '
                     f'{esc(dev.get("reason", ""))}' + (f"; {esc(dev['version'])}" if dev.get("version") else "")
                     + (" (intermittent)" if dev.get("intermittent") else "") + "</p>")
        h.append(render_log(r["wire_log"]) + "</details>")
    return h


def write(path, docs, sources=None):
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(docs, sources))


def from_files(html_path, json_paths):
    """--html FILE --from A.json ...: the page from earlier reports; exit status."""
    docs = [load(p) for p in json_paths]
    write(html_path, docs, json_paths)
    return 0
