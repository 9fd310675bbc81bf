"""The op table: every op's forward beside its vector-Jacobian products (VJPs), and nothing else.

Vocabulary of the VJP rules:

- ``g`` is the incoming gradient (of the output); ``out`` is the forward result;
- inputs keep their forward names (``x``, ``y``, ``logits``); parameters (``axis``, ``exponent``,
  ``target``) are keywords and never get a gradient;
- an op has one VJP per input, in input order, so the engine computes only the gradients some Tensor
  needs (the first layer's dX of a network is never computed);
- VJPs are written with operators and ``call(OP, ...)``, so the same rule runs on bare arrays in a plain
  backward pass and on Tensors (recording a graph) when ``create_graph=True`` asks for higher orders;
- ops marked ``broadcasting`` follow NumPy broadcasting; the engine sums their gradients back to each
  input's shape (`sum_to`), so no rule here does.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from .engine import apply
from .tensor import Tensor

__all__ = ["Op", "call", "sum_to", "passes_g", "ALL_OPS"]


class Op:
    """One row of the table: a name, a drawing symbol, forward and one VJP per input.

    Args:
        name: the op's name, used in errors and drawings.
        symbol: what `viz` draws in the op's node (defaults to ``name``).
        forward: ``forward(*arrays, **params) -> array`` (``-> (array, saved)`` when ``saves``).
        vjp: for each input, ``vjp(g, out, *inputs, **params) -> gradient`` (plus ``saved=`` when
            ``saves``); a single callable for a one-input op.
        broadcasting: the op broadcasts its inputs as NumPy does.
        saves: forward returns ``(out, saved)``; ``saved`` is stored on the Node and given to the VJPs.
        reads: the names (as in the VJPs' signature, ``"out"`` for the result) of the values whose
            *contents* the VJPs use, not just their shape or dtype. Their arrays are held read-only until
            the Node has been backpropagated (`autograd.inplace`). None, the default, means all of them:
            always safe, for ops declared outside this table.
    """

    __slots__ = ("name", "symbol", "forward", "vjps", "broadcasting", "saves", "reads", "reads_out", "reads_any")

    def __init__(self, name, *, forward, vjp, symbol=None, broadcasting=False, saves=False, reads=None):
        self.name = name
        self.symbol = symbol or name
        self.forward = forward
        self.vjps = vjp if isinstance(vjp, tuple) else (vjp,)
        self.broadcasting = broadcasting
        self.saves = saves
        names = list(inspect.signature(self.vjps[0]).parameters)[2:2 + len(self.vjps)]
        if reads is None:
            reads = ("out", *names)
        unknown = [r for r in reads if r != "out" and r not in names]
        if unknown:
            raise ValueError(f"Op {name!r}: reads names {unknown}, which are not among its inputs {names} or 'out'")
        self.reads = tuple(i for i, n in enumerate(names) if n in reads)  # input positions
        self.reads_out = "out" in reads
        self.reads_any = bool(reads)

    @property
    def arity(self) -> int:
        return len(self.vjps)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def call(op, *args, **params):
    """Apply ``op`` inside a VJP: recorded through `apply` on Tensors, plain ``forward`` on arrays."""
    for a in args:
        if isinstance(a, Tensor):
            return apply(op, *args, **params)
    result = op.forward(*args, **params)
    return result[0] if op.saves else result


def _array(a):
    """The data of a Tensor, or the array itself: for masks and counts, which are constants."""
    return a.data if isinstance(a, Tensor) else a


def sum_to(g, shape: tuple):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    >>> sum_to(np.array([[1, 2, 3], [4, 5, 6]]), (3,))  # the book's bias gradient
    array([5, 7, 9])
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if not stretched:  # only leading axes were added (a bias): the sum has the shape, and its own memory
        return g.sum(axis=tuple(range(lead)))
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def _keepdims_shape(shape: tuple, axis) -> tuple:
    """``shape`` with the reduced axes kept as size 1 (what ``keepdims=True`` would give)."""
    if axis is None:
        return (1,) * len(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _unreduce(g, x, axis, keepdims):
    """Broadcast a reduction's gradient back over the reduced axes of ``x``."""
    if not keepdims:
        g = g.reshape(_keepdims_shape(x.shape, axis))
    return call(BROADCAST_TO, g, shape=x.shape)


def passes_g(g, out, x, y):
    """The VJP of an input whose Jacobian is the identity (x and y of ``x + y``, x of ``x - y``): ``g`` itself.

    The engine hands ``g`` on without calling it (a two-input Op of your own may use it too): the call was
    2.5% of the scalar chain's build + backward and 2.4% of micrograd's demo step, where half the ops are
    additions (callgrind, collector off).
    """
    return g


# --- arithmetic (broadcasting) -------------------------------------------------------------------------
ADD = Op("add", symbol="+", broadcasting=True, reads=(),
         forward=lambda x, y: x + y,
         vjp=(passes_g, passes_g))

SUB = Op("sub", symbol="−", broadcasting=True, reads=(),
         forward=lambda x, y: x - y,
         vjp=(passes_g,
              lambda g, out, x, y: -g))

MUL = Op("mul", symbol="×", broadcasting=True, reads=("x", "y"),
         forward=lambda x, y: x * y,
         vjp=(lambda g, out, x, y: g * y,
              lambda g, out, x, y: g * x))

# d(x/y)/dy = -x/y² = -out/y: reuses the forward result instead of squaring y.
DIV = Op("div", symbol="÷", broadcasting=True, reads=("y", "out"),
         forward=lambda x, y: x / y,
         vjp=(lambda g, out, x, y: g / y,
              lambda g, out, x, y: -g * out / y))

NEG = Op("neg", symbol="−", reads=(),
         forward=lambda x: -x,
         vjp=lambda g, out, x: -g)


def _pow_vjp(g, out, x, exponent):
    if exponent == 0:  # x ** 0 is constant; x ** -1 would divide by zero at x = 0
        return g * 0.0
    return g * exponent * x ** (exponent - 1)


POW = Op("pow", symbol="**", forward=lambda x, exponent: x ** exponent, vjp=_pow_vjp, reads=("x",))


# --- matmul: np.dot on 1-d and 2-d operands, NumPy's matmul rules on 3-d and more ---------------------------
def _matmul_forward(x, y):
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes {x.shape} and {y.shape}")
    y_dim = 0 if y.ndim == 1 else y.ndim - 2  # the dimension of y that meets x's last
    if x.shape[-1] != y.shape[y_dim]:
        raise ValueError(
            f"matmul: shapes {x.shape} and {y.shape} are not aligned: "
            f"{x.shape[-1]} (dim {x.ndim - 1}) != {y.shape[y_dim]} (dim {y_dim})"
        )
    if x.ndim <= 2 and y.ndim <= 2:
        return np.dot(x, y)
    x_batch, y_batch = x.shape[:-2], y.shape[:-2]
    try:
        np.broadcast_shapes(x_batch, y_batch)
    except ValueError:
        raise ValueError(f"matmul: the batch dimensions {x_batch} and {y_batch} of shapes {x.shape} and {y.shape} "
                         "cannot be broadcast together") from None
    return np.matmul(x, y)


def _outer(a, b):
    return a.reshape(-1, 1) * b.reshape(1, -1)


def _swap_last(a):
    return a.transpose(tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))


