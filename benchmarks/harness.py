"""Paired, interleaved measurement: contenders run in rounds (A B A B …) and each round's ratio is taken pairwise.

Machine drift (another process starting, the CPU clocking down) moves every contender of a round alike,
so the median of the per-round ratios is steadier than the ratio of two medians. `Row` is one line of
the result table; `rows_from_samples` turns the rounds into rows.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Settings", "Outcome", "Row", "CollectorClock", "collector_off", "paired_rounds", "rows_from_samples", "missing_rows",
           "time_per_call", "cycle", "threads_option", "set_thread_variables", "NOT_INSTALLED", "NOT_AVAILABLE"]

NOT_INSTALLED = "not installed"
NOT_AVAILABLE = "not available"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
UNITLESS = ("fraction", "count")  # shares and counts: compared by value, not by ratio


def threads_option(argv) -> int | None:
    """The value of ``--threads`` in a raw argument list, if any (``__main__`` applies it before NumPy loads).

    >>> threads_option(["--quick", "--threads", "1"]), threads_option(["--threads=2"]), threads_option([])
    (1, 2, None)
    """
    for index, arg in enumerate(argv):
        value = arg.partition("=")[2] if arg.startswith("--threads=") else (
            argv[index + 1] if arg == "--threads" and index + 1 < len(argv) else None)
        if value is not None:
            return int(value) if value.isdigit() else None
    return None


def set_thread_variables(threads: int) -> None:
    """Set the thread-count variables that OpenBLAS, OpenMP and MKL read when they load (children inherit them)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


@dataclass(frozen=True)
class Settings:
    """How a run is sized: ``quick`` (CI-sized), ``repeats`` (rounds, overriding each workload's default).

    >>> Settings(quick=True).rounds(full=25, quick=3), Settings(repeats=7).rounds(full=25, quick=3)
    (3, 7)
    """

    quick: bool = False
    repeats: int | None = None

    def rounds(self, full: int, quick: int) -> int:
        """The number of paired rounds: ``--repeats`` if given, else the workload's full or quick default."""
        if self.repeats is not None:
            return self.repeats
        return quick if self.quick else full

    def size(self, full, quick):
        """A workload size (iterations, points, ops): the full one, or the CI-sized one under ``--quick``."""
        return quick if self.quick else full


@dataclass
class Outcome:
    """What a workload gives back: its rows, notes for the report (method, checks), and what to profile.

    ``profile_targets`` maps a label to a no-argument callable running one unit of graphgrad's side
    (``--profile`` runs them under cProfile).
    """

    rows: list
    notes: list = field(default_factory=list)
    profile_targets: dict = field(default_factory=dict)


