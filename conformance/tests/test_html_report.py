"""Unit tests of the HTML report (nqconf/html_report.py) from canned JSON
reports: the page's structure, escaping of hostile text, links from cells
to wire logs, implementations side by side, and --html --from. No network,
no browser (tests/html_browser.py opens a real page in Chromium)."""
import base64
import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import unittest

from nqconf import cli, html_report
from tests.html_browser import Dom

LOG = ["  0.000 -- step 1: peer open",
       "  0.001 impl $ ./adapter --role server --transport tcp",
       "  0.010 impl > {\"event\": \"ready\", \"id\": \"00\", \"port\": 1}",
       "  0.011 peer a > 24 B 0000000000000010aa",
       "  0.012 peer a < 23 B 000000000000000fbb",
       "  0.013 impl stderr: boom",
       "  0.020 outcome: fail step 3"]


def res(cid, verdict, level="MUST", log=None, **kw):
    t, g, n = cid.split("/")
    r = {"id": cid, "transport": t, "group": g, "n": int(n), "description": f"case {g} {n}",
         "clause": "§3.1", "level": level, "role": "server", "dialect": "current",
         "scope": "protocol", "verdict": verdict, "outcome": "pass" if verdict == "PASS" else "fail",
         "detail": "", "seconds": 0.1}
    if log is not None:
        r["wire_log"] = log
    r.update(kw)
    return r


def report(name, results, **meta):
    return {"implementation": name, "adapter": f"{name} adapter", "strict": False, "scope": "netqueue",
            "unexpected_failures": [r["id"] for r in results
                                    if r["verdict"] == "FAIL" and not r.get("deviation")],
            "stale_expected_failures": [], "results": results, **meta}


DEV = {"label": "reference deviates", "reason": "takes no takeover", "version": "2.6.4",
       "intermittent": False}
A = report("alpha", [res("tcp/ini/1", "PASS"), res("tcp/ini/2", "FAIL", log=LOG, detail="step 3 failed"),
                     res("tcp/fin/5", "INFORMATIONAL", level="INFO", log=LOG),
                     res("tls/ini/1", "PASS"), res("tls/ini/2", "UNSUPPORTED"),
                     res("tls/frame/4", "NON-STRICT", level="SHOULD", log=LOG)])
B = report("beta", [res("tcp/ini/1", "FAIL", log=LOG, deviation=DEV),
                    res("tcp/ini/2", "PASS", log=LOG, deviation=DEV),
                    res("tcp/fin/5", "PASS", deviation=dict(DEV, intermittent=True))],
           stale_expected_failures=["tcp/ini/2"])


def page(*docs):
    dom = Dom()
    text = html_report.render(list(docs), [f"r{i}.json" for i in range(len(docs))])
    dom.feed(text)
    return text, dom


