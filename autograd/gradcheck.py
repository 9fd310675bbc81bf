"""Gradient checking against numerical differentiation: the book's "gradient check", as a library."""

from __future__ import annotations

import numpy as np

from .graph import grad
from .inplace import is_held
from .mode import no_grad
from .tensor import Tensor

__all__ = ["numerical_gradient", "gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """A backprop gradient disagrees with central differences beyond the tolerance."""


def _scalar(value, who: str) -> float:
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if array.size != 1:
        raise ValueError(f"{who}: f must return a scalar, got a value of shape {array.shape}")
    return float(array.reshape(()))


def numerical_gradient(f, x, eps: float = 1e-4) -> np.ndarray:
    """Central differences ``(f(x + eps) - f(x - eps)) / 2eps`` over every element of ``x``.

    As in the book, ``x`` is perturbed in place, one element at a time, and ``f(x)`` is called; ``f``
    may ignore its argument and read ``x`` through a closure (the book's ``lambda W: net.loss(x, t)``).
    Every element is restored exactly, even if ``f`` raises. ``f`` runs under `no_grad`.

    Args:
        f: a function returning a scalar (a number or a one-element Tensor or array).
        x: a float ndarray or a Tensor (its ``data`` is perturbed).
        eps: the step.

    Returns:
        An ndarray of ``x``'s shape and dtype.

    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda v: (v ** 2).sum(), x).round(6)
    array([2., 4.])
    """
    array = x.data if isinstance(x, Tensor) else x
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise TypeError(
            "numerical_gradient: x must be a float ndarray or Tensor that can be perturbed in place, "
            f"got {type(array).__name__}" + (f" of dtype {array.dtype}" if isinstance(array, np.ndarray) else "")
        )
    if not array.flags.writeable:
        why = (" (a recorded graph that has not been backpropagated holds it: backpropagate or drop it first)"
               if is_held(array) else "")
        raise ValueError(f"numerical_gradient: x is read-only{why}, so it cannot be perturbed in place")
    gradient = np.zeros_like(array)
    with no_grad():
        for index in np.ndindex(array.shape):
            original = array[index]
            try:
                array[index] = original + eps
                f_plus = _scalar(f(x), "numerical_gradient")
                array[index] = original - eps
                f_minus = _scalar(f(x), "numerical_gradient")
            finally:
                array[index] = original
            gradient[index] = (f_plus - f_minus) / (2 * eps)
    return gradient


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Check the engine's gradients of ``fn(*inputs)`` against central differences in float64.

    Every Tensor input that requires grad, and every float ndarray input, is copied to a float64 leaf
    and checked element by element. A non-scalar output is reduced to the scalar ``sum(u * out)`` with
    fixed random weights ``u`` (so the check covers the VJP in a random direction).

    Args:
        fn: a function of the inputs returning a Tensor.
        *inputs: Tensors, arrays, or other arguments (passed through unchanged).
        eps: the central-difference step.
        atol, rtol: an element passes when ``|backprop - numerical| <= atol + rtol * |numerical|``; a NaN
            or infinite value on either side fails (it cannot be checked).
        seed: seeds the random weights ``u``.

    Returns:
        True when every element agrees.

    Raises:
        GradcheckError: naming the input, the element index, both values and the tolerance.

    >>> gradcheck(lambda x: (x * x).sum(), np.array([1.0, -2.0, 3.0]))
    True
    >>> gradcheck(lambda x: (x.relu() * 0 + x ** 3).sum(), np.array([0.5]), atol=1e-12, rtol=0)
    True
    """
    args, checked = [], []
    for position, value in enumerate(inputs):
        is_float_array = isinstance(value, np.ndarray) and value.dtype.kind == "f"
        if (isinstance(value, Tensor) and value.requires_grad) or is_float_array:
            name = value.name if isinstance(value, Tensor) else None
            leaf = Tensor(np.array(value.data if isinstance(value, Tensor) else value, dtype=np.float64),
                          name=name)
            args.append(leaf)
            checked.append((position, leaf))
        else:
            args.append(value)
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).standard_normal(out.shape) if out.size != 1 else np.ones(out.shape)
    analytic = grad(out, [leaf for _, leaf in checked], grad_outputs=weights, allow_unused=True)

    def projected():
        return float(np.sum(weights * fn(*args).data))

    for (position, leaf), backprop in zip(checked, analytic):
        backprop = np.zeros(leaf.shape) if backprop is None else backprop.data
        numeric = numerical_gradient(lambda _: projected(), leaf, eps)
        # Written so that NaN fails: `difference > tolerance` is False for NaN, and a check that passes a NaN
        # gradient (or a NaN numerical value, where f is undefined around x) has checked nothing.
        bad = ~(np.abs(backprop - numeric) <= atol + rtol * np.abs(numeric))
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            label = f" ({leaf.name!r})" if leaf.name else ""
            b, n = float(backprop[index]), float(numeric[index])
            why = (f"difference {abs(b - n):.3g} exceeds atol {atol} + rtol {rtol} * |numerical|"
                   if np.isfinite(b) and np.isfinite(n) else "a NaN or infinite value cannot be checked")
            raise GradcheckError(
                f"gradcheck: input {position}{label} of shape {leaf.shape}, element {index}: "
                f"backprop {b!r} vs numerical {n!r}, {why}"
            )
    return True
