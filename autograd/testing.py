"""Hypothesis strategies for property-testing ops: float64 arrays, broadcast pairs, well-conditioned values.

Users can import them to test their own ops the way graphgrad tests its own (needs ``hypothesis``, which
the ``dev`` extra installs).

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

__all__ = ["float_arrays", "array_shapes", "broadcastable_shapes", "matmul_shapes", "well_conditioned"]


def array_shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Shapes of small arrays (0-d included by default)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def float_arrays(shape=None, *, min_value: float = -3.0, max_value: float = 3.0, dtype=np.float64,
                 **shape_options):
    """Arrays of finite floats in [min_value, max_value], of ``shape`` or of a drawn shape.

    Args:
        shape: a shape tuple, a strategy of shapes, or None for `array_shapes(**shape_options)`.
    """
    if shape is None:
        shape = array_shapes(**shape_options)
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=64)
    return hnp.arrays(dtype, shape, elements=elements)


def broadcastable_shapes(num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 3, max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together (``(3, 1)`` with ``(4,)``, ...)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda result: result.input_shapes)


@st.composite
def matmul_shapes(draw, max_side: int = 4):
    """Pairs of 1-d or 2-d shapes that ``np.dot`` accepts: ``(m, n), (n, k)``, ``(n,), (n, k)``, ..."""
    m, n, k = (draw(st.integers(1, max_side)) for _ in range(3))
    left = draw(st.sampled_from([(n,), (m, n)]))
    right = draw(st.sampled_from([(n,), (n, k)]))
    return left, right


def well_conditioned(shape, *, low: float = -3.0, high: float = 3.0, away_from=(0.0,), margin: float = 0.05):
    """Float64 arrays whose entries stay ``margin`` away from the points in ``away_from``.

    Use it at kinks and poles, where central differences are wrong or undefined: relu at 0, log and
    division near 0 (pair with ``low=margin`` for strictly positive values).

    >>> from hypothesis import given
    >>> @given(well_conditioned((5,), away_from=(0.0,), margin=0.1))
    ... def test_far_from_zero(a):
    ...     assert (np.abs(a) >= 0.1).all()
    >>> test_far_from_zero()
    """
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64).filter(
        lambda v: all(abs(v - point) >= margin for point in away_from)
    )
    return hnp.arrays(np.float64, shape, elements=elements)