def _as_matrices(g, x, y):
    """g, x and y with matmul's promoted 1-d operands made matrices again: x (n,) -> (1, n), y (n,) -> (n, 1)."""
    if y.ndim == 1:
        g, y = g.reshape(g.shape + (1,)), y.reshape(-1, 1)
    if x.ndim == 1:
        g, x = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]), x.reshape(1, -1)
    return g, x, y


# Batched (3-d and more): each product's gradient, summed over the batch dimensions its operand was broadcast along.
def _matmul_vjp_x(g, out, x, y):
    if x.ndim > 2 or y.ndim > 2:
        g, x2, y2 = _as_matrices(g, x, y)
        return sum_to(g @ _swap_last(y2), x2.shape).reshape(x.shape)
    if y.ndim == 2:
        return g @ y.T
    return _outer(g, y) if x.ndim == 2 else g * y


def _matmul_vjp_y(g, out, x, y):
    if x.ndim > 2 or y.ndim > 2:
        g, x2, y2 = _as_matrices(g, x, y)
        return sum_to(_swap_last(x2) @ g, y2.shape).reshape(y.shape)
    if x.ndim == 2:
        return x.T @ g
    return _outer(x, g) if y.ndim == 2 else g * x


MATMUL = Op("matmul", symbol="dot", forward=_matmul_forward, vjp=(_matmul_vjp_x, _matmul_vjp_y), reads=("x", "y"))


