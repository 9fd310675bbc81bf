"""`Node`: one application of an op in a recorded graph. Nothing else lives here.

Ownership points one way: a Tensor owns the Node that produced it and a Node owns its input Tensors.
The Node sees its output only through a weak reference, so a graph is freed by reference counting as
soon as its last output is dropped, with no help from the garbage collector.
"""

from __future__ import annotations

from .inplace import release

__all__ = ["Node", "GuardedNode"]


class Node:
    """One op application: the op, its input Tensors, its parameters, what forward saved, its output.

    Tensors and Nodes form the bipartite graph of the seed's figures: Nodes are the circles, Tensors
    the values on the edges. Nodes are made by `autograd.engine.apply`, never by hand: it fills the
    slots itself (the output as a weak reference), which saves a call frame on every recorded op.

    Attributes:
        op: the `autograd.ops.Op` applied (``op.name``, ``op.symbol``).
        inputs: the input Tensors, in argument order (constants are Tensors that do not require grad).
        params: the op's non-differentiable parameters (``{"axis": 1}``), or None when it has none.
        saved: what forward kept for the backward pass (only ops declared with ``saves=True``), else None.
        module: the dotted name of the `nn` module that recorded the node (``"Affine1"``), or None.

    >>> from autograd import Tensor
    >>> x = Tensor(3.0, name="x")
    >>> y = x * 2
    >>> node = y.node
    >>> node.op.name, [t.name for t in node.inputs], node.output is y
    ('mul', ['x', None], True)
    """

    # `_values` and `_out_value` are the input and output values the op saw, which backward uses (so a
    # later `.data =` cannot change a gradient); `_frozen` the arrays held read-only for it (see inplace).
    __slots__ = ("op", "inputs", "params", "saved", "module", "_output", "_values", "_out_value", "_frozen",
                 "__weakref__")

    @property
    def output(self):
        """The Tensor this node produced, or None once it has been freed."""
        return self._output()

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        where = f", module={self.module!r}" if self.module else ""
        return f"Node({self.op.name}, inputs=[{shapes}]{where})"


class GuardedNode(Node):
    """A Node that holds arrays read-only (see `autograd.inplace`); when it is freed, it lets go of them.

    Only Nodes that froze an array are of this class, so graphs of scalars pay nothing for the finalizer.
    """

    __slots__ = ()

    def __del__(self):
        frozen = self._frozen
        if frozen and release is not None:  # (None when the interpreter is shutting down)
            self._frozen = ()
            release(frozen)
