"""The op-spec table: for every op in `autograd.ops.ALL_OPS`, how to call it, its input domain, the
parameters to try, whether it broadcasts, and a NumPy reference forward.

The generic tests in ``test_ops.py`` and ``test_op_gradients.py`` are driven by `SPECS`; a test fails
when an op of the table has no spec here, so adding an op means adding one `OpSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd
from autograd import ops
from autograd.testing import array_shapes, broadcastable_shapes, matmul_shapes, well_conditioned

# Input domains: where central differences are valid and the op is defined.
ANY = "any"
POSITIVE = "positive"  # log, pow with a fractional exponent
AWAY_FROM_ZERO = "away from 0"  # relu's kink, division's pole, negative exponents
DISTINCT = "distinct"  # max: a unique maximum, well separated from the runner-up

# Distance kept from kinks and poles, and the spacing of DISTINCT values: far above any finite-difference step.
MARGIN = 0.2
DISTINCT_SPACING = 0.4


@dataclass(frozen=True)
class Case:
    """One way to call an op: a shape for each differentiable input, and the op's parameters."""

    shapes: tuple
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """How to test one op.

    Attributes:
        name: the op's name in `autograd.ops.ALL_OPS`, or of a public composition (``mean``).
        call: ``call(*tensors, **params) -> Tensor`` through the public API (operator or function form).
        reference: ``reference(*arrays, **params) -> ndarray``, the forward written with NumPy only.
        cases: ``cases(max_side)`` is a strategy of `Case` with sides up to ``max_side``.
        examples: fixed cases every unit test runs.
        domain: the domain of each input, or a function of the params giving them.
        broadcasts: the op follows NumPy broadcasting between its inputs.
        composite: the op is a composition of table ops (it has no row of its own in ``ALL_OPS``).
        keeps_dtype: the output has the inputs' float dtype (false for ``cast``, whose params choose it).
    """

    name: str
    call: Callable
    reference: Callable
    cases: Callable
    examples: tuple
    domain: object = (ANY,)
    broadcasts: bool = False
    composite: bool = False
    keeps_dtype: bool = True

    @property
    def arity(self) -> int:
        return len(self.examples[0].shapes)

    def domains(self, params: dict) -> tuple:
        return self.domain(params) if callable(self.domain) else self.domain

    def values(self, case: Case):
        """A strategy of float64 input arrays for ``case``, each inside its domain."""
        return st.tuples(*(values(shape, d) for shape, d in zip(case.shapes, self.domains(case.params))))

    def example_inputs(self, case: Case, seed: int = 0) -> list:
        """Deterministic float64 inputs for ``case`` (for unit tests that do not use hypothesis)."""
        rng = np.random.default_rng(seed)
        return [example_values(shape, d, rng) for shape, d in zip(case.shapes, self.domains(case.params))]

    def __repr__(self) -> str:  # pytest ids and hypothesis reports
        return f"OpSpec({self.name})"


def values(shape, domain: str, *, low: float = -3.0, high: float = 3.0):
    """Float64 arrays of ``shape`` whose entries lie in ``domain`` (see the module constants)."""
    if domain == ANY:
        return well_conditioned(shape, low=low, high=high, away_from=())
    if domain == POSITIVE:
        return well_conditioned(shape, low=MARGIN, high=high, away_from=())
    if domain == AWAY_FROM_ZERO:
        return well_conditioned(shape, low=low, high=high, away_from=(0.0,), margin=MARGIN)
    if domain == AWAY_FROM_UNITS:
        return _unit_margin_values(shape)
    if domain == DISTINCT:
        size = int(np.prod(shape))
        return st.tuples(st.permutations(range(size)), st.floats(-1.0, 1.0)).map(
            lambda drawn: (np.array(drawn[0], dtype=np.float64) * DISTINCT_SPACING + drawn[1]
                           - size * DISTINCT_SPACING / 2).reshape(shape)
        )
    raise ValueError(f"unknown domain {domain!r}")