# --- elementwise functions ------------------------------------------------------------------------------
EXP = Op("exp", forward=np.exp, vjp=lambda g, out, x: g * out, reads=("out",))

LOG = Op("log", forward=np.log, vjp=lambda g, out, x: g / x, reads=("x",))

TANH = Op("tanh", forward=np.tanh, vjp=lambda g, out, x: g * (1 - out * out), reads=("out",))

_FLOAT_SCALARS = frozenset({np.float16, np.float32, np.float64, np.longdouble})  # NumPy's float scalar types

# relu'(0) = 0, as the book's mask `x <= 0` has it; the mask is a constant even in higher-order graphs.
# Forward keeps the mask, as the book's Relu does, so the VJP reads no input or output and the in-place
# guard holds nothing for it: the comparison moves from backward to forward, and each ReLU saves a freeze
# call (the seed step: 2 ops of 4 hold arrays, not 3).
def _relu_forward(x):
    mask = x > 0  # what backward multiplies by
    if type(x) not in _FLOAT_SCALARS or not (mask or x < 0):  # arrays; zeros and NaNs, whose bits are NumPy's
        return np.maximum(x, 0), mask
    # A NumPy float scalar (0-d values in the engine) on either side of 0: np.maximum would give x or +0, as
    # here, through a ufunc call that was 0.77 of a scalar relu's 2.3 µs.
    return (x if mask else type(x)(0)), mask


def _relu_vjp(g, out, x, saved):
    return g * saved


RELU = Op("relu", symbol="ReLU", reads=(), saves=True, forward=_relu_forward, vjp=_relu_vjp)


def _sigmoid_forward(x):
    # exp(-|x|) never overflows, so ±1000 gives 1 and 0 with no RuntimeWarning and full precision.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


SIGMOID = Op("sigmoid", symbol="σ", forward=_sigmoid_forward, reads=("out",),
             vjp=lambda g, out, x: g * out * (1 - out))


# --- reductions and shape ops --------------------------------------------------------------------------
SUM = Op("sum", symbol="Σ", reads=(),
         forward=lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
         vjp=lambda g, out, x, axis, keepdims: _unreduce(g, x, axis, keepdims))


def _max_vjp(g, out, x, axis, keepdims):
    # Ties share the gradient evenly: each of k maximal entries gets g / k. A NaN is the maximum of
    # its slice (np.max propagates it) and gets the gradient, as in PyTorch.
    x_data, out_data = _array(x), _array(out)
    if not keepdims:
        out_data = out_data.reshape(_keepdims_shape(x_data.shape, axis))
    winners = x_data == out_data
    nan_maxima = np.isnan(out_data)
    if nan_maxima.any():
        winners |= np.isnan(x_data) & nan_maxima
    share = (winners / winners.sum(axis=axis, keepdims=True)).astype(x_data.dtype, copy=False)
    return _unreduce(g, x, axis, keepdims) * share


MAX = Op("max", forward=lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), vjp=_max_vjp,
         reads=("x", "out"))

def _broadcast_to_forward(x, shape):
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: shape {x.shape} cannot be broadcast to {tuple(shape)}") from None


BROADCAST_TO = Op("broadcast_to", forward=_broadcast_to_forward, reads=(),
                  vjp=lambda g, out, x, shape: sum_to(g, x.shape))

CAST = Op("cast", reads=(),
          forward=lambda x, dtype: x.astype(dtype),
          vjp=lambda g, out, x, dtype: call(CAST, g, dtype=x.dtype))

RESHAPE = Op("reshape", reads=(),
             forward=lambda x, shape: x.reshape(shape),
             vjp=lambda g, out, x, shape: g.reshape(x.shape))


def _inverse_axes(axes, ndim: int):
    # Negative axes count from the end: argsort of (-1, 0) would invert the wrong permutation.
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]).tolist())


TRANSPOSE = Op("transpose", symbol="ᵀ", reads=(),
               forward=lambda x, axes: np.transpose(x, axes),
               vjp=lambda g, out, x, axes: call(TRANSPOSE, g, axes=_inverse_axes(axes, x.ndim)))


