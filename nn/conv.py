"""Image layers on (N, C, H, W) batches: `Conv2d`, `MaxPool2d`, `AvgPool2d`; forward only, as in `nn.layers`.

Their gradients come from the graph of `autograd.conv2d`, `autograd.max_pool2d` and `autograd.avg_pool2d`.
The book's ``Convolution`` and ``Pooling`` with its forward/backward(dout) interface live in `nn.compat`.
"""

from __future__ import annotations

import numpy as np

import autograd

from . import init
from .module import Module, Parameter

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d"]


def _pair(who: str, what: str, value, minimum: int) -> tuple:
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
        raise TypeError(f"{who}: {what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{who}: {what} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


class Conv2d(Module):
    """2-d convolution with ``out_channels`` filters (out_channels, in_channels, kh, kw) and one bias per filter.

    Args:
        in_channels, out_channels: channels of the input images and of the output.
        kernel_size, stride, padding: an int or a (height, width) pair; padding adds zeros.
        weight_init: the filters' std: a number (the book's SimpleConvNet uses 0.01), ``"he"`` or
            ``"xavier"``, with fan-in ``in_channels * kh * kw`` (see `nn.init.std_for`). Biases start at zero.
        rng: an int seed or an `np.random.Generator` for the filters.
        dtype: the parameters' dtype.
        name: the label of the nodes it records.

    >>> conv = Conv2d(1, 30, 5, rng=0)
    >>> y = conv(np.ones((2, 1, 28, 28)))
    >>> y.shape, conv.weight.shape, conv.bias.shape, y.node.module
    ((2, 30, 24, 24), (30, 1, 5, 5), (30,), 'Conv2d')
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, *,
                 weight_init=0.01, rng=None, dtype=np.float64, name: str | None = None):
        super().__init__(name)
        who = type(self).__name__
        for what, size in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"{who}: {what} must be a positive int, got {size!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(who, "kernel_size", kernel_size, 1)
        self.stride = _pair(who, "stride", stride, 1)
        self.padding = _pair(who, "padding", padding, 0)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        std = init.std_for(weight_init, self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = Parameter(init.normal(shape, std, init.make_rng(rng), dtype), name="W")
        self.bias = Parameter(init.zeros(self.out_channels, dtype), name="b")

    def forward(self, x):
        return autograd.conv2d(x, self.weight, self.bias, stride=self.stride, pad=self.padding)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dtype={self.weight.dtype})")


class _Pool2d(Module):
    _function = None

    def __init__(self, kernel_size, stride=None, padding=0, *, name: str | None = None):
        super().__init__(name)
        who = type(self).__name__
        self.kernel_size = _pair(who, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pair(who, "stride", stride, 1)
        self.padding = _pair(who, "padding", padding, 0)

    def forward(self, x):
        return type(self)._function(x, self.kernel_size, self.stride, self.padding)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"


class MaxPool2d(_Pool2d):
    """The maximum of each window (stride defaults to the kernel); the gradient goes to the window's first maximum.

    >>> MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).data
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    _function = staticmethod(autograd.max_pool2d)


class AvgPool2d(_Pool2d):
    """The mean of each window (stride defaults to the kernel); zero padding counts in the mean.

    >>> AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).data
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """

    _function = staticmethod(autograd.avg_pool2d)
