"""nq-conformance --self-test: mutation testing of the suite itself
(docs/conformance.md, "Self-test (mutation testing)").

The independent implementation in conformance/selftest/mini/ is run first
unmutated (it must pass every selected case, SHOULD cases included), then
once per one-bug mutant of each selected transport. A mutant is killed by
the first case it FAILs (SHOULD cases count: the run is strict) and stops
there; one that passes every case survived, which means the suite has a
gap. The kill score of a transport is killed / (mutants - equivalent).
"""
import concurrent.futures
import os
import sys
import time

from . import report

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELFTEST = os.path.join(HERE, "selftest")
# Step timeout of every self-test run, the baseline's included (the
# suite's default is 5 s): most kills are a frame that never comes, and
# the baseline passing under the same budget keeps a slow machine from
# passing off slowness as a kill.
STEP_TIMEOUT = 3.0


def mutants_module():
    if SELFTEST not in sys.path:
        sys.path.insert(0, SELFTEST)
    from mini import mutants
    return mutants


def adapter_argv():
    return [sys.executable, os.path.join(SELFTEST, "mini_adapter.py")]


def order_cases(cases, hints, seconds):
    """Cases for one mutant: its hinted cases (group/n, in hint order)
    first, then the others, quickest first (by the baseline's times)."""
    by_key = {f"{c.group}/{c.n}": c for c in cases}
    first = [by_key[h] for h in hints if h in by_key]
    rest = sorted((c for c in cases if c not in first), key=lambda c: (seconds.get(c.id, 0.0), c.id))
    return first + rest


def run_mutant(transport, name, cases, run_case, ctx):
    """Run cases against the mutant until one FAILs. -> result dict."""
    argv = adapter_argv() + ["--mutant", name]
    t0 = time.monotonic()
    ran = 0
    for c in cases:
        r = run_case(c, argv, ctx)
        ran += 1
        if r["verdict"] == "FAIL":
            return {"transport": transport, "mutant": name, "status": "killed", "killed_by": r["id"],
                    "level": r["level"], "detail": r.get("detail", ""), "cases_run": ran,
                    "seconds": round(time.monotonic() - t0, 1)}
    return {"transport": transport, "mutant": name, "status": "survived", "killed_by": None,
            "cases_run": ran, "seconds": round(time.monotonic() - t0, 1)}


def scores(results, transports):
    """{transport: {"killed", "survived", "equivalent", "total", "score"}};
    score in percent of the non-equivalent mutants (None when there are none)."""
    out = {}
    for t in transports:
        rs = [r for r in results if r["transport"] == t]
        killed = sum(r["status"] == "killed" for r in rs)
        survived = sum(r["status"] == "survived" for r in rs)
        equivalent = sum(r["status"] == "equivalent" for r in rs)
        counted = killed + survived
        out[t] = {"killed": killed, "survived": survived, "equivalent": equivalent, "total": len(rs),
                  "score": round(100.0 * killed / counted, 1) if counted else None}
    return out


def below(score_table, min_kill):
    """Transports whose score is under min_kill (or that have no mutant)."""
    return [t for t, s in score_table.items() if s["score"] is None or s["score"] < min_kill]


def line(r):
    head = f"  {r['transport']:<5} {r['mutant']:<30}"
    if r["status"] == "killed":
        return f"{head} killed by {r['killed_by']} ({r['level']}) after {r['cases_run']} case(s), {r['seconds']} s"
    if r["status"] == "equivalent":
        return f"{head} equivalent (not scored): {r['reason']}"
    return f"{head} SURVIVED {r['cases_run']} case(s): the suite has a gap"


def score_lines(score_table, min_kill):
    out = []
    for t, s in score_table.items():
        pct = "n/a" if s["score"] is None else f"{s['score']:.1f} %"
        bad = s["score"] is None or s["score"] < min_kill
        out.append(f"  {t:<5} kill score {pct} ({s['killed']} of {s['killed'] + s['survived']} killed, "
                   f"{s['equivalent']} equivalent){'  UNDER ' + format(min_kill, 'g') + ' %' if bad else ''}")
    return out


