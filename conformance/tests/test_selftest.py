"""Unit tests of --self-test's scoring, ordering and reporting
(nqconf/selftest.py) and of the mutant registry (selftest/mini/mutants.py).
No network: run_all and run_case are stand-ins."""
import argparse
import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stdout

from nqconf import catalogue, selftest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
M = selftest.mutants_module()


def case(t, group, n, seconds=None):
    d = {"group": group, "n": n, "transports": [t], "description": "d", "clause": "§3.1", "rules": ["INI-1"],
         "level": "MUST", "role": "server", "script": [{"peer": "open"}]}
    return catalogue.Case(t, d, "test")


def result(c, verdict):
    r = c.as_dict()
    r.update(verdict=verdict, outcome="pass" if verdict == "PASS" else "fail", detail="", seconds=0.1)
    return r


def args(**kw):
    d = dict(mutant=[], jobs=2, progress=False, quiet=True, min_kill=95.0, json=None)
    d.update(kw)
    return argparse.Namespace(**d)


class Scoring(unittest.TestCase):
    def test_score_counts_killed_over_killed_and_survived(self):
        rs = [{"transport": "tcp", "mutant": f"m{i}", "status": "killed"} for i in range(19)]
        rs += [{"transport": "tcp", "mutant": "s", "status": "survived"},
               {"transport": "tcp", "mutant": "e", "status": "equivalent", "reason": "r"}]
        s = selftest.scores(rs, ["tcp"])["tcp"]
        self.assertEqual((s["killed"], s["survived"], s["equivalent"], s["total"]), (19, 1, 1, 21))
        self.assertEqual(s["score"], 95.0)

    def test_no_scored_mutant_is_no_score(self):
        rs = [{"transport": "mqtt", "mutant": "e", "status": "equivalent", "reason": "r"}]
        self.assertIsNone(selftest.scores(rs, ["mqtt"])["mqtt"]["score"])

    def test_threshold_is_inclusive_and_a_missing_score_fails(self):
        table = {"tcp": {"score": 95.0}, "tls": {"score": 94.9}, "grpc": {"score": None}}
        self.assertEqual(selftest.below(table, 95), ["tls", "grpc"])
        self.assertEqual(selftest.below(table, 90), ["grpc"])

    def test_lines_name_the_killer_or_the_gap(self):
        k = selftest.line({"transport": "tcp", "mutant": "drop", "status": "killed", "killed_by": "tcp/c2s/3",
                           "level": "MUST", "cases_run": 1, "seconds": 1.0})
        self.assertIn("killed by tcp/c2s/3 (MUST)", k)
        s = selftest.line({"transport": "tcp", "mutant": "x", "status": "survived", "cases_run": 78})
        self.assertIn("SURVIVED 78 case(s)", s)
        e = selftest.line({"transport": "tcp", "mutant": "q", "status": "equivalent", "reason": "why"})
        self.assertIn("equivalent (not scored): why", e)
        table = selftest.scores([{"transport": "tcp", "mutant": "x", "status": "survived"}], ["tcp"])
        self.assertIn("UNDER 95 %", selftest.score_lines(table, 95)[0])


class Running(unittest.TestCase):
    def test_hinted_cases_first_then_quickest(self):
        cs = [case("tcp", "ini", 1), case("tcp", "c2s", 3), case("tcp", "fin", 2), case("tcp", "s2c", 9)]
        secs = {"tcp/ini/1": 5.0, "tcp/fin/2": 0.1, "tcp/s2c/9": 1.0}
        got = [c.id for c in selftest.order_cases(cs, ["s2c/9", "nope/1", "c2s/3"], secs)]
        self.assertEqual(got, ["tcp/s2c/9", "tcp/c2s/3", "tcp/fin/2", "tcp/ini/1"])

    def test_a_mutant_stops_at_its_first_fail(self):
        cs = [case("tcp", "ini", 1), case("tcp", "ini", 2), case("tcp", "ini", 3)]
        seen = []

        def run_case(c, argv, ctx):
            seen.append((c.id, argv[-2:]))
            return result(c, "FAIL" if c.n == 2 else "PASS")
        r = selftest.run_mutant("tcp", "split-header", cs, run_case, {})
        self.assertEqual((r["status"], r["killed_by"], r["cases_run"]), ("killed", "tcp/ini/2", 2))
        self.assertEqual(seen[0][1], ["--mutant", "split-header"])
        self.assertEqual(len(seen), 2)

    def test_non_strict_and_informational_do_not_kill(self):
        cs = [case("tcp", "ini", 1), case("tcp", "ini", 2)]
        r = selftest.run_mutant("tcp", "x", cs, lambda c, a, x: result(c, "INFORMATIONAL"), {})
        self.assertEqual((r["status"], r["cases_run"]), ("survived", 2))


