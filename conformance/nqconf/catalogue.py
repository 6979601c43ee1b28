"""The case catalogue: JSON files under conformance/cases/, one schema
(proto/conformance.proto, message CaseDef; docs/conformance.md).

A definition names the transports it applies to; it expands into one case
per transport with the stable id <transport>/<group>/<n>. It cites the
rules of docs/spec/ it checks ("rules"); a transport's own rules (TCP-,
TLS-, MQTT-, GRPC-) stay only on the cases of the transports they are
about, so that e.g. tcp/c2s/1 does not claim to check MQTT-3.
"""
import json
import os
import re

TRANSPORTS = ("tcp", "tls", "mqtt", "grpc")
GROUPS = ("ini", "fin", "c2s", "s2c", "frame", "tls", "limits", "interleave",
          "mqtt", "grpc")
LEVELS = ("MUST", "SHOULD", "INFO")
ROLES = ("server", "client", "both")
DIALECTS = ("current", "legacy")
# Requirement levels (docs/conformance.md, "Levels"): "protocol" is what any
# peer must do to interoperate with the reference; "netqueue" is our own
# extra guarantees (reconnection, takeover, close behaviour). A protocol
# run (--scope protocol) leaves the netqueue cases out.
SCOPES = ("protocol", "netqueue")
CLAUSE = re.compile(r"^§\d+(\.\d+)*( ?, ?§\d+(\.\d+)*)*$")
RULE = re.compile(r"^[A-Z]+-[1-9][0-9]*$")
# Rule prefixes that concern some transports only (docs/spec/README.md).
RULE_TRANSPORTS = {"TCP": ("tcp", "tls"), "TLS": ("tls",), "MQTT": ("mqtt",), "GRPC": ("grpc",)}
FIELDS = {"group", "n", "transports", "description", "clause", "rules", "level", "role",
          "dialect", "script", "timeout", "scope"}


def rule_applies(rule, transport):
    """Whether a spec rule id is about this transport (most are about all)."""
    return transport in RULE_TRANSPORTS.get(rule.split("-")[0], (transport,))


class CatalogueError(ValueError):
    pass


class Case:
    __slots__ = ("id", "transport", "group", "n", "description", "clause", "rules", "level",
                 "role", "dialect", "script", "timeout", "source", "scope")

    def __init__(self, transport, d, source):
        self.transport = transport
        self.group, self.n = d["group"], d["n"]
        self.id = f"{transport}/{self.group}/{self.n}"
        self.description = d["description"]
        self.clause = d["clause"]
        self.rules = [r for r in d["rules"] if rule_applies(r, transport)]
        self.level = d["level"]
        self.role = d["role"]
        self.dialect = d.get("dialect", "current")
        self.scope = d.get("scope", "protocol")
        self.script = d["script"]
        self.timeout = d.get("timeout", 10)
        self.source = source

    def as_dict(self):
        return {k: getattr(self, k) for k in ("id", "transport", "group", "n", "description",
                                              "clause", "rules", "level", "role", "dialect", "scope")}


def check_def(d, where):
    def bad(why):
        raise CatalogueError(f"{where}: {why}")
    if not isinstance(d, dict):
        bad("a case definition must be an object")
    missing = {"group", "n", "transports", "description", "clause", "rules", "level", "role",
               "script"} - set(d)
    if missing:
        bad(f"missing {', '.join(sorted(missing))}")
    extra = set(d) - FIELDS
    if extra:
        bad(f"unknown field(s) {', '.join(sorted(extra))}")
    if d["group"] not in GROUPS:
        bad(f"group {d['group']!r} is not one of {GROUPS}")
    if not isinstance(d["n"], int) or d["n"] < 1:
        bad("n must be a positive integer")
    if not d["transports"] or any(t not in TRANSPORTS for t in d["transports"]):
        bad(f"transports must be a non-empty subset of {TRANSPORTS}")
    if d["level"] not in LEVELS:
        bad(f"level {d['level']!r} is not one of {LEVELS}")
    if d["role"] not in ROLES:
        bad(f"role {d['role']!r} is not one of {ROLES}")
    if d.get("dialect", "current") not in DIALECTS:
        bad(f"dialect must be one of {DIALECTS}")
    if d.get("scope", "protocol") not in SCOPES:
        bad(f"scope must be one of {SCOPES}")
    if not CLAUSE.match(d["clause"]):
        bad(f"clause {d['clause']!r} must cite numbered sections of docs/protocol.md, like §3.1")
    rules = d["rules"]
    if not isinstance(rules, list) or not rules or not all(isinstance(r, str) and RULE.match(r)
                                                           for r in rules):
        bad("rules must be a non-empty list of rule ids of docs/spec/, like FRAME-3")
    if len(set(rules)) != len(rules):
        bad("rules cites a rule twice")
    for t in d["transports"]:
        if not any(rule_applies(r, t) for r in rules):
            bad(f"no rule of rules is about transport {t}")
    for r in rules:
        if not any(rule_applies(r, t) for t in d["transports"]):
            bad(f"rule {r} is about none of the case's transports")
    if not isinstance(d["description"], str) or "\n" in d["description"]:
        bad("description must be one line")
    if not isinstance(d["script"], list) or not d["script"]:
        bad("script must be a non-empty list of steps")
    for i, step in enumerate(d["script"]):
        if not isinstance(step, dict) or len({"peer", "impl"} & set(step)) != 1:
            bad(f"step {i + 1} must have exactly one of 'peer' or 'impl'")


def parse(text, source="<string>"):
    """Cases of one catalogue file's text."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise CatalogueError(f"{source}: not JSON: {e}") from None
    defs = doc.get("cases") if isinstance(doc, dict) else None
    if not isinstance(defs, list):
        raise CatalogueError(f"{source}: expected an object with a 'cases' list")
    cases = []
    for i, d in enumerate(defs):
        check_def(d, f"{source}: case {i + 1}")
        cases += [Case(t, d, source) for t in d["transports"]]
    return cases


def load(directory):
    """Every case of every *.json file in directory, ids unique, sorted."""
    cases, seen = [], {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        with open(path, encoding="utf-8") as f:
            for c in parse(f.read(), name):
                if c.id in seen:
                    raise CatalogueError(f"{name}: duplicate id {c.id} (also in {seen[c.id]})")
                seen[c.id] = name
                cases.append(c)
    order = {t: i for i, t in enumerate(TRANSPORTS)}
    cases.sort(key=lambda c: (order[c.transport], GROUPS.index(c.group), c.n))
    return cases


def select(cases, transports=None, prefixes=None, scope="netqueue"):
    """Cases of the given transports whose id starts with one of prefixes,
    at requirement level scope: "protocol" (only those) or "netqueue"
    (protocol and netqueue cases: everything)."""
    return [c for c in cases
            if (not transports or c.transport in transports)
            and (not prefixes or any(c.id.startswith(p) for p in prefixes))
            and (scope == "netqueue" or c.scope == "protocol")]