def _is_basic_index(index) -> bool:
    """True for slices, ints, None and Ellipsis only: such an index never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (slice, int, np.integer, type(None), type(Ellipsis))) for p in parts)


def _scatter_add_forward(g, shape, index):
    # Repeated integer indices must accumulate, which plain assignment would not do.
    grad = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        grad[index] = g
    else:
        np.add.at(grad, index, g)
    return grad


GETITEM = Op("getitem", symbol="[]", reads=(),
             forward=lambda x, index: x[index],
             vjp=lambda g, out, x, index: call(SCATTER_ADD, g, shape=x.shape, index=index))

# The VJP of indexing: scatter g into zeros of the input's shape; its own VJP is indexing again.
SCATTER_ADD = Op("scatter_add", forward=_scatter_add_forward, reads=(),
                 vjp=lambda g, out, x, shape, index: call(GETITEM, g, index=index))


# --- softmax family: fused rules for numerical stability -------------------------------------------------
def _softmax_forward(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


SOFTMAX = Op("softmax", forward=_softmax_forward, reads=("out",),
             vjp=lambda g, out, x, axis: out * (g - (g * out).sum(axis=axis, keepdims=True)))


def _log_softmax_forward(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


LOG_SOFTMAX = Op("log_softmax", forward=_log_softmax_forward, reads=("out",),
                 vjp=lambda g, out, x, axis: g - call(EXP, out) * g.sum(axis=axis, keepdims=True))


def one_hot(target: np.ndarray, num_classes: int, dtype) -> np.ndarray:
    """One-hot rows for integer labels; one-hot targets are returned as they are."""
    if target.ndim == 2:
        return target.astype(dtype, copy=False)
    rows = np.zeros((target.shape[0], num_classes), dtype=dtype)
    rows[np.arange(target.shape[0]), target] = 1
    return rows


def _row_sums(target):
    """Each row's sum of the target rows (N, 1): d/dlogits of -sum(t * log_softmax(logits)) is softmax * sum(t) - t.

    The familiar softmax - t holds only where a row sums to 1. A product with a column of ones, not
    ``target.sum(axis=1)``: NumPy's reduction over short rows cost 3.1 µs on the seed's (100, 10) targets,
    the product 0.8 µs, and multiplying by it always (0.6 µs) is cheaper than testing it for ones (1.8 µs).
    """
    ones = np.ones((target.shape[1], 1), dtype=target.dtype if target.dtype.kind == "f" else np.float64)
    return target @ ones  # (bool or int8 targets would sum as bools, or overflow, in their own dtype)


def _softmax_ce_forward(logits, target):
    # Mean cross-entropy of softmax(logits) against labels (N,) or target rows (N, C), via log-sum-exp.
    # The ufuncs' own reduce, not np.max / np.sum: their Python wrappers cost ~1 µs a call (same results).
    n = logits.shape[0]
    shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=1, keepdims=True)
    log_probs = shifted - np.log(total)
    grad_logits = e / total  # becomes (softmax - onehot) / N: the book's Softmax-with-Loss backward
    if target.ndim == 1:
        rows = np.arange(n)
        loss = -np.add.reduce(log_probs[rows, target], axis=None) / n
        grad_logits[rows, target] -= 1
    else:
        loss = -np.add.reduce(target * log_probs, axis=None) / n
        grad_logits *= _row_sums(target)  # exactly 1 for one-hot rows, which it leaves unchanged
        grad_logits -= target
    grad_logits /= n
    return np.asarray(loss, dtype=logits.dtype), grad_logits


def _softmax_ce_vjp(g, out, logits, target, saved):
    if isinstance(logits, Tensor):  # create_graph: express the rule in ops so it can be differentiated
        _check_logits_unchanged(logits, _array(target), saved)
        probs = call(SOFTMAX, logits, axis=1)
        if target.ndim == 2:
            probs = probs * _row_sums(target).astype(logits.dtype)
        onehot = one_hot(target, logits.shape[1], logits.dtype)
        return g * (probs - onehot) / logits.shape[0]
    return g * saved


def _check_logits_unchanged(logits: Tensor, target, saved) -> None:
    """Refuse a create_graph pass through logits that no longer give the gradient forward saved.

    The first-order VJP reads only what forward saved, so the logits are not held read-only (in the
    seed's step that is one op of four the in-place guard need not hold); create_graph differentiates the
    rule through the logits themselves, so it first checks they still give the saved gradient. It
    depends on the logits only through their softmax, so a change that leaves it unchanged is harmless.
    """
    data = logits.data
    if data.shape == saved.shape:
        again = _softmax_ce_forward(data, target)[1]
        scale = float(np.max(np.abs(saved), initial=0.0, where=np.isfinite(saved)))  # NaN rows stay NaN
        if np.allclose(again, saved, rtol=0.0, atol=16 * np.finfo(saved.dtype).eps * scale, equal_nan=True):
            return
    raise RuntimeError(
        f"softmax_cross_entropy: the logits{f' {logits.name!r}' if logits.name else ''} (shape {data.shape}) no "
        "longer give the gradient the forward pass saved: they were changed in place or given new data after "
        "the node was recorded, so create_graph would differentiate other values than the forward pass used; "
        "run the forward pass again"
    )


# reads=(): the first-order VJP reads only ``saved`` (see `_check_logits_unchanged` for create_graph).
SOFTMAX_CROSS_ENTROPY = Op("softmax_cross_entropy", symbol="softmax-CE", saves=True, reads=(),
                           forward=_softmax_ce_forward, vjp=_softmax_ce_vjp)


# --- elementwise: trigonometry, clipping, leaky ReLU ------------------------------------------------------
SIN = Op("sin", forward=np.sin, vjp=lambda g, out, x: g * call(COS, x), reads=("x",))

COS = Op("cos", forward=np.cos, vjp=lambda g, out, x: -g * call(SIN, x), reads=("x",))


def _clip_mask(x, low, high):
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside &= x >= low
    if high is not None:
        inside &= x <= high
    return inside


# The gradient passes where low <= x <= high, bounds included (PyTorch's clamp); the mask is a constant.
CLIP = Op("clip", reads=("x",),
          forward=lambda x, low, high: np.clip(x, low, high),
          vjp=lambda g, out, x, low, high: g * _clip_mask(_array(x), low, high))


def _leaky_slope(x, negative_slope):
    return np.where(x > 0, 1.0, negative_slope).astype(x.dtype, copy=False)


# Slope 1 where x > 0, else negative_slope: at exactly 0 the slope is negative_slope, as relu'(0) = 0.
LEAKY_RELU = Op("leaky_relu", reads=("x",),
                forward=lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
                vjp=lambda g, out, x, negative_slope: g * _leaky_slope(_array(x), negative_slope))


# --- images: im2col / col2im (the book's layout), convolution and max pooling ----------------------------------------------
# Images are (N, C, H, W); kernel, stride and pad are (height, width) pairs. A col has one row per output
# position and one column per (channel, kernel row, kernel column): shape (N*out_h*out_w, C*kh*kw), the
# book's im2col layout, so a convolution is one matmul of the col with the filters as columns.
def out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """The number of window positions along one side: ``(size + 2 pad - kernel) // stride + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


def _windows(x, kernel, stride, pad, pad_value=0.0):
    """A read-only strided view (N, out_h, out_w, C, kh, kw) of the padded image: no copy yet."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    s_n, s_c, s_h, s_w = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, oh, ow, c, kh, kw), (s_n, s_h * sh, s_w * sw, s_c, s_h, s_w), writeable=False)


def _im2col_forward(x, kernel, stride, pad, pad_value=0.0):
    windows = _windows(x, kernel, stride, pad, pad_value)
    n, oh, ow, c, kh, kw = windows.shape
    col = np.empty((n * oh * ow, c * kh * kw), dtype=x.dtype)
    col.reshape(windows.shape)[...] = windows  # the one copy
    return col


def _col2im_forward(col, shape, kernel, stride, pad):
    # Each col entry is added back to the pixel it was copied from; overlapping windows accumulate.
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    windows = col.reshape(n, oh, ow, c, kh, kw)
    if sh >= kh and sw >= kw:
        # Windows that never overlap (pooling's usual stride = kernel): one strided copy, no additions.
        img = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
        s_n, s_c, s_h, s_w = img.strides
        blocks = np.lib.stride_tricks.as_strided(img, (n, c, oh, kh, ow, kw), (s_n, s_c, s_h * sh, s_h, s_w * sw, s_w))
        blocks[...] = windows.transpose(0, 3, 1, 4, 2, 5)
        img = img[:, :, ph:ph + h, pw:pw + w]
        return img if img.flags.c_contiguous else np.ascontiguousarray(img)
    img = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=col.dtype)  # channels last, as the windows are
    for i in range(kh):
        for j in range(kw):
            img[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += windows[:, :, :, :, i, j]
    return np.ascontiguousarray(img[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2))


# im2col and col2im are linear and each other's adjoint, so each one's VJP is the other.
IM2COL = Op("im2col", reads=(),
            forward=_im2col_forward,
            vjp=lambda g, out, x, kernel, stride, pad: call(COL2IM, g, shape=x.shape, kernel=kernel,
                                                            stride=stride, pad=pad))

COL2IM = Op("col2im", reads=(),
            forward=_col2im_forward,
            vjp=lambda g, out, col, shape, kernel, stride, pad: call(IM2COL, g, kernel=kernel, stride=stride,
                                                                     pad=pad))


def _conv2d_forward(x, W, b, stride, pad):
    # The book's Convolution.forward: one row of col per output position, times the filters as columns.
    n, num_filters = x.shape[0], W.shape[0]
    kernel = W.shape[2:]
    col = _im2col_forward(x, kernel, stride, pad)
    out = np.dot(col, W.reshape(num_filters, -1).T)
    if np.result_type(out, b) == out.dtype:
        out += b  # into the fresh product: one (N*out_h*out_w, FN) array fewer
    else:
        out = out + b
    oh, ow = out_size(x.shape[2], kernel[0], stride[0], pad[0]), out_size(x.shape[3], kernel[1], stride[1], pad[1])
    return out.reshape(n, oh, ow, num_filters).transpose(0, 3, 1, 2), col


def _grad_rows(g):
    """The output gradient (N, FN, out_h, out_w) as col's rows: (N*out_h*out_w, FN)."""
    return g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])


