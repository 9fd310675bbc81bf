"""Turn a recorded graph into a `graphviz.Digraph` (values, ops, module clusters); pure, no files, no `dot` program."""

from __future__ import annotations

from collections import Counter
from typing import Callable

import graphviz
import numpy as np

from viz import _checks, labels
from viz.graph_view import GraphView, collect_graph

DEFAULT_MAX_NODES = 500
# Module paths nest at most this deep; the rest of a path is joined into its last cluster's name. `dot` runs out
# of parser stack near 5,000 nested clusters, and each level copies its children's lines.
MAX_MODULE_DEPTH = 10
# The summary drawn instead of an over-large graph lists at most this many kinds of op and roots, so it stays small.
SUMMARY_ROWS = 8

FONT = "Helvetica"
GRAD_COLOR = "#1f5fbf"
ALERT_COLOR = "#d00000"
ALERT_FILL = "#ffd6d6"
MUTED_COLOR = "#666666"
LEAF_FILL = "#fcd9a8"
INTERMEDIATE_FILL = "#fff0d9"
CONSTANT_FILL = "#eeeeee"
OP_FILL = "#cfe2f3"
OP_BORDER = "#3d6f9e"
MODULE_FILL = "#d9ead3"
HIGHLIGHT_FILL = "#ffd966"
HIGHLIGHT_BORDER = "#b45f06"


def draw_graph(root, *, show_data: bool = True, show_grad: bool = True, rankdir: str | None = None,
               max_nodes: int = DEFAULT_MAX_NODES, collapse_modules: bool = False,
               title: str | None = None) -> graphviz.Digraph:
    """Draw the computational graph behind ``root`` as a `graphviz.Digraph`.

    Values are rounded boxes (name, shape and dtype on top, the forward value, then, once backward has run,
    the gradient below a rule in blue); ops are blue ellipses showing their symbol. Values or gradients holding
    NaN or inf are drawn red. Nodes recorded inside an ``nn`` module (``Node.module``) are grouped in one cluster
    per module, or one box per module with ``collapse_modules=True``. Node ids follow the graph's order, so the
    same computation always gives the same DOT source. In Jupyter the returned Digraph displays inline; write
    files with `viz.render`.

    Overlong text is cut with an ellipsis, so `dot` accepts any figure: names, module names and op symbols at
    `viz.labels.MAX_NAME_LENGTH` (40) characters, the title at `viz.labels.MAX_TITLE_LENGTH` (500), and module
    paths at `MAX_MODULE_DEPTH` (10) nested clusters.

    Args:
        root: a Tensor or a list of Tensors; the graph is everything reachable backwards from them.
        show_data: show forward values.
        show_grad: show ``.grad`` where it is set.
        rankdir: Graphviz layout direction: "LR", "RL", "TB" or "BT". None (the default) lays out graphs
            recorded by ``nn`` modules top to bottom, layer under layer, and others left to right as the
            book draws its bills.
        max_nodes: if more value and op nodes would be drawn, return a one-node summary instead.
        collapse_modules: draw each module as one box listing its ops and parameters.
        title: optional caption drawn above the graph.

    Raises:
        ValueError: for an unknown ``rankdir`` or a ``max_nodes`` that is not an integer of at least 1.
        TypeError: for a ``max_nodes`` that is not a number.

    >>> from autograd import Tensor
    >>> apple, apple_num = Tensor(100.0, name="apple"), Tensor(2.0, name="apple_num")
    >>> price = apple * apple_num
    >>> price.backward()
    >>> source = draw_graph(price).source
    >>> "v0 -> op0" in source and "v1 -> op0" in source and "op0 -> v2" in source
    True
    >>> "grad 2" in source and "grad 100" in source
    True
    """
    view = collect_graph(root)
    return draw_view(view, show_data=show_data, show_grad=show_grad, rankdir=rankdir, max_nodes=max_nodes,
                     collapse_modules=collapse_modules, title=title,
                     gradient_of=lambda tensor: tensor.grad)


