"""Unit tests of the runner itself: catalogue parsing, verdicts, reports,
frames. Stdlib unittest, no network."""
import json
import os
import tempfile
import unittest
import xml.etree.ElementTree as ET

from nqconf import adapter, catalogue, frames, report
from nqconf.verdict import Expected, judge, verdict

GOOD = {"group": "ini", "n": 1, "transports": ["tcp", "tls"], "description": "d",
        "clause": "§3.1", "rules": ["INI-6"], "level": "MUST", "role": "server",
        "script": [{"peer": "open"}]}


def doc(*defs):
    return json.dumps({"cases": list(defs)})


class Catalogue(unittest.TestCase):
    def test_expands_per_transport_with_stable_ids(self):
        cases = catalogue.parse(doc(GOOD))
        self.assertEqual([c.id for c in cases], ["tcp/ini/1", "tls/ini/1"])
        self.assertEqual(cases[0].dialect, "current")
        self.assertEqual(cases[0].as_dict()["rules"], ["INI-6"])

    def test_rejects_bad_definitions(self):
        for field, value in [("level", "MAY"), ("group", "nope"), ("clause", "section 3"),
                             ("transports", ["udp"]), ("n", 0), ("role", "peer"),
                             ("script", [{"peer": "x", "impl": "y"}]), ("description", "a\nb"),
                             ("rules", []), ("rules", ["ini-6"])]:
            with self.subTest(field=field):
                with self.assertRaises(catalogue.CatalogueError):
                    catalogue.parse(doc(dict(GOOD, **{field: value})))
        for field in ("clause", "rules"):
            with self.assertRaises(catalogue.CatalogueError):
                catalogue.parse(doc({k: v for k, v in GOOD.items() if k != field}))
        with self.assertRaises(catalogue.CatalogueError):
            catalogue.parse(doc(dict(GOOD, extra=1)))
        with self.assertRaises(catalogue.CatalogueError):
            catalogue.parse("not json")

    def test_duplicate_ids_across_files(self):
        with tempfile.TemporaryDirectory() as d:
            for name in ("a.json", "b.json"):
                with open(os.path.join(d, name), "w") as f:
                    f.write(doc(GOOD))
            with self.assertRaisesRegex(catalogue.CatalogueError, "duplicate id tcp/ini/1"):
                catalogue.load(d)

    def test_select_by_transport_and_prefix(self):
        cases = catalogue.parse(doc(GOOD, dict(GOOD, group="fin", n=2)))
        self.assertEqual([c.id for c in catalogue.select(cases, ["tls"], ["tls/fin"])], ["tls/fin/2"])

    def test_scope_defaults_to_protocol_and_selects(self):
        cases = catalogue.parse(doc(GOOD, dict(GOOD, n=2, scope="netqueue")))
        self.assertEqual([c.scope for c in cases], ["protocol", "protocol", "netqueue", "netqueue"])
        self.assertEqual([c.id for c in catalogue.select(cases, ["tcp"], None, "protocol")], ["tcp/ini/1"])
        self.assertEqual(len(catalogue.select(cases, ["tcp"], None, "netqueue")), 2)
        self.assertEqual(cases[2].as_dict()["scope"], "netqueue")
        with self.assertRaises(catalogue.CatalogueError):
            catalogue.parse(doc(dict(GOOD, scope="vendor")))

    def test_netqueue_level_holds_netqueues_own_choices(self):
        # Issue 15: takeover, reconnection and what a server's close waits
        # for are netqueue's guarantees, not the wire protocol's.
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        cases = {c.id: c for c in catalogue.load(os.path.join(here, "cases"))}
        for cid in ("tcp/ini/9", "tcp/ini/11", "tcp/fin/11", "tcp/fin/6", "tcp/fin/9", "tcp/fin/15",
                    "grpc/interleave/7"):
            self.assertEqual(cases[cid].scope, "netqueue", cid)
        for cid in ("tcp/ini/1", "tcp/fin/1", "tcp/fin/16", "tcp/interleave/8", "tcp/s2c/9"):
            self.assertEqual(cases[cid].scope, "protocol", cid)

    def test_shipped_catalogue_is_valid_and_large_enough(self):
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        cases = catalogue.load(os.path.join(here, "cases"))
        self.assertGreaterEqual(len(cases), 80)
        groups = {c.group for c in cases}
        for g in ("ini", "fin", "c2s", "s2c", "frame", "tls", "limits", "interleave"):
            self.assertIn(g, groups)


class AdapterVersion(unittest.TestCase):
    """docs/spec/adapter.md, ADAPTER-2 (the runner end to end: runner_cli.py)."""

    def test_1_x_accepted_missing_warned_other_majors_refused(self):
        self.assertIsNone(adapter.check_version({"adapter_protocol": "1.0"}))
        self.assertIsNone(adapter.check_version({"adapter_protocol": "1.12"}))
        self.assertIn("taken as 1.0", adapter.check_version({"event": "ready"}))
        for bad in ("2.0", "0.9", "1", "1.0.0", 1.0, None, "v1.0"):
            with self.subTest(version=bad), self.assertRaises(adapter.Incompatible):
                adapter.check_version({"adapter_protocol": bad})


