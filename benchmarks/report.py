"""The report: the machine's stamp, the result table (plain text and Markdown), the issue's targets, and the JSON.

Values are stored in base units (seconds, bytes, fractions) and formatted here only.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

from . import peers
from .harness import THREAD_VARIABLES, Row

__all__ = ["environment", "format_value", "table_lines", "target_lines", "markdown", "evaluate_targets", "TARGETS"]

MIB = 1024 ** 2

# (what, workload, case or None for its only case, implementation, metric, reference implementation or None
#  for an absolute goal, comparison, goal, unit of an absolute goal)
TARGETS = [
    ("seed step f64: graphgrad / hand-written", "seed-step", "f64", "graphgrad", "step", "hand-written",
     "<=", 0.90, None),
    ("seed step f32: graphgrad / PyTorch f32", "seed-step", "f32", "graphgrad", "step", "PyTorch f32",
     "<=", 1.0, None),
    ("wide MLP: graphgrad / hand-written", "wide-mlp", None, "graphgrad", "step", "hand-written", "<=", 1.03, None),
    ("scalar chain per op (build + backward): graphgrad / micrograd", "scalar-chain", None, "graphgrad", "total",
     "micrograd", "<=", 0.5, None),
    ("micrograd demo step: graphgrad scalars / micrograd", "micrograd-demo", None, "graphgrad scalars", "step",
     "micrograd", "<=", 0.30, None),
    ("micrograd demo step, collector off: graphgrad scalars / micrograd", "micrograd-demo", None,
     "graphgrad scalars", "step, collector off", "micrograd", "<=", 1.0, None),
    ("1M-op chain build + backward: graphgrad / PyTorch", "million-chain", None, "graphgrad", "build + backward",
     "PyTorch", "<=", 0.5, None),
    ("1M-op chain peak memory per op", "million-chain", None, "graphgrad", "peak memory", None, "<=", 600.0, "B/op"),
    ("full recipe test accuracy", "seed-recipe", None, "graphgrad", "test accuracy", None, ">=", 0.970, "fraction"),
    ("full recipe loop time: graphgrad / hand-written", "seed-recipe", None, "graphgrad", "loop time",
     "hand-written", "<=", 0.90, None),
    ("RSS growth over the steps, gc off", "rss-growth", None, "graphgrad", "growth", None, "<", 5.0 * MIB, "B"),
    ("SimpleConvNet step f64: graphgrad / hand-written", "convnet-step", "f64", "graphgrad", "step", "hand-written",
     "<=", 0.90, None),
    ("SimpleConvNet step f32: graphgrad / hand-written", "convnet-step", "f32", "graphgrad", "step", "hand-written",
     "<=", 0.90, None),
    ("in-place guard, the seed's step (f32 images, f64 weights): guard on / off", "guard-cost", "book", "guard on",
     "step", "guard off", "<=", 1.02, None),
    ("in-place guard, seed step f64: guard on / off", "guard-cost", "f64", "guard on", "step", "guard off",
     "<=", 1.02, None),
    ("in-place guard, seed step f32: guard on / off", "guard-cost", "f32", "guard on", "step", "guard off",
     "<=", 1.02, None),
    ("in-place guard, SGD step f64: guard on / off", "guard-cost", "f64 SGD", "guard on", "step", "guard off",
     "<=", 1.02, None),
]
COMPARE = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # older NumPy: no dict form; the version stamp still says which NumPy it is
        return "unknown (numpy.show_config has no dict form here)"
    detail = blas.get("openblas configuration", "")
    return f"{blas.get('name', '?')} {blas.get('version', '')}" + (f" ({detail.strip()})" if detail else "")


def _threads() -> dict:
    threads = {"os.cpu_count": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        threads["usable cores"] = len(os.sched_getaffinity(0))
    for name in THREAD_VARIABLES:
        threads[name] = os.environ.get(name, "unset")
    try:
        from threadpoolctl import threadpool_info
        threads["threadpoolctl"] = [f"{p.get('internal_api')} {p.get('version')}: {p.get('num_threads')} threads"
                                    for p in threadpool_info()]
    except ImportError:
        threads["threadpoolctl"] = "not installed (OpenBLAS then uses one thread per core unless the variables say)"
    torch = peers.load("torch")
    if torch.available:
        threads["torch"] = torch.module.get_num_threads()
    return threads


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "autograd", "nn", "benchmarks"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" (with uncommitted changes in autograd/, nn/ or benchmarks/)" if dirty else "")


def load_average() -> list | None:
    """The 1, 5 and 15 minute load averages, rounded (other processes share the machine: the ratios are paired)."""
    return [round(load, 2) for load in os.getloadavg()] if hasattr(os, "getloadavg") else None


def environment() -> dict:
    """Where and with what the run happened: date, CPU, Python, NumPy, BLAS, threads, peers, graphgrad commit, load."""
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "numpy": np.__version__,
        "blas": _blas(),
        "threads": _threads(),
        "peers": {peer.name: (peer.version if peer.available else f"not installed ({peer.reason})")
                  for peer in map(peers.load, peers.PEERS)},
        "graphgrad commit": _git_commit(),
        "load average at start": load_average(),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks", *sys.argv[1:]]),
    }


def _time(seconds: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if abs(seconds) >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds} s"  # unreachable: the loop ends on ns


def _bytes(count: float) -> str:
    for scale, unit in ((1024 ** 3, "GiB"), (MIB, "MiB"), (1024, "KiB")):
        if abs(count) >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count:.0f} B"


def format_value(value: float | None, unit: str) -> str:
    """A value in its unit, scaled for reading.

    >>> format_value(0.00123, "s"), format_value(2.5e-6, "s/op"), format_value(5 * MIB, "B")
    ('1.23 ms', '2.5 µs/op', '5 MiB')
    >>> format_value(0.9712, "fraction"), format_value(None, "s")
    ('97.12%', '—')
    """
    if value is None:
        return "—"
    if unit == "s":
        return _time(value)
    if unit == "s/op":
        return _time(value) + "/op"
    if unit == "B":
        return _bytes(value)
    if unit == "B/op":
        return f"{value:.0f} B/op"
    if unit == "fraction":
        return f"{100 * value:.2f}%"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.4g} {unit}"


def _ratio(row: Row) -> str:
    if row.status != "ok" or row.ratio is None:
        return "—"
    if row.implementation == row.baseline:
        return "1 (baseline)"
    if row.ratio_low is None or row.ratio_low == row.ratio_high:
        return f"{row.ratio:.3f}"
    return f"{row.ratio:.3f} ({row.ratio_low:.2f}–{row.ratio_high:.2f})"


HEADER = ("workload", "case", "implementation", "metric", "median", "min–max", "× baseline (paired, range)")


def _spread(row: Row) -> str:
    """``low–high unit`` when both share a unit suffix (``2.17–2.39 µs/op``), else both in full."""
    if row.samples < 2:
        return "—"
    low, high = format_value(row.low, row.unit), format_value(row.high, row.unit)
    low_number, _, low_unit = low.partition(" ")
    high_number, _, high_unit = high.partition(" ")
    return f"{low_number}–{high_number} {low_unit}".rstrip() if low_unit == high_unit else f"{low}–{high}"


def _cells(row: Row) -> tuple:
    if row.status != "ok":
        return (row.workload, row.case, row.implementation, row.metric, row.status, "", "—")
    spread = _spread(row)
    return (row.workload, row.case, row.implementation, row.metric, format_value(row.median, row.unit), spread,
            _ratio(row))


def table_lines(rows: list) -> list:
    """The rows as an aligned plain-text table (workload and case printed only where they change)."""
    cells = [list(_cells(row)) for row in rows]
    previous = (None, None)
    for line in cells:
        current = (line[0], line[1])
        if current == previous:
            line[0] = line[1] = ""
        elif current[0] == previous[0]:
            line[0] = ""
        previous = current
    widths = [max(len(str(c)) for c in column) for column in zip(HEADER, *cells)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*HEADER), fmt.format(*("-" * w for w in widths))] + [fmt.format(*c).rstrip() for c in cells]


def _find(rows, workload, case, implementation, metric):
    for row in rows:
        if (row.workload, row.implementation, row.metric) == (workload, implementation, metric) and \
                (case is None or row.case == case) and row.status == "ok":
            return row
    return None


def evaluate_targets(rows: list) -> list:
    """Each of the issue's targets with what this run measured and whether it is met (or why it was not measured)."""
    results = []
    for what, workload, case, implementation, metric, reference, comparison, goal, unit in TARGETS:
        shown_goal = f"{comparison} {goal:g}×" if reference else f"{comparison} {format_value(goal, unit)}"
        row = _find(rows, workload, case, implementation, metric)
        measured = None if row is None else row.ratio_to.get(reference) if reference else row.median
        if measured is None:
            missing = implementation if row is None else reference
            results.append({"target": what, "goal": shown_goal, "measured": None, "shown": "—",
                            "status": f"not measured ({missing} has no result in {workload})"})
            continue
        if COMPARE[comparison](measured, goal):
            status = "met"
        elif comparison == ">=" and unit == "fraction":
            status = f"not met (short by {100 * (goal - measured):.2f} points)"
        elif comparison == ">=":
            status = f"not met (short by {format_value(goal - measured, unit)})"
        else:
            status = f"not met ({100 * (measured / goal - 1):.1f}% over)"
        shown = f"{measured:.3f}×" if reference else format_value(measured, unit)
        results.append({"target": what, "goal": shown_goal, "measured": measured, "shown": shown, "status": status})
    return results


