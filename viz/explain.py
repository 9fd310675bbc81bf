"""Explain a backward pass in text, one line per VJP in the order they run (`explain`); `viz.animate` shows the
same lines as captions. No drawing and no files here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograd.graph import backward_steps
from viz import labels
from viz.graph_view import GraphView, collect_graph


@dataclass(frozen=True)
class _Contribution:
    step_number: int
    input_position: int
    gradient: np.ndarray


def _expression(view: GraphView, node) -> str:
    """``out = a × b`` for a short binary symbol, else ``out = symbol(a, params)``."""
    symbol = str(getattr(node.op, "symbol", None) or node.op.name)
    arguments = [view.name_of(tensor) for tensor in node.inputs]
    output = node.output
    output_name = view.name_of(output) if output is not None else "(freed output)"
    if len(arguments) == 2 and len(symbol) <= 2 and not node.params:
        return f"{output_name} = {arguments[0]} {symbol} {arguments[1]}"
    params = labels.format_params(node.params)
    return f"{output_name} = {symbol}({', '.join(arguments + ([params] if params else []))})"


def describe_step(view: GraphView, step, step_number: int) -> str:
    """One line for a backward step: the op, its expression, the output's gradient and what each input receives.

    `explain` prints these lines and `viz.animate_backward` shows them as captions.

    >>> from autograd import Tensor
    >>> x = Tensor(3.0, name="x")
    >>> y = x * 2.0
    >>> describe_step(collect_graph(y), backward_steps(y)[0], 1)
    'step 1  × (mul)  t2 = x × t1  grad 1  →  x () ← 2,  t1 () no grad'
    """
    node = step.node
    symbol = str(getattr(node.op, "symbol", None) or node.op.name)
    sent = []
    for tensor, gradient in zip(node.inputs, step.input_grads):
        target = f"{view.name_of(tensor)} {labels.format_shape(tensor.shape)}"
        sent.append(f"{target} no grad" if gradient is None else f"{target} ← {labels.format_array(gradient)}")
    return (f"step {step_number}  {symbol} ({node.op.name})  {_expression(view, node)}  "
            f"grad {labels.format_array(step.grad_output)}  →  {',  '.join(sent)}")


def _contributions_by_value(view: GraphView, steps) -> dict[int, list[_Contribution]]:
    received: dict[int, list[_Contribution]] = {}
    for step_number, step in enumerate(steps, start=1):
        for position, (tensor, gradient) in enumerate(zip(step.node.inputs, step.input_grads)):
            if gradient is not None:
                received.setdefault(view.index_of(tensor), []).append(
                    _Contribution(step_number, position, np.asarray(gradient)))
    return received


def explain(root, grad=None) -> str:
    """Explain the backward pass from ``root`` in text, one line per VJP in the order they run.

    Each step line names the op, its output and inputs (names as in `viz.draw_graph`, ``t<k>`` for unnamed
    tensors), the complete gradient of the output and the contribution sent to each input with its shape.
    A closing section gives every gradient received; a tensor used several times lists each contribution
    and their sum. Nothing is written into ``.grad``.

    Args:
        root: a Tensor or a list of Tensors to differentiate.
        grad: the seed gradient (default ones), as for ``Tensor.backward``.

    >>> from autograd import Tensor
    >>> x = Tensor(3.0, name="x")
    >>> y = x * x
    >>> y.name = "y"
    >>> print(explain(y))
    backward from y () = 9, 1 step
    step 1  × (mul)  y = x × x  grad 1  →  x () ← 3,  x () ← 3
    gradients:
      x () 6 = 3 + 3  (2 contributions: step 1 input 0, step 1 input 1)
      y () 1  (seed)
    """
    view = collect_graph(root)
    steps = backward_steps(root, grad)
    root_text = ", ".join(f"{view.name_of(tensor)} {labels.format_shape(tensor.shape)} = "
                          f"{labels.format_array(tensor.data)}" for tensor in view.roots)
    lines = [f"backward from {root_text}, {len(steps)} step{'s' if len(steps) != 1 else ''}"]
    lines += [describe_step(view, step, number) for number, step in enumerate(steps, start=1)]
    lines.append("gradients:")
    received = _contributions_by_value(view, steps)
    seeds = _seed_gradients(view, steps, grad)
    for value_index, tensor in enumerate(view.values):
        target = f"{view.names[value_index]} {labels.format_shape(tensor.shape)}"
        contributions = received.get(value_index, [])
        if len(contributions) == 1:
            lines.append(f"  {target} {labels.format_array(contributions[0].gradient)}")
        elif contributions:
            total = contributions[0].gradient
            for contribution in contributions[1:]:
                total = total + contribution.gradient
            terms = " + ".join(labels.format_array(c.gradient) for c in contributions)
            sources = ", ".join(f"step {c.step_number} input {c.input_position}" for c in contributions)
            lines.append(f"  {target} {labels.format_array(total)} = {terms}  "
                         f"({len(contributions)} contributions: {sources})")
        elif value_index in seeds:
            lines.append(f"  {target} {labels.format_array(seeds[value_index])}  (seed)")
    return "\n".join(lines)


def _seed_gradients(view: GraphView, steps, grad) -> dict[int, np.ndarray]:
    """The gradient each root starts with: the grad_output of its node's step, or the seed for a leaf root."""
    seeds = {}
    for step in steps:
        output = step.node.output
        if output is not None and any(output is root for root in view.roots):
            seeds[view.index_of(output)] = np.asarray(step.grad_output)
    for tensor in view.roots:
        if tensor.node is None and tensor.requires_grad and view.index_of(tensor) not in seeds:
            seeds[view.index_of(tensor)] = np.ones_like(tensor.data) if grad is None else np.asarray(grad)
    return seeds
