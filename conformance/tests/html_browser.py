#!/usr/bin/env python3
"""ctest conformance_html_report: the HTML report of real runs, as a real
browser shows it (docs/conformance.md, "Reading the report").

Runs the runner on a short TCP selection against three adapters: `nq
adapter` (with an expected-failures file naming a case it passes: STALE),
tests/adapters/refuse_adapter.py (everything UNSUPPORTED) and
tests/adapters/misbehave_adapter.py (FAIL, NON-STRICT, one recorded
failure: expected FAIL; hostile markup on stderr and in its name). Makes the
page from the three JSON reports with --html --from, opens it in headless
Chromium (--dump-dom and --screenshot), and checks the DOM as rendered
(the matrix cells, their links to wire logs, nothing injected; at a cell's
link, its wire log open) and a screenshot of the page without its script
(a PNG of the window's size showing the verdict colours).

    html_browser.py --nq PATH [--runner CMD] [--chromium PROG] [--keep DIR]

A missing Chromium fails the test, saying so. Not matched by unittest
discovery (test*.py): it starts processes.
"""
import argparse
import html.parser
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # conformance/
sys.path.insert(0, ROOT)
from nqconf import catalogue, html_report  # noqa: E402

PREFIXES = ["tcp/c2s", "tcp/frame", "tcp/fin/5"]
SELECTION = [x for p in PREFIXES for x in ("--case", p)]
N_CASES = len(catalogue.select(catalogue.load(os.path.join(ROOT, "cases")), ["tcp"], PREFIXES))
HOSTILE_NAME = 'misbehaving<b id="injected-name">'
RUN_TIMEOUT = 240
BROWSER_TIMEOUT = 90
SIZE = (1280, 2000)

CFG = argparse.Namespace()


def chromium_argv(prog, profile):
    return [prog, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--force-device-scale-factor=1", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}"]


def read_png(path):
    """(width, height, rows): rows of bytes, 3 or 4 bytes a pixel (RGB or
    RGBA, 8 bits); the filters undone. Only what Chromium writes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG (bad signature)")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    if not hdr:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _comp, _filt, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {ctype}, interlace {interlace}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif ftype != 0:
            raise ValueError(f"bad filter type {ftype} on row {y}")
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def colour_counts(bpp, rows):
    counts = {}
    for row in rows:
        for i in range(0, len(row), bpp):
            px = row[i:i + 3]
            counts[px] = counts.get(px, 0) + 1
    return counts


class Dom(html.parser.HTMLParser):
    """What the tests need from the rendered DOM: matrix cells, elements
    by id, scripts, the title, the body's attributes, each details' text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cells = {}      # (impl, case) -> {"verdict", "href"}
        self.ids = {}        # id -> tag
        self.scripts = 0
        self.title = ""
        self.body_attrs = {}
        self.text = []
        self.details_text = {}
        self.details_open = {}  # id -> bool
        self._stack = []     # open details ids
        self._cell = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = tag
        if tag == "script":
            self.scripts += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self.body_attrs = a
        elif tag == "details":
            self._stack.append(a.get("id"))
            self.details_text[a.get("id")] = []
            self.details_open[a.get("id")] = "open" in a
        elif tag == "td" and "data-case" in a:
            self._cell = self.cells[(a.get("data-impl"), a["data-case"])] = {
                "verdict": a.get("data-verdict"), "href": None, "text": ""}
        elif tag == "a" and self._cell is not None:
            self._cell["href"] = a.get("href")

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "title":
            self._in_title = False
        elif tag == "details" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell["text"] += data
        if self._stack:
            self.details_text[self._stack[-1]].append(data)


