"""Scalar workloads against micrograd: the chain ``y = y * a + c`` (3) and micrograd's MLP demo step (4).

Both build graphs of 0-d values one Python operation at a time, where the engine's per-op overhead is
everything. micrograd runs as shipped (``pip install micrograd``); its recursive topological sort needs
a recursion limit above the graph's depth, which is raised around every contender's backward.

Both workloads run in a fresh interpreter (``python -m benchmarks.scalar NAME QUICK REPEATS``, printing JSON)
that imports graphgrad and micrograd and nothing else of the suite. micrograd's graphs are reference cycles,
so its time grows with every object the process holds: run after a workload that imported PyTorch, its
chain backward took 4.11 µs per op instead of 0.87, and graphgrad's ratio looked 0.36× instead of 0.95×.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np

from autograd import Tensor

from . import peers
from .harness import (NOT_INSTALLED, CollectorClock, Outcome, Row, Settings, collector_off, missing_rows,
                      paired_rounds, rows_from_samples, run_in_child)

__all__ = ["scalar_chain", "micrograd_demo", "make_moons", "ScalarMLP", "ArrayMLP"]

A, C, Y0 = 0.999, 0.001, 1.0  # y stays near 1: no overflow however long the chain
ALPHA = 1e-4  # the demo's L2 weight
MICROGRAD = "micrograd"


@contextmanager
def recursion_limit(depth: int):
    """Let micrograd's recursive ``build_topo`` walk a graph ``depth`` deep; restore the limit afterwards.

    Raised around every contender's backward alike (graphgrad's iterative walk does not need it)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, depth + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# --- workload 3: the chain -----------------------------------------------------------------------------------
def chain_run(make, iterations: int, chains: int):
    """A sample function: build ``chains`` chains of ``iterations`` × (mul, add) and backpropagate each.

    ``make(value)`` makes a leaf (a graphgrad Tensor or a micrograd Value). Times are per op (2 per
    iteration): build, backward, and total, which also counts dropping the graph; then the same chains
    again with the collector off for every contender (`harness.collector_off`): the engine's own work,
    without the collections micrograd's reference cycles cause (about half its total with the collector on).
    """
    ops = 2 * iterations
    clock = time.perf_counter

    def chain():
        a, c, y = make(A), make(C), make(Y0)
        start = clock()
        for _ in range(iterations):
            y = y * a + c
        built = clock()
        with recursion_limit(ops + 10):
            y.backward()
        done = clock()
        del y  # graphgrad frees the graph here; micrograd's cycles wait for the collector
        run.last_grad = float(np.asarray(a.grad))
        return built - start, done - built, clock() - start

    def run():
        build, backward, total = map(sum, zip(*(chain() for _ in range(chains))))
        with collector_off():
            total_off = sum(chain()[2] for _ in range(chains))
        n = ops * chains
        return {"build": build / n, "backward": backward / n, "total": total / n, "total, collector off": total_off / n}
    return run


def measured_apart(name: str, settings: Settings) -> Outcome:
    """Workload ``name`` of this module (`MEASURED`), run in a fresh interpreter; its rows and notes."""
    result = run_in_child("benchmarks.scalar", name, int(settings.quick), settings.repeats or 0)
    notes = result["notes"] + [f"{name}: measured in a fresh interpreter that imports graphgrad, micrograd and what "
                               f"they need ({result['tracked']:,} objects tracked by the collector at the start)"]
    return Outcome([Row(**row) for row in result["rows"]], notes)


def scalar_chain(settings: Settings) -> Outcome:
    """Workload 3 (`measured_apart`), and one graphgrad chain to profile."""
    outcome = measured_apart("scalar-chain", settings)
    iterations = settings.size(2_000, 300)
    outcome.profile_targets[f"scalar-chain {2 * iterations:,} ops"] = chain_run(Tensor, iterations, 1)
    return outcome


def micrograd_demo(settings: Settings) -> Outcome:
    """Workload 4 (`measured_apart`)."""
    return measured_apart("micrograd-demo", settings)


def _scalar_chain(settings: Settings) -> Outcome:
    """Workload 3: ``y = y * a + c`` on scalars; ns per op for build, backward and both, graphgrad vs micrograd."""
    iterations, chains = settings.size(2_000, 300), settings.size(5, 2)
    metrics = {"build": "s/op", "backward": "s/op", "total": "s/op", "total, collector off": "s/op"}
    case = f"{2 * iterations:,} ops"
    contenders = {}
    micrograd = peers.load("micrograd")
    if micrograd.available:
        from micrograd.engine import Value
        contenders[MICROGRAD] = chain_run(Value, iterations, chains)
    contenders["graphgrad"] = chain_run(Tensor, iterations, chains)
    samples = paired_rounds(contenders, settings.rounds(15, 3))
    notes = [f"scalar-chain: {chains} chains of {2 * iterations:,} ops per sample; a and c require grad; total "
             "includes dropping the graph (graphgrad frees it at once; micrograd's reference cycles are left to "
             "the collector, which runs untimed between samples); \"total, collector off\" times the same chains "
             "again with the collector disabled for every contender (collected, untimed, before)"]
    if micrograd.available:
        grads = {name: run.last_grad for name, run in contenders.items()}
        if not math.isclose(grads[MICROGRAD], grads["graphgrad"], rel_tol=1e-9):
            raise RuntimeError(f"scalar-chain: dy/da differs: micrograd {grads[MICROGRAD]!r}, "
                               f"graphgrad {grads['graphgrad']!r}")
        notes.append(f"scalar-chain: dy/da agrees with micrograd's ({grads['graphgrad']:.12g})")
    rows = rows_from_samples("scalar-chain", case, samples, metrics, MICROGRAD)
    if not micrograd.available:
        rows = missing_rows("scalar-chain", case, MICROGRAD, metrics, NOT_INSTALLED, micrograd.reason, MICROGRAD) + rows
    return Outcome(rows, notes)


