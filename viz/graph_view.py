"""`GraphView`: the Tensors and Nodes behind some roots, in the walker's order, with stable display names.

Read through the public Tensor/Node API and `autograd.graph.toposort` only; drawing lives in `viz.dot`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from autograd.graph import toposort
from viz import labels

__all__ = ["GraphView", "collect_graph"]


@dataclass
class GraphView:
    """The tensors and nodes reachable from some roots, in toposort order, with their display names.

    ``values`` lists every tensor once: for each node in toposort order its inputs (argument order), then its
    output; then roots that no node produced. ``names[j]`` is ``values[j].name`` or the generated ``t<j>``.
    """

    roots: list
    nodes: list
    outputs: list
    values: list
    names: list
    _index_by_identity: dict = field(repr=False)

    def index_of(self, tensor) -> int:
        """Position of ``tensor`` in ``values`` (the number in its generated name and its DOT id)."""
        return self._index_by_identity[id(tensor)]

    def name_of(self, tensor) -> str:
        """Display name of ``tensor``: its own name or the generated ``t<index>``."""
        return self.names[self.index_of(tensor)]


def collect_graph(root) -> GraphView:
    """Collect the nodes (via `autograd.graph.toposort`) and the tensors of the graph behind ``root``.

    Args:
        root: a Tensor or a list of Tensors.

    >>> from autograd import Tensor
    >>> x = Tensor(3.0, name="x")
    >>> view = collect_graph(x * x + 1.0)
    >>> view.names, [node.op.name for node in view.nodes]
    (['x', 't1', 't2', 't3'], ['mul', 'add'])
    """
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    nodes = toposort(roots)
    values, outputs, index_by_identity = [], [], {}

    def add(tensor):
        if id(tensor) not in index_by_identity:
            index_by_identity[id(tensor)] = len(values)
            values.append(tensor)

    for node in nodes:
        for tensor in node.inputs:
            add(tensor)
        output = node.output
        outputs.append(output)
        if output is not None:
            add(output)
    for tensor in roots:
        add(tensor)
    names = _distinct_names(values, nodes, outputs, index_by_identity)
    return GraphView(roots, nodes, outputs, values, names, index_by_identity)


def _distinct_names(values, nodes, outputs, index_by_identity) -> list:
    """Display names, with a name shared by several tensors (each layer's ``W``) qualified by its module.

    A tensor takes the module of the node producing it, else of the single module consuming it
    (``Affine1.W``); names still shared after that get ``#2``, ``#3``, … in graph order.
    """
    names = [labels.display_name(tensor.name, index) for index, tensor in enumerate(values)]
    if len(set(names)) == len(names):
        return names
    modules = [set() for _ in values]
    for node, output in zip(nodes, outputs):
        if node.module:
            if output is not None:
                modules[index_by_identity[id(output)]].add(node.module)
            for tensor in node.inputs:
                if tensor.node is None:
                    modules[index_by_identity[id(tensor)]].add(node.module)
    shared = Counter(names)
    for index, name in enumerate(names):
        if shared[name] > 1 and len(modules[index]) == 1:
            names[index] = labels.display_name(f"{next(iter(modules[index]))}.{name}", index)
    seen = Counter()
    for index, name in enumerate(names):
        seen[name] += 1
        if seen[name] > 1:
            names[index] = f"{name}#{seen[name]}"
    return names
