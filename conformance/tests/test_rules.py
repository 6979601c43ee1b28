"""The catalogue against the spec (docs/spec/README.md, "Coverage"): every
rule of docs/spec/ has a case unless marked untestable on the wire (or is
an ADAPTER rule, the runner's contract), every rule a case cites exists,
levels and scopes agree; and every case that receives data ends by
checking that nothing more arrives (issue 15). Stdlib unittest, no
network; part of ctest conformance_runner_unit."""
import os
import re
import unittest

from nqconf import catalogue

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # conformance/
SPEC = os.path.join(os.path.dirname(HERE), "docs", "spec")
CASES = os.path.join(HERE, "cases")

# **FRAME-6** (MUST). / (netqueue MUST). / (SHOULD; untestable on the wire: why).
RULE = re.compile(r"^\*\*([A-Z]+-[1-9][0-9]*)\*\* \(((?:netqueue )?(?:MUST|SHOULD|MAY))"
                  r"(?:; untestable on the wire: ([^)]+))?\)\.", re.M)
LEVELS = {"MUST", "SHOULD", "MAY", "netqueue MUST", "netqueue SHOULD"}
RUNNER_CONTRACT = "ADAPTER"  # checked by every case and tests/runner_cli.py


def parse_spec(texts):
    """{id: (level, untestable reason or None, file)} of spec texts
    {file: text}; raises ValueError on a rule defined twice or a bold id
    that is not a well-formed rule definition."""
    rules = {}
    for name, text in texts.items():
        for m in RULE.finditer(text):
            rid, level, why = m.groups()
            if rid in rules:
                raise ValueError(f"{rid} defined in {rules[rid][2]} and {name}")
            rules[rid] = (level, why, name)
        for m in re.finditer(r"^\*\*([A-Z]+-\d+)\*\*", text, re.M):
            if m.group(1) not in rules:
                raise ValueError(f"{name}: {m.group(1)} is not written **ID** (LEVEL). ...")
    return rules


def load_spec():
    texts = {}
    for name in sorted(os.listdir(SPEC)):
        if name.endswith(".md"):
            with open(os.path.join(SPEC, name), encoding="utf-8") as f:
                texts[name] = f.read()
    return parse_spec(texts)


def problems(rules, cases):
    """Every disagreement between the spec's rules and the cases."""
    out = []
    cited = {}
    for c in cases:
        for r in c.rules:
            cited.setdefault(r, []).append(c.id)
            if r not in rules:
                out.append(f"{c.id} cites {r}, which docs/spec/ does not define")
        levels = [rules[r][0] for r in c.rules if r in rules]
        own = [lv for lv in levels if lv.startswith("netqueue")]
        if c.scope == "protocol" and own:
            out.append(f"{c.id} is a protocol case but cites netqueue rules")
        if c.scope == "netqueue" and not own:
            out.append(f"{c.id} is a netqueue case but cites no netqueue rule")
        if c.level == "MUST" and not any(lv.endswith("MUST") for lv in levels):
            out.append(f"{c.id} is MUST but cites no MUST rule")
    for rid, (level, why, name) in sorted(rules.items()):
        if rid.startswith(RUNNER_CONTRACT + "-") or why:
            continue
        if rid not in cited:
            out.append(f"{rid} ({name}) has no case and is not marked untestable on the wire")
    return out


def is_data(frame):
    return not (frame.get("ini") or frame.get("fin"))


def nothing_more_problems(case):
    """Issue 15: after the last exchange of data, a check that nothing
    more arrives, on each side that received data:
    - scripted peer: after its last expect of data on a connection, the
      next check on that connection is the fin (in the same expect or the
      next one), expect_eof or expect_nothing;
    - implementation: after its last get that expects messages and after
      the peer's last data sent before the implementation's close, a get
      without expect (no message must come)."""
    out, script = [], case.script
    checks = {}
    for i, s in enumerate(script):
        if s.get("peer") in ("expect", "expect_eof", "expect_nothing"):
            for conn in s.get("conns", [s.get("conn", "a")]):
                checks.setdefault(conn, []).append(s)
    for conn, steps in checks.items():
        data = [k for k, s in enumerate(steps)
                if s["peer"] == "expect" and any(is_data(f) for f in s["frames"])]
        if data:
            k = data[-1]
            if not steps[k]["frames"][-1].get("fin") and k + 1 == len(steps):
                out.append(f"{case.id}: conn {conn}: nothing checked after its last data")
    close = next((i for i, s in enumerate(script) if s.get("impl") == "close"), len(script))
    got = [i for i, s in enumerate(script) if s.get("impl") == "get" and "expect" in s]
    sent = [i for i, s in enumerate(script[:close])
            if s.get("peer") == "send" and any(is_data(f) for f in s["frames"])]
    if got or sent:
        last = max(got + sent)
        if not any(i > last and s.get("impl") == "get" and "expect" not in s
                   for i, s in enumerate(script)):
            out.append(f"{case.id}: no final get checking that nothing more was delivered")
    return out