# --- workload 4: micrograd's demo --------------------------------------------------------------------------
def make_moons(n: int, noise: float = 0.1, seed: int = 1337):
    """Two interleaved half circles (scikit-learn's ``make_moons``, unshuffled), labels -1 and +1, as Python lists.

    >>> X, y = make_moons(4, noise=0.0); len(X), y
    (4, [-1, -1, 1, 1])
    """
    n_outer = n // 2
    n_inner = n - n_outer
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n_inner)
    X = np.vstack([np.column_stack([np.cos(outer), np.sin(outer)]),
                   np.column_stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5])])
    X += np.random.default_rng(seed).normal(scale=noise, size=X.shape)
    return X.tolist(), [-1] * n_outer + [1] * n_inner


def micrograd_model(MLP, seed: int = 1337):
    """micrograd's ``MLP(2, [16, 16, 1])``, its weights drawn from Python's ``random`` seeded as in the demo."""
    state = random.getstate()
    random.seed(seed)
    try:
        return MLP(2, [16, 16, 1])
    finally:
        random.setstate(state)


def demo_loss(model, inputs, y, parameters):
    """The demo's loss: mean max-margin loss ``relu(1 - y·score)`` plus ``ALPHA · Σ p²``, for any scalar engine."""
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in parameters)
    return data_loss + reg_loss


class ScalarMLP:
    """micrograd's MLP written with graphgrad 0-d Tensors, one Tensor per weight, from a micrograd model's weights.

    >>> class V:  # a stand-in for micrograd's Value
    ...     def __init__(self, data): self.data = data
    >>> class N:
    ...     def __init__(self, nin): self.w, self.b = [V(0.5)] * nin, V(0.0)
    >>> class L:
    ...     def __init__(self, nin, nout): self.neurons = [N(nin) for _ in range(nout)]
    >>> class M: layers = [L(2, 3), L(3, 1)]
    >>> ScalarMLP(M())([1.0, 1.0]).item()
    1.5
    """

    def __init__(self, micrograd_mlp):
        self.layers = [[([Tensor(w.data) for w in n.w], Tensor(n.b.data)) for n in layer.neurons]
                       for layer in micrograd_mlp.layers]
        self.params = [p for layer in self.layers for w, b in layer for p in w + [b]]

    def __call__(self, x):
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x = [sum((wi * xi for wi, xi in zip(w, x)), b) for w, b in layer]
            if index < last:
                x = [act.relu() for act in x]
        return x[0] if len(x) == 1 else x


class ArrayMLP:
    """The same model with graphgrad arrays: one weight matrix and bias per layer, the batch in one matmul each."""

    def __init__(self, micrograd_mlp):
        self.params = []
        for layer in micrograd_mlp.layers:
            W = np.array([[w.data for w in n.w] for n in layer.neurons], dtype=np.float64).T
            self.params += [Tensor(W), Tensor(np.array([n.b.data for n in layer.neurons], dtype=np.float64))]

    def loss(self, X, y):
        h = X
        for index in range(0, len(self.params), 2):
            h = h @ self.params[index] + self.params[index + 1]
            if index < len(self.params) - 2:
                h = h.relu()
        data_loss = (1 - y * h.reshape(-1)).relu().sum() * (1.0 / len(y))
        return data_loss + ALPHA * sum((p * p).sum() for p in self.params)