@dataclass
class Row:
    """One measured quantity of one implementation in one workload case.

    ``median``, ``low`` and ``high`` are over the rounds, in ``unit`` (``s``, ``s/op``, ``B``, ``B/op``,
    ``fraction`` or ``count``). ``ratio`` is the median over rounds of this round's value divided by the
    baseline's value in the same round (``ratio_low``/``ratio_high`` their range); ``ratio_to`` holds the
    same median against every other implementation of the case. ``status`` is ``ok``, ``not installed``
    (a peer that cannot be imported) or ``not available`` (missing data); then the numbers are None.

    >>> Row("w", "f64", "graphgrad", "step", "s", median=1e-3).to_dict()["status"]
    'ok'
    """

    workload: str
    case: str
    implementation: str
    metric: str
    unit: str
    median: float | None = None
    low: float | None = None
    high: float | None = None
    samples: int = 0
    baseline: str | None = None
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    ratio_to: dict = field(default_factory=dict)
    status: str = "ok"
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def time_per_call(function: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``function``, timed over ``calls`` back-to-back calls.

    >>> time_per_call(lambda: None, 10) < 1e-3
    True
    """
    clock = time.perf_counter
    start = clock()
    for _ in range(calls):
        function()
    return (clock() - start) / calls


def cycle(items) -> Iterator:
    """Endless iteration over ``items`` (each contender walks the same batches in the same order).

    >>> it = cycle([1, 2]); [next(it) for _ in range(3)]
    [1, 2, 1]
    """
    while True:
        yield from items


class CollectorClock:
    """Seconds spent in Python's cyclic garbage collector while the clock is installed (via ``gc.callbacks``).

    >>> with CollectorClock() as clock:
    ...     _ = gc.collect()
    >>> clock.seconds > 0, clock.collections
    (True, 1)
    """

    def __init__(self):
        self.seconds, self.collections, self._started = 0.0, 0, None

    def _callback(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1
            self._started = None

    def __enter__(self):
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._callback)


REPO = Path(__file__).resolve().parent.parent


def run_in_child(module: str, *args) -> dict:
    """``python -m module *args`` in a fresh interpreter (this environment, the repository on its path): the
    JSON object the child printed last. Children measure what the suite's own process would skew."""
    env = dict(os.environ)  # with the suite's thread settings
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", module, *map(str, args)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{module}: `{' '.join(command[1:])}` failed with exit code {done.returncode}:\n"
                           f"{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

@contextmanager
def collector_off():
    """Collect, then keep Python's cyclic collector off for a block; afterwards it is as it was.

    The benchmark's choice, for rows that time an engine's own work without collections; graphgrad itself
    never touches the collector.

    >>> with collector_off():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def paired_rounds(contenders: Mapping[str, Callable[[], Mapping[str, float]]], rounds: int,
                  warmup: int = 1, settle: float = 0.0) -> dict[str, list[dict]]:
    """Run every contender once per round, in the same order each round, after ``warmup`` unrecorded calls each.

    Each contender returns a mapping of metric name to value (a sample). The result maps each contender
    to its list of samples, one per round. ``gc.collect()`` runs, untimed, before every call, so no
    contender pays for the cyclic garbage another left; within a call the collector runs as usual.
    ``settle`` seconds of sleep, also untimed, let the worker threads of one library's pool (OpenBLAS,
    PyTorch's OpenMP) stop spinning before another library runs: on two cores, spinning threads of the
    previous contender otherwise slow the next one several times over.

    >>> samples = paired_rounds({"a": lambda: {"t": 1.0}, "b": lambda: {"t": 2.0}}, rounds=3)
    >>> samples["b"]
    [{'t': 2.0}, {'t': 2.0}, {'t': 2.0}]
    """
    if rounds < 1:
        raise ValueError(f"paired_rounds: rounds must be at least 1, got {rounds}")
    for run in contenders.values():
        for _ in range(warmup):
            gc.collect()
            run()
    samples = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            gc.collect()
            if settle:
                time.sleep(settle)
            samples[name].append(dict(run()))
    return samples


def _paired(values, reference) -> list[float]:
    return [v / r for v, r in zip(values, reference) if r]


def rows_from_samples(workload: str, case: str, samples: Mapping[str, list], metrics: Mapping[str, str],
                      baseline: str | None, notes: Mapping[str, str] | None = None) -> list[Row]:
    """One `Row` per contender and metric (``metrics`` maps metric name to unit), with paired ratios.

    >>> samples = {"seed": [{"t": 2.0}, {"t": 4.0}], "gg": [{"t": 1.0}, {"t": 3.0}]}
    >>> [(r.implementation, r.median, r.ratio) for r in rows_from_samples("w", "f64", samples, {"t": "s"}, "seed")]
    [('seed', 3.0, 1.0), ('gg', 2.0, 0.625)]
    """
    notes = notes or {}
    rows = []
    for name, runs in samples.items():
        for metric, unit in metrics.items():
            values = [run[metric] for run in runs]
            row = Row(workload, case, name, metric, unit, median=statistics.median(values), low=min(values),
                      high=max(values), samples=len(values), baseline=baseline, note=notes.get(name, ""))
            for other, other_runs in samples.items():
                ratios = _paired(values, [run[metric] for run in other_runs])
                if other == name or not ratios or unit in UNITLESS:
                    continue
                row.ratio_to[other] = statistics.median(ratios)
                if other == baseline:
                    row.ratio, row.ratio_low, row.ratio_high = row.ratio_to[other], min(ratios), max(ratios)
            if name == baseline and unit not in UNITLESS:
                row.ratio = row.ratio_low = row.ratio_high = 1.0
            rows.append(row)
    return rows


def missing_rows(workload: str, case: str, implementation: str, metrics: Mapping[str, str], status: str,
                 note: str, baseline: str | None = None) -> list[Row]:
    """Rows that say an implementation was not measured, and why (a peer not installed, data not available).

    >>> missing_rows("w", "f64", "PyTorch", {"step": "s"}, "not installed", "no module named 'torch'")[0].status
    'not installed'
    """
    return [Row(workload, case, implementation, metric, unit, baseline=baseline, status=status, note=note)
            for metric, unit in metrics.items()]
