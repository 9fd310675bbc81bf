"""The only graph walker: an iterative `toposort`, and `backward`, `grad` and `backward_steps` built on it.

No recursion anywhere: a chain of a million ops sorts and backpropagates in time linear in its size.
"""

from __future__ import annotations

import contextlib
import threading
from typing import NamedTuple

import numpy as np

from .engine import check_finite
from .inplace import RELEASED, give_back, released_error
from .mode import current as current_mode, enable_grad
from .ops import CAST, call, passes_g, sum_to
from .tensor import Tensor, _fill

_new_tensor = Tensor.__new__

__all__ = ["toposort", "backward", "grad", "backward_steps", "BackwardStep"]

_ndarray = np.ndarray
_NO_PARAMS = {}  # a VJP's params when its op has none


def _as_tensor_list(values, who: str) -> list:
    values = [values] if isinstance(values, Tensor) else list(values)
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"{who}: expected Tensors, got {type(v).__name__}")
    return values


def toposort(roots) -> list:
    """Every Node reachable backwards from ``roots``, each after the Nodes that produced its inputs.

    Args:
        roots: a Tensor or an iterable of Tensors.

    >>> from autograd import Tensor
    >>> a, b = Tensor(2.0), Tensor(3.0)
    >>> c = a * b
    >>> [node.op.name for node in toposort(c + a)]
    ['mul', 'add']
    """
    return [t.node for t in _recorded(_as_tensor_list(roots, "toposort"))]


_LEAVE = object()  # on `_recorded`'s stack, under a Tensor entered: leave it once this is popped


def _recorded(roots) -> list:
    """The Tensors ops produced, reachable backwards from ``roots``, each after the producers of its inputs."""
    order, entered = [], set()
    # Depth-first with an explicit stack. Entering a Tensor pushes it, `_LEAVE`, then its producers (the first
    # input's on top); popping `_LEAVE`, after them, leaves the Tensor under it. A producer already entered is
    # pushed anyway and skipped when popped: in a DAG, every Tensor entered but not left is an ancestor on the
    # path, so it has been left. Against entered and left sets, with the inputs in a tuple: 0.38 -> 0.27 µs
    # per Tensor of micrograd's demo step, 0.30 -> 0.20 on the scalar chain (the single input tests do most of
    # it); not testing `entered` when pushing took the chain's 0.20 -> 0.18 (the demo's stays 0.26).
    stack = [t for t in reversed(roots) if t._op is not None]
    while stack:
        t = stack.pop()
        if t is _LEAVE:
            order.append(stack.pop())
            continue
        if t in entered:
            continue
        entered.add(t)
        stack.append(t)
        stack.append(_LEAVE)
        more = t._more
        if more:
            for t_input in reversed((t._x, t._y) + more):
                if t_input._op is not None:
                    stack.append(t_input)
            continue
        t_input = t._y  # None for a one-input op
        if t_input is not None and t_input._op is not None:
            stack.append(t_input)
        t_input = t._x
        if t_input._op is not None:
            stack.append(t_input)
    return order


class BackwardStep(NamedTuple):
    """One VJP evaluation of a backward pass (see `backward_steps`)."""

    node: object
    grad_output: np.ndarray
    input_grads: tuple


def _seed_array(who: str, given, root) -> np.ndarray:
    """A copy of the caller's gradient for ``root`` in its dtype; never a silent NaN, truncation or alias."""
    given = np.asarray(given)
    if given.dtype.kind not in "biuf":  # None becomes NaN, complex loses its imaginary part, text fails later
        raise TypeError(
            f"{who}: grad must hold real numbers, got an array of dtype {given.dtype}"
            + (" (a None inside it?)" if given.dtype == object else "")
        )
    _check_seed_shape(who, given.shape, root)
    return np.array(given, dtype=root.dtype)


def _check_seed_shape(who: str, shape, root) -> None:
    if tuple(shape) != root.shape:
        raise ValueError(f"{who}: grad has shape {tuple(shape)} but the output has shape {root.shape}")


