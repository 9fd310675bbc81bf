"""Public function forms of the ops (``relu(x)``, ``softmax_cross_entropy(logits, t)``, ...).

Each is a thin call into `autograd.engine.apply`, plus the argument checks that need the user's values
to name in an error. Compositions (``mean``, ``dot``) live here too; backward rules live only in `ops`.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from . import ops
from .engine import apply, constant
from .tensor import Tensor

__all__ = [
    "add", "sub", "neg", "mul", "div", "power", "matmul", "dot", "exp", "log", "tanh", "relu", "sigmoid",
    "sum", "mean", "max", "astype", "reshape", "transpose", "broadcast_to", "getitem", "softmax", "log_softmax",
    "softmax_cross_entropy", "sin", "cos", "clip", "leaky_relu", "min", "conv2d", "max_pool2d", "avg_pool2d",
    "sum_to", "flatten", "linear", "mean_squared_error", "batch_norm",
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
    """Matrix product: ``np.dot`` for 1-d and 2-d operands; on 3-d and more, NumPy's ``matmul`` rules (a stack
    of matrices, batch dimensions broadcast, a 1-d operand promoted and its dimension dropped again).

    >>> matmul(Tensor(np.ones((2, 3))), Tensor(np.ones(3))).data
    array([3., 3.])
    >>> matmul(Tensor(np.ones((5, 2, 3))), Tensor(np.ones((3, 4)))).shape
    (5, 2, 4)
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
    """``max(x, 0)`` elementwise; its derivative at exactly 0 is 0 (the book's mask is ``x <= 0``).

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


def flatten(x, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """``x`` with the axes ``start_dim`` to ``end_dim`` (both included) merged into one: a `reshape`.

    The default keeps axis 0, the batch, and flattens the rest: (N, C, H, W) -> (N, C·H·W), as the book's
    Affine and ``nn.Flatten`` (PyTorch's ``nn.Flatten`` too) do. `Tensor.flatten` keeps NumPy's
    ``ndarray.flatten`` meaning instead: all axes (``start_dim=0``). Empty axes are fine ((0, 3, 4) ->
    (0, 12)); a 0-d input counts as 1-d, as in PyTorch.

    Raises:
        ValueError: ``start_dim`` or ``end_dim`` is out of range, or ``start_dim`` comes after ``end_dim``.

    >>> flatten(Tensor(np.zeros((2, 3, 4, 5)))).shape
    (2, 60)
    >>> flatten(Tensor(np.zeros((2, 3, 4, 5))), 1, 2).shape
    (2, 12, 5)
    >>> flatten(Tensor(np.zeros((2, 3))), 2)
    Traceback (most recent call last):
    ...
    ValueError: flatten: start_dim 2 is out of range for an input of 2 dimensions
    """
    shape = _shape_of(x)
    ndim = builtins.max(len(shape), 1)
    dims = []
    for what, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"flatten: {what} must be an int, got {type(dim).__name__}")
        if not -ndim <= dim < ndim:
            raise ValueError(f"flatten: {what} {dim} is out of range for an input of {len(shape)} dimensions")
        dims.append(int(dim) % ndim)
    start, end = dims
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for an input of "
                         f"{len(shape)} dimensions")
    merged = math.prod(shape[start:end + 1])
    return apply(ops.RESHAPE, x, shape=tuple(shape[:start]) + (merged,) + tuple(shape[end + 1:]))


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


def sum_to(x, shape) -> Tensor:
    """``x`` summed over the axes that broadcasting ``shape`` to ``x.shape`` added or stretched: the reverse
    (and the adjoint) of `broadcast_to`, so its gradient is ``g`` broadcast back to ``x.shape``.

    The engine's own helper `autograd.ops.sum_to` (which reduces every gradient of a broadcasting op), run
    on a Tensor: a ``sum`` with ``keepdims`` and a ``reshape``, both recorded. ``shape == x.shape`` gives a
    reshape that changes nothing, so the result is always a new Tensor on the graph.

    Raises:
        ValueError: ``shape`` cannot be broadcast to ``x.shape``.

    >>> sum_to(Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), (3,)).data  # the book's bias gradient
    array([5., 7., 9.])
    >>> sum_to(Tensor(np.ones((2, 3))), (2, 1)).data
    array([[3.],
           [3.]])
    >>> sum_to(Tensor(np.ones((2, 3))), (2,))
    Traceback (most recent call last):
    ...
    ValueError: sum_to: shape (2,) cannot be broadcast to the input's shape (2, 3), so the input cannot be summed to it
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    x = x if isinstance(x, Tensor) else apply(ops.RESHAPE, x, shape=np.shape(x))  # a constant, as other ops make
    try:
        fits = np.broadcast_shapes(shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits or builtins.min(shape, default=0) < 0:
        raise ValueError(f"sum_to: shape {shape} cannot be broadcast to the input's shape {x.shape}, "
                         "so the input cannot be summed to it")
    if x.shape == shape:
        return apply(ops.RESHAPE, x, shape=shape)
    return ops.sum_to(x, shape)


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
    """Replace Tensors and lists inside an index by arrays, so the index is a constant parameter.

    An array index is copied: the node keeps it among its params for backward, and a caller's index
    buffer refilled in place (the next batch's labels) must not move an old graph's gradient.
    """
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
    if isinstance(index, np.ndarray):
        return index.copy()
    return index


def softmax(x, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum so large inputs cannot overflow."""
    return apply(ops.SOFTMAX, x, axis=_check_axis("softmax", x, axis))


def log_softmax(x, axis: int = -1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed as ``x - logsumexp(x)`` for stability."""
    return apply(ops.LOG_SOFTMAX, x, axis=_check_axis("log_softmax", x, axis))


def softmax_cross_entropy(logits, t) -> Tensor:
    """Mean cross-entropy of ``softmax(logits)`` against ``t``: the book's Softmax-with-Loss, fused.

    Args:
        logits: scores of shape (N, C), or (C,) for one sample.
        t: integer class labels of shape (N,) (or a single label for 1-d logits), or one-hot
            targets of the logits' shape. A parameter: it gets no gradient. A Tensor of labels holds
            floats (``Tensor([0., 3., 1.])``): its whole numbers are read as the integer labels.

    Returns:
        The mean loss over the batch as a 0-d Tensor. Its VJP is ``(softmax(logits) - onehot) / N``.

    Raises:
        ValueError: labels out of range, a Tensor of labels holding a value that is not a whole
            number, or targets whose shape fits neither form.
        TypeError: an ndarray (or list) of float or bool labels: give integers, as NumPy can hold them.

    >>> logits = Tensor([[2.0, 1.0, 0.1]])
    >>> loss = softmax_cross_entropy(logits, [0])
    >>> round(loss.item(), 4)
    0.417
    >>> loss.backward()
    >>> logits.grad.round(4)
    array([[-0.341 ,  0.2424,  0.0986]])
    >>> round(softmax_cross_entropy(logits, Tensor([0.0])).item(), 4)  # labels in a Tensor
    0.417
    >>> softmax_cross_entropy(logits, Tensor([0.5]))
    Traceback (most recent call last):
    ...
    ValueError: softmax_cross_entropy: labels must be whole numbers, got 0.5 at index 0 of the labels Tensor of shape (1,)
    """
    logits_shape = logits.shape if isinstance(logits, Tensor) else np.shape(logits)
    if isinstance(t, Tensor) and t.ndim == len(logits_shape) - 1 and len(logits_shape) in (1, 2):
        target = _whole_number_labels(t, logits_shape[-1])  # a Tensor holds floats: labels come as 0., 3., 1.
    else:
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
            where = np.flatnonzero((target < 0) | (target >= num_classes))[0]
            raise ValueError(
                f"softmax_cross_entropy: label {target[where]} is out of range for {num_classes} classes "
                f"(0..{num_classes - 1}), at index {where} of the labels of shape {target.shape}"
            )
    elif target.shape == (n, num_classes):
        if target.dtype.kind not in "biuf":
            raise TypeError(f"softmax_cross_entropy: one-hot targets must be numeric, got dtype {target.dtype}")
    else:
        raise ValueError(
            f"softmax_cross_entropy: targets of shape {target.shape} fit neither labels ({n},) nor "
            f"one-hot rows {(n, num_classes)} for logits of shape {logits_shape}"
        )
    # The node's own copy: the targets are a param, which the guard does not hold read-only, and a
    # create_graph backward reads them again (a caller's label buffer may be refilled by then).
    return apply(ops.SOFTMAX_CROSS_ENTROPY, logits, target=np.array(target))


def _whole_number_labels(t: Tensor, num_classes: int) -> np.ndarray:
    """The integer labels a Tensor holds as floats, checked while they are floats (1e20 stays 1e20 in the
    error): a value that is not a whole number, or is out of range, is a `ValueError` naming it and its index."""
    values = t.data
    whole = np.isfinite(values) & (values == np.round(values))
    inside = whole & (values >= 0) & (values < num_classes)
    if not inside.all():
        where = np.unravel_index(np.flatnonzero(~inside)[0], values.shape)
        at = f" at index {where[0]}" if values.ndim == 1 else ""
        value = float(values[where])
        problem = ("labels must be whole numbers, got" if not whole[where] else
                   f"label out of range for {num_classes} classes (0..{num_classes - 1}):")
        raise ValueError(f"softmax_cross_entropy: {problem} {value:g}{at} of the labels Tensor of shape {values.shape}")
    return values.astype(np.int64)


# --- elementwise: trigonometry, clipping, leaky ReLU, min ------------------------------------------------
def sin(x) -> Tensor:
    """Elementwise sine; its derivative is ``cos(x)``."""
    return apply(ops.SIN, x)


def cos(x) -> Tensor:
    """Elementwise cosine; its derivative is ``-sin(x)``."""
    return apply(ops.COS, x)


def clip(x, low=None, high=None) -> Tensor:
    """``x`` limited to ``[low, high]`` (either bound may be None), as ``np.clip``.

    The gradient passes where ``low <= x <= high``, bounds included (PyTorch's ``clamp``), and is 0 outside.

    >>> x = Tensor([-2.0, 0.5, 3.0])
    >>> y = clip(x, -1, 1)
    >>> y.data
    array([-1. ,  0.5,  1. ])
    >>> y.sum().backward()
    >>> x.grad
    array([0., 1., 0.])
    >>> clip(x, 1, -1)
    Traceback (most recent call last):
    ...
    ValueError: clip: low 1 is above high -1
    """
    for what, bound in (("low", low), ("high", high)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating))):
            raise TypeError(f"clip: {what} must be a number or None, got {type(bound).__name__}")
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: low {low} is above high {high}")
    if low is None and high is None:
        raise ValueError("clip: give low, high or both")
    return apply(ops.CLIP, x, low=None if low is None else float(low), high=None if high is None else float(high))


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``; the slope at exactly 0 is ``negative_slope``.

    >>> leaky_relu(Tensor([-2.0, 0.0, 3.0]), 0.1).data
    array([-0.2,  0. ,  3. ])
    """
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float, np.integer, np.floating)):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {type(negative_slope).__name__}")
    return apply(ops.LEAKY_RELU, x, negative_slope=float(negative_slope))


def min(x, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``: ``-max(-x)``, so tied minima share the gradient evenly, as in `max`.

    >>> x = Tensor([2.0, 1.0, 1.0])
    >>> min(x).backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    """
    return neg(apply(ops.MAX, neg(x), axis=_check_axis("min", x, axis), keepdims=bool(keepdims)))