class Main(unittest.TestCase):
    def cases(self):
        return [case("tcp", g, n) for g, n in [("ini", 1), ("c2s", 3), ("fin", 1)]]

    def run_main(self, base_verdict, survivors, **kw):
        cs = self.cases()
        calls = {"mutants": set()}

        def run_all(cases, argv, ctx, jobs, progress):
            calls["base_ctx"] = ctx
            return [result(c, base_verdict) for c in cases]

        def run_case(c, argv, ctx):
            name = argv[argv.index("--mutant") + 1]
            calls["mutants"].add(name)
            return result(c, "PASS" if name in survivors else "FAIL")
        out = io.StringIO()
        with redirect_stdout(out):
            rc = selftest.main(args(**kw), cs, run_all, run_case, {"certs": None})
        return rc, out.getvalue(), calls

    def test_baseline_failure_fails_and_runs_no_mutant(self):
        rc, out, calls = self.run_main("FAIL", set())
        self.assertEqual(rc, 1)
        self.assertIn("unmutated implementation must pass", out)
        self.assertEqual(calls["mutants"], set())

    def test_score_over_threshold_passes_and_json_records_it(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.json")
            rc, out, calls = self.run_main("PASS", set(), json=path)
            with open(path) as f:
                doc = json.load(f)["self_test"]
        self.assertEqual(rc, 0, out)
        self.assertTrue(calls["base_ctx"]["strict"])
        self.assertEqual(doc["scores"]["tcp"]["score"], 100.0)
        self.assertTrue(doc["ok"])
        names = {r["mutant"] for r in doc["mutants"]}
        self.assertEqual(names, set(M.for_transport("tcp")))

    def test_survivors_under_the_threshold_fail(self):
        names = M.for_transport("tcp")
        two = set(names[:2])  # 2 of 31 or so: under 95 %
        self.assertLess(100.0 * (len(names) - 2) / len(names), 95)
        rc, out, _ = self.run_main("PASS", two)
        self.assertEqual(rc, 1)
        for n in two:
            self.assertRegex(out, rf"{n} +SURVIVED")
        self.assertIn("FAIL: kill score under 95 % on tcp", out)
        rc, _, _ = self.run_main("PASS", two, min_kill=50)
        self.assertEqual(rc, 0)

    def test_only_the_named_mutants(self):
        rc, out, calls = self.run_main("PASS", set(), mutant=["split-header"])
        self.assertEqual(calls["mutants"], {"split-header"})
        rc, out, calls = self.run_main("PASS", set(), mutant=["no-such-bug"])
        self.assertEqual(rc, 2)


class Registry(unittest.TestCase):
    def test_each_transport_has_at_least_a_dozen_mutants(self):
        for t in M.ALL:
            self.assertGreaterEqual(len(M.for_transport(t)), 12, t)

    def test_hints_name_catalogued_cases(self):
        cases = catalogue.load(os.path.join(HERE, "cases"))
        have = {(c.transport, f"{c.group}/{c.n}") for c in cases}
        for name, (transports, what, hints) in M.MUTANTS.items():
            self.assertTrue(what, name)
            for h in hints.split():
                self.assertTrue(any((t, h) in have for t in transports), f"{name}: hint {h}")

    def test_equivalent_entries_name_mutants(self):
        for key in M.EQUIVALENT:
            t, _, name = key.rpartition(":")
            self.assertIn(name, M.MUTANTS, key)
            if t:
                self.assertIn(t, M.MUTANTS[name][0], key)


class MiniFraming(unittest.TestCase):
    """mini's framer, and one mutant switching one behaviour."""

    def setUp(self):
        from mini import framing
        self.framing = framing
        self.addCleanup(M.activate, None)

    def feed_bytewise(self, data):
        r, out = self.framing.Reader(), []
        for i in range(len(data)):
            out += r.feed(data[i:i + 1])
        return out

    def test_frames_cut_at_every_byte_are_reassembled(self):
        data = self.framing.encode(b"0123456789abcdef") + self.framing.encode(b"") + self.framing.encode(b"xyz")
        self.assertEqual(self.feed_bytewise(data), [b"0123456789abcdef", b"", b"xyz"])

    def test_a_header_over_the_limit_is_refused(self):
        with self.assertRaises(self.framing.FrameError):
            self.framing.Reader(limit=100).feed((101).to_bytes(8, "big"))

    def test_the_split_header_mutant_loses_a_cut_header(self):
        data = self.framing.encode(b"abc")
        M.activate("split-header")
        self.assertEqual(self.feed_bytewise(data), [])
        M.activate(None)
        self.assertEqual(self.feed_bytewise(data), [b"abc"])


if __name__ == "__main__":
    unittest.main()
