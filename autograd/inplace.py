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

A view is held with the arrays it views (its ``.base`` chain): ``W.data[...] = 0`` fails while a graph holds
``W.T``, and ``Tensor(a[:10])`` guards ``a`` too. What is not seen: writes through another view of the same
memory made before the graph recorded (``b = a[:5]``, then ``b[0] = 1``; likewise a view graphgrad's ops
returned under `no_grad` or of a constant, while the views they record are read-only for good, see
`seal_view`; an ndarray subclass made by ``a.view(Sub)`` is another view too, while an ``np.memmap`` is
held), and arrays that are read-only already (left as they are). A view released while another graph still
holds its base is given back with that base.

Its cost on the seed's training step is measured by ``python -m benchmarks --only guard-cost`` (the same steps
with the guard on and off, in one process): see the README.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

__all__ = ["freeze", "give_back", "seal_view", "Hold", "is_held", "RELEASED", "released_error"]

_ndarray = np.ndarray
_holds: dict[int, int] = {}  # id(array) -> number of Holds keeping it read-only (the Holds keep the arrays alive)
# Graphs recorded by several threads may share arrays (a model's weights). Reentrant only so that a Hold
# freed inside it can tell its own thread has it (`_lock_is_owned`): it is never entered twice.
_lock = threading.RLock()
_lock_acquire, _lock_release, _lock_is_owned = _lock.acquire, _lock.release, _lock._is_owned
# Views whose give-back failed because an array they view was still held by another graph (NumPy makes a
# view writeable only when its base is): retried when any held array is given back. Weak references, so a
# view that dies meanwhile is dropped; a plain dict, as whether it is empty is asked at every give-back.
_waiting: dict[int, weakref.ref] = {}  # id(view) -> weak reference to the view
# What Holds freed inside the lock asked to give back. A collection can run at any allocation inside the
# lock (freeze builds tuples) and free a Hold of an unreachable graph in the same thread: that Hold must
# not wait for the lock its own thread has (a deadlock), nor enter it again (it would change a count
# halfway through an update), so it leaves its arrays here and the lock's holder gives them back before
# letting go.
_deferred: list = []
# Holds a backward pass emptied, for `freeze` to fill again: in a training loop no Hold is made or freed
# (each finalizer call found the interpreter's caches cold between two matrix products).
_spare: list = []
_SPARE_MAX = 1024

RELEASED = ()
"""What a recorded Tensor holds (``_held``) once a backward pass gave its arrays back: it cannot be
backpropagated again."""


def freeze(read, inputs=(), values=()) -> Hold | None:
    """Make the writeable ndarrays among ``read`` read-only for one more holder: their `Hold`, or None if none.

    ``read`` holds what a new node's VJPs read, ``inputs`` and ``values`` are its input Tensors and their
    values. A view in ``read`` is held with every array whose writes it would see (see `_viewed`).
    """
    for array in read:
        if type(array) is _ndarray and array.base is not None:
            read = _with_viewed(read, inputs, values)
            break
    frozen = ()
    holds = _holds
    _lock_acquire()  # once per op, not per array; acquire/release cost half of a `with _lock:` block (callgrind)
    try:
        for array in read:
            # NumPy scalars are immutable; an ndarray subclass (np.memmap) comes as the owner of a view's memory
            if type(array) is not _ndarray and not isinstance(array, _ndarray):
                continue
            key = id(array)
            count = holds.get(key)
            if count:
                holds[key] = count + 1
            elif array.flags.writeable:
                array.setflags(False)  # positional: 120 ns, with write=False 310 ns (keyword parsing)
                holds[key] = 1
            else:
                continue  # read-only already (a broadcast view, a user's choice): not ours to give back
            frozen = (array,) + frozen  # bases first: `_give_back` makes them writeable before their views
        if not frozen:
            return None
        # A Hold a backward pass emptied, or a new one (no __init__ call: this runs for every recorded op
        # that reads an array). Inside the lock: another thread may take the last spare one.
        hold = _spare.pop() if _spare else _new_hold(Hold)
        hold.arrays = frozen
        return hold
    finally:
        if _deferred:
            _give_back_deferred()
        _lock_release()


def _with_viewed(read: tuple, inputs, values) -> tuple:
    """``read`` with each view in it followed by the arrays it views (`_viewed`), bases after their views."""
    expanded = ()
    for array in read:
        expanded += (array,) if type(array) is not _ndarray or array.base is None else _viewed(array, inputs, values)
    return expanded


def _viewed(view, inputs, values) -> tuple:
    """``view``, the arrays up the graph it is a view of, and the array that owns their memory, in that order.

    NumPy's ``.base`` of a view is the owner of the memory, skipping the views in between: a node reading
    ``W.T`` where ``W.data`` is itself a view would leave ``W.data`` writeable. The graph knows the chain:
    the op that made a view (transpose, reshape, getitem, ...) recorded the value it viewed. ``view`` is
    one of ``values`` (an input's value) or the new node's output (viewing among ``values`` themselves).
    """
    chain = (view,)
    owner = view.base
    pairs = zip(inputs, values)
    for tensor, value in zip(inputs, values):
        if value is view:  # an input's value: what it views is among the inputs of the op that made it
            pairs = zip(tensor._inputs, tensor._values) if tensor._op is not None else ()
            break
    while True:
        for tensor, value in pairs:
            if type(value) is _ndarray and value is not view and (value is owner or value.base is owner):
                break
        else:
            break
        if value is owner:
            break
        chain += (value,)
        view = value
        pairs = zip(tensor._inputs, tensor._values) if tensor._op is not None else ()
    # Then the owner and, past it, the arrays NumPy stopped at: its base chain ends at an array of another
    # type (an np.memmap slice stops at the slice, not at the memmap it was cut from) or at a bytes buffer.
    while isinstance(owner, _ndarray):
        chain += (owner,)
        owner = owner.base
    return chain