# --- images: convolution and pooling on (N, C, H, W) ---------------------------------------------------------
def _pair(op_name: str, what: str, value, minimum: int) -> tuple:
    """``value`` as a (height, width) pair of ints >= ``minimum``; an int means both."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
        raise TypeError(f"{op_name}: {what} must be an int or a pair of ints, got {value!r}")
    if builtins.min(pair) < minimum:
        raise ValueError(f"{op_name}: {what} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _shape_of(x) -> tuple:
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _window_geometry(op_name: str, shape: tuple, kernel: tuple, stride: tuple, pad: tuple) -> tuple:
    """The output's (height, width), after checking that ``shape`` is an image batch that fits the kernel."""
    if len(shape) != 4:
        raise ValueError(f"{op_name}: the input must have shape (N, C, H, W), got {shape}")
    sides = []
    for axis, size in enumerate(shape[2:]):
        padded = size + 2 * pad[axis]
        if padded < kernel[axis]:
            raise ValueError(
                f"{op_name}: the kernel {kernel} is larger than the padded input ({shape[2] + 2 * pad[0]}, "
                f"{shape[3] + 2 * pad[1]}) of the input shape {shape} with pad {pad}"
            )
        sides.append(ops.out_size(size, kernel[axis], stride[axis], pad[axis]))
    return tuple(sides)