def draw_view(view: GraphView, *, show_data: bool, show_grad: bool, rankdir: str | None, max_nodes: int,
              collapse_modules: bool, title: str | None,
              gradient_of: Callable, highlight_node: int | None = None,
              reserve_grad_rows: bool = False) -> graphviz.Digraph:
    """Draw a collected graph; `draw_graph` and `viz.animate` share it.

    ``gradient_of(tensor)`` supplies the gradient shown for a tensor (None: not known), ``highlight_node`` is the
    toposort index of an op to highlight, and ``reserve_grad_rows`` keeps an empty gradient row on tensors that
    require grad so frames of an animation keep their layout.

    >>> from autograd import Tensor
    >>> view = collect_graph(Tensor(2.0, name="a") * Tensor(3.0, name="b"))
    >>> digraph = draw_view(view, show_data=True, show_grad=False, rankdir="TB", max_nodes=10,
    ...                     collapse_modules=False, title=None, gradient_of=lambda t: None, highlight_node=0)
    >>> HIGHLIGHT_FILL in digraph.source
    True
    """
    if rankdir not in (None, "LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be one of 'LR', 'RL', 'TB', 'BT' or None, got {rankdir!r}")
    _checks.positive_integer("draw_graph", "max_nodes", max_nodes)
    plan = _Plan(view, collapse_modules)
    if rankdir is None:
        # A network drawn left to right is one long strip (a TwoLayerNet was 5231 x 493 px); layers stack well.
        rankdir = "TB" if plan.modules else "LR"
    digraph = _new_digraph(rankdir, title)
    if plan.drawn_count > max_nodes:
        _draw_summary(digraph, view, plan, max_nodes, gradient_of if show_grad else (lambda tensor: None))
        return digraph
    painter = _Painter(view, plan, show_data, show_grad, gradient_of, highlight_node, reserve_grad_rows)
    _emit_cluster_tree(digraph, plan, painter)
    for edge_tail, edge_head, attributes in plan.edges(highlight_node):
        digraph.edge(edge_tail, edge_head, **attributes)
    return digraph