def example_values(shape, domain: str, rng) -> np.ndarray:
    """One deterministic array of ``shape`` in ``domain``."""
    if domain == ANY:
        return rng.uniform(-2.0, 2.0, shape)
    if domain == POSITIVE:
        return rng.uniform(0.5, 2.0, shape)
    if domain == AWAY_FROM_ZERO:
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == AWAY_FROM_UNITS:
        return _unit_margin_example(shape, rng)
    if domain == DISTINCT:
        size = int(np.prod(shape))
        return (rng.permutation(size) * DISTINCT_SPACING - size * DISTINCT_SPACING / 2).reshape(shape)
    raise ValueError(f"unknown domain {domain!r}")


# --- case strategies ----------------------------------------------------------------------------------
def _unary_cases(max_side: int):
    return array_shapes(max_side=max_side).map(lambda shape: Case((shape,)))


def _broadcast_cases(max_side: int):
    return broadcastable_shapes(2, max_side=max_side).map(lambda shapes: Case(tuple(shapes)))


def _matmul_cases(max_side: int):
    return matmul_shapes(max_side=max_side).map(lambda shapes: Case(tuple(shapes)))


@st.composite
def _axes(draw, ndim: int):
    """None, an int axis (negative too) or a tuple of axes (possibly empty) of an ``ndim``-d array."""
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    return draw(st.one_of(*choices))


@st.composite
def _reduction_cases(draw, max_side: int):
    shape = draw(array_shapes(max_side=max_side))
    return Case((shape,), {"axis": draw(_axes(len(shape))), "keepdims": draw(st.booleans())})


POW_EXPONENTS = (2, 3, 0.5, 1.5, -1, -2, 1, 0, 2.5)


@st.composite
def _pow_cases(draw, max_side: int):
    shape = draw(array_shapes(max_side=max_side))
    return Case((shape,), {"exponent": draw(st.sampled_from(POW_EXPONENTS))})


def _pow_domain(params: dict) -> tuple:
    exponent = params["exponent"]
    if exponent != int(exponent):
        return (POSITIVE,)
    return (AWAY_FROM_ZERO,) if exponent < 0 else (ANY,)


def _reshape_targets(shape: tuple) -> list:
    size = int(np.prod(shape))
    targets = [(size,), (-1,), tuple(reversed(shape)), (1,) + tuple(shape), (size, 1), ()]
    if shape:
        targets.append((-1, shape[-1]))
    return [t for t in targets if t != () or size == 1]


@st.composite
def _reshape_cases(draw, max_side: int):
    shape = draw(array_shapes(max_side=max_side))
    return Case((shape,), {"shape": draw(st.sampled_from(_reshape_targets(shape)))})


def _cast_cases(max_side: int):
    # Gradients are checked in float64 by central differences, which a float32 round trip would
    # quantise; the examples (unit tests) cover the float32 casts.
    return array_shapes(max_side=max_side).map(lambda shape: Case((shape,), {"dtype": np.float64}))


@st.composite
def _transpose_cases(draw, max_side: int):
    shape = draw(array_shapes(max_side=max_side))
    axes = draw(st.one_of(st.none(), st.permutations(range(len(shape))).map(tuple)))
    return Case((shape,), {"axes": axes})


@st.composite
def _broadcast_to_cases(draw, max_side: int):
    target = draw(array_shapes(max_side=max_side))
    kept = draw(st.integers(0, len(target)))
    shape = tuple(n if draw(st.booleans()) else 1 for n in target[len(target) - kept:])
    return Case((shape,), {"shape": target})


@st.composite
def _indices(draw, shape: tuple):
    """Basic indices (slices, ints, None, Ellipsis), integer arrays (repeats included) and boolean masks."""
    kind = draw(st.sampled_from(["basic", "integer arrays", "repeated list", "mask"]))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if kind == "integer arrays":
        return draw(hnp.integer_array_indices(shape, result_shape=array_shapes(min_dims=1, max_dims=2)))
    if kind == "repeated list":
        first = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6))
        return np.array(first + first[:1])  # the first index appears at least twice
    return draw(hnp.arrays(np.bool_, shape))


@st.composite
def _getitem_cases(draw, max_side: int):
    shape = draw(array_shapes(min_dims=1, max_side=max_side))
    return Case((shape,), {"index": draw(_indices(shape))})


@st.composite
def _scatter_add_cases(draw, max_side: int):
    shape = draw(array_shapes(min_dims=1, max_side=max_side))
    index = draw(_indices(shape))
    return Case((np.empty(shape)[index].shape,), {"shape": shape, "index": index})