def _conv2d_vjp_W(g, out, x, W, b, stride, pad, saved):
    # With create_graph, col is recomputed from x, so that d(dW)/dx is recorded; the plain pass reuses it.
    col = call(IM2COL, x, kernel=W.shape[2:], stride=stride, pad=pad) if isinstance(x, Tensor) else saved
    return (_grad_rows(g).T @ col).reshape(W.shape)


# One op rather than im2col, matmul, add, reshape and transpose nodes: the same NumPy work, but backward
# stores (and copies) a gradient for every intermediate Tensor. Measured forward + backward, one BLAS
# thread, medians of 41 interleaved rounds: (100, 16, 14, 14) * (32, 16, 3, 3), pad 1, with dx: 48 ms
# fused, 54 ms composed (f32: 21, 22); the first layer (100, 1, 28, 28) * (30, 1, 5, 5), no dx: 24 vs 28 ms
# (f32: 10, 12).
CONV2D = Op("conv2d", saves=True, reads=("x", "W"), forward=_conv2d_forward,
            vjp=(lambda g, out, x, W, b, stride, pad, saved: call(
                     COL2IM, _grad_rows(g) @ W.reshape(W.shape[0], -1), shape=x.shape, kernel=W.shape[2:],
                     stride=stride, pad=pad),
                 _conv2d_vjp_W,
                 lambda g, out, x, W, b, stride, pad, saved: g.sum(axis=(0, 2, 3))))