def _seed_gradients(roots, grad_outputs, who: str, as_tensors: bool, single: bool) -> list:
    """The starting gradient of each root: ones for a one-element root, else the caller's ``grad``.

    With a ``single`` root, ``grad_outputs`` is that root's gradient (an array, number or nested list);
    with a list of roots, it is a list holding one gradient (or None) per root.
    """
    if grad_outputs is None:
        grad_outputs = [None] * len(roots)
    elif single:
        # PyTorch's habit of a one-item list for one output: [None] or [tensor] means that item.
        if (isinstance(grad_outputs, (list, tuple)) and len(grad_outputs) == 1
                and (grad_outputs[0] is None or isinstance(grad_outputs[0], Tensor))):
            grad_outputs = list(grad_outputs)
        else:
            grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(roots):
        raise ValueError(f"{who}: got {len(grad_outputs)} gradients for {len(roots)} outputs")
    seeds = []
    for root, given in zip(roots, grad_outputs):
        if not root.requires_grad:
            raise RuntimeError(
                f"{who}: the output {root!r} does not require grad (it was made from constants only, "
                "or inside no_grad()), so there is no graph to backpropagate through"
            )
        if given is None:
            if root.size != 1:
                raise RuntimeError(
                    f"{who}: a gradient can be implied only for a one-element output; this output has "
                    f"shape {root.shape}: pass grad= an array of that shape"
                )
            # A NumPy scalar for a 0-d root, like the 0-d values it meets (and no np.ones call: ~2 µs).
            seed = root.dtype.type(1) if root.ndim == 0 else np.ones(root.shape, dtype=root.dtype)
        elif as_tensors and isinstance(given, Tensor) and given.requires_grad:
            # Recorded: the gradients then depend on it (the double-VJP trick for Jacobian-vector products).
            _check_seed_shape(who, given.shape, root)
            seed = given if given.dtype == root.dtype else given.astype(root.dtype)
        else:
            seed = _seed_array(who, given.data if isinstance(given, Tensor) else given, root)
        seeds.append(seed if isinstance(seed, Tensor) or not as_tensors else Tensor(seed, requires_grad=False))
    return seeds


def _propagate(roots, seeds, *, who: str, create_graph: bool, retain_graph: bool, store=None, on_step=None) -> None:
    """Run the VJPs in reverse topological order, starting from ``seeds`` at ``roots``.

    Each Tensor's gradient is summed from all its uses in a dict local to this pass (keyed by the Tensors,
    which hash by identity), then handed once to ``store(tensor, gradient)``; without ``store`` it is added
    into ``.grad``. The VJPs see the values each op saw in its forward pass; with ``create_graph`` they run
    on the Tensors themselves and are recorded. Each Node that holds arrays is claimed (`_claim`) before its
    VJPs run, and the arrays are given back when the pass ends, also when a VJP raised.
    """
    pending = {}
    for root, seed in zip(roots, seeds):
        pending[root] = pending[root] + seed if root in pending else seed
    into_grad, store = store is None, store or _grad_adder()
    anomaly = current_mode().anomaly
    plain = not (create_graph or anomaly or on_step)  # nothing to do per input but the VJP and the sum
    spent = []  # (Hold, its arrays) of the Nodes claimed, for `autograd.inplace.give_back`
    try:
        with np.errstate(all="ignore") if anomaly else contextlib.nullcontext():  # anomalies raise instead
            for out in reversed(_recorded(roots)):
                g = pending.pop(out, None)
                if g is None:  # nothing reached this output (it only feeds a root we did not seed)
                    continue
                if out._held is not None:
                    _claim(out, who, retain_graph, spent)
                if into_grad and type(g) is not _ndarray and type(out._data) is not _ndarray:
                    grad = out._grad  # the adder's NumPy-scalar case, uncalled: -8% of a scalar op's backward
                    out._grad = g if grad is None else grad + g
                else:
                    store(out, g)
                op, x, y = out._op, out._x, out._y
                if plain and y is not None and out._params is None and not out._more:
                    # Two inputs, no params (+ - * / @): `_send` with each VJP called directly, inline. Without
                    # its call, tuples, zip and star-calls, a scalar op's backward took 1.18 -> 0.81 µs. x's and
                    # y's steps are written out: a loop over the pair took 17% longer, a helper per input 6%.
                    vjps = op.vjps  # an Op may have more, for inputs it was not given (``z=1.0``)
                    vjp_x, vjp_y = vjps[0], vjps[1]
                    x_value, y_value, out_value = out._x_value, out._y_value, out._out_value
                    if x.requires_grad:
                        g_x = g if vjp_x is passes_g else vjp_x(g, out_value, x_value, y_value)
                        if type(g_x) is not type(x_value) or type(x_value) is _ndarray:
                            g_x = _fit(op, g_x, x_value, False)
                        previous = pending.get(x)
                        pending[x] = g_x if previous is None else previous + g_x
                    if y.requires_grad:
                        g_y = g if vjp_y is passes_g else vjp_y(g, out_value, x_value, y_value)
                        if type(g_y) is not type(y_value) or type(y_value) is _ndarray:
                            g_y = _fit(op, g_y, y_value, False)
                        previous = pending.get(y)
                        pending[y] = g_y if previous is None else previous + g_y
                    continue
                sent = _send(out, g, pending, create_graph, anomaly, who)
                if on_step:
                    on_step(BackwardStep(out.node, _data(g), tuple(map(_data, sent))))
    finally:
        if spent:
            give_back(spent)
    for leaf, g in pending.items():  # what is left: the leaves, in the order gradients reached them
        store(leaf, g)