@st.composite
def _softmax_cases(draw, max_side: int):
    shape = draw(array_shapes(min_dims=1, max_side=max_side))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    return Case((shape,), {"axis": axis})


@st.composite
def _cross_entropy_cases(draw, max_side: int):
    n, c = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    form = draw(st.sampled_from(["labels", "one-hot", "one sample"]))
    if form == "one sample":
        return Case(((c,),), {"t": labels[0]})
    return Case(((n, c),), {"t": labels if form == "labels" else np.eye(c)[labels]})


# --- NumPy references ----------------------------------------------------------------------------------
def _softmax_reference(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _cross_entropy_reference(logits, t):
    logits = np.atleast_2d(logits)
    t = np.asarray(t)
    labels = t.argmax(axis=-1) if t.ndim == 2 else t.reshape(-1)
    probs = _softmax_reference(logits, axis=1)
    return np.asarray(-np.mean(np.log(probs[np.arange(len(labels)), labels])))


def _scatter_add_reference(g, shape, index):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


def _getitem(x, index):
    return x[index]


def _scatter_add(g, shape, index):
    return autograd.apply(ops.SCATTER_ADD, g, shape=shape, index=index)


SPECS = (
    OpSpec("add", lambda x, y: x + y, np.add, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((2, 3), (3,))), Case(((3, 1), (1, 4))), Case(((), (2,))))
           , domain=(ANY, ANY), broadcasts=True),
    OpSpec("sub", lambda x, y: x - y, np.subtract, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((4, 1), (3,)))), domain=(ANY, ANY), broadcasts=True),
    OpSpec("mul", lambda x, y: x * y, np.multiply, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((2, 3), (2, 1))), Case(((), (3, 2)))), domain=(ANY, ANY),
           broadcasts=True),
    OpSpec("div", lambda x, y: x / y, np.divide, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((2, 3), (3,)))), domain=(ANY, AWAY_FROM_ZERO), broadcasts=True),
    OpSpec("neg", lambda x: -x, np.negative, _unary_cases, (Case(((2, 3),)), Case(((),)))),
    OpSpec("pow", lambda x, exponent: x ** exponent, lambda x, exponent: np.power(x, float(exponent)),
           _pow_cases, tuple(Case(((2, 3),), {"exponent": e}) for e in POW_EXPONENTS), domain=_pow_domain),
    OpSpec("matmul", lambda x, y: x @ y, np.dot, _matmul_cases,
           (Case(((2, 3), (3, 4))), Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((3,), (3, 2)))),
           domain=(ANY, ANY)),
    OpSpec("exp", autograd.exp, np.exp, _unary_cases, (Case(((2, 3),)), Case(((),)))),
    OpSpec("log", autograd.log, np.log, _unary_cases, (Case(((2, 3),)),), domain=(POSITIVE,)),
    OpSpec("tanh", autograd.tanh, np.tanh, _unary_cases, (Case(((2, 3),)),)),
    OpSpec("relu", autograd.relu, lambda x: np.where(x > 0, x, 0.0), _unary_cases, (Case(((2, 3),)),),
           domain=(AWAY_FROM_ZERO,)),
    OpSpec("sigmoid", autograd.sigmoid, lambda x: 1 / (1 + np.exp(-x)), _unary_cases, (Case(((2, 3),)),)),
    OpSpec("sum", autograd.sum, np.sum, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 0, "keepdims": True}),
            Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": False}),
            Case(((2, 3),), {"axis": -1, "keepdims": False}))),
    OpSpec("mean", autograd.mean, np.mean, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 1, "keepdims": True}),
            Case(((2, 3, 4),), {"axis": (0, 1), "keepdims": False})), composite=True),
    OpSpec("max", autograd.max, np.max, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 1, "keepdims": False}),
            Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": True})), domain=(DISTINCT,)),
    OpSpec("broadcast_to", autograd.broadcast_to, np.broadcast_to, _broadcast_to_cases,
           (Case(((3,),), {"shape": (2, 3)}), Case(((2, 1),), {"shape": (4, 2, 3)}), Case(((),), {"shape": (2,)}))),
    OpSpec("cast", autograd.astype, lambda x, dtype: x.astype(dtype), _cast_cases,
           (Case(((2, 3),), {"dtype": np.float32}), Case(((2, 3),), {"dtype": np.float64}),
            Case(((),), {"dtype": np.dtype("float32")})), keeps_dtype=False),
    OpSpec("reshape", autograd.reshape, np.reshape, _reshape_cases,
           (Case(((2, 3),), {"shape": (3, 2)}), Case(((2, 3),), {"shape": (-1,)}),
            Case(((6,),), {"shape": (1, 2, 3)}))),
    OpSpec("transpose", autograd.transpose, np.transpose, _transpose_cases,
           (Case(((2, 3),), {"axes": None}), Case(((2, 3, 4),), {"axes": (1, 2, 0)}),
            Case(((2, 3, 4),), {"axes": (0, 2, 1)}))),
    OpSpec("getitem", lambda x, index: x[index], _getitem, _getitem_cases,
           (Case(((4, 3),), {"index": (slice(1, 3), 0)}), Case(((4, 3),), {"index": np.array([0, 0, 3, 0])}),
            Case(((4, 3),), {"index": (np.array([1, 1]), np.array([2, 2]))}),
            Case(((4, 3),), {"index": (Ellipsis, None, slice(None, None, -1))}),
            Case(((4,),), {"index": np.array([True, False, True, True])}))),
    OpSpec("scatter_add", _scatter_add, _scatter_add_reference, _scatter_add_cases,
           (Case(((4,),), {"shape": (3,), "index": np.array([0, 0, 2, 0])}),
            Case(((2, 3),), {"shape": (4, 3), "index": slice(1, 3)}))),
    OpSpec("softmax", autograd.softmax, _softmax_reference, _softmax_cases,
           (Case(((2, 3),), {"axis": -1}), Case(((2, 3),), {"axis": 0}), Case(((4,),), {"axis": 0}))),
    OpSpec("log_softmax", autograd.log_softmax, lambda x, axis: np.log(_softmax_reference(x, axis)),
           _softmax_cases, (Case(((2, 3),), {"axis": -1}), Case(((2, 3, 2),), {"axis": 1}))),
    OpSpec("softmax_cross_entropy", autograd.softmax_cross_entropy, _cross_entropy_reference,
           _cross_entropy_cases,
           (Case(((3, 4),), {"t": np.array([0, 3, 1])}), Case(((3, 4),), {"t": np.eye(4)[[2, 2, 0]]}),
            Case(((4,),), {"t": 2}))),
)

SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


# --- images, trigonometry, clip, leaky ReLU, min (issue 9) ----------------------------------------------
# These rows are appended to `SPECS` below; the strategies and NumPy references (loops over the output
# positions, written independently of the im2col layout) come first.
AWAY_FROM_UNITS = "away from -1, 0, 1"  # clip's bounds in the cases below


def _unit_margin_values(shape):
    return well_conditioned(shape, low=-2.0, high=2.0, away_from=(-1.0, 0.0, 1.0), margin=MARGIN)


def _unit_margin_example(shape, rng):
    magnitude = rng.uniform(MARGIN, 1 - MARGIN, shape) + rng.integers(0, 2, shape)  # (0.2, 0.8) or (1.2, 1.8)
    return magnitude * rng.choice([-1.0, 1.0], shape)


def _pairs(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _padded(x, pad, value=0.0):
    ph, pw = _pairs(pad)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _positions(padded_shape, kernel, stride):
    """Yield (i, j, rows, cols): each output position and the slices of its window in the padded image."""
    (kh, kw), (sh, sw) = _pairs(kernel), _pairs(stride)
    out_h, out_w = (padded_shape[2] - kh) // sh + 1, (padded_shape[3] - kw) // sw + 1
    for i in range(out_h):
        for j in range(out_w):
            yield i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)


def _conv2d_reference(x, W, b, stride=1, pad=0):
    xp = _padded(x, pad)
    positions = list(_positions(xp.shape, W.shape[2:], stride))
    out = np.zeros((x.shape[0], W.shape[0], positions[-1][0] + 1, positions[-1][1] + 1))
    for i, j, rows, cols in positions:
        for n in range(x.shape[0]):
            for f in range(W.shape[0]):
                out[n, f, i, j] = np.sum(xp[n, :, rows, cols] * W[f]) + b[f]
    return out


