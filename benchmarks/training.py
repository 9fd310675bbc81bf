"""Array workloads: the seed's training step (1), a wide MLP where BLAS dominates (2), the seed's full recipe (6),
and what the in-place guard costs the seed's step (9).

Each implementation runs the same net from the same initial weights on the same batches:
graphgrad (``loss_tensor``, ``backward``, ``nn.optim.SGD``), the hand-written baseline
(`benchmarks.seed_layers`, trained with the seed's own loop ``params[key] -= lr * grad[key]``), and
PyTorch CPU eager when installed (``nn.Sequential`` of ``nn.Linear`` with the weights copied in,
``F.cross_entropy`` on the one-hot targets, ``torch.optim.SGD``). A step is: gather the batch, forward,
backward, update. Before timing, each case checks that the implementations' gradients agree.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import numpy as np

import nn
from autograd import engine
from nn.optim import SGD

from . import peers
from .harness import (NOT_AVAILABLE, NOT_INSTALLED, Outcome, Row, Settings, cycle, missing_rows, paired_rounds,
                      rows_from_samples, time_per_call)
from .seed_layers import Affine, Relu, SeedTwoLayerNet, SoftmaxWithLoss

__all__ = ["HandWrittenMLP", "check_baseline", "seed_step", "guard_cost", "wide_mlp", "seed_recipe"]

LR = 0.1  # the seed's learning rate
BASELINE = "hand-written"
_FREEZE = engine.freeze  # the in-place guard's entry point (see guard_cost)
F64_TOLERANCE = 1e-10  # absolute, on gradients of the same net from the same weights
F32_TOLERANCE = 1e-4   # relative to the largest gradient entry: float32 sums in another order
SETTLE = 0.3  # seconds between samples when PyTorch runs too (measured: 0.05 s still left it 2x slower)


class HandWrittenMLP:
    """The seed's hand-written layers (`seed_layers.Affine`, `Relu`, `SoftmaxWithLoss`) stacked for any widths.

    This is the book's pattern (its chapter 6 MultiLayerNet): forward through the layers, then each
    layer's own ``backward`` in reverse, starting from copies of the given ``W1, b1, W2, …``.

    >>> w = {"W1": np.ones((3, 2)), "b1": np.zeros(2), "W2": np.ones((2, 2)), "b2": np.zeros(2)}
    >>> net = HandWrittenMLP(w); sorted(net.gradient(np.ones((4, 3)), np.eye(2)[[0, 1, 0, 1]]))
    ['W1', 'W2', 'b1', 'b2']
    """

    def __init__(self, params: Mapping, dtype=None):
        depth = sum(1 for key in params if key.startswith("W"))
        self.params = {}
        self.layers = []
        self.affines = []
        for index in range(1, depth + 1):
            for key in (f"W{index}", f"b{index}"):
                self.params[key] = np.array(params[key], dtype=dtype, copy=True)
            affine = Affine(self.params[f"W{index}"], self.params[f"b{index}"])
            self.affines.append(affine)
            self.layers.append(affine)
            if index < depth:
                self.layers.append(Relu())
        self.lastLayer = SoftmaxWithLoss()

    def gradient(self, x, t) -> dict:
        for layer in self.layers:
            x = layer.forward(x)
        self.lastLayer.forward(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for index, affine in enumerate(self.affines, start=1):
            grads[f"W{index}"], grads[f"b{index}"] = affine.dW, affine.db
        return grads


def synthetic_data(n: int, features: int, classes: int, dtype, rng: np.random.Generator):
    """``n`` random "images" in [0, 1) and one-hot labels: normalized MNIST's shapes (only the shapes matter here)."""
    x = rng.random((n, features)).astype(dtype)
    t = np.eye(classes, dtype=dtype)[rng.integers(0, classes, n)]
    return x, t