def _send(out, g, pending: dict, create_graph: bool, anomaly: bool, who: str) -> list:
    """Run the VJPs of ``out``'s Node for its inputs that require grad and add what they give into ``pending``.

    Returns the gradient sent to each input, None where an input requires none (for `backward_steps`).
    """
    op, inputs, values = out._op, out._inputs, out._values
    if create_graph:  # the VJPs run on the Tensors, recorded; else on the values forward saw
        _check_values_unchanged(out, who)
        args = (g, out) + inputs
    else:
        args = (g, out._out_value) + values
    params = out._params or _NO_PARAMS
    sent = []
    for t, value, vjp in zip(inputs, values, op.vjps):
        g_input = None
        if t.requires_grad:
            g_input = g if vjp is passes_g else vjp(*args, **params)
            # Two NumPy scalars of one type agree in shape and dtype: nothing to fit.
            if type(g_input) is not type(value) or type(value) is _ndarray:
                g_input = _fit(op, g_input, value, create_graph)
            if anomaly:
                check_finite(op, "backward", _data(g_input), [a.data for a in inputs])
            previous = pending.get(t)
            pending[t] = g_input if previous is None else previous + g_input
        sent.append(g_input)
    return sent


def _claim(out, who: str, retain_graph: bool, spent: list) -> None:
    """Before a Node's VJPs run: refuse it if a pass already released it; unless ``retain_graph``, mark it
    `RELEASED` (a second pass, in any thread, then raises) and keep its Hold for ``give_back``.

    Reading and marking ``out._held`` call nothing in between, so no other thread runs between them.
    """
    held = out._held
    if held is RELEASED:
        raise released_error(who, out.node)
    if not retain_graph:
        out._held = RELEASED
        spent.append((held, held.arrays))


def _fit(op, g_input, value, create_graph: bool):
    """Sum a broadcast gradient back to its input's shape and give it the input's dtype; refuse any other shape."""
    shape = value.shape  # an ndarray or a NumPy scalar (np.shape costs ~0.4 µs a call through its dispatcher)
    if g_input.shape != shape:
        if op.broadcasting:
            g_input = sum_to(g_input, shape)
        if g_input.shape != shape:
            raise RuntimeError(
                f"{op.name}: a VJP returned a gradient of shape {g_input.shape} for an input of shape {shape}; "
                "a gradient must have its input's shape"
            )
    dtype = value.dtype
    if g_input.dtype != dtype:
        g_input = call(CAST, g_input, dtype=dtype) if create_graph else g_input.astype(dtype)
    return g_input