def main(a, cases, run_all, run_case, ctx):
    """cases: the selected catalogue (protocol scope). -> exit status."""
    M = mutants_module()
    transports = [t for t in ("tcp", "tls", "mqtt", "grpc") if any(c.transport == t for c in cases)]
    wanted = set(a.mutant or [])
    unknown = wanted - set(M.MUTANTS)
    if unknown:
        print(f"nq-conformance: --self-test: unknown mutant(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    missing = prerequisites(transports)
    if missing:
        print(f"self-test: FAIL: missing {'; '.join(missing)}")
        return 1
    ctx = dict(ctx, strict=True, expected=None, step_timeout=STEP_TIMEOUT)
    t0 = time.monotonic()

    print(f"self-test: the unmutated implementation (mini) on {','.join(transports)}: {len(cases)} cases",
          flush=True)
    base = run_all(cases, adapter_argv(), ctx, a.jobs, a.progress)
    bad = [r for r in base if r["verdict"] in ("FAIL", "UNSUPPORTED")]
    if bad:
        sys.stdout.write(report.summary(base, "mini (unmutated)", [r["id"] for r in bad], [],
                                        wire_logs=not a.quiet))
        print("self-test: FAIL: the unmutated implementation must pass every case (or a prerequisite "
              "is missing); mutants not run")
        write_json(a, {"baseline": baseline_doc(base, bad), "mutants": [], "scores": {},
                       "min_kill": a.min_kill, "ok": False})
        return 1
    print(f"self-test: unmutated implementation passed {len(base)} cases "
          f"({time.monotonic() - t0:.1f} s)", flush=True)
    seconds = {r["id"]: r["seconds"] for r in base}

    jobs, results = [], []
    for t in transports:
        tcases = [c for c in cases if c.transport == t]
        for name in M.for_transport(t):
            if wanted and name not in wanted:
                continue
            why = M.equivalent(t, name)
            if why:
                results.append({"transport": t, "mutant": name, "status": "equivalent", "reason": why})
                continue
            jobs.append((t, name, order_cases(tcases, M.MUTANTS[name][2].split(), seconds)))
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        futs = [pool.submit(run_mutant, t, n, cs, run_case, ctx) for t, n, cs in jobs]
        for fut in concurrent.futures.as_completed(futs):
            r = fut.result()
            results.append(r)
            print(line(r), flush=True)
    order = {(t, n): i for i, (t, n) in enumerate(
        (t, n) for t in transports for n in M.for_transport(t))}
    results.sort(key=lambda r: order[(r["transport"], r["mutant"])])
    for r in results:
        r["description"] = M.MUTANTS[r["mutant"]][1]

    table = scores(results, transports)
    print("\nself-test: mutants per transport")
    for r in results:
        print(line(r))
    print("")
    for s in score_lines(table, a.min_kill):
        print(s)
    low = below(table, a.min_kill)
    ok = not low
    print(f"\nself-test: {'OK' if ok else 'FAIL: kill score under ' + format(a.min_kill, 'g') + ' % on ' + ', '.join(low)}"
          f" ({time.monotonic() - t0:.1f} s)")
    write_json(a, {"baseline": baseline_doc(base, []), "mutants": results, "scores": table,
                   "min_kill": a.min_kill, "ok": ok})
    return 0 if ok else 1


def prerequisites(transports):
    """What mini and the scripted peers need for these transports and do
    not have (mini runs with this Python)."""
    import importlib.util
    import shutil
    out = []
    if "mqtt" in transports:
        if importlib.util.find_spec("paho") is None:
            out.append(f"paho-mqtt in {sys.executable} (for MQTT; .venv-ref has it: scripts/setup.sh)")
        if not shutil.which("mosquitto") and not os.path.exists("/usr/sbin/mosquitto"):
            out.append("mosquitto (for MQTT; apt-get install mosquitto)")
    if "grpc" in transports and importlib.util.find_spec("grpc") is None:
        out.append(f"grpcio in {sys.executable} (for gRPC; .venv-ref has it: scripts/setup.sh)")
    return out


def baseline_doc(base, bad):
    return {"cases": len(base), "counts": {t: dict(c) for t, c in report.counts(base).items()},
            "failures": [{"id": r["id"], "verdict": r["verdict"], "detail": r.get("detail", "")} for r in bad]}


def write_json(a, doc):
    if a.json:
        import json
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"implementation": "mini (self-test)", "self_test": doc}, f, indent=1)