def _new_digraph(rankdir: str, title: str | None) -> graphviz.Digraph:
    graph_attr = {"rankdir": rankdir, "fontname": FONT, "nodesep": "0.3", "ranksep": "0.4"}
    if title is not None:
        graph_attr.update(label=f"<<B>{_escaped(title, labels.MAX_TITLE_LENGTH)}</B>>", labelloc="t")
    return graphviz.Digraph(
        "graphgrad",
        graph_attr=graph_attr,
        node_attr={"fontname": FONT, "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "color": "#555555"},
    )


class _Plan:
    """Which DOT node stands for each value and op, which cluster holds it, and which values are hidden."""

    def __init__(self, view: GraphView, collapse_modules: bool):
        self.view = view
        self.collapse = collapse_modules
        values, nodes = view.values, view.nodes
        consumers = [[] for _ in values]
        for node_index, node in enumerate(nodes):
            for tensor in node.inputs:
                consumers[view.index_of(tensor)].append(node_index)
        producer = [None] * len(values)
        for node_index, output in enumerate(view.outputs):
            if output is not None:
                producer[view.index_of(output)] = node_index
        root_indices = {view.index_of(tensor) for tensor in view.roots}

        self.node_module = [_module_path(node) for node in nodes]
        self.value_module = []
        for value_index, tensor in enumerate(values):
            if producer[value_index] is not None:
                self.value_module.append(self.node_module[producer[value_index]])
                continue
            consumer_modules = {self.node_module[i] for i in consumers[value_index]}
            # A parameter belongs to the one module that uses it; data and constants stay outside.
            if tensor.requires_grad and len(consumer_modules) == 1:
                self.value_module.append(next(iter(consumer_modules)))
            else:
                self.value_module.append(())

        self.modules = list(dict.fromkeys(path for path in self.node_module if path))
        self.module_id = {path: f"m{k}" for k, path in enumerate(self.modules)}
        self.hidden_values = set()
        if collapse_modules:
            for value_index, path in enumerate(self.value_module):
                if path and value_index not in root_indices and all(
                        self.node_module[i] == path for i in consumers[value_index]):
                    self.hidden_values.add(value_index)
        self.consumers = consumers
        self.drawn_values = [i for i in range(len(values)) if i not in self.hidden_values]
        drawn_ops = len(self.modules) if collapse_modules else 0
        drawn_ops += sum(1 for path in self.node_module if not (collapse_modules and path))
        freed_outputs = sum(1 for output in view.outputs if output is None)
        self.drawn_count = len(self.drawn_values) + drawn_ops + freed_outputs

    def value_id(self, value_index: int) -> str:
        if value_index in self.hidden_values:
            return self.module_id[self.value_module[value_index]]
        return f"v{value_index}"

    def op_id(self, node_index: int) -> str:
        path = self.node_module[node_index]
        return self.module_id[path] if self.collapse and path else f"op{node_index}"

    def placement_of_value(self, value_index: int) -> tuple:
        path = self.value_module[value_index]
        return path[:-1] if self.collapse else path

    def placement_of_op(self, node_index: int) -> tuple:
        path = self.node_module[node_index]
        return path[:-1] if self.collapse else path

    def edges(self, highlight_node: int | None):
        """Yield (tail, head, attributes) in graph order; collapsed boxes get each edge once."""
        seen = set()
        for node_index, node in enumerate(self.view.nodes):
            op_id = self.op_id(node_index)
            emphasis = {"color": GRAD_COLOR, "penwidth": "2.2"} if node_index == highlight_node else {}
            for tensor in node.inputs:
                tail = self.value_id(self.view.index_of(tensor))
                if tail != op_id and (not self.collapse or (tail, op_id) not in seen):
                    seen.add((tail, op_id))
                    yield tail, op_id, emphasis
            output = self.view.outputs[node_index]
            head = f"freed{node_index}" if output is None else self.value_id(self.view.index_of(output))
            if head != op_id and (not self.collapse or (op_id, head) not in seen):
                seen.add((op_id, head))
                yield op_id, head, {}


def _module_path(node) -> tuple:
    module = getattr(node, "module", None)
    if not module:
        return ()
    return tuple(str(module).split(".", MAX_MODULE_DEPTH - 1))


def _op_symbol(node) -> str:
    return labels.shorten(getattr(node.op, "symbol", None) or node.op.name, labels.MAX_NAME_LENGTH)


def _escaped(text, limit: int) -> str:
    """Text for an HTML-like label: cut to ``limit`` characters first, then escaped (so no entity is split)."""
    return labels.escape_html(labels.shorten(text, limit))


class _Painter:
    """Builds the HTML-like labels and attributes of value, op and module nodes."""

    def __init__(self, view, plan, show_data, show_grad, gradient_of, highlight_node, reserve_grad_rows):
        self.view, self.plan = view, plan
        self.show_data, self.show_grad = show_data, show_grad
        self.gradient_of = gradient_of
        self.highlight_node = highlight_node
        self.reserve_grad_rows = reserve_grad_rows
        self.root_indices = {view.index_of(tensor) for tensor in view.roots}

    def value_node(self, value_index: int) -> tuple[str, dict]:
        tensor = self.view.values[value_index]
        header = (f"<B>{labels.escape_html(self.view.names[value_index])}</B> "
                  f'<FONT POINT-SIZE="9" COLOR="{MUTED_COLOR}">'
                  f"{labels.format_shape(tensor.shape)} {labels.escape_html(tensor.dtype)}</FONT>")
        rows = [header]
        alert = False
        if self.show_data:
            text, nonfinite = _array_lines(tensor.data)
            alert |= nonfinite
            rows.append(text)
        grad = self.gradient_of(tensor) if self.show_grad else None
        if grad is not None:
            text, nonfinite = _array_lines(grad)
            alert |= nonfinite
            rows.append(None)
            rows.append(f'<FONT COLOR="{GRAD_COLOR}">grad {text}</FONT>')
        elif self.show_grad and self.reserve_grad_rows and tensor.requires_grad:
            rows.extend([None, "&#160;"])
        if not tensor.requires_grad:
            fill = CONSTANT_FILL
        elif tensor.node is None:
            fill = LEAF_FILL
        else:
            fill = INTERMEDIATE_FILL
        attributes = {"shape": "box", "style": "rounded,filled", "fillcolor": fill, "color": "#8a6d3b"}
        if value_index in self.root_indices:
            attributes["penwidth"] = "2"
        if alert:
            attributes.update(fillcolor=ALERT_FILL, color=ALERT_COLOR, penwidth="2.5")
        return _html_table(rows), attributes

    def op_node(self, node_index: int) -> tuple[str, dict]:
        node = self.view.nodes[node_index]
        symbol = _op_symbol(node)
        params = labels.format_params(node.params)
        label = labels.escape_html(symbol)
        if params:
            label += f'<BR/><FONT POINT-SIZE="9">{_escaped(params, labels.MAX_TITLE_LENGTH)}</FONT>'
        short = len(symbol) <= 2 and not params
        attributes = {"shape": "circle" if short else "ellipse", "style": "filled", "fillcolor": OP_FILL,
                      "color": OP_BORDER, "margin": "0.04" if short else "0.08,0.04"}
        if short:
            attributes["fontsize"] = "14"
        if node_index == self.highlight_node:
            attributes.update(fillcolor=HIGHLIGHT_FILL, color=HIGHLIGHT_BORDER, penwidth="3")
        return f"<{label}>", attributes

    def module_node(self, path: tuple) -> tuple[str, dict]:
        plan = self.plan
        op_symbols = Counter(_op_symbol(node) for node, node_path in zip(self.view.nodes, plan.node_module)
                             if node_path == path)
        ops_text = ", ".join(symbol if count == 1 else f"{symbol} ×{count}" for symbol, count in op_symbols.items())
        rows = [f"<B>{_escaped(path[-1], labels.MAX_NAME_LENGTH)}</B>",
                f'<FONT POINT-SIZE="9">ops: {_escaped(ops_text, labels.MAX_TITLE_LENGTH)}</FONT>']
        alert = False
        for value_index in sorted(plan.hidden_values):
            tensor = self.view.values[value_index]
            if plan.value_module[value_index] != path:
                continue
            grad = self.gradient_of(tensor) if self.show_grad else None
            for array in (tensor.data, grad) if grad is not None else (tensor.data,):
                alert |= labels.summarize_array(array).has_nonfinite
            if tensor.node is None:
                line = f"{self.view.names[value_index]} {labels.format_shape(tensor.shape)}"
                if grad is not None:
                    line += f"  grad ‖·‖ {labels.format_number(labels.summarize_array(grad).norm or 0.0)}"
                rows.append(f'<FONT POINT-SIZE="9">{_escaped(line, labels.MAX_TITLE_LENGTH)}</FONT>')
        attributes = {"shape": "box3d", "style": "filled", "fillcolor": MODULE_FILL, "color": "#38761d"}
        if alert:
            attributes.update(fillcolor=ALERT_FILL, color=ALERT_COLOR, penwidth="2.5")
        return _html_table(rows), attributes


def _array_lines(array) -> tuple[str, bool]:
    """Escaped label text for a value or gradient and whether it holds NaN or inf (counted in red when summarised)."""
    array = np.asarray(array)
    summary = labels.summarize_array(array)
    if array.size <= labels.MAX_LISTED_ENTRIES:
        return labels.escape_html(labels.format_entries(array)), summary.has_nonfinite
    text = labels.escape_html(labels.format_statistics(summary))
    if summary.has_nonfinite:
        text += f' <FONT COLOR="{ALERT_COLOR}"><B>{labels.escape_html(labels.format_nonfinite(summary))}</B></FONT>'
    return text, summary.has_nonfinite


def _html_table(rows: list) -> str:
    """An HTML-like label with one row per entry; None draws a horizontal rule (value above, gradient below)."""
    body = "".join("<HR/>" if row is None else f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{body}</TABLE>>'


def _emit_cluster_tree(digraph: graphviz.Digraph, plan: _Plan, painter: _Painter) -> None:
    """Add every drawn node, nested in one `cluster_…` subgraph per module path."""
    members: dict[tuple, list] = {}
    drawn_values = set(plan.drawn_values)
    placed_modules = set()

    def place_value(value_index):
        if value_index in drawn_values:
            drawn_values.discard(value_index)
            members.setdefault(plan.placement_of_value(value_index), []).append(("value", value_index))

    # Statements follow the graph's order: each op's inputs, the op, its output.
    for node_index, node in enumerate(plan.view.nodes):
        for tensor in node.inputs:
            place_value(plan.view.index_of(tensor))
        path = plan.node_module[node_index]
        if plan.collapse and path:
            if path not in placed_modules:
                placed_modules.add(path)
                members.setdefault(path[:-1], []).append(("module", path))
        else:
            members.setdefault(plan.placement_of_op(node_index), []).append(("op", node_index))
        output = plan.view.outputs[node_index]
        if output is None:
            members.setdefault(plan.placement_of_op(node_index), []).append(("freed", node_index))
        else:
            place_value(plan.view.index_of(output))
    for value_index in plan.drawn_values:
        place_value(value_index)
    children: dict[tuple, list] = {}
    for path in list(members):
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            siblings = children.setdefault(prefix[:-1], [])
            if prefix not in siblings:
                siblings.append(prefix)
    cluster_names = {path: f"cluster_{k}" for k, path in enumerate(sorted(
        {prefix for paths in children.values() for prefix in paths}))}

    # Innermost clusters first, so each is complete when its parent copies it in. A loop, not a recursive
    # closure: that closure referred to itself, a cycle that kept every drawn Tensor alive until gc ran.
    built: dict[tuple, graphviz.Digraph] = {}
    for path in sorted(cluster_names, key=len, reverse=True) + [()]:
        graph = digraph if path == () else graphviz.Digraph(name=cluster_names[path])
        if path:
            graph.attr(label=f"<<B>{_escaped(path[-1], labels.MAX_NAME_LENGTH)}</B>>", style="rounded,dashed",
                       color="#6aa84f", fontcolor="#38761d", fontname=FONT, labeljust="l")
        for child in children.get(path, []):
            graph.subgraph(built.pop(child))
        for kind, key in members.get(path, []):
            _emit_member(graph, plan, painter, kind, key)
        built[path] = graph


def _emit_member(graph: graphviz.Digraph, plan: _Plan, painter: _Painter, kind: str, key) -> None:
    if kind == "op":
        label, attributes = painter.op_node(key)
        graph.node(plan.op_id(key), label, **attributes)
    elif kind == "value":
        label, attributes = painter.value_node(key)
        graph.node(plan.value_id(key), label, **attributes)
    elif kind == "module":
        label, attributes = painter.module_node(key)
        graph.node(plan.module_id[key], label, **attributes)
    else:
        graph.node(f"freed{key}", "<<I>output freed</I>>", shape="box", style="dashed")


def _draw_summary(digraph, view: GraphView, plan: _Plan, max_nodes: int, gradient_of) -> None:
    """Replace an over-large drawing by one node: counts, the most frequent ops and the roots' values."""
    op_counts = Counter(labels.shorten(f"{getattr(node.op, 'symbol', node.op.name)} ({node.op.name})",
                                       labels.MAX_TITLE_LENGTH) for node in view.nodes)
    rows = [f"<B>Graph too large to draw: {len(view.nodes):,} ops and {len(view.values):,} values</B>",
            f"{plan.drawn_count:,} nodes would be drawn; max_nodes={max_nodes:,}",
            "Draw a smaller sub-graph or pass a larger max_nodes"
            + (", or collapse_modules=True." if plan.modules and not plan.collapse else ".")]
    rows.append(None)
    for op_text, count in op_counts.most_common(SUMMARY_ROWS):
        rows.append(labels.escape_html(f"{op_text}: {count:,}"))
    if len(op_counts) > SUMMARY_ROWS:
        rows.append(f"… and {len(op_counts) - SUMMARY_ROWS} more kinds of op")
    for tensor in view.roots[:SUMMARY_ROWS]:
        rows.append(None)
        text, _ = _array_lines(tensor.data)
        rows.append(f"<B>root {labels.escape_html(view.name_of(tensor))}</B> "
                    f"{labels.format_shape(tensor.shape)}: {text}")
        grad = gradient_of(tensor)
        if grad is not None:
            grad_text, _ = _array_lines(grad)
            rows.append(f'<FONT COLOR="{GRAD_COLOR}">grad {grad_text}</FONT>')
    if len(view.roots) > SUMMARY_ROWS:
        rows.extend([None, f"… and {len(view.roots) - SUMMARY_ROWS:,} more roots"])
    digraph.node("summary", _html_table(rows), shape="note", style="filled", fillcolor="#fff2cc")