def _max_pool_forward(x, kernel, stride, pad, pad_value):
    n, c = x.shape[:2]
    rows = _im2col_forward(x, kernel, stride, pad, pad_value).reshape(-1, kernel[0] * kernel[1])
    winners = rows.argmax(axis=1)  # the first maximum of each window, as the book's np.argmax
    out = rows[np.arange(rows.shape[0]), winners]
    oh, ow = out_size(x.shape[2], kernel[0], stride[0], pad[0]), out_size(x.shape[3], kernel[1], stride[1], pad[1])
    if (pad[0] or pad[1]) and pad_value == -np.inf:
        _real_winners(winners, out, x.shape, kernel, stride, pad, c)
    return out.reshape(n, oh, ow, c).transpose(0, 3, 1, 2), winners


def _real_winners(winners, out, shape, kernel, stride, pad, channels) -> None:
    """Give each window whose maximum is -inf its first real pixel, not a -inf padding cell that tied with it.

    Padding never wins otherwise; where every real value of a window is -inf, np.argmax's first maximum
    could be padding, and the window's gradient would reach no pixel.
    """
    lost = np.flatnonzero(out == -np.inf)
    if not lost.size:
        return
    real = _im2col_forward(np.ones((1, 1) + tuple(shape[2:]), dtype=np.float64), kernel, stride, pad, 0.0)
    real = real.reshape(-1, kernel[0] * kernel[1]) > 0  # (oh * ow, kernel area): which cells are pixels
    windows = (lost // channels) % real.shape[0]  # im2col's rows run over (n, oh, ow, c)
    winners[lost] = real[windows].argmax(axis=1)


def _max_pool_scatter(g, shape, kernel, stride, pad, winners):
    """The plain pass of the max-pool VJP: each window's gradient written straight to its winner's pixel.

    Measured on the book's SimpleConvNet pool ((100, 30, 24, 24), 2x2, stride 2): 5.3 ms, against 32.7 ms
    for the one-hot col and col2im of the rule below, which stays for create_graph.
    """
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    hp, wp = h + 2 * ph, w + 2 * pw
    oh, ow = g.shape[2:]
    rows = (n, oh, ow, c)  # the order of the winners, as im2col's rows
    dy, dx = np.divmod(winners.reshape(rows), kw)
    first = (((np.arange(n).reshape(n, 1, 1, 1) * c + np.arange(c)) * hp + np.arange(oh).reshape(oh, 1, 1) * sh) * wp
             + np.arange(ow).reshape(ow, 1) * sw)  # each window's top-left pixel in the padded image
    pixels = (first + dy * wp + dx).ravel()
    values = g.transpose(0, 2, 3, 1).ravel()
    padded = np.zeros(n * c * hp * wp, dtype=g.dtype)
    if sh >= kh and sw >= kw:  # windows never overlap: each pixel wins at most once
        padded[pixels] = values
    else:
        np.add.at(padded, pixels, values)
    grad = padded.reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w]
    return grad if grad.flags.c_contiguous else np.ascontiguousarray(grad)


