"""The in-place guard: arrays a recorded graph will read in its backward pass are read-only until it has.

A graph must never compute a gradient from values other than those its forward pass used. graphgrad
protects them in two ways, both here and in `engine.apply`:

- every recorded op keeps the values it saw (``node._values``, ``node._out_value``), so reassigning a
  Tensor's ``.data`` afterwards, or a 0-d value turned into an array by ``.data``, cannot reach backward;
- the ndarrays that the op's VJPs read (``Op.reads``) are made read-only (NumPy's ``writeable`` flag) while
  a Node that read them can still be backpropagated, so an in-place write such as ``x.data[...] = 0``,
  ``x.data += 1`` or ``a[0] = 5`` on an array passed to ``Tensor(a)`` fails at once, in NumPy's words
  (``ValueError: assignment destination is read-only``), instead of skewing the gradient silently.

A backward pass without ``retain_graph=True`` gives the arrays back (they become writeable again, so the
book's ``params[key] -= lr * grad[key]`` and every optimizer work as usual); so does a graph that is freed.
Backpropagating through such a released Node again raises `RuntimeError`: its arrays may have changed.
Several Nodes may hold one array; it is given back when the last lets go. Graphs of scalars need none of
this: their values are immutable NumPy scalars, kept by the Nodes.

What is not seen: writes through another view of the same memory made before the graph recorded (a
``Tensor(a[:10])`` guards the view, not ``a``), and arrays that are read-only already (left as they are).

Its cost on the seed's training step is measured by ``python -m benchmarks --only guard-cost`` (the same steps
with the guard on and off, in one process): see the README.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["freeze", "release", "Hold", "is_held", "RELEASED", "released_error"]

_ndarray = np.ndarray
_holds: dict[int, list] = {}  # id(array) -> [array, number of Nodes holding it read-only]
_lock = threading.Lock()  # graphs recorded by several threads may share arrays (a model's weights)
_lock_acquire, _lock_release = _lock.acquire, _lock.release

RELEASED = ()
"""What a recorded Tensor holds (``_held``) once a backward pass gave its arrays back: it cannot be
backpropagated again."""


def freeze(values) -> Hold | None:
    """Make the writeable ndarrays among ``values`` read-only for one more holder: their `Hold`, or None if none."""
    frozen = ()
    holds = _holds
    _lock_acquire()  # once per op, not per array; acquire/release cost half of a `with _lock:` block (callgrind)
    try:
        for array in values:
            if type(array) is not _ndarray:  # NumPy scalars are immutable
                continue
            key = id(array)
            entry = holds.get(key)
            if entry is not None:
                entry[1] += 1
            elif array.flags.writeable:
                array.setflags(False)  # positional: 120 ns, with write=False 310 ns (keyword parsing)
                holds[key] = [array, 1]
            else:
                continue  # read-only already (a broadcast view, a user's choice): not ours to give back
            frozen += (array,)
    finally:
        _lock_release()
    if not frozen:
        return None
    hold = _new_hold(Hold)  # no __init__ call: this runs for every recorded op that reads an array
    hold.arrays = frozen
    return hold


def release(frozen: tuple) -> None:
    """Let go of arrays `freeze` froze; each becomes writeable again when its last holder lets go."""
    holds = _holds
    _lock_acquire()
    try:
        for array in frozen:
            key = id(array)
            entry = holds.get(key)
            if entry is None:
                continue
            entry[1] -= 1
            if entry[1]:
                continue
            del holds[key]
            try:
                array.setflags(True)
            except ValueError:  # a view whose base is still held read-only by another graph: it stays so
                pass
    finally:
        _lock_release()


class Hold:
    """The arrays one recorded op holds read-only (made by `freeze`), given back when the Hold is freed.

    A recorded Tensor keeps its Hold in ``_held`` (None when the op froze nothing, as in every scalar
    graph, which so pays nothing for the finalizer). Backward lets go of it by replacing it with
    `RELEASED`; a graph that dies unbackpropagated frees it with the Tensor. Either way the finalizer gives
    the arrays back: one place, and no second call per held op.
    """

    __slots__ = ("arrays",)

    def __del__(self):
        if release is not None:  # (None when the interpreter is shutting down)
            release(self.arrays)


_new_hold = Hold.__new__


def is_held(array) -> bool:
    """True while a recorded graph holds ``array`` read-only for its backward pass.

    >>> import numpy as np
    >>> from autograd import Tensor
    >>> a = np.ones(2)
    >>> y = Tensor(a) * Tensor(a)
    >>> is_held(a), a.flags.writeable
    (True, False)
    >>> y.sum().backward()
    >>> is_held(a), a.flags.writeable
    (False, True)
    """
    return id(array) in _holds and _holds[id(array)][0] is array


def released_error(who: str, node) -> RuntimeError:
    """The error for backpropagating through a Node whose saved arrays were given back."""
    shapes = ", ".join(str(t.shape) for t in node.inputs)
    return RuntimeError(
        f"{who}: the {node.op.name} node (inputs of shape {shapes}) was already backpropagated and gave "
        "its saved arrays back, so they may have been changed in place since; run the forward pass "
        "again, or pass retain_graph=True to the earlier backward to backpropagate twice"
    )