def _check_values_unchanged(out, who: str) -> None:
    """With create_graph the VJPs read the Tensors themselves: refuse if one no longer holds what forward saw."""
    op = out._op
    checks = [(out._inputs[i], out._values[i], f"input {i}") for i in op.reads]
    if op.reads_out:
        checks.append((out, out._out_value, "output"))
    for tensor, value, role in checks:
        current = tensor._data
        if current is value or (type(value) is not _ndarray and current.shape == () and current == value):
            continue
        label = f" {tensor.name!r}" if tensor.name else ""
        raise RuntimeError(
            f"{who}: the {role}{label} of {op.name} (shape {tensor.shape}) was given new data after the "
            "node was recorded, so create_graph would differentiate other values than the forward pass "
            "used; run the forward pass again"
        )


_grad_lock = threading.Lock()


def _grad_adder():
    """``store`` for `backward`: add each gradient into ``.grad``; an array another Tensor got is copied first."""
    stored = set()  # ids of the arrays handed to a .grad in this pass (a view of one counts as shared)

    def add(t, g):
        data = t._data
        if type(g) is _ndarray or type(data) is _ndarray:  # (NumPy scalars are immutable: nothing to protect)
            if g.shape != data.shape:
                raise RuntimeError(
                    f"backward: a gradient of shape {g.shape} reached {t!r}, whose data has shape {data.shape}: "
                    "its .data was replaced by an array of another shape after the graph was recorded"
                )
            g = _owned(g, stored)
            # Threads backpropagating into one leaf (a model's shared weights) each add theirs: NumPy lets go
            # of the GIL inside a large sum, so reading .grad and writing the sum back is one step, locked.
            with _grad_lock:
                current = t._grad
                t._grad = g if current is None else current + g
            return
        current = t._grad  # NumPy scalars: no call lets another thread in between
        t._grad = g if current is None else current + g
    return add


def _owned(g, stored: set):
    """``g``, or a copy if it is an array another result of this pass may share (a view, read-only, or handed out).

    ``stored`` holds the ids of the arrays handed out so far; they stay alive, so no id is reused. The add
    op hands one gradient array to both its inputs: without the copy, ``gx *= 0.1`` would scale ``gy`` too.
    """
    if type(g) is _ndarray:
        if not g.flags.writeable or g.base is not None or id(g) in stored:
            g = g.copy()
        stored.add(id(g))
    return g


def _label(t) -> str:
    return f" {t.name!r}" if t.name else ""


def _data(value):
    """The array of a gradient that may be a Tensor (under create_graph); None stays None."""
    return value.data if isinstance(value, Tensor) else value


def backward(roots, grad_outputs=None, retain_graph: bool = False) -> None:
    """Backpropagate from ``roots``, adding into ``.grad`` of every Tensor that requires grad.

    Leaves and intermediates both get their gradient, so a whole graph can be inspected and drawn.
    ``Tensor.backward`` calls this. Each stored ``.grad`` is an array of its own (never a view shared
    with another Tensor), so it can be changed in place safely.

    Args:
        roots: a Tensor or a list of Tensors.
        grad_outputs: the gradient for each root (optional for one-element roots, where it is 1).
        retain_graph: keep the arrays the graph saved read-only, so it can be backpropagated again.
            By default they are given back, writeable, for in-place updates (``W -= lr * W.grad``),
            and a second backward through an op that held arrays raises `RuntimeError` (see
            `autograd.inplace`). Ops that read no array of the graph (``+``, ``sum``, ``relu``, which
            keeps its own mask) and graphs of scalars hold nothing, and can be backpropagated again.

    Raises:
        RuntimeError: a root does not require grad; a Node on the way was backpropagated before
            without ``retain_graph``; a VJP returned a gradient of the wrong shape.
    """
    single = isinstance(roots, Tensor)
    roots = _as_tensor_list(roots, "backward")
    seeds = _seed_gradients(roots, grad_outputs, "backward", as_tensors=False, single=single)
    _propagate(roots, seeds, who="backward", create_graph=False, retain_graph=retain_graph)


