"""Batch normalization layers, `BatchNorm1d` (N, D) and `BatchNorm2d` (N, C, H, W), on autograd's ``batch_norm``.

Their backward pass is the graph's: in training mode the layer is one recorded op, `autograd.batch_norm`,
whose VJPs (in `autograd.ops`, beside its forward) differentiate through the batch statistics too; in
evaluation mode it is composed of sub, div, mul and add, with the running statistics as constants. The
running averages are buffers (`Module.register_buffer`: saved with the parameters, never trained), plain arrays
updated outside the graph from the batch statistics the op saved.
The book's ``BatchNormalization`` (one statistic per feature, even of an image) is `nn.compat.BatchNormalization`.
"""

from __future__ import annotations

import numbers

import numpy as np

import autograd
from autograd import Tensor

from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]

BOOK_EPS = 10e-7
"""The book's ``sqrt(var + 10e-7)``: 10e-7 is 1e-6."""


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ in the input's rank and the axes of the statistics."""

    _ndim = 2            # the input's rank
    _axes = (0,)         # the axes a statistic is taken over: all but the feature/channel axis
    _layout = "(N, D)"  # for errors

    def __init__(self, num_features: int, *, eps: float = BOOK_EPS, momentum: float = 0.9,
                 dtype=np.float64, name: str | None = None):
        super().__init__(name)
        owner = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) or num_features < 1:
            raise ValueError(f"{owner}: num_features must be a positive int, got {num_features!r}")
        for what, value, high in (("eps", eps, None), ("momentum", momentum, 1.0)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{owner}: {what} must be a real number, got {type(value).__name__} {value!r}")
            if not (np.isfinite(value) and 0 <= value and (high is None or value <= high)):
                wanted = "a finite number >= 0" if high is None else f"in [0, {high:g}]"
                raise ValueError(f"{owner}: {what} must be {wanted}, got {value!r}")
        self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), float(momentum)
        self.weight = Parameter(np.ones(num_features, dtype=dtype), name="gamma")
        self.bias = Parameter(np.zeros(num_features, dtype=dtype), name="beta")
        # PyTorch's starting point (the book's layer starts both at zero, so its first eval divides by sqrt(eps)).
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x):
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        if len(shape) != self._ndim or shape[1] != self.num_features:
            raise ValueError(f"{self.name}: expected inputs {self._layout} with {self.num_features} "
                             f"{'features' if self._ndim == 2 else 'channels'} in dimension 1, got shape {shape}")
        if self.training:
            out, batch_mean, batch_var = autograd.batch_norm(x, self.weight, self.bias, axes=self._axes,
                                                             eps=self.eps, statistics=True)
            self._update_running(batch_mean, batch_var)
            return out
        # The running statistics are constants of the graph: the gradient is gamma / std.
        stat_shape = (1, self.num_features) + (1,) * (self._ndim - 2)  # broadcasts against x
        std = np.sqrt(self.running_var + self.eps).reshape(stat_shape)
        normalized = (x - self.running_mean.reshape(stat_shape)) / std
        weight, bias = self.weight, self.bias
        if self._ndim != 2:
            weight, bias = autograd.reshape(weight, stat_shape), autograd.reshape(bias, stat_shape)
        return normalized * weight + bias

    def _update_running(self, batch_mean: np.ndarray, batch_var: np.ndarray) -> None:
        """The book's rule, outside the graph: ``running = momentum * running + (1 - momentum) * batch``."""
        keep = self.momentum
        dtype = self.running_mean.dtype
        self.running_mean = (keep * self.running_mean + (1 - keep) * batch_mean).astype(dtype, copy=False)
        self.running_var = (keep * self.running_var + (1 - keep) * batch_var).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}, "
                f"dtype={self.weight.dtype})")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of rows (N, D): each feature scaled to zero mean and unit variance, then ``* gamma + beta``.

    In training mode (`Module.train`) each feature is normalized with the batch's mean and (biased)
    variance, ``(x - mean) / sqrt(var + eps)``, and the running averages are updated by the book's
    rule ``running = momentum * running + (1 - momentum) * batch`` (so ``momentum=0.9`` is PyTorch's
    0.1; like the book, and unlike PyTorch, the running variance is the biased one). In evaluation mode
    (`Module.eval`) the running averages are used instead. The gradient comes from the recorded graph.

    Args:
        num_features: D.
        eps: added to the variance; the book's ``10e-7`` (= 1e-6) by default.
        momentum: the weight of the old running average, in [0, 1].
        dtype: the dtype of the parameters ``weight`` (gamma, ones) and ``bias`` (beta, zeros) and of
            ``running_mean`` (zeros) and ``running_var`` (ones) (buffers: arrays that `Module.save` and
            `Module.state_dict` carry beside the parameters).

    Raises:
        ValueError: the input is not (N, num_features).

    >>> bn = BatchNorm1d(2)
    >>> y = bn(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> y.data.round(4), bn.running_mean
    (array([[-1., -1.],
           [ 1.,  1.]]), array([0.2, 2. ]))
    >>> bn.eval()(np.array([[0.2, 2.0]])).data
    array([[0., 0.]])
    """


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W), one mean and variance per channel over (N, H, W).

    Otherwise as `BatchNorm1d`: batch statistics and running-average updates in training mode, the
    running averages in evaluation mode; ``weight`` (gamma) and ``bias`` (beta) have shape (C,).
    This is PyTorch's convention; the book's BatchNormalization normalizes each of the C·H·W values
    separately (see `nn.compat.BatchNormalization`).

    >>> bn = BatchNorm2d(3)
    >>> x = np.random.default_rng(0).normal(5.0, 2.0, size=(4, 3, 5, 5))
    >>> y = bn(x).data
    >>> means, stds = y.mean(axis=(0, 2, 3)), y.std(axis=(0, 2, 3))
    >>> y.shape, bool(np.abs(means).max() < 1e-12), bool(np.allclose(stds, 1, atol=1e-5))
    ((4, 3, 5, 5), True, True)
    >>> bn(np.ones((4, 2, 5, 5)))
    Traceback (most recent call last):
    ...
    ValueError: BatchNorm2d: expected inputs (N, C, H, W) with 3 channels in dimension 1, got shape (4, 2, 5, 5)
    """

    _ndim = 4
    _axes = (0, 2, 3)
    _layout = "(N, C, H, W)"