def seal_view(result, values) -> None:
    """Make a recorded op's output read-only for good when it is a view of one of its inputs' arrays.

    reshape, transpose, getitem with slices and flatten return views: a write into ``v.data`` of
    ``v = x.reshape(3)`` would write into ``x``'s array under every graph that read it, even one recorded
    after ``v`` was made, where holding ``x`` read-only cannot see it (PyTorch refuses in-place changes to
    views of leaves that require grad too). Only recorded outputs are sealed: under `no_grad`, or on
    constants, views stay writeable (in-place preprocessing and initialisation through views work), and
    such a view made before a graph read its array is not seen by the guard. ``detach()`` gives a
    writeable copy; so does ``.data.copy()``.
    """
    owner = result.base
    for value in values:
        if value is owner or (type(value) is _ndarray and value.base is owner):
            result.setflags(False)
            return


class Hold:
    """The arrays one recorded op holds read-only (made by `freeze`), given back when the Hold is freed.

    A recorded Tensor keeps its Hold in ``_held`` (None when the op froze nothing, as in every scalar
    graph, which so pays nothing for the finalizer). A backward pass replaces it with `RELEASED` when it
    reaches the Node and gives the arrays back when it ends (`give_back`, which empties the Hold and keeps
    it for `freeze`); a graph that dies unbackpropagated frees its Holds with its Tensors, and each
    finalizer gives its arrays back. An array is made writeable when its last holder lets go. A Hold
    belongs to one Tensor: ``copy.copy`` of a recorded Tensor makes the copy a Hold of its own.
    """

    __slots__ = ("arrays",)

    def __del__(self):
        arrays = self.arrays
        if not arrays or _holds is None:  # given back by a backward pass (see `give_back`), or shutting down
            return
        if _lock_is_owned():  # freed by a collection inside the lock, in this thread: see _deferred
            _deferred.append(arrays)
            return
        _lock_acquire()
        try:
            _give_back(arrays)
            if _deferred:
                _give_back_deferred()
        finally:
            _lock_release()


def give_back(claimed: list) -> None:
    """Give back the arrays of the Holds a backward pass claimed, ``(hold, its arrays then)`` pairs, under one lock.

    A backward pass without ``retain_graph`` marks each Node that holds arrays `RELEASED` when it reaches
    it and calls this once when it ends, not a finalizer per Node between the VJPs: each found the
    interpreter's caches cold after a matrix product (in the seed's step that was half the guard's time).
    The emptied Holds are kept for `freeze` to fill again (up to `_SPARE_MAX`): in a training loop no Hold
    is made or freed. A Hold whose arrays are no longer those it held when claimed was given back by
    another pass that claimed it too (two threads at once) and is left alone.
    """
    if _lock_is_owned():  # a collection inside the lock ran a backward pass (in a finalizer of the user's):
        return  # the Holds are freed with the list, and their finalizers defer their arrays
    _lock_acquire()
    try:
        spare = _spare
        arrays = []  # (a list: adding to a tuple would copy it for every Node of a long graph)
        for held, claimed_arrays in claimed:
            if held.arrays is not claimed_arrays:
                continue
            arrays += claimed_arrays
            held.arrays = ()
            if len(spare) < _SPARE_MAX:
                spare.append(held)
        # The pool's Holds must have no other holder: a pass that raised leaves its frame, and so this list, in
        # the traceback a notebook or test runner keeps, and a graph given one of them would never let go of it.
        claimed.clear()
        _give_back(arrays)
        if _deferred:
            _give_back_deferred()
    finally:
        _lock_release()


def _give_back(arrays) -> None:
    """Let go of ``arrays``, one holder for each entry, inside the lock: each is made writeable when its last
    holder lets go.

    Each Hold lists bases before the views of them (see `freeze`): NumPy makes a view writeable only when
    the array it views is. A view whose base is given back later in ``arrays`` waits in `_waiting`.
    """
    holds = _holds
    given_back = False
    for array in arrays:
        key = id(array)
        count = holds.pop(key, 0)
        if count > 1:
            holds[key] = count - 1
        elif count:
            try:
                array.setflags(True)
                given_back = True
            except ValueError:  # a view whose base another graph still holds: given back with it
                _waiting[key] = weakref.ref(array)
    if given_back and _waiting:
        _retry_waiting()


def _retry_waiting() -> None:
    """Make writeable the views in `_waiting` whose bases have been given back (inside the lock)."""
    holds = _holds
    for key, ref in list(_waiting.items()):
        view = ref()
        if view is not None and key not in holds:  # (held again by a newer graph: that one gives it back)
            try:
                view.setflags(True)
            except ValueError:
                continue
        del _waiting[key]


def _give_back_deferred() -> None:
    """Give back what Holds freed inside the lock left in `_deferred` (giving back may free more: a loop)."""
    while _deferred:
        _give_back(_deferred.pop())


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
    return id(array) in _holds  # a held array is alive, so no other live object has its id


def released_error(who: str, node) -> RuntimeError:
    """The error for backpropagating through a Node whose saved arrays were given back."""
    shapes = ", ".join(str(t.shape) for t in node.inputs)
    return RuntimeError(
        f"{who}: the {node.op.name} node (inputs of shape {shapes}) was already backpropagated and gave "
        "its saved arrays back, so they may have been changed in place since; run the forward pass "
        "again, or pass retain_graph=True to the earlier backward to backpropagate twice"
    )