def conv2d(x, W, b=None, stride=1, pad=0) -> Tensor:
    """2-d convolution (cross-correlation, as the book and PyTorch compute it) of images with filters.

    Computed as the book's chapter 7 does: the input is unrolled by ``im2col`` into one row per output
    position, multiplied by the filters (one column each), and reshaped back. One op: its VJPs are the
    book's backward written with ops (``col2im`` for the input), so higher orders are recorded too.

    Args:
        x: images (N, C, H, W).
        W: filters (FN, C, FH, FW).
        b: biases (FN,), or None.
        stride, pad: an int, or a (height, width) pair; padding adds zeros.

    Returns:
        (N, FN, out_h, out_w) with ``out_h = (H + 2 pad - FH) // stride + 1`` (likewise ``out_w``).

    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2).data
    array([[[[10., 18.],
             [42., 50.]]]])
    >>> conv2d(x, np.ones((1, 3, 2, 2)))
    Traceback (most recent call last):
    ...
    ValueError: conv2d: the input has 1 channels (shape (1, 1, 4, 4)) but the filters expect 3 (shape (1, 3, 2, 2))
    """
    x_shape, w_shape = _shape_of(x), _shape_of(W)
    stride, pad = _pair("conv2d", "stride", stride, 1), _pair("conv2d", "pad", pad, 0)
    if len(w_shape) != 4:
        raise ValueError(f"conv2d: the filters must have shape (FN, C, FH, FW), got {w_shape}")
    if len(x_shape) == 4 and x_shape[1] != w_shape[1]:
        raise ValueError(
            f"conv2d: the input has {x_shape[1]} channels (shape {x_shape}) but the filters expect "
            f"{w_shape[1]} (shape {w_shape})"
        )
    kernel = (int(w_shape[2]), int(w_shape[3]))
    if min(kernel) < 1 or w_shape[0] < 1:  # an empty kernel would give zeros, larger than the input, without a word
        raise ValueError(f"conv2d: the filters of shape {w_shape} must have at least one filter and a kernel of "
                         "at least 1 x 1")
    _window_geometry("conv2d", x_shape, kernel, stride, pad)
    num_filters = w_shape[0]
    if b is not None and _shape_of(b) != (num_filters,):
        raise ValueError(f"conv2d: the bias must have shape ({num_filters},) for {num_filters} filters, got {_shape_of(b)}")
    if b is None:
        w_dtype = W.dtype if isinstance(W, Tensor) else np.asarray(W).dtype
        b = np.zeros(num_filters, dtype=w_dtype if w_dtype.kind == "f" else np.float64)
    return apply(ops.CONV2D, x, W, b, stride=stride, pad=pad)


