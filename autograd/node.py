"""`Node`: one application of an op in a recorded graph, as users and `viz` see it. Nothing else lives here.

Ownership points one way: a Tensor owns the record of the op that produced it (`autograd.engine.apply`
fills it into the Tensor's own slots) and so its input Tensors. A graph is freed by reference counting as
soon as its last output is dropped, with no help from the garbage collector. The `Node` of a Tensor is a
view of that record, made on first access (``tensor.node``) and kept by the Tensor, so ``y.node is
y.node``; it sees its output through a weak reference, as before, and keeps what it shows after the output
is freed.
"""

from __future__ import annotations

from weakref import ref as _weak_ref

import numpy as np

__all__ = ["Node", "node_view"]


class Node:
    """One op application: the op, its input Tensors, its parameters, what forward saved, its output.

    Tensors and Nodes form the bipartite graph of the book's figures: Nodes are the circles, Tensors
    the values on the edges. A Node is made by ``tensor.node``, never by hand.

    Attributes:
        op: the `autograd.ops.Op` applied (``op.name``, ``op.symbol``).
        inputs: the input Tensors, in argument order (constants are Tensors that do not require grad).
        params: the op's non-differentiable parameters (``{"axis": 1}``), or None when it has none.
        saved: what forward kept for the backward pass (only ops declared with ``saves=True``), else None;
            its arrays are shown through read-only views, as backward reads them.
        module: the dotted name of the `nn` module that recorded the node (``"Affine1"``), or None.

    >>> from autograd import Tensor
    >>> x = Tensor(3.0, name="x")
    >>> y = x * 2
    >>> node = y.node
    >>> node.op.name, [t.name for t in node.inputs], node.output is y, node is y.node
    ('mul', ['x', None], True, True)
    """

    # `_values` and `_out_value` are the input and output values the op saw, which backward uses (so a
    # later `.data =` cannot change a gradient); `_frozen` (a property) the arrays held read-only for it.
    __slots__ = ("op", "inputs", "params", "saved", "module", "_output", "_values", "_out_value", "__weakref__")

    @property
    def output(self):
        """The Tensor this node produced, or None once it has been freed."""
        return self._output()

    @property
    def _frozen(self):
        """The arrays the node holds read-only (see `autograd.inplace`): a tuple, None, or ``RELEASED``."""
        out = self._output()
        if out is None:
            return None
        held = out._held
        return held if held is None or type(held) is tuple else held.arrays

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        where = f", module={self.module!r}" if self.module else ""
        return f"Node({self.op.name}, inputs=[{shapes}]{where})"


def node_view(t) -> Node:
    """The `Node` of a Tensor an op produced: made from the Tensor's record, kept in ``t._node``."""
    node = Node.__new__(Node)
    node.op, node.inputs, node.params, node.module, node.saved = t._op, t._inputs, t._params, t._module, None
    if t._op.saves:  # the record keeps what forward saved among the params, as the VJPs take it
        params = dict(t._params)
        node.saved = _read_only(params.pop("saved"))
        node.params = params or None
    node._values, node._out_value, node._output = t._values, t._out_value, _weak_ref(t)
    t._node = node
    return node


def _read_only(saved):
    """``saved`` with each ndarray in it (alone or in a tuple) replaced by a read-only view of it.

    Only the Node hands what forward saved to users, and backward reads it: a write through ``node.saved``
    would change a gradient without a word, so the view refuses it (the arrays themselves stay as they are).
    """
    if type(saved) is np.ndarray:
        view = saved.view()
        view.setflags(write=False)
        return view
    if type(saved) is tuple:
        return tuple(map(_read_only, saved))
    return saved