def _max_pool_vjp(g, out, x, kernel, stride, pad, pad_value, saved):
    # Each window's gradient goes to its winner only: at ties, the first maximum in the window's row-major
    # order (the book's argmax), not shared as `max` shares it. A NaN is the maximum (np.argmax's rule).
    if not isinstance(g, Tensor):
        return _max_pool_scatter(g, x.shape, kernel, stride, pad, saved)
    area = kernel[0] * kernel[1]
    onehot = (np.arange(area) == saved[:, None]).astype(_array(g).dtype)  # a constant of the graph
    dcol = (g.transpose(0, 2, 3, 1).reshape(-1, 1) * onehot).reshape(-1, x.shape[1] * area)
    return call(COL2IM, dcol, shape=x.shape, kernel=kernel, stride=stride, pad=pad)


MAX_POOL2D = Op("max_pool2d", saves=True, reads=(), forward=_max_pool_forward, vjp=_max_pool_vjp)


# --- batch normalization (train mode: the batch's own statistics) ----------------------------------------------------
# x is normalized over ``axes`` (non-negative, sorted: (0,) for (N, D), (0, 2, 3) for (N, C, H, W)); gamma and
# beta have the shape of x without those axes, one value per feature or channel. Means are sums divided by the
# count, which is what np.mean computes, to the last bit, without its Python overhead.
def _count(shape: tuple, axes: tuple) -> int:
    """How many values each statistic is taken over."""
    return math.prod(shape[a] for a in axes)


def batch_moments(x: np.ndarray, axes: tuple) -> tuple:
    """The mean of ``x`` over ``axes``, ``x`` minus it, the biased variance (the book's and PyTorch's training
    statistic), with the reduced axes kept as size 1, and a scratch array of ``x``'s shape (the squares)."""
    count = _count(x.shape, axes)
    if not count:  # an empty batch: NaN statistics without NumPy's warning, as `mean` gives
        nan = np.full(_keepdims_shape(x.shape, axes), np.nan, dtype=x.dtype)
        return nan, x - nan, nan, np.empty_like(x)
    mean = x.sum(axis=axes, keepdims=True) / count
    centered = x - mean
    squares = centered * centered
    return mean, centered, squares.sum(axis=axes, keepdims=True) / count, squares


def _batch_norm_forward(x, gamma, beta, axes, eps):
    features = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    if gamma.shape != features or beta.shape != features:
        raise ValueError(f"batch_norm: gamma {gamma.shape} and beta {beta.shape} must have the shape {features} "
                         f"of x {x.shape} without the axes {axes}")
    mean, centered, var, out = batch_moments(x, axes)
    inv_std = 1 / np.sqrt(var + eps)
    stat_shape = mean.shape
    # (x - mean) * (gamma / std) + beta: one full-size product fewer than normalizing first, written into the
    # squares' array (each fresh array of 128 KiB or more is fresh pages from the system: page faults).
    scale = gamma.reshape(stat_shape) * inv_std
    shift = beta.reshape(stat_shape)
    if np.result_type(out, scale, shift) == out.dtype:
        np.multiply(centered, scale, out=out)
        out += shift
    else:
        out = centered * scale + shift
    return out, (centered, inv_std, mean, var)  # mean and var: for running averages, outside the graph