def run(argv, timeout=RUN_TIMEOUT):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class HtmlInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chromium = shutil.which(CFG.chromium)
        if not cls.chromium:
            raise AssertionError(
                f"MISSING PREREQUISITE: the program '{CFG.chromium}' (headless Chromium) is not on "
                "PATH; provide it with: apt-get install chromium (./scripts/setup.sh installs it). "
                "This test FAILS instead of skipping (docs/testing.md).")
        cls.dir = CFG.keep or tempfile.mkdtemp(prefix="nq-html-")
        os.makedirs(cls.dir, exist_ok=True)
        d = cls.path
        runner = shlex.split(CFG.runner)
        with open(d("nq-expected.json"), "w") as f:
            f.write('{"label": "test record", "failures": [{"case": "tcp/c2s/2", '
                    '"reason": "recorded, but nq passes it"}]}')
        with open(d("bad-expected.json"), "w") as f:
            f.write('{"label": "known bad", "failures": [{"case": "tcp/c2s/1", '
                    '"reason": "its ini is one byte short, on purpose <b>"}]}')
        adapters = os.path.join(HERE, "adapters")
        cls.runs = {
            "nq": run(runner + ["--adapter", f"{shlex.quote(CFG.nq)} adapter", "--name", "nq",
                                "--expected", d("nq-expected.json"), "--json", d("nq.json"),
                                "--html", d("nq.html"), "--quiet"] + SELECTION),
            "refuse": run(runner + ["--adapter", f"{shlex.quote(sys.executable)} "
                                    f"{shlex.quote(os.path.join(adapters, 'refuse_adapter.py'))}",
                                    "--name", "refuses-all", "--allow-unsupported",
                                    "--json", d("refuse.json"), "--quiet"] + SELECTION),
            "bad": run(runner + ["--adapter", f"{shlex.quote(sys.executable)} "
                                 f"{shlex.quote(os.path.join(adapters, 'misbehave_adapter.py'))}",
                                 "--name", HOSTILE_NAME, "--expected", d("bad-expected.json"),
                                 "--json", d("bad.json"), "--quiet"] + SELECTION),
        }
        cls.page = run(runner + ["--html", d("page.html"), "--from", d("nq.json"), d("bad.json"),
                                 d("refuse.json")])
        if cls.page.returncode != 0:
            return
        url = "file://" + d("page.html")
        p = subprocess.run(chromium_argv(cls.chromium, tempfile.mkdtemp(dir=cls.dir))
                           + ["--dump-dom", url], capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
        cls.dom_run = p
        cls.dom = Dom()
        cls.dom.feed(p.stdout)
        # With a fragment: the page's script (allowed by its CSP hash) opens
        # the wire log a matrix cell links to.
        cls.fragment = cls.dom.cells.get((HOSTILE_NAME, "tcp/c2s/3"), {}).get("href") or "#none"
        p = subprocess.run(chromium_argv(cls.chromium, tempfile.mkdtemp(dir=cls.dir))
                           + ["--dump-dom", url + cls.fragment], capture_output=True, text=True,
                           timeout=BROWSER_TIMEOUT)
        cls.dom_at_fragment = Dom()
        cls.dom_at_fragment.feed(p.stdout)
        # The screenshot is of the page without its script: it must read the
        # same without JS. (Headless Chromium's --screenshot and --dump-dom
        # need scripting on, so the script is taken out instead.)
        with open(d("page.html"), encoding="utf-8") as f:
            text, n = re.subn(r"<script>.*?</script>", "", f.read(), flags=re.S)
        cls.scripts_removed = n
        with open(d("page-nojs.html"), "w", encoding="utf-8") as f:
            f.write(text)
        cls.shot = subprocess.run(chromium_argv(cls.chromium, tempfile.mkdtemp(dir=cls.dir))
                                  + [f"--screenshot={d('page.png')}", f"--window-size={SIZE[0]},{SIZE[1]}",
                                     "file://" + d("page-nojs.html")],
                                  capture_output=True, text=True, timeout=BROWSER_TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        if not CFG.keep and getattr(cls, "dir", None):
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def test_1_runs_end_as_expected(self):
        nq, refuse, bad = self.runs["nq"], self.runs["refuse"], self.runs["bad"]
        # nq passes everything, so its recorded failure is STALE: exit 1.
        self.assertEqual(nq.returncode, 1, nq.stdout + nq.stderr)
        self.assertIn("STALE: recorded as failing but passed: tcp/c2s/2", nq.stdout)
        self.assertIn(f"({N_CASES} cases in", nq.stdout)
        self.assertEqual(refuse.returncode, 0, refuse.stdout + refuse.stderr)
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        self.assertIn("FAIL:", bad.stdout)
        self.assertEqual(self.page.returncode, 0, self.page.stdout + self.page.stderr)

    def test_2_page_after_a_run(self):
        # --html after a run: the same page, one implementation.
        with open(self.path("nq.html"), encoding="utf-8") as f:
            dom = Dom()
            dom.feed(f.read())
        self.assertEqual(len(dom.cells), N_CASES)
        self.assertEqual(dom.cells[("nq", "tcp/c2s/2")]["verdict"], "STALE")
        self.assertEqual(dom.cells[("nq", "tcp/c2s/4")]["verdict"], "PASS")

    def test_3_dom_has_the_matrix(self):
        self.assertEqual(self.dom_run.returncode, 0, self.dom_run.stderr[-2000:])
        cells = self.dom.cells
        impls = ("nq", HOSTILE_NAME, "refuses-all")
        for impl in impls:
            self.assertEqual(sum(k[0] == impl for k in cells), N_CASES, impl)
        want = {("nq", "tcp/c2s/4"): "PASS", ("nq", "tcp/fin/5"): "INFO", ("nq", "tcp/c2s/2"): "STALE",
                (HOSTILE_NAME, "tcp/c2s/3"): "FAIL", (HOSTILE_NAME, "tcp/frame/4"): "NON-STRICT",
                (HOSTILE_NAME, "tcp/c2s/1"): "expected FAIL"}
        for key, verdict in want.items():
            self.assertEqual(cells[key]["verdict"], verdict, key)
            self.assertEqual(cells[key]["text"], verdict, key)
        self.assertEqual({c["verdict"] for k, c in cells.items() if k[0] == "refuses-all"}, {"UNSUPPORTED"})
        self.assertIsNone(cells[("nq", "tcp/c2s/4")]["href"])  # a PASS keeps no log

    def test_4_cells_link_to_wire_logs(self):
        cells, ids = self.dom.cells, self.dom.ids
        linked = 0
        for (impl, case), c in cells.items():
            if c["verdict"] in ("FAIL", "expected FAIL", "NON-STRICT", "INFO", "STALE"):
                self.assertTrue(c["href"] and c["href"].startswith("#"), (impl, case, c))
                anchor = c["href"][1:]
                self.assertEqual(ids.get(anchor), "details", (impl, case, anchor))
                log = "".join(self.dom.details_text[anchor])
                self.assertIn(case, log)
                self.assertRegex(log, r"\d+\.\d{3} peer \w+ [<>] \d+ B [0-9a-f]+")  # bytes, timed
                self.assertRegex(log, r"\d+\.\d{3} impl \$ ")                  # the adapter's command
                linked += 1
        self.assertGreaterEqual(linked, 14 + 4 + 1 + 2)
        fail = cells[(HOSTILE_NAME, "tcp/c2s/3")]["href"][1:]
        log = "".join(self.dom.details_text[fail])
        self.assertIn("got 15 bytes", log)                      # the failure's detail
        self.assertIn("peer a < 23 B 000000000000000f", log)   # the short ini, as received

    def test_5_nothing_injected(self):
        # The adapter's stderr and the implementation's name are hostile
        # markup: the browser must show them as text, never as elements.
        for bad_id in ("injected", "injected-name"):
            self.assertNotIn(bad_id, self.dom.ids)
        self.assertEqual(self.dom.scripts, 1)  # the page's own
        self.assertNotIn("pwned", self.dom.title)
        self.assertNotIn("data-pwned", self.dom.body_attrs)
        text = "".join(self.dom.text)
        self.assertIn('<script>document.title="pwned"</script>', text)
        self.assertIn('<h1 id="injected">injected &amp; "quoted"', text)
        self.assertIn(HOSTILE_NAME, text)

    def test_6_link_opens_its_wire_log(self):
        anchor = self.fragment[1:]
        self.assertIn(anchor, self.dom.details_open)
        self.assertFalse(self.dom.details_open[anchor])  # closed without a fragment
        self.assertTrue(self.dom_at_fragment.details_open[anchor], "the linked wire log stayed closed")
        self.assertEqual(sum(self.dom_at_fragment.details_open.values()), 1)

    def test_7_screenshot_shows_the_verdict_colours(self):
        self.assertEqual(self.scripts_removed, 1)
        self.assertEqual(self.shot.returncode, 0, self.shot.stderr[-2000:])
        w, h, bpp, rows = read_png(self.path("page.png"))
        self.assertEqual((w, h), SIZE)
        counts = colour_counts(bpp, rows)
        total = w * h
        self.assertGreater(len(counts), 50, "too few colours: a blank or broken page")
        self.assertLess(max(counts.values()), total * 0.9, "one colour covers 90% of the page")
        for label, rgb in html_report.COLOURS.items():
            with self.subTest(verdict=label):
                self.assertGreater(counts.get(bytes(rgb), 0), 300,
                                   f"{label} colour {rgb} hardly on the screenshot")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nq", required=True, help="the nq program (its `adapter` subcommand is used)")
    p.add_argument("--runner", default=f"{shlex.quote(sys.executable)} "
                                       f"{shlex.quote(os.path.join(ROOT, 'nq_conformance.py'))}",
                   help="the runner command line (default: this Python and nq_conformance.py)")
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--keep", help="keep the reports, page and screenshot in this directory")
    a, rest = p.parse_known_args()
    CFG.__dict__.update(vars(a))
    if CFG.keep:
        CFG.keep = os.path.abspath(CFG.keep)
    if not os.access(a.nq, os.X_OK):
        print(f"html_browser: --nq {a.nq} is not an executable program", file=sys.stderr)
        return 1
    prog = unittest.main(argv=[sys.argv[0], "-v"] + rest, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
