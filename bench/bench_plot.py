"""PNG charts of bench/run.py and bench/scale.py results (matplotlib).

Imported only for --plot / --plot-from, so nothing else needs matplotlib.
Get it from PyPI into a virtual environment:

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r bench/requirements.txt
    .venv-bench/bin/python bench/run.py --quick --plot
"""

import sys
from pathlib import Path

MIB = 1 << 20
MARKERS = "osD^vx*+"


def require_matplotlib():
    """Exit 2 with how to get matplotlib if this Python lacks it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        here = Path(__file__).resolve().parent
        sys.exit(
            f"--plot needs matplotlib, which {sys.executable} does not have.\n"
            f"It comes from PyPI; install it into a virtual environment and run the script with that Python:\n"
            f"    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r {here / 'requirements.txt'}\n"
            f"    .venv-bench/bin/python {here / 'run.py'} --plot ...   (or {here / 'scale.py'} --plot ...)\n"
            f"A finished run can be charted later: run.py --plot-from bench/results/latest.json "
            f"(scale.py --plot-from bench/results/scale.json).")
    import matplotlib
    matplotlib.use("Agg")


def _label(size):
    for unit, mult in (("MiB", MIB), ("KiB", 1 << 10)):
        if size >= mult and size % mult == 0:
            return f"{size // mult} {unit}"
    return f"{size} B"


def _size_axis(ax, sizes):
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([_label(s) for s in sizes], rotation=45, ha="right")
    ax.minorticks_off()
    ax.grid(True, which="major", alpha=0.3)


def _series(rows, mode, impl, key):
    pts = sorted((r["size"], r.get(key)) for r in rows
                 if r["mode"] == mode and r["impl"] == impl and isinstance(r["size"], int) and r.get(key))
    return [p[0] for p in pts], [p[1] for p in pts]


def _title(results):
    m = results.get("meta", {})
    load = m.get("loadavg_start") or m.get("loadavg")
    load = f", load {load[0]:.1f}" if load else ""
    return f"git {m.get('git', '?')}, {m.get('cpus', '?')} CPUs, {m.get('reps', '?')} reps{load} ({m.get('date', '')})"


def plot_results(results, outdir):
    """Charts of a run.py result: throughput, RTT, RSS, per-message costs.
    Fixed sizes only ('mixed' is in the tables). Returns the paths written."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = results["summary"]
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    tmodes = [m for m in modes if m != "pingpong"]
    written = []

    def finish(fig, name, title):
        fig.suptitle(f"{title}\n{_title(results)}", fontsize=10)
        fig.tight_layout()
        path = outdir / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    def panel(ax, mode, key, ylabel, log=True, styles=None, scale=1.0):
        sizes = set()
        for k, impl in enumerate(impls):
            for ls, key2, suffix in styles or (("-", key, ""),):
                x, y = _series(rows, mode, impl, key2)
                if not x:
                    continue
                sizes.update(x)
                ax.plot(x, [v * scale for v in y], ls, marker=MARKERS[k % len(MARKERS)],
                        label=impl + suffix, color=f"C{k}")
        if sizes:
            _size_axis(ax, sorted(sizes))
        if log:
            ax.set_yscale("log")
            plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_ylabel(ylabel)
        ax.set_title(mode, fontsize=10)
        ax.legend(fontsize=7)

    if tmodes:
        fig, axes = plt.subplots(2, len(tmodes), figsize=(5 * len(tmodes), 8), squeeze=False)
        for j, mode in enumerate(tmodes):
            panel(axes[0][j], mode, "gbit_per_s", "Gbit/s")
            panel(axes[1][j], mode, "msgs_per_s", "messages/s")
        finish(fig, "throughput.png", "Throughput vs message size (medians)")

    if "pingpong" in modes:
        fig, ax = plt.subplots(figsize=(7, 5))
        panel(ax, "pingpong", None, "round trip, us",
              styles=(("-", "lat_p50_us", " p50"), ("--", "lat_p99_us", " p99")))
        finish(fig, "rtt.png", "Ping-pong round trip: p50 (solid), p99 (dashed)")

    ncols = min(2, len(modes))
    nrows = (len(modes) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 4.8 * nrows), squeeze=False)
    for j, mode in enumerate(modes):
        ax = axes[j // ncols][j % ncols]
        panel(ax, mode, None, "peak RSS, MiB", scale=1 / 1024,
              styles=(("-", "rss_server_kb", " server"), ("--", "rss_client_kb", " client")))
        if j:
            ax.get_legend().remove()
    for j in range(len(modes), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    finish(fig, "rss.png", "Peak RSS (VmHWM): server (solid), client (dashed)")

    keys = [("cpu_us_per_msg", "CPU us / message"), ("syscalls_per_msg", "syscalls / message"),
            ("ctxsw_per_msg", "context switches / message")]
    fig, axes = plt.subplots(len(keys), len(modes), figsize=(5 * len(modes), 11), squeeze=False)
    for i, (key, ylabel) in enumerate(keys):
        for j, mode in enumerate(modes):
            panel(axes[i][j], mode, key, ylabel)
    finish(fig, "costs.png", "Cost per delivered message, client + server processes")
    return written


def plot_scale(results, outdir):
    """Charts of a scale.py result: deliveries/s and server RSS against the
    number of clients, one line per (size, workers)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = [r for r in results["summary"] if r.get("deliveries_per_s")]
    written = []
    for kind in ("fanin", "broadcast"):
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        groups = sorted({(r["size"], r["workers"]) for r in rs})
        clients = sorted({r["clients"] for r in rs})
        for k, (size, workers) in enumerate(groups):
            pts = sorted((r["clients"], r["deliveries_per_s"], r.get("rss_server_kb") or 0) for r in rs
                         if r["size"] == size and r["workers"] == workers)
            style = "-" if workers == 1 else "--"
            label = f"{_label(size)}, workers {workers}"
            color = f"C{sorted({g[0] for g in groups}).index(size)}"
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", color=color, label=label)
            axes[1].plot([p[0] for p in pts], [p[2] / 1024 for p in pts], style, marker="o", color=color,
                         label=label)
        for ax, ylabel in ((axes[0], "deliveries/s"), (axes[1], "server peak RSS, MiB")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
            ax.set_xticks(clients)
            ax.set_xticklabels([str(c) for c in clients])
            ax.minorticks_off()
            ax.set_xlabel("clients")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        what = "clients -> one server" if kind == "fanin" else "server broadcast -> clients"
        fig.suptitle(f"{what}: workers 1 (solid), 2 (dashed)\n{_title(results)}", fontsize=10)
        fig.tight_layout()
        path = outdir / f"scale-{kind}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