def _pool_arguments(op_name: str, x, kernel, stride, pad) -> tuple:
    kernel = _pair(op_name, "kernel", kernel, 1)
    stride = kernel if stride is None else _pair(op_name, "stride", stride, 1)
    pad = _pair(op_name, "pad", pad, 0)
    if pad[0] * 2 > kernel[0] or pad[1] * 2 > kernel[1]:
        raise ValueError(f"{op_name}: pad {pad} must be at most half the kernel {kernel}")
    return kernel, stride, pad, _window_geometry(op_name, _shape_of(x), kernel, stride, pad)


def max_pool2d(x, kernel, stride=None, pad=0) -> Tensor:
    """The maximum of each ``kernel`` window of images (N, C, H, W), moved by ``stride`` (default: the kernel).

    Padding never wins (it is -inf), and ``pad`` is at most half the kernel, as in PyTorch. The gradient
    of each window goes to its maximum; at ties, to the first maximum in row-major order (the book's
    ``np.argmax``), so it is not shared as `max` shares it.

    >>> x = Tensor(np.array([[[[1.0, 2.0], [2.0, 0.0]]]]))
    >>> y = max_pool2d(x, 2)
    >>> y.data
    array([[[[2.]]]])
    >>> y.backward()
    >>> x.grad
    array([[[[0., 1.],
             [0., 0.]]]])
    """
    kernel, stride, pad, _ = _pool_arguments("max_pool2d", x, kernel, stride, pad)
    return apply(ops.MAX_POOL2D, x, kernel=kernel, stride=stride, pad=pad, pad_value=-np.inf)