def _pool_reference(reduce, pad_value):
    def pool(x, kernel, stride=None, pad=0):
        stride = kernel if stride is None else stride
        xp = _padded(x, pad, pad_value)
        positions = list(_positions(xp.shape, kernel, stride))
        out = np.zeros(x.shape[:2] + (positions[-1][0] + 1, positions[-1][1] + 1))
        for i, j, rows, cols in positions:
            out[:, :, i, j] = reduce(xp[:, :, rows, cols], axis=(2, 3))
        return out
    return pool


def _im2col_reference(x, kernel, stride, pad):
    # Row (n, i, j) holds the window of output position (i, j) of image n, flattened as (channel, row, column).
    xp = _padded(x, pad)
    positions = list(_positions(xp.shape, kernel, stride))
    return np.array([xp[n, :, rows, cols].reshape(-1) for n in range(x.shape[0]) for _, _, rows, cols in positions])


def _col2im_reference(col, shape, kernel, stride, pad):
    ph, pw = _pairs(pad)
    img = np.zeros((shape[0], shape[1], shape[2] + 2 * ph, shape[3] + 2 * pw))
    positions = list(_positions(img.shape, kernel, stride))
    for r, (n, (_, _, rows, cols)) in enumerate((n, p) for n in range(shape[0]) for p in positions):
        img[n, :, rows, cols] += col[r].reshape(shape[1], rows.stop - rows.start, cols.stop - cols.start)
    return img[:, :, ph:ph + shape[2], pw:pw + shape[3]]


