"""Workloads measured in a fresh child process: the 1,000,000-op chain (5) and RSS growth with the collector off (7).

A child starts with nothing but its imports, so its resident memory is the workload's own. Peak memory
is Linux's ``VmHWM`` (the high-water mark of the resident set, from ``/proc/self/status``, reset through
``/proc/self/clear_refs`` just before the build where the kernel allows) minus ``VmRSS`` just before the
build; ``ru_maxrss`` is not used because a child inherits its parent's peak across ``exec``. The child is
``python -m benchmarks.memory KIND IMPLEMENTATION SIZE`` and prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import sys
import time

from . import peers
from .harness import NOT_INSTALLED, Outcome, Settings, missing_rows, paired_rounds, rows_from_samples, run_in_child

__all__ = ["million_chain", "rss_growth", "run_child", "resident_bytes"]

A, C, Y0 = 0.999, 0.001, 1.0  # as in the scalar chain: y stays near 1


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        return None
    return None


def resident_bytes() -> int:
    """The current resident set size in bytes (``VmRSS``; ``ru_maxrss`` where there is no /proc).

    >>> resident_bytes() > 0
    True
    """
    rss = _status_bytes("VmRSS")
    if rss is None:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return rss


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # 5: reset the peak resident set size to the current one
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    peak = _status_bytes("VmHWM")
    return peak if peak is not None else resident_bytes()


# --- children ----------------------------------------------------------------------------------------------
def _chain_child(implementation: str, ops: int) -> dict:
    if implementation == "graphgrad":
        from autograd import Tensor as make
    elif implementation == "PyTorch":
        import torch

        def make(value):
            return torch.tensor(value, dtype=torch.float64, requires_grad=True)
    else:
        raise ValueError(f"million-chain: unknown implementation {implementation!r}")
    a, c, y = make(A), make(C), make(Y0)
    gc.collect()
    before = resident_bytes()
    peak_reset = _reset_peak()
    clock = time.perf_counter
    start = clock()
    for _ in range(ops // 2):
        y = y * a + c
    built = clock()
    y.backward()
    done = clock()
    peak = _peak_bytes()
    del y
    freed = clock()
    return {"build": built - start, "backward": done - built, "build + backward": done - start,
            "with freeing": freed - start, "peak memory": (peak - before) / ops, "peak_reset": peak_reset,
            "grad": float(a.grad)}


def _training_child(implementation: str, iterations: int) -> dict:
    import numpy as np

    import nn

    from .seed_layers import SeedTwoLayerNet
    from .training import graphgrad_step, hand_written_step, synthetic_data

    rng = np.random.default_rng(1)
    x_train, t_train = synthetic_data(10_000, 784, 10, np.float64, rng)
    masks = [rng.choice(len(x_train), 100) for _ in range(64)]
    network = nn.TwoLayerNet(784, 50, 10, weight_init_std=0.01, rng=0)
    if implementation == "graphgrad":
        step = graphgrad_step(network, x_train, t_train)
    elif implementation == "hand-written":
        step = hand_written_step(SeedTwoLayerNet.from_params(network.params), x_train, t_train)
    else:
        raise ValueError(f"rss-growth: unknown implementation {implementation!r}")
    gc.collect()
    gc.disable()
    for i in range(100):  # warm-up: NumPy's and the allocator's caches settle
        step(masks[i % len(masks)])
    before = resident_bytes()
    for i in range(iterations):
        step(masks[i % len(masks)])
    growth = resident_bytes() - before
    return {"growth": growth, "cyclic garbage": gc.collect()}


CHILDREN = {"chain": _chain_child, "training": _training_child}


def run_child(kind: str, implementation: str, size: int) -> dict:
    """Run one child (``python -m benchmarks.memory KIND IMPLEMENTATION SIZE``) and return what it printed."""
    return run_in_child("benchmarks.memory", kind, implementation, size)


# --- the workloads ------------------------------------------------------------------------------------------
CHAIN_METRICS = {"build": "s", "backward": "s", "build + backward": "s", "peak memory": "B/op"}


def million_chain(settings: Settings) -> Outcome:
    """Workload 5: a chain of 1,000,000 scalar ops (``y = y * a + c``) built and backpropagated in a fresh process."""
    ops = settings.size(1_000_000, 10_000)
    case = f"{ops:,} ops"
    torch = peers.load("torch")
    implementations = (["PyTorch"] if torch.available else []) + ["graphgrad"]
    contenders = {name: (lambda name=name: run_child("chain", name, ops)) for name in implementations}
    samples = paired_rounds(contenders, settings.rounds(3, 1), warmup=0)
    grads = {name: runs[0]["grad"] for name, runs in samples.items()}
    if "PyTorch" in grads and abs(grads["graphgrad"] / grads["PyTorch"] - 1) > 1e-9:
        raise RuntimeError(f"million-chain: dy/da differs between implementations: {grads}")
    rows = rows_from_samples("million-chain", case, samples, CHAIN_METRICS, "PyTorch")
    if not torch.available:
        rows = missing_rows("million-chain", case, "PyTorch", CHAIN_METRICS, NOT_INSTALLED, torch.reason,
                            "PyTorch") + rows
    reset = all(run["peak_reset"] for runs in samples.values() for run in runs)
    notes = [f"million-chain: one fresh process per sample; a and c require grad; peak memory = peak resident set "
             f"during build and backward minus the resident set before, per op"
             f"{'' if reset else ' (the peak could not be reset: it may include import-time memory)'}; "
             f"dy/da = {grads['graphgrad']:.12g}"]
    return Outcome(rows, notes)


def rss_growth(settings: Settings) -> Outcome:
    """Workload 7: resident-memory growth over 10,000 training steps (784-50-10, f64) with the collector disabled."""
    iterations = settings.size(10_000, 300)
    case = f"{iterations:,} steps, gc off"
    metrics = {"growth": "B", "cyclic garbage": "count"}
    contenders = {name: (lambda name=name: run_child("training", name, iterations))
                  for name in ("hand-written", "graphgrad")}
    samples = paired_rounds(contenders, settings.rounds(1, 1), warmup=0)
    rows = rows_from_samples("rss-growth", case, samples, metrics, baseline=None)
    notes = ["rss-growth: one fresh process per sample; gc.disable() after 100 warm-up steps, then VmRSS after the "
             "steps minus before; cyclic garbage = objects gc.collect() finds unreachable afterwards (reference "
             "cycles the steps left behind)"]
    return Outcome(rows, notes)


if __name__ == "__main__":
    kind, implementation, size = sys.argv[1:4]
    print(json.dumps(CHILDREN[kind](implementation, int(size))))