class SpecAndCases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rules = load_spec()
        cls.cases = catalogue.load(CASES)

    def test_spec_has_rules_of_every_topic(self):
        prefixes = {r.split("-")[0] for r in self.rules}
        for p in ("FRAME", "INI", "DATA", "ROUTE", "FIN", "LOSS", "SESSION", "TCP", "TLS", "MQTT",
                  "GRPC", "ADAPTER"):
            self.assertIn(p, prefixes)
        self.assertTrue(all(level in LEVELS for level, _, _ in self.rules.values()))

    def test_every_rule_has_a_case_and_every_citation_a_rule(self):
        self.assertEqual(problems(self.rules, self.cases), [])

    def test_every_receiving_case_ends_with_nothing_more(self):
        self.assertEqual([p for c in self.cases for p in nothing_more_problems(c)], [])

    def test_over_limit_headers(self):
        # Issue 15 item 4: nothing of an over-limit frame is delivered at
        # the protocol level (MUST); closing the connection is netqueue's.
        self.assertEqual(self.rules["FRAME-6"][0], "MUST")
        self.assertEqual(self.rules["FRAME-7"][0], "netqueue MUST")
        by_id = {c.id: c for c in self.cases}
        for t in ("tcp", "tls", "mqtt", "grpc"):
            for n in (11, 13):  # server, client under test
                c = by_id[f"{t}/frame/{n}"]
                self.assertEqual((c.level, c.scope), ("MUST", "protocol"))
        for cid in ("tcp/frame/5", "tls/frame/7", "tcp/frame/12"):
            self.assertEqual((by_id[cid].level, by_id[cid].scope), ("MUST", "netqueue"))


class Checks(unittest.TestCase):
    """The checks above can fail."""
    SPEC = {"a.md": "**FRAME-1** (MUST). x\n\n**FRAME-2** (netqueue MUST). y\n\n"
                    "**FRAME-3** (SHOULD; untestable on the wire: timing). z\n\n"
                    "**ADAPTER-1** (MUST). w\n"}

    def case(self, rules, **kw):
        d = {"group": "frame", "n": 1, "transports": ["tcp"], "description": "d", "clause": "§2.1",
             "rules": rules, "level": "MUST", "role": "server",
             "script": [{"peer": "open"}]}
        d.update(kw)
        return catalogue.parse('{"cases": [' + __import__("json").dumps(d) + "]}")[0]

    def test_parse_levels_and_untestable(self):
        rules = parse_spec(self.SPEC)
        self.assertEqual(rules["FRAME-2"][0], "netqueue MUST")
        self.assertEqual(rules["FRAME-3"][1], "timing")
        with self.assertRaises(ValueError):
            parse_spec({"a.md": "**FRAME-1** (MUST). x", "b.md": "**FRAME-1** (MUST). y"})
        with self.assertRaises(ValueError):
            parse_spec({"a.md": "**FRAME-1** (OPTIONAL). x"})

    def test_uncovered_and_unknown_rules_and_scope(self):
        rules = parse_spec(self.SPEC)
        self.assertEqual(problems(rules, [self.case(["FRAME-1"]),
                                          self.case(["FRAME-2"], n=2, scope="netqueue")]), [])
        found = problems(rules, [self.case(["FRAME-1", "FRAME-9"])])
        self.assertIn("tcp/frame/1 cites FRAME-9, which docs/spec/ does not define", found)
        self.assertIn("FRAME-2 (a.md) has no case and is not marked untestable on the wire", found)
        self.assertIn("tcp/frame/1 is a protocol case but cites netqueue rules",
                      problems(rules, [self.case(["FRAME-1", "FRAME-2"])]))
        self.assertIn("tcp/frame/1 is MUST but cites no MUST rule",
                      problems(rules, [self.case(["FRAME-3"])]))

    def test_catalogue_checks_rule_ids_and_transports(self):
        for bad in ([], ["frame-1"], ["FRAME-1", "FRAME-1"], ["MQTT-3"]):
            with self.subTest(rules=bad), self.assertRaises(catalogue.CatalogueError):
                self.case(bad)
        c = self.case(["FRAME-1", "MQTT-3"], transports=["tcp", "mqtt"])
        self.assertEqual(c.rules, ["FRAME-1"])  # tcp/frame/1 does not claim MQTT-3

    def test_nothing_more(self):
        got = [{"peer": "open"}, {"peer": "send", "frames": [{"size": 3}]},
               {"impl": "get", "expect": [{"size": 3}]}]
        self.assertEqual(len(nothing_more_problems(self.case(["FRAME-1"], script=got))), 1)
        self.assertEqual(nothing_more_problems(self.case(["FRAME-1"], script=got + [
            {"impl": "get", "timeout": 0.2}])), [])
        sent = [{"peer": "open"}, {"impl": "put", "data": {"size": 3}},
                {"peer": "expect", "frames": [{"size": 3}]}]
        self.assertEqual(len(nothing_more_problems(self.case(["FRAME-1"], script=sent))), 1)
        self.assertEqual(nothing_more_problems(self.case(["FRAME-1"], script=sent + [
            {"peer": "expect", "frames": [{"fin": True}]}])), [])


if __name__ == "__main__":
    unittest.main()
