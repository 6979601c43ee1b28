"""Coverage: how much of the selected catalogue an adapter answered.

A run in which every case, or every case of one role, came back
UNSUPPORTED checked nothing there; reporting "OK" for it would tell a
third party their implementation conforms when the suite never talked to
it. The runner turns such a run into a failure (docs/conformance.md,
"Coverage") unless told the gap is intended (--allow-unsupported).
"""


def role_of(case_result):
    # A "both" case runs the implementation as the server (script.start_impl).
    return "server" if case_result["role"] == "both" else case_result["role"]


def table(results):
    """{scope: (answered, selected)} for "all" and each role present."""
    rows = {"all": [0, 0]}
    for r in results:
        for scope in ("all", role_of(r)):
            row = rows.setdefault(scope, [0, 0])
            row[1] += 1
            if r["verdict"] != "UNSUPPORTED":
                row[0] += 1
    return {k: tuple(v) for k, v in rows.items()}


def shortfalls(results, min_percent=0.0):
    """Messages, one per scope whose coverage is too low: none answered, or
    fewer than min_percent % of its cases. Empty when coverage is fine."""
    out = []
    for scope, (answered, selected) in table(results).items():
        if not selected:
            continue
        pct = 100.0 * answered / selected
        if answered == 0 or pct < min_percent:
            what = "case" if scope == "all" else f"{scope}-role case"
            out.append(f"{answered} of {selected} selected {what}s answered ({pct:.0f}%"
                       + (f", below --min-coverage {min_percent:g}%" if answered else "")
                       + "): the rest were UNSUPPORTED (adapter exit 127)")
    return out
