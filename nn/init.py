"""Weight initialisation (fixed std, He, Xavier) and the seedable random generator every layer draws from.

Each takes an `np.random.Generator` or an int seed (turned into one by `make_rng`), so two networks built
with the same seed start from the same weights, whatever NumPy's global random state is. Given None,
`normal` draws from NumPy's global generator instead, as the book does (``std * np.random.randn(...)``),
so ``np.random.seed(0)`` reproduces the book's initial weights.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["make_rng", "std_for", "normal", "zeros"]

# Names the book's chapter 6 uses for its two scaled initialisations, with the activation they suit.
_HE = ("he", "relu")
_XAVIER = ("xavier", "sigmoid", "tanh")


def make_rng(rng=None) -> np.random.Generator:
    """A `np.random.Generator` from ``rng``: None (fresh OS entropy), an int seed, or a Generator (used as is).

    >>> make_rng(0).standard_normal(2).round(4).tolist()
    [0.1257, -0.1321]
    >>> make_rng(np.random.RandomState(0))
    Traceback (most recent call last):
    ...
    TypeError: rng must be None, an int seed or a numpy.random.Generator, got RandomState
    """
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def std_for(weight_init, fan_in: int) -> float:
    """The standard deviation ``weight_init`` asks for, for a layer with ``fan_in`` inputs.

    Args:
        weight_init: a positive number (a fixed std, like the book's 0.01); ``"he"`` or ``"relu"`` for
            He's ``sqrt(2 / fan_in)``; ``"xavier"``, ``"sigmoid"`` or ``"tanh"`` for Xavier's
            ``sqrt(1 / fan_in)`` (the form the book's chapter 6 uses).

    >>> std_for(0.01, 784), std_for("he", 50), std_for("xavier", 100)
    (0.01, 0.2, 0.1)
    >>> std_for("gauss", 10)
    Traceback (most recent call last):
    ...
    ValueError: weight_init 'gauss' is not a std or one of 'he', 'relu', 'xavier', 'sigmoid', 'tanh'
    """
    if isinstance(weight_init, str):
        key = weight_init.lower()
        if key in _HE:
            return math.sqrt(2.0 / fan_in)
        if key in _XAVIER:
            return math.sqrt(1.0 / fan_in)
        names = ", ".join(repr(n) for n in _HE + _XAVIER)
        raise ValueError(f"weight_init {weight_init!r} is not a std or one of {names}")
    if isinstance(weight_init, bool) or not isinstance(weight_init, numbers.Real):
        raise TypeError(f"weight_init must be a number or a name, got {type(weight_init).__name__}")
    if not (weight_init >= 0 and math.isfinite(weight_init)):
        raise ValueError(f"weight_init: a std must be a finite number >= 0, got {weight_init!r}")
    return float(weight_init)


def normal(shape, weight_init=0.01, rng=None, dtype=np.float64) -> np.ndarray:
    """Weights drawn from N(0, std²), std given by ``weight_init`` (see `std_for`), fan-in ``shape[0]``.

    The draw is the book's ``std * randn(*shape)``, made in float64 and then cast, so float32 and float64
    networks built with the same seed start from the same weights up to rounding.

    Args:
        rng: an int seed or an `np.random.Generator`; None draws from NumPy's global generator, exactly
            as the book's ``weight_init_std * np.random.randn(*shape)``.

    >>> normal((3, 2), "he", rng=0, dtype=np.float32).dtype
    dtype('float32')
    >>> np.random.seed(0); book = 0.01 * np.random.randn(2, 3)
    >>> np.random.seed(0); bool(np.array_equal(normal((2, 3), 0.01), book))
    True
    """
    shape = tuple(shape)
    std = std_for(weight_init, shape[0] if shape else 1)
    # np.random.randn(*shape) is the global generator's standard_normal(shape): the same draws.
    draws = np.random.standard_normal(shape) if rng is None else make_rng(rng).standard_normal(shape)
    weights = std * draws
    return weights if np.dtype(dtype) == weights.dtype else weights.astype(dtype)


def zeros(shape, dtype=np.float64) -> np.ndarray:
    """Zeros of ``shape`` (the book's biases).

    >>> zeros(3)
    array([0., 0., 0.])
    """
    return np.zeros(shape, dtype=dtype)