# --- one training step per implementation: each returns step(mask) -------------------------------------------
def graphgrad_step(network, x_train, t_train, lr=LR):
    """graphgrad's training step on rows ``mask`` of the data: loss Tensor, backward, SGD's step."""
    optimizer = SGD(network.parameters(), lr=lr)

    def step(mask):
        loss = network.loss_tensor(x_train[mask], t_train[mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def hand_written_step(network, x_train, t_train):
    params = network.params

    def step(mask):  # the seed's loop, verbatim
        grads = network.gradient(x_train[mask], t_train[mask])
        for key in params:
            params[key] -= LR * grads[key]
    return step


def torch_model(torch, params: Mapping, dtype):
    """A torch ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` holding copies of ``W1, b1, …``.

    The weights are stored transposed, (out, in), as ``nn.Linear`` keeps them.
    """
    depth = sum(1 for key in params if key.startswith("W"))
    torch_dtype = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]
    layers = []
    for index in range(1, depth + 1):
        W, b = np.asarray(params[f"W{index}"]), np.asarray(params[f"b{index}"])
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch_dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if index < depth:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_step(torch, model, x_train, t_train, lr=LR):
    """PyTorch's training step on rows ``mask`` of the data: the same loss, gradients and SGD update."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x_all, t_all = torch.from_numpy(x_train), torch.from_numpy(t_train)
    cross_entropy = torch.nn.functional.cross_entropy  # one-hot float targets: class probabilities

    def step(mask):
        loss = cross_entropy(model(x_all[mask]), t_all[mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def torch_gradients(torch, model, x, t) -> dict:
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(t))
    grads = torch.autograd.grad(loss, list(model.parameters()))
    out = {}
    for index, (dW, db) in enumerate(zip(grads[0::2], grads[1::2]), start=1):
        out[f"W{index}"], out[f"b{index}"] = dW.numpy().T, db.numpy()
    return out


def _difference(reference: Mapping, other: Mapping, dtype) -> float:
    """Largest absolute gradient difference (float64), or relative to the largest entry for float32."""
    diff = max(float(np.max(np.abs(np.asarray(reference[k], np.float64) - other[k]))) for k in reference)
    if np.dtype(dtype) == np.float32:
        diff /= max(float(np.max(np.abs(reference[k]))) for k in reference)
    return diff


def _checked(what: str, diff: float, dtype) -> str:
    tolerance = F32_TOLERANCE if np.dtype(dtype) == np.float32 else F64_TOLERANCE
    kind = "relative" if np.dtype(dtype) == np.float32 else "absolute"
    if not diff <= tolerance:
        raise RuntimeError(f"{what}: gradients differ from graphgrad's by {diff:.3g} ({kind}), "
                           f"above the tolerance {tolerance:g}; the comparison would be meaningless")
    return f"{what}: gradients agree with graphgrad's (max {kind} difference {diff:.1e} ≤ {tolerance:g})"


def check_baseline(dtype=np.float64, sizes=(784, 50, 10), batch_size: int = 100, seed: int = 0) -> float:
    """The largest gradient difference between graphgrad's net and the hand-written baseline from the same weights.

    The seed's ``TwoLayerNet`` for three sizes, else `HandWrittenMLP`. Absolute for float64, relative to
    the largest entry for float32.

    >>> check_baseline(sizes=(6, 4, 3), batch_size=5) < 1e-12
    True
    """
    rng = np.random.default_rng(seed)
    if len(sizes) == 3:
        network = nn.TwoLayerNet(*sizes, weight_init_std=0.01, rng=rng, dtype=dtype)
        baseline = SeedTwoLayerNet.from_params(network.params, dtype=dtype)
    else:
        network = nn.MLP(sizes, rng=rng, dtype=dtype)
        baseline = HandWrittenMLP(network.params, dtype=dtype)
    x, t = synthetic_data(batch_size, sizes[0], sizes[-1], dtype, rng)
    return _difference(network.gradient(x, t), baseline.gradient(x, t), dtype)


def _training_case(workload: str, case: str, network, baseline, dtype, batch_size: int, settings: Settings,
                   n_train: int, calls: int, rounds: int) -> Outcome:
    """Time one training step of graphgrad, the hand-written baseline and PyTorch on the same batches."""
    rng = np.random.default_rng(1)
    x_train, t_train = synthetic_data(n_train, network.sizes[0], network.sizes[-1], dtype, rng)
    masks = [rng.choice(n_train, batch_size) for _ in range(64)]
    return checked_case(workload, case, network, baseline, hand_written_step, x_train, t_train, masks, dtype, calls,
                        rounds, torch_model, torch_gradients)


def checked_case(workload: str, case: str, network, baseline, baseline_step, x_train, t_train, masks: list, dtype,
                 calls: int, rounds: int, make_torch_model, torch_grads, lr: float = LR) -> Outcome:
    """Check the baseline's and PyTorch's gradients against graphgrad's on the first batch, then time the steps.

    The steps are ``baseline_step(baseline, ...)``, `graphgrad_step` and, when PyTorch is installed,
    `torch_step` on ``make_torch_model``'s copy of the network (``torch_grads`` gives its gradients by
    graphgrad's parameter names), all at ``lr``; each times on the same batches (see `timed_steps`).
    """
    check_x, check_t = x_train[masks[0]], t_train[masks[0]]
    reference = network.gradient(check_x, check_t)
    notes = [_checked(f"{workload} {case}: {BASELINE}",
                      _difference(reference, baseline.gradient(check_x, check_t), dtype), dtype)]
    steps = {BASELINE: baseline_step(baseline, x_train, t_train),
             "graphgrad": graphgrad_step(network, x_train, t_train, lr=lr)}
    torch = peers.load("torch")
    torch_name = f"PyTorch {np.dtype(dtype).name.replace('float', 'f')}"
    if torch.available:
        model = make_torch_model(torch.module, network.params, dtype)
        notes.append(_checked(f"{workload} {case}: {torch_name}",
                              _difference(reference, torch_grads(torch.module, model, check_x, check_t), dtype), dtype))
        steps[torch_name] = torch_step(torch.module, model, x_train, t_train, lr=lr)
    return timed_steps(workload, case, steps, masks, calls, rounds, torch, torch_name, notes)


def timed_steps(workload: str, case: str, steps: dict, masks: list, calls: int, rounds: int, torch, torch_name: str,
                notes: list) -> Outcome:
    """Time each ``steps[name](mask)`` in paired rounds over the same batches; rows, notes and graphgrad's profile."""
    def sample(step):
        batches = cycle(masks)  # every implementation walks the same batches in the same order

        def run():
            step(next(batches))  # untimed: wakes this library's threads and warms the caches
            return {"step": time_per_call(lambda: step(next(batches)), calls)}
        return run

    # PyTorch's thread pool and OpenBLAS's spin after each call: give them time to stop between samples.
    samples = paired_rounds({name: sample(step) for name, step in steps.items()}, rounds,
                            settle=SETTLE if torch.available else 0.0)
    rows = rows_from_samples(workload, case, samples, {"step": "s"}, BASELINE)
    if not torch.available:
        rows += missing_rows(workload, case, torch_name, {"step": "s"}, NOT_INSTALLED, torch.reason, BASELINE)
    graphgrad_batches = cycle(masks)
    graphgrad = steps["graphgrad"]
    return Outcome(rows, notes, {f"{workload} {case}": lambda: graphgrad(next(graphgrad_batches))})


def seed_step(settings: Settings) -> Outcome:
    """Workload 1: the seed's training step, 784-50-10, batch 100, in float64 and float32."""
    outcome = Outcome([])
    for dtype in (np.float64, np.float32):
        network = nn.TwoLayerNet(784, 50, 10, weight_init_std=0.01, rng=0, dtype=dtype)
        baseline = SeedTwoLayerNet.from_params(network.params, dtype=dtype)
        case = _training_case("seed-step", np.dtype(dtype).name.replace("float", "f"), network, baseline, dtype,
                              100, settings, n_train=settings.size(10_000, 1_000),
                              calls=settings.size(50, 5), rounds=settings.rounds(15, 3))
        outcome.rows += case.rows
        outcome.notes += case.notes
        outcome.profile_targets.update(case.profile_targets)
    outcome.notes.append("seed-step: one step = batch gather + forward + backward + SGD update; the training set "
                         "is synthetic (uniform pixels, one-hot labels), as only its shapes matter")
    return outcome


def guard_cost(settings: Settings) -> Outcome:
    """Workload 9: what the in-place guard costs the seed's training step (issue 8 allows 2%).

    The same network takes the same steps with the guard on and off, in one process and in paired rounds:
    off, `autograd.engine.freeze` is replaced by a function that holds nothing (so no array is made
    read-only and no `Hold` is made), between timed calls, never inside one. Everything else the trust
    work added stays in both. Cases: the seed's loop (``gradient``, then ``params[key] -= lr * grad[key]``)
    all in f64, all in f32, and as the book runs it (``book``: float32 images, as its
    ``load_mnist(normalize=True)`` gives them, and float64 weights), and graphgrad's own loop (``backward``,
    ``SGD.step``) in f64. ``book`` runs after ``f64``: first in a fresh process, its float64 copies of the
    float32 batch stay at glibc's mmap threshold and fault in their pages at every step (275 faults, the
    step 1.2 ms instead of 0.68 ms, guard or not), which would make the guard's share look smaller.
    """
    outcome = Outcome([])
    for case, dtype, data_dtype, make_step in (
            ("f64", np.float64, np.float64, hand_written_step), ("book", np.float64, np.float32, hand_written_step),
            ("f32", np.float32, np.float32, hand_written_step), ("f64 SGD", np.float64, np.float64, graphgrad_step)):
        network = nn.TwoLayerNet(784, 50, 10, weight_init_std=0.01, rng=0, dtype=dtype)
        rng = np.random.default_rng(1)
        n_train = settings.size(10_000, 1_000)
        x_train, t_train = synthetic_data(n_train, 784, 10, data_dtype, rng)
        masks = [rng.choice(n_train, 100) for _ in range(64)]
        step = make_step(network, x_train, t_train)
        samples = paired_rounds({"guard off": _guarded_sample(step, masks, False, settings.size(50, 5)),
                                 "guard on": _guarded_sample(step, masks, True, settings.size(50, 5))},
                                settings.rounds(41, 3))
        outcome.rows += rows_from_samples("guard-cost", case, samples, {"step": "s"}, "guard off")
    outcome.notes.append("guard-cost: the seed step with the in-place guard on and off (autograd.engine.freeze "
                         "replaced by a no-op between timed calls); ratio = on / off")
    return outcome


def _guarded_sample(step, masks: list, guarded: bool, calls: int):
    batches = cycle(masks)

    def run():
        engine.freeze = _FREEZE if guarded else _hold_nothing
        try:
            step(next(batches))  # untimed: warms the caches after the other contender
            return {"step": time_per_call(lambda: step(next(batches)), calls)}
        finally:
            engine.freeze = _FREEZE
    return run


def _hold_nothing(read, inputs=(), values=()):
    return None


def wide_mlp(settings: Settings) -> Outcome:
    """Workload 2: 784-1000-1000-10 (ReLU), batch 256, float64: graphgrad nn.MLP vs the hand-written layers."""
    network = nn.MLP([784, 1000, 1000, 10], rng=0)
    baseline = HandWrittenMLP(network.params)
    outcome = _training_case("wide-mlp", "f64", network, baseline, np.float64, 256, settings,
                             n_train=settings.size(10_000, 1_000), calls=settings.size(3, 1),
                             rounds=settings.rounds(11, 2))
    outcome.notes.append("wide-mlp: He-initialised weights, the same step as seed-step; BLAS does most of the work")
    return outcome


# --- workload 6: the full recipe ---------------------------------------------------------------------------------
RECIPE_METRICS = {"loop time": "s", "wall time": "s", "test accuracy": "fraction"}


def _recipe_data(settings: Settings):
    """The MNIST arrays for the recipe and a label, or None and why the full set is not available."""
    from nn.datasets import SUBSET_DIR, load_mnist
    if settings.quick:
        return load_mnist(one_hot_label=True, data_dir=SUBSET_DIR, progress=False), "shipped 5000/1000 subset"
    directory = os.environ.get("GRAPHGRAD_DATA")
    if not directory:
        return None, "the full MNIST is needed: set GRAPHGRAD_DATA to the folder of its four IDX files"
    try:
        data = load_mnist(one_hot_label=True, data_dir=directory, download=False, allow_subset=False, progress=False)
    except (FileNotFoundError, ValueError) as exc:
        return None, f"the full MNIST could not be read from GRAPHGRAD_DATA={directory}: {exc}"
    return data, f"full MNIST from {directory}"


def seed_recipe(settings: Settings) -> Outcome:
    """Workload 6: the seed's whole recipe (10,000 SGD steps, batch 100, accuracies each epoch), two nets in step."""
    iterations = settings.size(10_000, 200)
    case = f"f64, {iterations:,} steps"
    data, source = _recipe_data(settings)
    if data is None:
        rows = []
        for name in (BASELINE, "graphgrad"):
            rows += missing_rows("seed-recipe", case, name, RECIPE_METRICS, NOT_AVAILABLE, source, BASELINE)
        return Outcome(rows, [f"seed-recipe: not run: {source}"])
    (x_train, t_train), (x_test, t_test) = ((x.astype(np.float64), t.astype(np.float64)) for x, t in data)
    rng = np.random.default_rng(0)  # the weights, then the batches, from one stream as in the seed
    network = nn.TwoLayerNet(784, 50, 10, weight_init_std=0.01, rng=rng)
    nets = {BASELINE: SeedTwoLayerNet.from_params(network.params), "graphgrad": network}
    steps = {BASELINE: hand_written_step(nets[BASELINE], x_train, t_train),
             "graphgrad": graphgrad_step(network, x_train, t_train)}
    names = list(steps)
    train_size, batch_size = len(x_train), 100
    iter_per_epoch = max(train_size // batch_size, 1)
    block = max(iterations // 10, 1)
    loop = dict.fromkeys(names, 0.0)
    evaluation = dict.fromkeys(names, 0.0)
    blocks = {name: [] for name in names}
    block_start = dict.fromkeys(names, 0.0)
    clock = time.perf_counter
    for i in range(iterations):
        mask = rng.choice(train_size, batch_size)
        for name in (names if i % 2 == 0 else names[::-1]):  # alternate who goes first (warm caches)
            start = clock()
            steps[name](mask)
            loop[name] += clock() - start
        if i % iter_per_epoch == 0:  # the seed's per-epoch accuracies, part of its wall time
            for name in names:
                start = clock()
                nets[name].accuracy(x_train, t_train), nets[name].accuracy(x_test, t_test)
                evaluation[name] += clock() - start
        if (i + 1) % block == 0:
            for name in names:
                blocks[name].append({"time per step": (loop[name] - block_start[name]) / block})
                block_start[name] = loop[name]
    accuracy = {name: float(nets[name].accuracy(x_test, t_test)) for name in names}
    rows = rows_from_samples("seed-recipe", case, blocks, {"time per step": "s"}, BASELINE,
                             {name: f"over blocks of {block:,} steps" for name in names})
    for metric, values in (("loop time", loop),
                           ("wall time", {n: loop[n] + evaluation[n] for n in names}),
                           ("test accuracy", accuracy)):
        for name in names:
            ratio = values[name] / values[BASELINE] if metric != "test accuracy" else None
            rows.append(Row("seed-recipe", case, name, metric, RECIPE_METRICS[metric], median=values[name],
                            low=values[name], high=values[name], samples=1, baseline=BASELINE, ratio=ratio,
                            ratio_to={} if ratio is None else {BASELINE: ratio}))
    notes = [f"seed-recipe: {source}; steps interleaved one by one (who goes first alternates), same weights and "
             f"batches; loop time = the steps (gather, forward, backward, update), wall time adds the per-epoch "
             f"train and test accuracies; test accuracy {accuracy['graphgrad']:.4f} (graphgrad) vs "
             f"{accuracy[BASELINE]:.4f} (hand-written)"]
    return Outcome(rows, notes)