def _demo_contenders(X, y):
    """step(k) and gradients() for each implementation, every one starting from micrograd's initial weights."""
    from micrograd.engine import Value
    from micrograd.nn import MLP
    model = micrograd_model(MLP)
    scalar, arrays = ScalarMLP(model), ArrayMLP(model)
    X_array, y_array = np.array(X), np.array(y, dtype=np.float64)

    def micrograd_loss():
        return demo_loss(model, [list(map(Value, row)) for row in X], y, model.parameters())

    def scalar_loss():
        return demo_loss(scalar, [[Tensor(v, requires_grad=False) for v in row] for row in X], y, scalar.params)

    def micrograd_grads():
        model.zero_grad()
        loss = micrograd_loss()
        with recursion_limit(10_000):
            loss.backward()
        return loss.data, np.array([p.grad for p in model.parameters()])

    def graphgrad_grads(loss_fn, params):
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        return loss.item(), params

    def micrograd_step(k):
        micrograd_grads()
        rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= rate * p.grad

    def graphgrad_step(loss_fn, params):
        def step(k):
            graphgrad_grads(loss_fn, params)
            rate = 1.0 - 0.9 * k / 100
            for p in params:
                p.data -= rate * p.grad
        return step

    steps = {MICROGRAD: micrograd_step, "graphgrad scalars": graphgrad_step(scalar_loss, scalar.params),
             "graphgrad arrays": graphgrad_step(lambda: arrays.loss(X_array, y_array), arrays.params)}
    reference_loss, reference = micrograd_grads()
    checks = {}
    for name, loss_fn, params in (("graphgrad scalars", scalar_loss, scalar.params),
                                  ("graphgrad arrays", lambda: arrays.loss(X_array, y_array), arrays.params)):
        loss_value, params = graphgrad_grads(loss_fn, params)
        flat = _micrograd_order(params, arrays=name == "graphgrad arrays")
        checks[name] = (abs(loss_value - reference_loss), float(np.max(np.abs(flat - reference))))
    return steps, checks


def _micrograd_order(params, arrays: bool) -> np.ndarray:
    """Gradients in micrograd's parameter order (neuron by neuron: its weights, then its bias)."""
    if not arrays:
        return np.array([float(p.grad) for p in params])
    flat = []
    for W, b in zip(params[0::2], params[1::2]):
        for j in range(W.shape[1]):
            flat += list(W.grad[:, j]) + [float(b.grad[j])]
    return np.array(flat)


def _micrograd_demo(settings: Settings) -> Outcome:
    """Workload 4: one training step of micrograd's demo (MLP(2, [16, 16, 1]), max-margin loss + L2) on 100 points."""
    n_points = settings.size(100, 16)
    case = f"{n_points} points"
    metrics = {"step": "s", "collector share": "fraction", "step, collector off": "s"}
    micrograd = peers.load("micrograd")
    names = (MICROGRAD, "graphgrad scalars", "graphgrad arrays")
    if not micrograd.available:  # the models start from micrograd's weights: nothing to compare without it
        rows = []
        for name in names:
            status, note = ((NOT_INSTALLED, micrograd.reason) if name == MICROGRAD else
                            ("not run", "starts from micrograd's initial weights, which need micrograd"))
            rows += missing_rows("micrograd-demo", case, name, metrics, status, note, MICROGRAD)
        return Outcome(rows, ["micrograd-demo: not run: micrograd is not installed (pip install micrograd)"])
    X, y = make_moons(n_points)
    steps, checks = _demo_contenders(X, y)
    notes = [f"micrograd-demo: {name}: loss and gradients agree with micrograd's (|Δloss| {dl:.1e}, max |Δgrad| "
             f"{dg:.1e})" for name, (dl, dg) in checks.items()]
    for name, (dl, dg) in checks.items():
        if not (dl < 1e-10 and dg < 1e-10):
            raise RuntimeError(f"micrograd-demo: {name} disagrees with micrograd: |Δloss| {dl:.3g}, |Δgrad| {dg:.3g}")

    def sample(step):
        iteration = itertools.count()  # the demo's k, for its decaying learning rate

        def run():
            with CollectorClock() as collector:
                start = time.perf_counter()
                step(next(iteration) % 100)
                seconds = time.perf_counter() - start
            # The same again with the cyclic collector off for every contender: the engine's own per-op cost,
            # without the collections micrograd's reference cycles cause.
            with collector_off():
                start = time.perf_counter()
                step(next(iteration) % 100)
                seconds_off = time.perf_counter() - start
            return {"step": seconds, "collector share": collector.seconds / seconds, "step, collector off": seconds_off}
        return run

    samples = paired_rounds({name: sample(step) for name, step in steps.items()}, settings.rounds(5, 2))
    notes.append("micrograd-demo: a step = loss over all points, zero_grad, backward, SGD at the demo's decaying "
                 "rate; micrograd's inputs are Values (as in its demo), graphgrad's scalar inputs are constants; "
                 "collector share = time inside Python's cyclic garbage collector; \"step, collector off\" times the "
                 "next step with the collector disabled for every contender (collected, untimed, before)")
    return Outcome(rows_from_samples("micrograd-demo", case, samples, metrics, MICROGRAD), notes)


MEASURED = {"scalar-chain": _scalar_chain, "micrograd-demo": _micrograd_demo}

if __name__ == "__main__":  # the fresh interpreter of `measured_apart`
    import gc

    name, quick, repeats = sys.argv[1], bool(int(sys.argv[2])), int(sys.argv[3]) or None
    tracked = len(gc.get_objects())
    outcome = MEASURED[name](Settings(quick=quick, repeats=repeats))
    print(json.dumps({"rows": [asdict(row) for row in outcome.rows], "notes": outcome.notes, "tracked": tracked}))
