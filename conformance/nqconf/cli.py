"""nq-conformance: run the catalogue against an implementation's adapter."""
import argparse
import concurrent.futures
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time

from . import catalogue, coverage, html_report, report
from .adapter import AdapterError, Incompatible, Retry, Unsupported
from .script import Run, StepFailed
from .verdict import Expected, judge, verdict

# Starts of one case when its adapter reports a transient start failure
# (exit 75 before ready). The reference's client constructor race, about
# 1 in 30 starts alone, failed three starts in a row once in a fresh-clone
# CI run with the machine loaded: 5 keeps that under 1 in 10^6.
START_ATTEMPTS = 5

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_peer(case, ctx, log):
    if case.transport in ("tcp", "tls"):
        from .peer_tcp import Peer
        return Peer(case.transport, case.role, ctx["certs"], log)
    if case.transport == "mqtt":
        from .peer_mqtt import Peer
        return Peer(case.transport, case.role, ctx["certs"], log)
    if case.transport == "grpc":
        from .peer_grpc import Peer
        return Peer(case.transport, case.role, ctx["certs"], log)
    raise Unsupported(f"this suite has no scripted {case.transport} peer")


def run_case(case, argv, ctx):
    """-> result dict."""
    lines = []
    t0 = time.monotonic()

    def log(msg):
        lines.append(f"{time.monotonic() - t0:7.3f} {msg}")

    outcome, detail, run = "pass", "", None
    for attempt in range(START_ATTEMPTS):
        if ctx.get("refused"):  # an earlier case found the adapter incompatible
            outcome, detail = "fail", ctx["refused"]
            break
        if outcome == "unsupported":
            break
        outcome, detail, run = "pass", "", None
        try:
            peer = make_peer(case, ctx, log)
            run = Run(case, argv, peer, log)
            known = ctx["expected"].by_id.get(case.id) if ctx.get("expected") else None
            if known and known.get("step_timeout"):
                run.step_timeout = float(known["step_timeout"])
            elif ctx.get("step_timeout"):  # --self-test
                run.step_timeout = float(ctx["step_timeout"])
            box = {}

            def body():
                try:
                    run.run()
                except BaseException as e:  # reported below
                    box["e"] = e
            t = threading.Thread(target=body, daemon=True)
            t.start()
            t.join(case.timeout + 15)
            if t.is_alive():
                raise StepFailed(f"case did not finish within {case.timeout + 15} s")
            if "e" in box:
                raise box["e"]
        except Retry as e:
            outcome, detail = "fail", str(e)
            log(f"attempt {attempt + 1}: {e}: starting the case again")
            continue
        except Unsupported as e:
            outcome, detail = "unsupported", str(e)
        except Incompatible as e:  # no case can run: main() ends the run with exit 2
            outcome, detail = "fail", str(e)
            ctx["refused"] = detail
        except (StepFailed, AdapterError) as e:
            outcome, detail = "fail", str(e)
        except Exception as e:  # a peer's own error is the case failing, never the run
            outcome, detail = "fail", f"{type(e).__name__}: {e}"
        finally:
            if run:
                run.cleanup()
                if run.adapter and run.adapter.warning:
                    ctx["warnings"].add(run.adapter.warning)
        break
    log(f"outcome: {outcome} {detail}")
    v = verdict(case.level, outcome, ctx["strict"])
    r = case.as_dict()
    r.update(verdict=v, outcome=outcome, detail=detail,
             seconds=round(time.monotonic() - t0, 3))
    # A case the expected-failures file lists keeps its log even when it
    # passes, so that a STALE cell in the HTML report can show what passed.
    recorded = ctx["expected"] and case.id in ctx["expected"].by_id
    if v in ("FAIL", "NON-STRICT", "INFORMATIONAL") or ctx["all_logs"] or recorded:
        r["wire_log"] = lines
    return r


def certs_dir(given):
    if given:
        return given
    d = os.path.join(tempfile.gettempdir(), f"nq-conformance-certs-{os.getuid()}")
    script = os.path.join(HERE, "..", "tests", "support", "make-certs.sh")
    subprocess.run(["bash", script, d], check=True)
    return d


