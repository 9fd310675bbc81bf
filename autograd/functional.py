"""Public function forms of the ops (``relu(x)``, ``softmax_cross_entropy(logits, t)``, ...).

Each is a thin call into `autograd.engine.apply`, plus the argument checks that need the user's values
to name in an error. Compositions (``mean``, ``dot``) live here too; backward rules live only in `ops`.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from . import ops
from .engine import apply
from .tensor import Tensor

__all__ = [
    "add", "sub", "neg", "mul", "div", "power", "matmul", "dot", "exp", "log", "tanh", "relu", "sigmoid",
    "sum", "mean", "max", "astype", "reshape", "transpose", "broadcast_to", "getitem", "softmax", "log_softmax",
    "softmax_cross_entropy",
]


def add(x, y) -> Tensor:
    """``x + y`` with NumPy broadcasting."""
    return apply(ops.ADD, x, y)


def sub(x, y) -> Tensor:
    """``x - y`` with NumPy broadcasting."""
    return apply(ops.SUB, x, y)


def neg(x) -> Tensor:
    """``-x``."""
    return apply(ops.NEG, x)


def mul(x, y) -> Tensor:
    """``x * y`` elementwise, with NumPy broadcasting."""
    return apply(ops.MUL, x, y)


def div(x, y) -> Tensor:
    """``x / y`` elementwise, with NumPy broadcasting."""
    return apply(ops.DIV, x, y)


def power(x, exponent) -> Tensor:
    """``x ** exponent`` for a scalar ``exponent`` (a parameter: it gets no gradient).

    >>> power(Tensor([1.0, 2.0, 3.0]), 2).data
    array([1., 4., 9.])
    >>> power(Tensor([1.0, 2.0]), [2, 3])
    Traceback (most recent call last):
    ...
    ValueError: pow: the exponent must be a scalar number, got an array of shape (2,)
    """
    if isinstance(exponent, Tensor):
        if exponent.requires_grad:
            raise TypeError(
                "pow: the exponent is a Tensor that requires grad; pow differentiates only the base "
                "(write exp(y * log(x)) to differentiate the exponent)"
            )
        exponent = exponent.data
    if isinstance(exponent, (np.ndarray, list, tuple)):
        shape = np.shape(exponent)
        if shape != ():
            raise ValueError(f"pow: the exponent must be a scalar number, got an array of shape {shape}")
        exponent = np.asarray(exponent).item()
    if not isinstance(exponent, (int, float, np.integer, np.floating)) or isinstance(exponent, bool):
        raise TypeError(f"pow: the exponent must be a scalar number, got {type(exponent).__name__}")
    return apply(ops.POW, x, exponent=float(exponent))


def log_of_base(base) -> float:
    """``log(base)`` for ``base ** tensor``, which is computed as ``exp(tensor * log(base))``."""
    if not isinstance(base, (int, float, np.integer, np.floating)) or isinstance(base, bool):
        raise TypeError(f"pow: a Tensor exponent needs a scalar number as base, got {type(base).__name__}")
    if base <= 0:
        raise ValueError(f"pow: a Tensor exponent needs a positive base, got {base}")
    return math.log(base)


def matmul(x, y) -> Tensor:
    """Matrix product of 1-d and 2-d operands, as ``np.dot`` (and the ``@`` operator) computes it.

    >>> matmul(Tensor(np.ones((2, 3))), Tensor(np.ones(3))).data
    array([3., 3.])
    >>> matmul(Tensor(np.ones((3, 4))), Tensor(np.ones((5, 2))))
    Traceback (most recent call last):
    ...
    ValueError: matmul: shapes (3, 4) and (5, 2) are not aligned: 4 (dim 1) != 5 (dim 0)
    """
    return apply(ops.MATMUL, x, y)


dot = matmul


def exp(x) -> Tensor:
    """Elementwise ``e ** x``."""
    return apply(ops.EXP, x)


def log(x) -> Tensor:
    """Elementwise natural logarithm."""
    return apply(ops.LOG, x)


def tanh(x) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return apply(ops.TANH, x)


def relu(x) -> Tensor:
    """``max(x, 0)`` elementwise; its derivative at exactly 0 is 0 (the seed's mask is ``x <= 0``).

    >>> relu(Tensor([-1.0, 0.0, 2.0])).data
    array([0., 0., 2.])
    """
    return apply(ops.RELU, x)


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise, stable for any magnitude of ``x``.

    >>> sigmoid(Tensor([-1000.0, 0.0, 1000.0])).data
    array([0. , 0.5, 1. ])
    """
    return apply(ops.SIGMOID, x)


def _check_axis(op_name: str, x, axis):
    """Normalise ``axis`` (int, tuple or None) and name the op and shape when it is out of range."""
    if axis is None:
        return None
    ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op_name}: axis {a} is out of range for an input of {ndim} dimensions")
    return int(axes[0]) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axes)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all elements), as ``np.sum``."""
    return apply(ops.SUM, x, axis=_check_axis("sum", x, axis), keepdims=bool(keepdims))


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (None: all elements): the sum divided by the count.

    >>> mean(Tensor([[1.0, 2.0], [3.0, 5.0]]), axis=0).data
    array([2. , 3.5])
    """
    total = sum(x, _check_axis("mean", x, axis), keepdims)
    count = (x.size if isinstance(x, Tensor) else np.size(x)) // builtins.max(total.size, 1)
    return total * (1.0 / count) if count else total * np.nan