def target_lines(targets: list) -> list:
    """The targets as aligned plain-text lines: what, goal, measured, status."""
    width = max(len(t["target"]) for t in targets)
    return [f"{t['target']:<{width}}  {t['goal']:<10}  {t['shown']:<10}  {t['status']}" for t in targets]


def markdown(result: dict) -> str:
    """The whole report as Markdown: stamp, table, targets, notes."""
    env = result["environment"]
    lines = [f"# graphgrad benchmarks, {env['date'][:10]}{' (quick)' if result['quick'] else ''}", "",
             f"`{env['command']}`, graphgrad {env['graphgrad commit']}", "",
             f"- CPU: {env['cpu']}; load average (1, 5, 15 min) at start {env['load average at start']}, "
             f"at end {env.get('load average at end')}",
             f"- {env['python']} on {env['platform']}; NumPy {env['numpy']}; BLAS {env['blas']}",
             "- threads: " + "; ".join(f"{k} {v}" for k, v in env["threads"].items()),
             "- peers: " + "; ".join(f"{k} {v}" for k, v in env["peers"].items()), "",
             "Medians over paired rounds (every implementation once per round, in turn), min–max over rounds; "
             "× baseline is the median of the per-round ratios to the baseline of the same round.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(str(c) for c in _cells(Row(**row))) + " |" for row in result["rows"]]
    lines += ["", "## Targets (issue 5 §2; the scalar ones of issue 10; the in-place guard's of issue 8)" + (" — quick run: sizes differ, for information only"
                                               if result["quick"] else ""), "",
              "| target | goal | measured | status |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['goal']} | {t['shown']} | {t['status']} |" for t in result["targets"]]
    lines += ["", "## Notes", ""]
    for name, workload in result["workloads"].items():
        lines += [f"- {note}" for note in workload["notes"]]
        lines.append(f"- {name}: {workload['seconds']:.1f} s")
    return "\n".join(lines) + "\n"