def main(argv=None):
    p = argparse.ArgumentParser(prog="nq-conformance", description=__doc__)
    p.add_argument("--adapter", help="adapter command line (shell words), e.g. 'nq adapter'")
    p.add_argument("--name", help="implementation name for the report")
    p.add_argument("--transport", action="append", default=[],
                   help="tcp, tls, mqtt, grpc (repeatable or comma-separated; default all)")
    p.add_argument("--case", action="append", default=[], metavar="PREFIX",
                   help="only case ids starting with PREFIX (repeatable)")
    p.add_argument("--strict", action="store_true", help="a failing SHOULD case is FAIL")
    p.add_argument("--scope", choices=catalogue.SCOPES, default="netqueue",
                   help="requirement level: protocol (what any peer needs to interoperate with "
                        "the reference) or netqueue (that plus netqueue's own guarantees; default)")
    p.add_argument("--list", action="store_true", help="print the catalogue and exit")
    p.add_argument("--catalogue", default=os.path.join(HERE, "cases"))
    p.add_argument("--expected", help="expected-failures file (deviations.json, known-failures-*.json)")
    p.add_argument("--certs", help="test certificates (tests/support/make-certs.sh); default: made in /tmp")
    p.add_argument("--json", help="write the JSON report here")
    p.add_argument("--junit", help="write JUnit XML here")
    p.add_argument("--html", help="write the HTML report here (a self-contained page)")
    p.add_argument("--from", dest="from_json", nargs="+", metavar="JSON",
                   help="with --html: make the page from these JSON reports (--json) and run nothing")
    p.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    p.add_argument("--all-logs", action="store_true", help="keep the wire log of every case")
    p.add_argument("--quiet", action="store_true", help="no wire logs in the summary")
    p.add_argument("--allow-unsupported", action="store_true",
                   help="do not fail a run whose coverage is too low (every case, or every case "
                        "of a role, UNSUPPORTED)")
    p.add_argument("--min-coverage", type=float, default=0.0, metavar="PERCENT",
                   help="fail unless at least PERCENT %% of the selected cases, and of each role's, "
                        "are answered (not UNSUPPORTED); default 0: fail only when none are")
    p.add_argument("--self-test", action="store_true",
                   help="mutation testing of the suite: run the independent implementation "
                        "(conformance/selftest/mini) and each of its one-bug mutants, report kill scores")
    p.add_argument("--min-kill", type=float, default=95.0, metavar="PERCENT",
                   help="--self-test fails when a transport's kill score is under PERCENT (default 95)")
    p.add_argument("--mutant", action="append", default=[], metavar="NAME",
                   help="--self-test: only these mutants (repeatable)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="print a line per case as it finishes (default: when stdout is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(progress=None)
    a = p.parse_args(argv)
    if a.from_json is not None:
        if not a.html or a.adapter or a.list:
            p.error("--from makes the HTML report of earlier runs: it needs --html and runs "
                    "nothing (no --adapter, no --list)")
        try:
            return html_report.from_files(a.html, a.from_json)
        except (html_report.ReportError, OSError) as e:
            print(f"nq-conformance: --from: {e}", file=sys.stderr)
            return 2

    try:
        cases = catalogue.load(a.catalogue)
    except catalogue.CatalogueError as e:
        print(f"nq-conformance: catalogue: {e}", file=sys.stderr)
        return 2
    transports = [t for s in a.transport for t in s.split(",") if t]
    bad = [t for t in transports if t not in catalogue.TRANSPORTS]
    if bad:
        p.error(f"unknown transport {bad[0]}")
    cases = catalogue.select(cases, transports, a.case, a.scope)
    if a.list:
        for c in cases:
            print(f"{c.id:<22} {c.level:<6} {c.scope:<8} {c.role:<6} {c.dialect:<7} {c.clause:<10} "
                  f"{c.description} [{', '.join(c.rules)}]")
        print(f"{len(cases)} cases")
        return 0
    if a.self_test:
        from . import selftest
        cases = catalogue.select(cases, transports, a.case, "protocol")
        if not cases:
            p.error("no case selected")
        a.progress = sys.stdout.isatty() if a.progress is None else a.progress
        ctx = {"certs": certs_dir(a.certs) if any(c.transport == "tls" for c in cases) else None,
               "expected": None, "strict": True, "all_logs": False}
        return selftest.main(a, cases, run_all, run_case, ctx)
    if not a.adapter:
        p.error("--adapter is required (or --list, or --self-test)")
    if not cases:
        p.error("no case selected")
    argv_impl = shlex.split(a.adapter)
    name = a.name or os.path.basename(argv_impl[0])
    expected = Expected.load(a.expected) if a.expected else None
    ctx = {"certs": certs_dir(a.certs) if any(c.transport == "tls" for c in cases) else None,
           "expected": expected, "strict": a.strict, "all_logs": a.all_logs, "warnings": set()}
    progress = sys.stdout.isatty() if a.progress is None else a.progress
    t0 = time.monotonic()
    results = run_all(cases, argv_impl, ctx, a.jobs, progress)
    if ctx.get("refused"):
        print(f"nq-conformance: adapter refused: {ctx['refused']}", file=sys.stderr)
        return 2
    unexpected, stale = judge(results, expected)
    short = [] if a.allow_unsupported else coverage.shortfalls(results, a.min_coverage)
    sys.stdout.write(report.summary(results, name, unexpected, stale, wire_logs=not a.quiet,
                                    coverage_short=short))
    for w in sorted(ctx["warnings"]):
        print(f"WARNING: {w}")
    print(f"({len(results)} cases in {time.monotonic() - t0:.1f} s)")
    meta = {"adapter": a.adapter, "strict": a.strict, "scope": a.scope, "unexpected_failures": unexpected,
            "stale_expected_failures": stale,
            "coverage": {k: {"answered": v[0], "selected": v[1]}
                         for k, v in coverage.table(results).items()},
            "coverage_shortfalls": short, "warnings": sorted(ctx["warnings"])}
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            f.write(report.to_json(results, name, meta))
    if a.junit:
        with open(a.junit, "w", encoding="utf-8") as f:
            f.write(report.to_junit(results, name))
    if a.html:
        html_report.write(a.html, [report.as_dict(results, name, meta)])
    return 1 if unexpected or stale or short else 0


def run_all(cases, argv_impl, ctx, jobs, progress):
    """Results in catalogue order; with progress, one line per case on
    stdout as it finishes (completion order, flushed at once)."""
    results = [None] * len(cases)
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        futs = {pool.submit(run_case, c, argv_impl, ctx): i for i, c in enumerate(cases)}
        for fut in concurrent.futures.as_completed(futs):
            r = results[futs[fut]] = fut.result()
            done += 1
            if progress:
                print(f"[{done}/{len(cases)}] {r['id']:<22} {r['verdict']:<13} {r['seconds']:6.1f} s",
                      flush=True)
    return results


if __name__ == "__main__":  # python3 -m nqconf.cli
    sys.exit(main())