def max(x, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``. Tied maxima share the gradient evenly (each of k ties gets 1/k).

    >>> x = Tensor([1.0, 3.0, 3.0])
    >>> max(x).backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    """
    return apply(ops.MAX, x, axis=_check_axis("max", x, axis), keepdims=bool(keepdims))


def astype(x, dtype) -> Tensor:
    """``x`` converted to the float ``dtype``; the gradient is converted back to ``x``'s dtype.

    >>> astype(Tensor([1.0, 2.0]), np.float32).dtype
    dtype('float32')
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"cast: only float dtypes carry gradients, got {dtype}")
    return apply(ops.CAST, x, dtype=dtype)


def reshape(x, shape) -> Tensor:
    """``x`` with a new shape holding the same number of elements (one entry may be -1)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return apply(ops.RESHAPE, x, shape=shape)


def transpose(x, axes=None) -> Tensor:
    """Permute the axes as ``np.transpose`` does (None reverses them; ``x.T`` for a matrix)."""
    if axes is not None:
        axes = tuple(int(a) for a in axes)
        ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
        if sorted(a % ndim if ndim else a for a in axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {ndim} axes of the input")
        axes = tuple(a % ndim for a in axes)  # the node records the permutation as NumPy applies it
    return apply(ops.TRANSPOSE, x, axes=axes)


def broadcast_to(x, shape) -> Tensor:
    """``x`` broadcast to ``shape`` (a read-only view in the forward pass)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return apply(ops.BROADCAST_TO, x, shape=shape)


def getitem(x, index) -> Tensor:
    """``x[index]`` for basic slices, integers, integer arrays and boolean masks.

    The gradient is scattered back, accumulating where an integer index repeats an element.

    >>> x = Tensor([1.0, 2.0, 3.0])
    >>> getitem(x, [0, 0, 2]).sum().backward()
    >>> x.grad
    array([2., 0., 1.])
    """
    return apply(ops.GETITEM, x, index=_plain_index(index))


def _plain_index(index):
    """Replace Tensors and lists inside an index by arrays, so the index is a constant parameter."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        # A Tensor always holds floats, so a boolean mask and 0/1 positions look alike in it; guessing
        # (or truncating 1.7 to 1) would select the wrong elements without a word.
        raise TypeError(
            f"getitem: a Tensor (dtype {index.dtype}, shape {index.shape}) cannot be an index: Tensors hold "
            "floats, which could mean positions or a mask; index with a NumPy array instead (integer "
            "positions, e.g. t.data.astype(int), or a boolean mask, e.g. t.data > 0)"
        )
    if isinstance(index, list):
        positions = np.asarray(index)
        # An empty list means no positions; NumPy would make it a float64 array and refuse it as an index.
        return positions.astype(np.intp) if positions.size == 0 else positions
    return index


def softmax(x, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum so large inputs cannot overflow."""
    return apply(ops.SOFTMAX, x, axis=_check_axis("softmax", x, axis))


def log_softmax(x, axis: int = -1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed as ``x - logsumexp(x)`` for stability."""
    return apply(ops.LOG_SOFTMAX, x, axis=_check_axis("log_softmax", x, axis))


def softmax_cross_entropy(logits, t) -> Tensor:
    """Mean cross-entropy of ``softmax(logits)`` against ``t``: the seed's Softmax-with-Loss, fused.

    Args:
        logits: scores of shape (N, C), or (C,) for one sample.
        t: integer class labels of shape (N,) (or a single label for 1-d logits), or one-hot
            targets of the logits' shape. A parameter: it gets no gradient.

    Returns:
        The mean loss over the batch as a 0-d Tensor. Its VJP is ``(softmax(logits) - onehot) / N``.

    Raises:
        ValueError: labels out of range, or targets whose shape fits neither form.
        TypeError: float labels.

    >>> logits = Tensor([[2.0, 1.0, 0.1]])
    >>> loss = softmax_cross_entropy(logits, [0])
    >>> round(loss.item(), 4)
    0.417
    >>> loss.backward()
    >>> logits.grad.round(4)
    array([[-0.341 ,  0.2424,  0.0986]])
    """
    logits_shape = logits.shape if isinstance(logits, Tensor) else np.shape(logits)
    target = t.data if isinstance(t, Tensor) else np.asarray(t)
    if len(logits_shape) == 1:  # one sample: a batch of one
        target = target.reshape(1, -1) if target.ndim == 1 else target.reshape(1)
        return softmax_cross_entropy(reshape(logits, (1, -1)), target)
    if len(logits_shape) != 2:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (N, C) or (C,), got {logits_shape}")
    n, num_classes = logits_shape
    if target.shape == (n,):
        if target.dtype.kind not in "iu":
            raise TypeError(
                f"softmax_cross_entropy: class labels must be integers, got dtype {target.dtype} "
                "(pass one-hot targets of shape (N, C) for soft labels)"
            )
        if n and (target.min() < 0 or target.max() >= num_classes):
            bad = target[(target < 0) | (target >= num_classes)][0]
            raise ValueError(
                f"softmax_cross_entropy: label {bad} is out of range for {num_classes} classes (0..{num_classes - 1})"
            )
    elif target.shape == (n, num_classes):
        if target.dtype.kind not in "biuf":
            raise TypeError(f"softmax_cross_entropy: one-hot targets must be numeric, got dtype {target.dtype}")
    else:
        raise ValueError(
            f"softmax_cross_entropy: targets of shape {target.shape} fit neither labels ({n},) nor "
            f"one-hot rows {(n, num_classes)} for logits of shape {logits_shape}"
        )
    return apply(ops.SOFTMAX_CROSS_ENTROPY, logits, target=target)