@st.composite
def _window_setup(draw, max_side: int, *, max_pad_is_half_kernel: bool = False):
    """An image shape (N, C, H, W) with kernel, stride and pad pairs that fit it (odd sizes included)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = tuple(draw(st.integers(0, k // 2 if max_pad_is_half_kernel else 1)) for k in kernel)
    sides = tuple(draw(st.integers(max(1, k - 2 * p), max(k, min(max_side, 7))))
                  for k, p in zip(kernel, pad))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + sides
    return shape, kernel, stride, pad


@st.composite
def _conv2d_cases(draw, max_side: int):
    shape, kernel, stride, pad = draw(_window_setup(max_side))
    num_filters = draw(st.integers(1, 3))
    stride = draw(st.sampled_from([stride, stride[0]]))  # a pair, or one int for both sides
    return Case((shape, (num_filters, shape[1]) + kernel, (num_filters,)), {"stride": stride, "pad": pad})


@st.composite
def _pool_cases(draw, max_side: int):
    shape, kernel, stride, pad = draw(_window_setup(max_side, max_pad_is_half_kernel=True))
    return Case((shape,), {"kernel": kernel, "stride": draw(st.sampled_from([None, stride])), "pad": pad})


@st.composite
def _im2col_cases(draw, max_side: int):
    shape, kernel, stride, pad = draw(_window_setup(max_side))
    return Case((shape,), {"kernel": kernel, "stride": stride, "pad": pad})


def _col_shape(shape, kernel, stride, pad):
    return _im2col_reference(np.zeros(shape), kernel, stride, pad).shape


@st.composite
def _col2im_cases(draw, max_side: int):
    shape, kernel, stride, pad = draw(_window_setup(max_side))
    return Case((_col_shape(shape, kernel, stride, pad),), {"shape": shape, "kernel": kernel, "stride": stride, "pad": pad})


CLIP_BOUNDS = ((-1.0, 1.0), (None, 1.0), (-1.0, None), (0.0, 1.0), (-1.0, 0.0))


@st.composite
def _clip_cases(draw, max_side: int):
    low, high = draw(st.sampled_from(CLIP_BOUNDS))
    return Case((draw(array_shapes(max_side=max_side)),), {"low": low, "high": high})


LEAKY_SLOPES = (0.01, 0.2, 1.5, -0.3)


@st.composite
def _leaky_relu_cases(draw, max_side: int):
    return Case((draw(array_shapes(max_side=max_side)),), {"negative_slope": draw(st.sampled_from(LEAKY_SLOPES))})


def _im2col(x, kernel, stride, pad):
    return autograd.apply(ops.IM2COL, x, kernel=kernel, stride=stride, pad=pad)


def _col2im(col, shape, kernel, stride, pad):
    return autograd.apply(ops.COL2IM, col, shape=shape, kernel=kernel, stride=stride, pad=pad)


_WINDOW_EXAMPLES = (  # (shape, kernel, stride, pad): strides 1 and 2, padding 0 and 1, odd sizes
    ((2, 3, 5, 5), (3, 3), (1, 1), (0, 0)),
    ((1, 2, 5, 7), (3, 2), (2, 2), (1, 1)),
    ((2, 1, 4, 4), (2, 2), (2, 2), (0, 0)),
    ((1, 2, 6, 5), (3, 3), (2, 1), (1, 0)),
)

SPECS += (
    OpSpec("sin", autograd.sin, np.sin, _unary_cases, (Case(((2, 3),)), Case(((),)))),
    OpSpec("cos", autograd.cos, np.cos, _unary_cases, (Case(((2, 3),)), Case(((),)))),
    OpSpec("clip", autograd.clip, lambda x, low, high: np.clip(x, low, high), _clip_cases,
           tuple(Case(((3, 4),), {"low": low, "high": high}) for low, high in CLIP_BOUNDS),
           domain=(AWAY_FROM_UNITS,)),
    OpSpec("leaky_relu", autograd.leaky_relu, lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           _leaky_relu_cases, tuple(Case(((2, 3),), {"negative_slope": s}) for s in LEAKY_SLOPES),
           domain=(AWAY_FROM_ZERO,)),
    OpSpec("min", autograd.min, np.min, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 1, "keepdims": True}),
            Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": False})), domain=(DISTINCT,), composite=True),
    OpSpec("im2col", _im2col, _im2col_reference, _im2col_cases,
           tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)),
    OpSpec("col2im", _col2im, _col2im_reference, _col2im_cases,
           tuple(Case((_col_shape(shape, k, s, p),), {"shape": shape, "kernel": k, "stride": s, "pad": p})
                 for shape, k, s, p in _WINDOW_EXAMPLES)),
    OpSpec("conv2d", autograd.conv2d, _conv2d_reference, _conv2d_cases,
           tuple(Case((shape, (3, shape[1]) + k, (3,)), {"stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)
           + (Case(((1, 1, 5, 5), (2, 1, 3, 3), (2,)), {"stride": 2, "pad": 1}),),
           domain=(ANY, ANY, ANY)),
    OpSpec("max_pool2d", autograd.max_pool2d, _pool_reference(np.max, -np.inf), _pool_cases,
           tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)
           + (Case(((1, 2, 5, 5),), {"kernel": 2, "stride": None, "pad": 1}),),
           domain=(DISTINCT,)),
    OpSpec("avg_pool2d", autograd.avg_pool2d, _pool_reference(np.mean, 0.0), _pool_cases,
           tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)
           + (Case(((1, 2, 5, 5),), {"kernel": 3, "stride": None, "pad": 1}),),
           composite=True),
)
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


@st.composite
def _batched_matmul_cases(draw, max_side: int):
    """Operands of which at least one is 3-d or more: batch dimensions that broadcast (sides of 1, missing
    leading ones), and 1-d operands that matmul promotes."""
    side = st.integers(1, min(max_side, 4))
    m, n, k = draw(side), draw(side), draw(side)
    batch = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))

    def operand_batch():
        kept = draw(st.integers(0, len(batch)))
        return tuple(b if draw(st.booleans()) else 1 for b in batch[len(batch) - kept:])

    batched = batch if draw(st.booleans()) else tuple(1 for _ in batch[:-1]) + batch[-1:]
    x_shape, y_shape = batched + (m, n), draw(st.sampled_from([operand_batch() + (n, k), (n,)]))
    if draw(st.booleans()):  # the batched operand on the right
        x_shape, y_shape = draw(st.sampled_from([operand_batch() + (m, n), (n,)])), batched + (n, k)
    return Case((x_shape, y_shape))


# The MATMUL row on 3-d and more (NumPy's matmul rules); a row of its own, so the matmul row stays as it is.
SPECS += (
    OpSpec("batched_matmul", lambda x, y: x @ y, np.matmul, _batched_matmul_cases,
           (Case(((2, 3, 4), (4, 5))), Case(((2, 1, 3, 4), (5, 4, 2))), Case(((3,), (2, 3, 4))),
            Case(((2, 3, 4), (4,))), Case(((3, 2, 3), (3, 3, 2)))),
           domain=(ANY, ANY), composite=True),
)
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}