def avg_pool2d(x, kernel, stride=None, pad=0) -> Tensor:
    """The mean of each ``kernel`` window of images (N, C, H, W), moved by ``stride`` (default: the kernel).

    Padding holds zeros that count in the mean (PyTorch's default ``count_include_pad=True``). Composed
    of ``im2col``, ``mean`` and reshapes, so its gradient comes from theirs.

    >>> avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).data
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    kernel, stride, pad, (out_h, out_w) = _pool_arguments("avg_pool2d", x, kernel, stride, pad)
    n, c = _shape_of(x)[:2]
    col = apply(ops.IM2COL, x, kernel=kernel, stride=stride, pad=pad)
    means = mean(reshape(col, (-1, kernel[0] * kernel[1])), axis=1)  # one row per (n, out_h, out_w, c)
    return transpose(reshape(means, (n, out_h, out_w, c)), (0, 3, 1, 2))


# --- a layer and a loss composed of ops -----------------------------------------------------------------------
def linear(x, W, b=None) -> Tensor:
    """``x @ W + b``: the book's Affine (and `nn.Linear`), with ``W`` of shape (in, out) as the book has it
    (PyTorch's ``F.linear`` takes (out, in) and transposes it).

    ``x`` is (N, in), or (..., in) with leading axes kept (NumPy's matmul rules); it is not flattened (see
    `flatten` for image batches). Composed of ``matmul`` and ``add``: the add's gradient is summed to ``b``'s
    shape by the engine, so ``db`` is ``g`` summed over every leading axis.

    Args:
        x: inputs (..., in).
        W: weights (in, out), or (in,) for one output per row (the out axis is then dropped, as in ``x @ w``).
        b: biases broadcastable to (out,) ((out,), (1,) or a scalar), or None.

    Raises:
        ValueError: ``W`` is not 1-d or 2-d, its ``in`` differs from ``x``'s last axis, or ``b`` does not fit.

    >>> linear(Tensor([[1.0, 2.0]]), Tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), Tensor([0.5, 0.5, 0.5])).data
    array([[1.5, 2.5, 3.5]])
    >>> linear(Tensor(np.ones((4, 3))), Tensor(np.ones((3, 2))), Tensor(np.ones(3)))
    Traceback (most recent call last):
    ...
    ValueError: linear: the bias of shape (3,) does not fit the 2 outputs of W of shape (3, 2)
    """
    x_shape, w_shape = _shape_of(x), _shape_of(W)
    if len(w_shape) not in (1, 2):
        raise ValueError(f"linear: W must have shape (in, out) or (in,), got {w_shape}")
    if len(x_shape) == 0 or x_shape[-1] != w_shape[0]:
        raise ValueError(f"linear: the input of shape {x_shape} has {x_shape[-1] if x_shape else 0} features "
                         f"but W of shape {w_shape} expects {w_shape[0]}")
    out = matmul(x, W)
    if b is None:
        return out
    outputs = w_shape[1:]
    b_shape = _shape_of(b)
    try:
        fits = len(b_shape) <= len(outputs) and np.broadcast_shapes(b_shape, outputs) == outputs
    except ValueError:
        fits = False
    if not fits:
        count = f"{outputs[0]} outputs" if outputs else "single output"
        raise ValueError(f"linear: the bias of shape {b_shape} does not fit the {count} of W of shape {w_shape}")
    return add(out, b)


MSE_REDUCTIONS = ("mean", "sum", "half_sum", "none")


def mean_squared_error(y, t, reduction: str = "mean") -> Tensor:
    """The squared errors ``(y - t)²``, reduced as ``reduction`` says; both inputs get gradients.

    Reductions:

    - ``"mean"`` (default): the mean over every element, PyTorch's ``mse_loss``, which the name says.
    - ``"half_sum"``: ``0.5 * sum((y - t)²)``, the book's ``mean_squared_error`` (chapter 4), whose
      gradient with respect to ``y`` is ``y - t``.
    - ``"sum"``: the sum; ``"none"``: the squared errors themselves, of ``y``'s shape.

    (DeZero's ``mean_squared_error`` is the sum divided by the batch size: ``"sum"`` divided by ``len(y)``.)

    Raises:
        ValueError: ``y`` and ``t`` differ in shape (NumPy would broadcast (N, 1) against (N,) into an
            (N, N) matrix of errors without a word), or ``reduction`` is none of the above.

    >>> y = Tensor([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])  # the book's example
    >>> t = Tensor([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    >>> round(mean_squared_error(y, t, reduction="half_sum").item(), 6)
    0.0975
    >>> round(mean_squared_error(y, t).item(), 6)
    0.0195
    >>> mean_squared_error(Tensor(np.zeros((3, 1))), Tensor(np.zeros(3)))
    Traceback (most recent call last):
    ...
    ValueError: mean_squared_error: y of shape (3, 1) and t of shape (3,) differ; give them one shape
    """
    if reduction not in MSE_REDUCTIONS:
        raise ValueError(f"mean_squared_error: reduction must be one of {MSE_REDUCTIONS}, got {reduction!r}")
    y_shape, t_shape = _shape_of(y), _shape_of(t)
    if y_shape != t_shape:
        raise ValueError(f"mean_squared_error: y of shape {y_shape} and t of shape {t_shape} differ; give them one shape")
    error = sub(y, t)
    squared = mul(error, error)
    if reduction == "none":
        return squared
    if reduction == "mean":
        return mean(squared)
    total = sum(squared)
    return mul(total, 0.5) if reduction == "half_sum" else total


def batch_norm(x, gamma, beta, axes=(0,), eps: float = 1e-6, *, statistics: bool = False):
    """Batch normalization in training mode: ``gamma * (x - mean) / sqrt(var + eps) + beta``, with the mean
    and biased variance of ``x`` over ``axes``. One op, ``batch_norm``: its VJPs are the batch-norm backward,
    through the statistics too, written with ops under ``create_graph`` (so higher orders work) and run in
    place on the arrays in a plain backward pass. Evaluation mode (running statistics) needs no op of its
    own: ``(x - running_mean) / sqrt(running_var + eps) * gamma + beta``, as `nn.BatchNorm1d` composes it.

    Args:
        x: the batch, e.g. (N, D) with ``axes=(0,)`` or (N, C, H, W) with ``axes=(0, 2, 3)``.
        gamma, beta: the scale and shift, of ``x``'s shape without ``axes`` ((D,), (C,)).
        axes: an int or a tuple of ints, the axes the statistics are taken over (at least one).
        eps: added to the variance; 1e-6 by default (the book's ``10e-7``, as in `nn.BatchNorm1d`).
        statistics: also return the batch's ``mean`` and ``var``, arrays of ``gamma``'s shape, for running
            averages kept outside the graph. They are read from what the forward saved; only when no graph
            is recorded (`no_grad`, or no input requires grad) are they computed a second time.

    Returns:
        The normalized Tensor of ``x``'s shape, or ``(out, mean, var)`` with ``statistics``.

    Raises:
        ValueError: ``axes`` is empty, repeats an axis or is out of range, ``eps`` is negative or not
            finite, or ``gamma``/``beta`` do not have ``x``'s shape without ``axes``.
        TypeError: ``axes`` is not an int or a tuple of ints, or ``eps`` not a real number.

    >>> x = Tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> out, mean, var = batch_norm(x, Tensor(np.ones(2)), Tensor(np.zeros(2)), statistics=True)
    >>> out.data.round(4), mean, var
    (array([[-1., -1.],
           [ 1.,  1.]]), array([ 2., 20.]), array([  1., 100.]))
    >>> batch_norm(x, np.ones(3), np.zeros(3))
    Traceback (most recent call last):
    ...
    ValueError: batch_norm: gamma (3,) and beta (3,) must have the shape (2,) of x (2, 2) without the axes (0,)
    """
    x_shape = _shape_of(x)
    axes = _batch_norm_axes(axes, len(x_shape))
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(f"batch_norm: eps must be a real number, got {type(eps).__name__} {eps!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"batch_norm: eps must be a finite number >= 0, got {eps!r}")
    if statistics and not isinstance(x, Tensor):  # the constant apply would make, kept for the statistics
        dtype = next((t.dtype for t in (gamma, beta) if isinstance(t, Tensor)), None)
        x = constant(x, dtype, who="batch_norm")
    out = apply(ops.BATCH_NORM, x, gamma, beta, axes=axes, eps=float(eps))
    if not statistics:
        return out
    if out.node is not None:
        mean, var = out.node.saved[2], out.node.saved[3]
    else:  # nothing recorded, so nothing saved: computed again
        mean, _, var, _ = ops.batch_moments(x.data, axes)
    features = tuple(n for i, n in enumerate(x_shape) if i not in axes)
    return out, mean.reshape(features), var.reshape(features)


def _batch_norm_axes(axes, ndim: int) -> tuple:
    """``axes`` as a sorted tuple of distinct non-negative ints, or an error naming them and ``ndim``."""
    as_tuple = (axes,) if isinstance(axes, (int, np.integer)) else axes
    if (not isinstance(as_tuple, (tuple, list))
            or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in as_tuple)):
        raise TypeError(f"batch_norm: axes must be an int or a tuple of ints, got {axes!r}")
    if not as_tuple:
        raise ValueError("batch_norm: axes must name at least one axis, got ()")
    for a in as_tuple:
        if not -ndim <= a < ndim:
            raise ValueError(f"batch_norm: axis {a} is out of range for an input of {ndim} dimensions")
    normalized = tuple(sorted(int(a) % ndim for a in as_tuple))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"batch_norm: axes {tuple(as_tuple)} repeat an axis")
    return normalized