def _batch_norm_centered(x, axes, eps, saved):
    """x minus its mean, and 1 / std: saved by the plain pass; recomputed from x with ops under create_graph,
    so that their dependence on x is recorded too."""
    if not isinstance(x, Tensor):
        return saved[0], saved[1]
    count = _count(x.shape, axes)
    centered = x - x.sum(axis=axes, keepdims=True) / count
    return centered, ((centered * centered).sum(axis=axes, keepdims=True) / count + eps) ** -0.5


def _batch_norm_vjp_x(g, out, x, gamma, beta, axes, eps, saved):
    # With xn = (x - mean) / std: (gamma / std) (g - mean(g) - xn mean(g xn)), the paths through the mean and
    # the variance folded in; xn's 1 / std is applied to the small statistics rather than to (N, D) arrays.
    count = _count(x.shape, axes)
    if count <= 1:
        # One value per statistic: x - mean is 0 whatever x is, so out is beta and dx exactly 0 (the rule
        # would cancel terms of size gamma / sqrt(eps) to get it). An empty batch: no mean of nothing to warn about.
        return g * 0.0
    centered, inv_std = _batch_norm_centered(x, axes, eps, saved)
    scale = gamma.reshape(inv_std.shape) * inv_std
    g_mean = g.sum(axis=axes, keepdims=True) / count
    if isinstance(g, Tensor):
        slope = (g * centered).sum(axis=axes, keepdims=True) * (inv_std * inv_std / count)
        return scale * (g - g_mean - centered * slope)
    # The plain pass: the same rule, in one fresh array. Each fresh array of 128 KiB or more comes from the
    # system as new pages; measured (medians of 41 interleaved rounds), this dx vs the operator form above:
    # (100, 1000) 211 vs 944 us, (100, 16, 14, 14) over (0, 2, 3) 0.80 vs 3.65 ms; (100, 100) 30 vs 30 us.
    dx = g * centered
    slope = dx.sum(axis=axes, keepdims=True) * (inv_std * inv_std / count)
    np.multiply(centered, slope, out=dx, casting="same_kind")
    np.subtract(g, dx, out=dx, casting="same_kind")
    dx -= g_mean
    dx *= scale
    return dx


def _batch_norm_vjp_gamma(g, out, x, gamma, beta, axes, eps, saved):
    centered, inv_std = _batch_norm_centered(x, axes, eps, saved)
    if isinstance(g, Tensor):
        return (g * centered).sum(axis=axes) * inv_std.reshape(gamma.shape)
    return _sum_of_products(g, centered, axes) * inv_std.reshape(gamma.shape)


def _sum_of_products(a, b, axes):
    """``(a * b).sum(axis=axes)`` by einsum, with no array of ``a``'s shape in between."""
    letters = "abcdefghijklmnopqrstuvwxyz"[:a.ndim]
    kept = "".join(letter for i, letter in enumerate(letters) if i not in axes)
    return np.einsum(f"{letters},{letters}->{kept}", a, b)


# One op rather than mean, sub, mul, mean, add, pow, div, mul, add (and reshapes): the composed backward ran about
# a dozen elementwise VJPs over (N, D) and stored a gradient for every intermediate. Measured forward + backward
# of BatchNorm1d in train mode, one BLAS thread, medians of 41 interleaved rounds, one op / composed / the book's
# hand-written formulas: (100, 100) 133 / 768 / 115 us; (100, 1000) 1.36 / 7.44 / 3.34 ms; (256, 50) 155 / 300 /
# 152 us. BatchNorm2d (100, 16, 14, 14): 7.7 ms one op, 24.1 ms composed.
BATCH_NORM = Op("batch_norm", symbol="BN", saves=True, reads=("x", "gamma"), forward=_batch_norm_forward,
                vjp=(_batch_norm_vjp_x, _batch_norm_vjp_gamma,
                     lambda g, out, x, gamma, beta, axes, eps, saved: g.sum(axis=axes)))


ALL_OPS = tuple(v for v in list(globals().values()) if isinstance(v, Op))
"""Every op in the table (the tests check that each has a spec)."""