def grad(outputs, inputs, grad_outputs=None, create_graph: bool = False, allow_unused: bool = False,
         retain_graph: bool | None = None):
    """The gradients of ``outputs`` with respect to ``inputs``, as Tensors; ``.grad`` is left untouched.

    Without ``create_graph`` each result holds an array of its own, as each ``.grad`` of `backward` does
    (never one shared with another result or a view of one), so it can be changed in place safely.

    Args:
        outputs: a Tensor or a list of Tensors to differentiate.
        inputs: a Tensor (returns one Tensor) or a sequence of Tensors (returns a tuple); a Tensor may
            appear more than once, and gets its gradient at each place.
        grad_outputs: the gradient for each output (optional for one-element outputs).
        create_graph: record the backward pass, so the results can be differentiated again.
        allow_unused: return None for an input the outputs do not depend on, instead of raising.
        retain_graph: as for `backward`; by default True with ``create_graph``, else False.

    Raises:
        RuntimeError: an input does not require grad, or (without ``allow_unused``) is not used.

    >>> from autograd import Tensor
    >>> x = Tensor(2.0)
    >>> dy = grad(x ** 3, x, create_graph=True)
    >>> d2y = grad(dy, x)
    >>> dy.item(), d2y.item()
    (12.0, 12.0)
    """
    single = isinstance(inputs, Tensor)
    inputs = _as_tensor_list(inputs, "grad")
    single_output = isinstance(outputs, Tensor)
    outputs = _as_tensor_list(outputs, "grad")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: input {i}{_label(t)} of shape {t.shape} does not require grad, so it has no gradient "
                "(make it with requires_grad=True)"
            )
    seeds = _seed_gradients(outputs, grad_outputs, "grad", as_tensors=create_graph, single=single_output)
    if retain_graph is None:
        retain_graph = create_graph
    wanted = {}
    for i, t in enumerate(inputs):
        wanted.setdefault(t, []).append(i)
    results = [None] * len(inputs)

    stored = set()

    def collect(t, g):
        for index in wanted.get(t, ()):
            # Each array result is its own, as each .grad of `backward` is: in-place changes stay in it.
            results[index] = g if create_graph else _owned(g, stored)

    if create_graph:
        with enable_grad():
            _propagate(outputs, seeds, who="grad", create_graph=True, retain_graph=retain_graph, store=collect)
    else:
        _propagate(outputs, seeds, who="grad", create_graph=False, retain_graph=retain_graph, store=collect)
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i}{_label(t)} of shape {t.shape} is not used to compute the outputs "
                    "(pass allow_unused=True to get None for it)"
                )
        elif not isinstance(g, Tensor):  # an array or NumPy scalar of the input's dtype (`_fit`): no checks needed
            results[i] = _fill(_new_tensor(Tensor), g, False, None)
    return results[0] if single else tuple(results)


def backward_steps(roots, grad=None) -> list:
    """Run a backward pass that stores nothing and return its steps, in the order the VJPs ran.

    Each `BackwardStep` holds the ``node``, the complete ``grad_output`` of its output, and
    ``input_grads``: the contribution sent to each input (None where the input needs no gradient).
    `viz.animate_backward` and `viz.explain` replay these. The graph is retained (it can be
    backpropagated afterwards); a graph already backpropagated without ``retain_graph`` cannot be replayed.

    >>> from autograd import Tensor
    >>> x = Tensor(3.0)
    >>> [(s.node.op.name, s.grad_output.item(), s.input_grads[0].item()) for s in backward_steps(x * x)]
    [('mul', 1.0, 3.0)]
    """
    single = isinstance(roots, Tensor)
    roots = _as_tensor_list(roots, "backward_steps")
    seeds = _seed_gradients(roots, grad, "backward_steps", as_tensors=False, single=single)
    steps = []
    _propagate(roots, seeds, who="backward_steps", create_graph=False, retain_graph=True,
               store=lambda t, g: None, on_step=steps.append)
    return steps

