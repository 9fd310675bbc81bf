"""Training helpers: `clip_grad_norm_` on parameters' gradients, `blas_threads` for the BLAS thread pool."""

from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from autograd import Tensor

__all__ = ["clip_grad_norm_", "blas_threads", "TRAINING_THREADS"]

TRAINING_THREADS = 1
"""The BLAS threads the training demos use unless told (``--threads``): one, chosen by measurement.

On this project's 2-core machine, two threads ran the steps of the book's networks 0-30% faster than one
when the cores were idle, and one thread ran them 1.1-13x faster than two when other work kept the cores
busy, where OpenBLAS's spinning threads fight other processes for them (README, "Threads"): one thread
risks little and saves much.
"""


def blas_threads(threads: int | None):
    """A context manager running its block with at most ``threads`` BLAS (and OpenMP) threads; None: no limit.

    It uses threadpoolctl, which changes the thread count of the BLAS libraries NumPy has loaded, for the
    block only and without touching the environment, so it works after NumPy is imported (unlike
    ``OPENBLAS_NUM_THREADS``, which is read once, at load). Without threadpoolctl installed, a limit is an
    `ImportError` that says how to install it.

    >>> import numpy as np
    >>> with blas_threads(1):
    ...     product = np.ones((2, 3)) @ np.ones((3, 2))
    >>> product.tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    if threads is None:
        return contextlib.nullcontext()
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"blas_threads: threads must be a whole number >= 1 or None, got {threads!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise ImportError(f"blas_threads: limiting BLAS threads needs threadpoolctl (pip install threadpoolctl): "
                          f"{exc}") from None
    return threadpool_limits(limits=int(threads))


def _robust_norm(params, with_grad, norm_type, error_if_nonfinite: bool) -> float:
    """The norm when the plain one was not finite: an error naming a NaN or inf gradient (or that norm, with
    ``error_if_nonfinite`` False), else the norm in float64 scaled by the largest entry, which cannot overflow."""
    maxima = [float(np.max(np.abs(param.grad), initial=0.0)) for param in with_grad]
    if not all(map(math.isfinite, maxima)):  # (Python's max() would skip a NaN)
        if error_if_nonfinite:
            index, param = next((i, p) for i, p in enumerate(params)
                                if p.grad is not None and not np.isfinite(p.grad).all())
            label = f" {param.name!r}" if param.name else ""
            raise ValueError(
                f"clip_grad_norm_: the gradient of parameter {index}{label} (shape {param.shape}) "
                "holds NaN or inf, so there is no norm to clip to; pass error_if_nonfinite=False to leave "
                "such gradients as they are"
            )
        return math.nan if any(np.isnan(param.grad).any() for param in with_grad) else math.inf
    largest = max(maxima)
    if norm_type != 2:
        return largest
    return largest * math.sqrt(sum(float(np.vdot(scaled, scaled)) for scaled in
                                   (param.grad.astype(np.float64) / largest for param in with_grad)))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = True) -> float:
    """Scale the gradients of ``parameters`` so that their joint norm is at most ``max_norm``; return the norm.

    The norm is taken over all gradients together, as if they were one vector (parameters whose
    ``.grad`` is None are skipped). When it exceeds ``max_norm``, every gradient is multiplied by
    ``max_norm / (norm + 1e-6)`` (PyTorch's rule); otherwise nothing changes. Each clipped ``.grad``
    is a new array, so an array shared elsewhere is left alone.

    Args:
        parameters: a Tensor or an iterable of Tensors (``model.parameters()``).
        max_norm: the largest norm allowed, > 0.
        norm_type: 2.0 (Euclidean, the default) or ``math.inf`` (the largest absolute value).
        error_if_nonfinite: raise if a gradient holds NaN or inf (the default). With False, such
            gradients are left as they are, unclipped, and the norm returned is NaN or inf.

    The norm is computed in the gradients' dtype (one BLAS pass each); when that overflows, it is
    computed again in float64, scaled by the largest absolute entry, so gradients of 1e20 in float32
    (or 1e200 in float64) give their true norm, not inf.

    Returns:
        The joint norm of the gradients before clipping, as a float.

    Raises:
        TypeError: a parameter is not a Tensor, or ``max_norm`` is not a number.
        ValueError: ``max_norm`` is not > 0, or ``norm_type`` is neither 2 nor inf; a gradient holds
            NaN or inf (naming the parameter), unless ``error_if_nonfinite`` is False.

    >>> w = Tensor([0.0, 0.0]); w.grad = np.array([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0)
    5.0
    >>> w.grad.round(6)
    array([0.6, 0.8])
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"clip_grad_norm_: max_norm must be a real number, got {type(max_norm).__name__} {max_norm!r}")
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm!r}")
    if norm_type not in (2, math.inf):
        raise ValueError(f"clip_grad_norm_: norm_type must be 2.0 or math.inf, got {norm_type!r}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for index, param in enumerate(params):
        if not isinstance(param, Tensor):
            raise TypeError(f"clip_grad_norm_: parameters[{index}] is a {type(param).__name__}, not a Tensor")
    with_grad = [param for param in params if param.grad is not None]
    if not with_grad:
        return 0.0
    # The 2-norm's plain sum of squares first: one BLAS pass per gradient. It is not finite when a gradient
    # holds NaN or inf, or when the squares overflowed their dtype; then the careful way.
    total = math.nan
    if norm_type == 2:
        total = math.sqrt(sum(float(np.vdot(param.grad, param.grad)) for param in with_grad))
    if not math.isfinite(total):
        total = _robust_norm(params, with_grad, norm_type, error_if_nonfinite)
        if not math.isfinite(total):
            return total
    coefficient = float(max_norm) / (total + 1e-6)
    if coefficient < 1.0:
        for param in with_grad:
            param.grad = param.grad * param.grad.dtype.type(coefficient)
    return total