class Verdicts(unittest.TestCase):
    def test_table(self):
        self.assertEqual(verdict("MUST", "pass"), "PASS")
        self.assertEqual(verdict("MUST", "fail"), "FAIL")
        self.assertEqual(verdict("SHOULD", "fail"), "NON-STRICT")
        self.assertEqual(verdict("SHOULD", "fail", strict=True), "FAIL")
        self.assertEqual(verdict("SHOULD", "pass", strict=True), "PASS")
        self.assertEqual(verdict("INFO", "fail", strict=True), "INFORMATIONAL")
        self.assertEqual(verdict("INFO", "pass"), "INFORMATIONAL")
        self.assertEqual(verdict("MUST", "unsupported"), "UNSUPPORTED")

    def test_expected_failures_and_stale_entries(self):
        exp = Expected({"label": "reference deviates", "upstream_version": "2.6.4",
                        "failures": [{"case": "tcp/a/1", "reason": "r"}, {"case": "tcp/a/2", "reason": "s"}]})
        results = [{"id": "tcp/a/1", "verdict": "FAIL"}, {"id": "tcp/a/2", "verdict": "PASS"},
                   {"id": "tcp/a/3", "verdict": "FAIL"}, {"id": "tcp/a/4", "verdict": "NON-STRICT"}]
        unexpected, stale = judge(results, exp)
        self.assertEqual(unexpected, ["tcp/a/3"])
        self.assertEqual(stale, ["tcp/a/2"])
        self.assertEqual(results[0]["deviation"]["label"], "reference deviates")
        self.assertEqual(results[0]["deviation"]["version"], "2.6.4")
        with self.assertRaises(ValueError):
            Expected({"failures": [{"case": "x"}]})


def result(id_, v, **kw):
    t, g, n = id_.split("/")
    return dict(id=id_, transport=t, group=g, n=int(n), level="MUST", description="d",
                clause="§1", role="server", dialect="current", verdict=v, detail="why", seconds=0.5, **kw)


class Reports(unittest.TestCase):
    def setUp(self):
        self.results = [result("tcp/ini/1", "PASS", rules=["INI-6", "INI-7"]), result("tcp/ini/2", "FAIL", wire_log=["peer > 8 B"]),
                        result("tls/ini/1", "UNSUPPORTED"),
                        result("tls/ini/2", "FAIL", deviation={"label": "reference deviates", "reason": "r", "version": "2.6.4"})]

    def test_summary_counts_and_wire_logs(self):
        text = report.summary(self.results, "impl", ["tcp/ini/2"], [])
        self.assertIn("--- wire log of tcp/ini/2 ---", text)
        self.assertIn("peer > 8 B", text)
        self.assertIn("reference deviates: r; 2.6.4", text)
        self.assertIn("tcp/ini/1              MUST   PASS  (INI-6, INI-7)", text)
        self.assertIn("FAIL: 1 case(s): tcp/ini/2", text)
        self.assertNotIn("wire log of tls/ini/2", text)
        c = report.counts(self.results)
        self.assertEqual(c["tcp"]["PASS"], 1)
        self.assertEqual(c["total"]["FAIL"], 2)

    def test_summary_gives_a_verdict_per_level(self):
        rs = self.results + [dict(result("tcp/fin/9", "FAIL"), scope="netqueue")]
        text = report.summary(rs, "impl", ["tcp/ini/2", "tcp/fin/9"], [])
        self.assertIn("protocol level: 4 cases, 1 unexpected FAIL; netqueue level: 1 cases, 1 unexpected FAIL",
                      text)
        self.assertIn("tcp/fin/9              MUST   FAIL  [netqueue level]", text)

    def test_json(self):
        d = json.loads(report.to_json(self.results, "impl", {"strict": False}))
        self.assertEqual(d["implementation"], "impl")
        self.assertEqual(d["counts"]["total"]["UNSUPPORTED"], 1)
        self.assertEqual(len(d["results"]), 4)

    def test_junit(self):
        root = ET.fromstring(report.to_junit(self.results, "impl"))
        suites = {s.get("name"): s for s in root}
        self.assertEqual(suites["impl.tcp"].get("failures"), "1")
        self.assertEqual(suites["impl.tls"].get("skipped"), "1")
        self.assertEqual(suites["impl.tls"].get("failures"), "0")  # a recorded deviation
        first = next(root.iter("testcase"))
        self.assertEqual(first.find("properties/property").get("value"), "INI-6, INI-7")
        failed = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
        self.assertEqual([tc.get("name") for tc in failed], ["tcp/ini/2"])


class Frames(unittest.TestCase):
    ids = {"a": bytes(range(16)), "impl": bytes(range(16, 32))}

    def test_encode_and_read_back_across_cuts(self):
        specs = [{"ini": True}, {"size": 20, "seed": 1}, {"size": 0}, {"fin": True}]
        data = frames.encode(specs, "a", self.ids)
        for how in ("none", "every-byte", {"chunk": 5}, [3, 9, 30]):
            r = frames.Reader()
            for piece in frames.cut(data, how):
                r.feed(piece)
            got = [r.frame() for _ in range(4)]
            self.assertEqual(got, [self.ids["a"], frames.pattern(20, 1), b"", self.ids["a"]])
            self.assertIsNone(r.frame())

    def test_legacy_fin_is_empty(self):
        self.assertEqual(frames.encode([{"fin": True}], "a", self.ids, "legacy"), bytes(8))

    def test_patterns_differ_by_seed_and_repeat_unrolls(self):
        self.assertNotEqual(frames.pattern(4096, 1), frames.pattern(4096, 2))
        self.assertEqual(len(frames.pattern(5000)), 5000)
        seeds = [s["seed"] for s in frames.expand([{"size": 1, "seed": 3, "repeat": 3}])]
        self.assertEqual(seeds, [3, 4, 5])

    def test_matches(self):
        self.assertIsNone(frames.matches({"ini": True}, self.ids["impl"], "impl", self.ids))
        self.assertIn("expected", frames.matches({"size": 3}, b"xyz", "impl", self.ids))


if __name__ == "__main__":
    unittest.main()
