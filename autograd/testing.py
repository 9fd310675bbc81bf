"""Hypothesis strategies for property-testing ops: shapes (0-d and empty ones too), broadcast pairs, float32
and float64 arrays over wide magnitudes, NaN and inf, axes (negative and tuples), permutations, indices and
memory layouts (views, Fortran order, negative strides).

Users can import them to test their own ops the way graphgrad tests its own (needs ``hypothesis``, which
the ``dev`` extra installs). The defaults draw small, finite, well-scaled float64 values; each strategy
has options that widen it towards the inputs that find bugs.

>>> from hypothesis import given
>>> @given(float_arrays(shape=(2, 3)))
... def test_shape(a):
...     assert a.shape == (2, 3) and a.dtype == np.float64
>>> test_shape()
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "float_arrays", "array_shapes", "edge_shapes", "broadcastable_shapes", "matmul_shapes", "well_conditioned",
    "float_dtypes", "magnitudes", "scaled_arrays", "with_non_finite", "axes", "reduction_params",
    "transpose_axes", "indices", "LAYOUTS", "lay_out", "laid_out",
]

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def array_shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Shapes of small arrays (0-d included by default; ``min_side=0`` adds empty ones).

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(array_shapes(min_side=0, max_side=2))
    ... def test_sides(shape):
    ...     assert len(shape) <= 3 and all(0 <= n <= 2 for n in shape)
    >>> test_sides()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def edge_shapes(*, max_dims: int = 3, max_side: int = 4):
    """Shapes that break ops: 0-d, empty (a side of 0), one-element, and ordinary ones, about equally often.

    >>> from hypothesis import find
    >>> find(edge_shapes(), lambda shape: 0 in shape)
    (0,)
    >>> find(edge_shapes(), lambda shape: shape == ())
    ()
    """
    ordinary = array_shapes(min_dims=1, max_dims=max_dims, max_side=max_side)
    empty = array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=max_side).filter(lambda s: 0 in s)
    one_element = st.integers(0, max_dims).map(lambda ndim: (1,) * ndim)
    return st.one_of(st.just(()), empty, one_element, ordinary)


def float_dtypes():
    """float64 or float32 (as ``np.dtype``), the two dtypes graphgrad's gradients keep.

    >>> from hypothesis import find
    >>> find(float_dtypes(), lambda dtype: dtype == np.float32)
    dtype('float32')
    """
    return st.sampled_from(FLOAT_DTYPES)


def _elements(min_value: float, max_value: float, dtype):
    width = 32 if np.dtype(dtype) == np.float32 else 64
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=width)


def float_arrays(shape=None, *, min_value: float = -3.0, max_value: float = 3.0, dtype=np.float64,
                 **shape_options):
    """Arrays of finite floats in [min_value, max_value], of ``shape`` or of a drawn shape.

    Args:
        shape: a shape tuple, a strategy of shapes, or None for `array_shapes(**shape_options)`.
        dtype: a float dtype, or a strategy of dtypes such as `float_dtypes()`.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(float_arrays(edge_shapes(), dtype=float_dtypes()))
    ... def test_dtypes(a):
    ...     assert a.dtype in (np.float32, np.float64) and np.isfinite(a).all()
    >>> test_dtypes()
    """
    if shape is None:
        shape = array_shapes(**shape_options)
    if isinstance(dtype, st.SearchStrategy):
        return dtype.flatmap(lambda d: float_arrays(shape, min_value=min_value, max_value=max_value, dtype=d))
    return hnp.arrays(dtype, shape, elements=_elements(min_value, max_value, dtype))


def broadcastable_shapes(num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                         max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together (``(3, 1)`` with ``(4,)``, ...).

    ``min_side=0`` adds empty shapes, which broadcast with sides of 1 only.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(broadcastable_shapes(min_side=0))
    ... def test_broadcast(shapes):
    ...     np.broadcast_shapes(*shapes)
    >>> test_broadcast()
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda result: result.input_shapes)


@st.composite
def matmul_shapes(draw, max_side: int = 4, min_side: int = 1):
    """Pairs of 1-d or 2-d shapes that ``np.dot`` accepts: ``(m, n), (n, k)``, ``(n,), (n, k)``, ...

    ``min_side=0`` adds empty ones, ``(0, n) @ (n, k)`` and ``(m, 0) @ (0, k)`` among them.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(matmul_shapes(min_side=0))
    ... def test_aligned(shapes):
    ...     np.dot(np.ones(shapes[0]), np.ones(shapes[1]))
    >>> test_aligned()
    """
    m, n, k = (draw(st.integers(min_side, max_side)) for _ in range(3))
    left = draw(st.sampled_from([(n,), (m, n)]))
    right = draw(st.sampled_from([(n,), (n, k)]))
    return left, right


def well_conditioned(shape, *, low: float = -3.0, high: float = 3.0, away_from=(0.0,), margin: float = 0.05,
                     dtype=np.float64):
    """Float arrays whose entries stay ``margin`` away from the points in ``away_from``.

    Use it at kinks and poles, where central differences are wrong or undefined: relu at 0, log and
    division near 0 (pair with ``low=margin`` for strictly positive values).

    >>> from hypothesis import given
    >>> @given(well_conditioned((5,), away_from=(0.0,), margin=0.1))
    ... def test_far_from_zero(a):
    ...     assert (np.abs(a) >= 0.1).all()
    >>> test_far_from_zero()
    """
    elements = _elements(low, high, dtype).filter(
        lambda v: all(abs(v - point) >= margin for point in away_from)
    )
    return hnp.arrays(dtype, shape, elements=elements)


def magnitudes(min_exponent: int = -8, max_exponent: int = 8):
    """Powers of ten from ``10**min_exponent`` to ``10**max_exponent``: a scale for a whole array.

    >>> from hypothesis import find
    >>> find(magnitudes(), lambda m: m < 1e-5)
    1e-06
    """
    return st.integers(min_exponent, max_exponent).map(lambda e: float(10.0 ** e))


@st.composite
def scaled_arrays(draw, shape=None, *, dtype=np.float64, scale=None, away_from_zero: float = 0.0,
                  positive: bool = False):
    """Well-conditioned arrays times a drawn magnitude: entries in ±[away_from_zero, 3] · scale.

    One scale per array keeps ratios between entries moderate, so central differences with a step
    relative to the scale stay valid, while the values range from tiny to large.

    Args:
        shape: a shape, a strategy of shapes, or None for `edge_shapes()`.
        dtype: a float dtype or a strategy of them.
        scale: a strategy of scales (default `magnitudes()`), or a number.
        away_from_zero: the smallest absolute entry before scaling (relu's kink, division's pole).
        positive: only positive entries (log, fractional powers).

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(scaled_arrays((4,), scale=1e6, away_from_zero=0.5, positive=True))
    ... def test_scaled(a):
    ...     assert ((a >= 0.5e6) & (a <= 3e6)).all()
    >>> test_scaled()
    """
    shape = draw(edge_shapes()) if shape is None else (draw(shape) if isinstance(shape, st.SearchStrategy) else shape)
    dtype = draw(dtype) if isinstance(dtype, st.SearchStrategy) else np.dtype(dtype)
    if scale is None:
        scale = magnitudes()
    scale = draw(scale) if isinstance(scale, st.SearchStrategy) else float(scale)
    low = away_from_zero if positive else -3.0
    base = draw(well_conditioned(shape, low=low, high=3.0, away_from=(0.0,) if away_from_zero else (),
                                 margin=away_from_zero))
    return (base * scale).astype(dtype)


@st.composite
def with_non_finite(draw, arrays, *, values=(np.nan, np.inf, -np.inf)):
    """Arrays from ``arrays`` with at least one entry (when there is one) replaced by NaN or ±inf.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(with_non_finite(float_arrays((2, 3))))
    ... def test_has_nan_or_inf(a):
    ...     assert not np.isfinite(a).all()
    >>> test_has_nan_or_inf()
    """
    array = np.array(draw(arrays), copy=True)
    if array.size:
        flat = array.reshape(-1)
        positions = draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=flat.size, unique=True))
        for position in positions:
            flat[position] = draw(st.sampled_from(values))
    return array


LAYOUTS = ("C", "Fortran", "reversed", "strided", "offset")
"""The memory layouts `lay_out` makes: a C-contiguous copy; a Fortran-ordered copy; a view with every
stride negative; a view taking every other element of a larger array; a view one element into a larger one."""


def lay_out(array, layout: str) -> np.ndarray:
    """``array``'s values (shape and dtype too) in a new array laid out in memory as ``layout`` says.

    Every layout but ``"C"`` and ``"Fortran"`` is a view of a larger array that owns the memory, as an
    input sliced from a batch or a transposed weight is: ops must give the same values and gradients
    whatever the strides, and `autograd.inplace` must guard the memory, not just the view.

    >>> a = np.arange(6.0).reshape(2, 3)
    >>> [lay_out(a, layout).flags.c_contiguous for layout in LAYOUTS]
    [True, False, False, False, True]
    >>> all(np.array_equal(lay_out(a, layout), a) for layout in LAYOUTS)
    True
    """
    array = np.asarray(array)
    if layout == "C":
        return np.array(array, order="C", copy=True)
    if layout == "Fortran":
        return np.array(array, order="F", copy=True)
    if layout == "reversed":  # (a 0-d array has no strides to reverse: a view of a copy)
        flip = (slice(None, None, -1),) * array.ndim + (Ellipsis,)
        return np.array(array[flip], copy=True)[flip]
    if layout == "strided" and array.ndim:
        larger = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
        view = larger[..., ::2]
        view[...] = array
        return view
    if layout in ("offset", "strided"):  # (a 0-d array has no stride: offset)
        larger = np.zeros(array.size + 1, dtype=array.dtype)
        view = larger[1:].reshape(array.shape)
        view[...] = array
        return view
    raise ValueError(f"lay_out: unknown layout {layout!r}; the layouts are {LAYOUTS}")


def laid_out(array) -> st.SearchStrategy:
    """``array``'s values in each of the memory layouts of `LAYOUTS` (see `lay_out`).

    >>> from hypothesis import given
    >>> @given(laid_out(np.ones((2, 3))))
    ... def test_values(a):
    ...     assert a.shape == (2, 3) and (a == 1).all()
    >>> test_values()
    """
    return st.sampled_from(LAYOUTS).map(lambda layout: lay_out(array, layout))


@st.composite
def axes(draw, ndim: int, *, allow_none: bool = True, allow_tuple: bool = True, allow_negative: bool = True):
    """An ``axis`` argument for an ``ndim``-d array: None, an int or a tuple of distinct axes (maybe empty),
    each negative or not.

    >>> from hypothesis import find
    >>> axis = find(axes(3), lambda axis: isinstance(axis, tuple) and len(axis) == 2 and min(axis) < 0)
    >>> np.sum(np.ones((2, 3, 4)), axis=axis).ndim
    1
    >>> find(axes(0), lambda axis: axis is not None)
    ()
    """
    choices = [st.none()] if allow_none else []
    if ndim:
        choices.append(st.integers(-ndim if allow_negative else 0, ndim - 1))
    if allow_tuple:
        chosen = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim) if ndim else st.just([])
        choices.append(chosen.flatmap(
            lambda picked: st.tuples(*(st.sampled_from([a, a - ndim] if allow_negative else [a]) for a in picked))
        ))
    return draw(st.one_of(*choices))


@st.composite
def reduction_params(draw, ndim: int, **axes_options):
    """``{"axis": ..., "keepdims": ...}`` for a reduction (``sum``, ``mean``, ``max``) of an ``ndim``-d array.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(reduction_params(2))
    ... def test_numpy_accepts(params):
    ...     np.sum(np.ones((2, 3)), **params)
    >>> test_numpy_accepts()
    """
    return {"axis": draw(axes(ndim, **axes_options)), "keepdims": draw(st.booleans())}


@st.composite
def transpose_axes(draw, ndim: int, *, allow_negative: bool = True):
    """A permutation of ``range(ndim)`` for ``transpose``, with some axes written as negatives.

    >>> from hypothesis import find
    >>> find(transpose_axes(2), lambda perm: perm == (-1, 0))
    (-1, 0)
    """
    permutation = draw(st.permutations(range(ndim)))
    if not allow_negative:
        return tuple(permutation)
    return tuple(a - ndim if draw(st.booleans()) else a for a in permutation)


@st.composite
def indices(draw, shape: tuple, *, kinds=("basic", "integer", "repeated", "negative", "boolean", "empty")):
    """An index NumPy accepts for an array of ``shape``, of one of ``kinds``:

    ``basic`` (ints, slices, None, Ellipsis), ``integer`` (integer arrays, broadcast together),
    ``repeated`` (an integer array naming one position several times), ``negative`` (integer arrays of
    negative positions), ``boolean`` (a mask of the leading axes), ``empty`` (an empty integer array).
    Integer arrays are ``np.intp`` arrays, never Tensors or float arrays.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=30)
    ... @given(st.data())
    ... def test_numpy_accepts(data):
    ...     shape = data.draw(array_shapes(min_dims=1, min_side=0))
    ...     np.empty(shape)[data.draw(indices(shape))]
    >>> test_numpy_accepts()
    """
    if not shape:
        usable = ["basic"]
    elif 0 in shape:  # integer arrays need positions to name (hypothesis's integer indices: every side)
        usable = [k for k in kinds if k in ("basic", "boolean", "empty")
                  or (k in ("repeated", "negative") and shape[0] > 0)] or ["basic"]
    else:
        usable = list(kinds)
    kind = draw(st.sampled_from(usable))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if kind == "integer":
        return draw(hnp.integer_array_indices(shape, result_shape=array_shapes(min_dims=1, max_dims=2)))
    if kind == "empty":
        return np.array([], dtype=np.intp)
    if kind == "boolean":
        leading = draw(st.integers(1, len(shape)))
        return draw(hnp.arrays(np.bool_, shape[:leading]))
    first = shape[0]
    if kind == "negative":
        return np.array(draw(st.lists(st.integers(-first, -1), min_size=1, max_size=6)), dtype=np.intp)
    chosen = draw(st.lists(st.integers(-first, first - 1), min_size=1, max_size=6))
    return np.array(chosen + chosen[:1], dtype=np.intp)  # the first position appears at least twice
