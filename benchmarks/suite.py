"""The suite: issue 5's seven workloads in order, then issue 9's convnet step; the command line (`python -m benchmarks`),
and ``--profile``.

``python -m benchmarks`` runs every workload, prints one table and the issue's targets, and writes the
same as Markdown and JSON to ``benchmarks/results/<date>.md|json`` (``--quick``: ``<date>-quick``).
Benchmarks report; they assert nothing about timings (the tests do the asserting).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import json
import pstats
import sys
import time
import traceback
from pathlib import Path

from . import convnet, memory, peers, report, scalar, training
from .harness import Outcome, Row, Settings, set_thread_variables

__all__ = ["WORKLOADS", "main", "run", "profile_summary"]

WORKLOADS = {
    "seed-step": ("the seed's training step, 784-50-10, batch 100, f64 and f32", training.seed_step),
    "wide-mlp": ("a wide MLP, 784-1000-1000-10, batch 256, f64", training.wide_mlp),
    "scalar-chain": ("the scalar chain y = y * a + c: per op, build and backward", scalar.scalar_chain),
    "micrograd-demo": ("micrograd's MLP(2, [16, 16, 1]) demo step on 100 points", scalar.micrograd_demo),
    "million-chain": ("a 1,000,000-op scalar chain: time and peak memory per op", memory.million_chain),
    "seed-recipe": ("the seed's full recipe, 10,000 steps: time and test accuracy", training.seed_recipe),
    "rss-growth": ("resident memory growth over 10,000 training steps, gc disabled", memory.rss_growth),
    "convnet-step": ("the book's SimpleConvNet training step, batch 100, f64 and f32", convnet.convnet_step),
    "guard-cost": ("the seed's step with the in-place guard on and off, same process", training.guard_cost),
}
"""Name -> (what it measures, the function running it). Issue 5's workloads 1 to 7 in its order, issue 9's, then
the cost of issue 8's in-place guard."""

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="graphgrad's benchmarks against the seed's hand-written layers, PyTorch and micrograd: one "
                    "table of paired, interleaved measurements, also written as Markdown and JSON.")
    parser.add_argument("--quick", action="store_true", help="CI-sized workloads (well under a minute in all)")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), metavar="NAME",
                        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="paired rounds per workload (default: each workload's own; the recipe runs once)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"folder for the Markdown and JSON ({RESULTS})")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="BLAS and PyTorch threads (sets OPENBLAS/OMP/MKL_NUM_THREADS; for NumPy it takes effect "
                             "on the command line, before NumPy loads; default: the libraries' own)")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, profile graphgrad's side of the workloads run (cProfile, top functions)")
    args = parser.parse_args(argv)
    for option in ("repeats", "threads"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1, got {getattr(args, option)}")
    return args


def run(names, settings: Settings, log=print) -> tuple[dict, list, dict]:
    """Run the named workloads; return their summaries, all rows, and the profile targets they offer.

    A workload that fails is reported as one ``error`` row with the exception, and the others still run.
    """
    summaries, rows, targets = {}, [], {}
    for name in names:
        what, function = WORKLOADS[name]
        log(f"benchmarks: {name}: {what} ...")
        started = time.perf_counter()
        try:
            outcome = function(settings)
        except Exception as exc:  # report it, keep the rest of the run
            traceback.print_exc()
            outcome = Outcome([Row(name, "", "graphgrad", "", "", status="error", note=f"{type(exc).__name__}: {exc}")],
                              [f"{name}: failed: {type(exc).__name__}: {exc}"])
        seconds = time.perf_counter() - started
        summaries[name] = {"what": what, "notes": outcome.notes, "seconds": seconds}
        rows += outcome.rows
        targets.update(outcome.profile_targets)
        log(f"benchmarks: {name}: done in {seconds:.1f} s")
    return summaries, rows, targets


def profile_summary(label: str, function, seconds: float, top: int = 12) -> list:
    """Run ``function`` for about ``seconds`` under cProfile; the ``top`` functions by own time, with their share.

    >>> profile_summary("sorting", lambda: sorted(range(1000)), 0.01)[0].startswith("profile of sorting")
    True
    """
    started = time.perf_counter()
    function()  # one untimed call sizes the run
    calls = max(1, int(seconds / max(time.perf_counter() - started, 1e-9)))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        function()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt or 1.0
    entries = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = [f"profile of {label}: {calls} calls, {total:.3f} s under cProfile; own time (tottime) by function"]
    for (filename, line, function_name), (_, ncalls, tottime, cumtime, _) in entries:
        where = f"{Path(filename).name}:{line}" if line else filename
        lines.append(f"  {100 * tottime / total:5.1f}%  {tottime:7.3f} s  {ncalls:>9}  {function_name} ({where})")
    return lines


def _file_stem(args) -> str:
    stem = datetime.date.today().isoformat()
    if args.quick:
        stem += "-quick"
    if args.only:
        stem += "-only-" + "-".join(args.only)
    return stem


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = Settings(quick=args.quick, repeats=args.repeats)
    names = [name for name in WORKLOADS if not args.only or name in args.only]
    if args.threads is not None:
        set_thread_variables(args.threads)  # the children (million-chain, rss-growth) inherit them
    for module_name in peers.PEERS:  # import the peers first, so that ...
        peers.load(module_name)
    torch = peers.load("torch")
    if args.threads is not None and torch.available:
        torch.module.set_num_threads(args.threads)
    gc.collect()
    gc.freeze()  # ... the collector's work does not depend on which modules are loaded (torch adds ~150k objects)
    environment = report.environment()
    summaries, rows, targets = run(names, settings, log=lambda line: print(line, file=sys.stderr, flush=True))
    result = {"suite": "graphgrad benchmarks", "quick": args.quick, "environment": environment,
              "settings": {"quick": args.quick, "repeats": args.repeats, "only": args.only},
              "workloads": summaries, "rows": [row.to_dict() for row in rows],
              "targets": report.evaluate_targets(rows)}
    environment["load average at end"] = report.load_average()

    print("\n".join(report.table_lines(rows)))
    print("\ntargets (issue 5 §2; the scalar ones of issue 10; the in-place guard's of issue 8)"
          + (" — quick run: sizes differ, for information only" if args.quick else ""))
    print("\n".join(report.target_lines(result["targets"])))
    print()
    for summary in summaries.values():
        for note in summary["notes"]:
            print(f"note: {note}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = _file_stem(args)
    (args.out / f"{stem}.md").write_text(report.markdown(result), encoding="utf-8")
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out / stem}.md and .json")

    if args.profile:
        for label, function in targets.items():
            print("\n" + "\n".join(profile_summary(label, function, 0.5 if args.quick else 5.0)))
    return 1 if any(row.status == "error" for row in rows) else 0