class Structure(unittest.TestCase):
    def test_matrix_rows_and_columns(self):
        text, dom = page(A, B)
        # Columns: alpha x (tcp, tls), beta x tcp; header cells in order.
        head = re.search(r'<table class="matrix"><thead>(.*?)</thead>', text).group(1)
        self.assertEqual(re.findall(r'<th colspan="(\d)">([^<]*)</th>', head), [("2", "alpha"), ("1", "beta")])
        self.assertEqual(re.findall(r"<th>(tcp|tls)</th>", head), ["tcp", "tls", "tcp"])
        # Rows: one per group/n, in catalogue group order (ini, fin, frame).
        self.assertEqual(re.findall(r'<tr id="case-([^"]+)">', text), ["ini-1", "ini-2", "fin-5", "frame-4"])
        self.assertEqual(dom.cells[("alpha", "tcp/ini/1")]["verdict"], "PASS")
        self.assertEqual(dom.cells[("alpha", "tls/ini/2")]["verdict"], "UNSUPPORTED")
        self.assertEqual(dom.cells[("alpha", "tls/frame/4")]["verdict"], "NON-STRICT")
        self.assertEqual(dom.cells[("alpha", "tcp/fin/5")]["verdict"], "INFO")
        # A case an implementation did not run is an empty cell.
        row = re.search(r'<tr id="case-frame-4">(.*?)</tr>', text).group(1)
        self.assertEqual(row.count('<td class="empty">'), 2)  # alpha tcp, beta tcp
        self.assertIn("<td>SHOULD</td>", row)
        self.assertIn("case frame 4", row)

    def test_summary_counts_per_implementation_and_transport(self):
        text, _ = page(A, B)
        rows = re.findall(r"<tr><td>(alpha|beta)</td><td>(.*?)</td>((?:<td class=\"n\">[^<]*</td>)+)<td>(.*?)</td>",
                          text)
        got = {(i, t): [int(x) for x in re.findall(r">(\d+)", cells)] for i, t, cells, _ in rows}
        run = {i: r for i, t, _, r in rows if t == "<b>total</b>"}
        self.assertIn(">FAIL: 1 unexpected</a>", run["alpha"])
        self.assertIn(">STALE: 1</a>", run["beta"])
        order = list(html_report.LABELS)  # PASS NON-STRICT INFO UNSUPPORTED FAIL expected-FAIL STALE, cases
        self.assertEqual(order, ["PASS", "NON-STRICT", "INFO", "UNSUPPORTED", "FAIL", "expected FAIL", "STALE"])
        self.assertEqual(got[("alpha", "tcp")], [1, 0, 1, 0, 1, 0, 0, 3])
        self.assertEqual(got[("alpha", "tls")], [1, 1, 0, 1, 0, 0, 0, 3])
        self.assertEqual(got[("alpha", "<b>total</b>")], [2, 1, 1, 1, 1, 0, 0, 6])
        self.assertEqual(got[("beta", "tcp")], [1, 0, 0, 0, 0, 1, 1, 3])
        self.assertIn("FAIL: 1 unexpected: tcp/ini/2", text)
        self.assertIn("STALE: recorded as failing but passed: tcp/ini/2", text)

    def test_categories(self):
        self.assertEqual(html_report.category(B["results"][0]), "expected FAIL")
        self.assertEqual(html_report.category(B["results"][1], {"tcp/ini/2"}), "STALE")
        self.assertEqual(html_report.category(B["results"][1]), "STALE")  # non-intermittent record
        self.assertEqual(html_report.category(B["results"][2]), "PASS")   # intermittent: may pass
        self.assertEqual(html_report.category(A["results"][2]), "INFO")

    def test_self_contained(self):
        text, dom = page(A, B)
        self.assertNotRegex(text, r"(?i)\b(src|href)=\"(?!#)")    # only in-page links
        self.assertNotRegex(text, r"(?i)https?://|@import|url\(")
        self.assertEqual(dom.scripts, 1)
        # The CSP allows exactly the page's own script, by hash.
        script = re.search(r"<script>(.*?)</script>", text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        self.assertIn(f"script-src 'sha256-{digest}'", text)
        self.assertIn("default-src 'none'", text)

    def test_long_logs_keep_head_tail_and_steps(self):
        log = [f"  {i / 1000:.3f} peer a > 24 B {i:048x}" for i in range(5000)]
        log[3000] = "  3.000 -- step 9: peer expect"
        text, _ = page(report("x", [res("tcp/c2s/3", "FAIL", log=log)]))
        pre = re.search(r"<pre>(.*?)</pre>", text, re.S).group(1)
        head, tail = html_report.LOG_HEAD, html_report.LOG_TAIL
        self.assertEqual(pre.count("\n") + 1, head + 1 + 1 + 1 + tail)  # gap, step, gap
        self.assertIn(f"{head + tail + 1} of 5000 lines shown (the JSON report has them all)", text)
        self.assertIn(f"… {3000 - head} lines left out …", pre)
        self.assertIn("-- step 9: peer expect", pre)
        self.assertIn(f"{0:048x}", pre)
        self.assertIn(f"{4999:048x}", pre)
        self.assertNotIn(f"{2500:048x}", pre)

    def test_long_stderr_runs_keep_their_ends(self):
        # A crashing implementation: thousands of stderr lines between two
        # steps; the page keeps both steps and the run's first and last lines.
        log = (["  0.000 -- step 1: peer open"] + [f"  0.001 impl stderr: line {i}" for i in range(3000)]
               + ["  0.002 -- step 2: peer expect", "  5.000 outcome: fail step 2"])
        keep = html_report.kept_lines(log)
        first, last = html_report.STDERR_RUN
        self.assertEqual(len(keep), 1 + first + last + 2)
        text, _ = page(report("x", [res("tcp/ini/10", "FAIL", log=log)]))
        pre = re.search(r"<pre>(.*?)</pre>", text, re.S).group(1)
        self.assertIn(f"impl stderr: line {first - 1}<", pre)
        self.assertNotIn(f"impl stderr: line {first}<", pre)
        self.assertIn(f"… {3000 - first - last} lines left out …", pre)
        self.assertIn("impl stderr: line 2999<", pre)
        self.assertIn("outcome: fail step 2", pre)
        # Short runs and short logs are shown whole.
        self.assertEqual(html_report.kept_lines(LOG), list(range(len(LOG))))


class Links(unittest.TestCase):
    def test_fail_cell_links_to_its_wire_log(self):
        text, dom = page(A, B)
        cell = dom.cells[("alpha", "tcp/ini/2")]
        self.assertEqual(cell["verdict"], "FAIL")
        anchor = cell["href"][1:]
        self.assertEqual(dom.ids[anchor], "details")
        log = "".join(dom.details_text[anchor])
        self.assertIn("tcp/ini/2", log)
        self.assertIn("step 3 failed", log)
        for line in LOG:
            self.assertIn(line.strip(), log)
        # The log's lines are classified: bytes each way, commands, stderr.
        block = re.search(rf'<details[^>]*id="{anchor}">(.*?)</details>', text, re.S).group(1)
        self.assertIn('<span class="l-out">peer a &gt; 24 B', block)
        self.assertIn('<span class="l-in">peer a &lt; 23 B', block)
        self.assertIn('<span class="l-err">impl stderr: boom', block)
        self.assertIn('<span class="t">0.011</span>', block)

    def test_every_log_has_one_link_and_passes_have_none(self):
        _, dom = page(A, B)
        self.assertIsNone(dom.cells[("alpha", "tcp/ini/1")]["href"])
        hrefs = [c["href"][1:] for c in dom.cells.values() if c["href"]]
        details = [i for i, tag in dom.ids.items() if tag == "details"]
        self.assertEqual(sorted(hrefs), sorted(details))
        self.assertEqual(len(set(hrefs)), 5)  # alpha: 3 logs; beta: expected FAIL and STALE

    def test_two_implementations_side_by_side(self):
        text, dom = page(A, B)
        row = re.search(r'<tr id="case-ini-1">(.*?)</tr>', text).group(1)
        verdicts = re.findall(r'data-impl="([^"]+)" data-case="([^"]+)" data-verdict="([^"]+)"', row)
        self.assertEqual(verdicts, [("alpha", "tcp/ini/1", "PASS"), ("alpha", "tls/ini/1", "PASS"),
                                    ("beta", "tcp/ini/1", "expected FAIL")])
        beta = dom.cells[("beta", "tcp/ini/1")]["href"][1:]
        self.assertIn("reference deviates: takes no takeover; 2.6.4", "".join(dom.details_text[beta]))
        # The same name twice is told apart.
        _, dom2 = page(A, A)
        self.assertIn(("alpha (1)", "tcp/ini/1"), dom2.cells)
        self.assertIn(("alpha (2)", "tcp/ini/1"), dom2.cells)
        self.assertNotEqual(dom2.cells[("alpha (1)", "tcp/ini/2")]["href"],
                            dom2.cells[("alpha (2)", "tcp/ini/2")]["href"])


class Escaping(unittest.TestCase):
    EVIL = '</pre></details></td></table><script id="evil">alert(1)</script><img id="evil2" src=x onerror=alert(2)>"\'&'

    def test_hostile_text_is_text(self):
        evil = self.EVIL
        r = res("tcp/ini/2", "FAIL", detail=evil, description=evil,
                log=LOG + [f"  0.050 impl stderr: {evil}", f"  0.051 peer a < {evil}", evil],
                deviation={"label": evil, "reason": evil, "version": evil})
        doc = report(evil, [r, res(f"tcp/ini/{3}", "FAIL", log=[evil])], adapter=evil,
                     adapter_protocol=evil, coverage_shortfalls=[evil], warnings=[evil])
        doc["unexpected_failures"] = [evil]
        text, dom = page(doc)
        self.assertNotIn("evil", dom.ids)
        self.assertNotIn("evil2", dom.ids)
        self.assertEqual(dom.scripts, 1)
        self.assertNotIn("<script id=", text)
        self.assertNotIn("<img", text)
        visible = "".join(dom.text)
        self.assertGreaterEqual(visible.count(evil), 8)
        self.assertEqual(dom.cells[(evil, "tcp/ini/2")]["verdict"], "expected FAIL")
        self.assertEqual(dom.cells[(evil, "tcp/ini/3")]["verdict"], "FAIL")

    def test_hostile_case_ids_make_safe_anchors(self):
        r = res("tcp/ini/2", "FAIL", log=LOG)
        r["id"] = 'tcp/ini/2" onmouseover="alert(1)'
        # Another case whose id slugs the same: the anchors must still differ.
        r2 = dict(r, id='tcp/ini/2" onmouseover="alert(1)!', n=3)
        text, dom = page(report("x", [r, r2]))
        hrefs = [c["href"] for c in dom.cells.values()]
        self.assertEqual(len(set(hrefs)), 2)
        for h in hrefs:
            self.assertRegex(h, r"^#[A-Za-z0-9-]+$")
        self.assertNotIn('" onmouseover', text)


class FromFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def main(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(list(args))
            except SystemExit as e:
                rc = e.code
        return rc, out.getvalue() + err.getvalue()

    def test_page_from_json_reports(self):
        for name, doc in (("a.json", A), ("b.json", B)):
            with open(self.path(name), "w") as f:
                json.dump(doc, f)
        rc, out = self.main("--html", self.path("p.html"), "--from", self.path("a.json"), self.path("b.json"))
        self.assertEqual(rc, 0, out)
        dom = Dom()
        with open(self.path("p.html"), encoding="utf-8") as f:
            dom.feed(f.read())
        self.assertEqual(dom.cells[("beta", "tcp/ini/1")]["verdict"], "expected FAIL")
        self.assertIn(self.path("a.json"), "".join(dom.text))

    def test_bad_inputs_are_clear_errors(self):
        with open(self.path("x.json"), "w") as f:
            f.write('{"cases": []}')
        rc, out = self.main("--html", self.path("p.html"), "--from", self.path("x.json"))
        self.assertEqual(rc, 2)
        self.assertIn("not an nq-conformance JSON report", out)
        rc, out = self.main("--html", self.path("p.html"), "--from", self.path("missing.json"))
        self.assertEqual(rc, 2)
        self.assertIn("missing.json", out)
        with open(self.path("y.json"), "w") as f:
            json.dump(report("y", [res("tcp/ini/1", "FAIL", log="not a list")]), f)
        rc, out = self.main("--html", self.path("p.html"), "--from", self.path("y.json"))
        self.assertEqual(rc, 2)
        self.assertIn("tcp/ini/1): wire_log must be a list", out)
        rc, out = self.main("--from", self.path("x.json"))
        self.assertEqual(rc, 2)
        self.assertIn("needs --html", out)
        rc, out = self.main("--html", self.path("p.html"), "--from", self.path("x.json"), "--adapter", "a")
        self.assertEqual(rc, 2)
        self.assertFalse(os.path.exists(self.path("p.html")))


if __name__ == "__main__":
    unittest.main()
