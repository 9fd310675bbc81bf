"""The book's chapter 7 hand-written layers and SimpleConvNet: the baseline of the ``convnet-step`` benchmark.

This computes exactly what the book's ``common/util.py`` (``im2col``, ``col2im``) and ``common/layers.py``
(``Convolution``, ``Pooling``, ``Affine``, ``Relu``, ``SoftmaxWithLoss``) and ``ch07/simple_convnet.py``
compute, kept faithful on purpose: im2col fills a 6-d array with one strided copy per kernel offset, then
transposes and reshapes it (a second copy); Convolution's backward computes the input gradient by col2im
even for the first layer, where nobody uses it; Pooling's backward builds a one-hot (N*OH*OW*C, area)
array and col2im's it; Affine flattens image batches and reshapes its input gradient back; Relu masks
``dout`` in place; the loss is the book's ``cross_entropy_error`` with its ``+ 1e-7`` in the log.
One change: im2col, col2im and Pooling's one-hot allocate in the input's dtype (the book's ``np.zeros`` is
always float64),
so that a float32 network computes in float32 and the float32 comparison is like for like.
Relu and SoftmaxWithLoss are the seed's (`benchmarks.seed_layers`), which are the book's. NumPy only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .seed_layers import Relu, SoftmaxWithLoss, numerical_gradient

__all__ = ["im2col", "col2im", "Convolution", "Pooling", "Affine", "Relu", "SoftmaxWithLoss", "BookSimpleConvNet"]

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """The book's im2col: images (N, C, H, W) to one row per output position, (N*out_h*out_w, C*filter_h*filter_w).

    >>> im2col(np.arange(16.0).reshape(1, 1, 4, 4), 2, 2, stride=2)
    array([[ 0.,  1.,  4.,  5.],
           [ 2.,  3.,  6.,  7.],
           [ 8.,  9., 12., 13.],
           [10., 11., 14., 15.]])
    """
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w), dtype=input_data.dtype)

    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]

    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The book's col2im: adds each row of ``col`` back onto the pixels it came from (the adjoint of im2col).

    >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)

    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]

    return img[:, :, pad:H + pad, pad:W + pad]


class Affine:
    """The book's tensor-aware Affine: flattens (N, ...) inputs to rows, and reshapes ``dx`` back to their shape.

    >>> affine = Affine(np.ones((4, 2)), np.zeros(2))
    >>> affine.forward(np.ones((3, 1, 2, 2))).shape, affine.backward(np.ones((3, 2))).shape
    ((3, 2), (3, 1, 2, 2))
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx


class Convolution:
    """The book's im2col convolution: ``col · W.reshape(FN, -1).T + b``; backward sets ``dW``, ``db`` and returns dx.

    >>> conv = Convolution(np.ones((1, 1, 2, 2)), np.zeros(1), stride=2)
    >>> conv.forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    array([[10., 18.],
           [42., 50.]])
    >>> conv.backward(np.ones((1, 1, 2, 2))).shape, conv.dW[0, 0], conv.db
    ((1, 1, 4, 4), array([[20., 24.],
           [36., 40.]]), array([4.]))
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T

        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)

        dcol = np.dot(dout, self.col_W.T)
        dx = col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
        return dx


class Pooling:
    """The book's max pooling over im2col rows; backward sends each window's gradient to its ``np.argmax``.

    >>> pool = Pooling(2, 2, stride=2)
    >>> pool.forward(np.array([[[[1.0, 2.0], [2.0, 0.0]]]]))
    array([[[[2.]]]])
    >>> pool.backward(np.ones((1, 1, 1, 1)))
    array([[[[0., 1.],
             [0., 0.]]]])
    """

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)

        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        dx = col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        return dx


class BookSimpleConvNet:
    """The book's SimpleConvNet: Conv1 → Relu1 → Pool1 (2x2, stride 2) → Affine1 → Relu2 → Affine2 → loss.

    Args:
        input_dim, conv_param, hidden_size, output_size, weight_init_std: the book's (``conv_param``'s
            keys ``filter_num``, ``filter_size``, ``pad``, ``stride``).
        rng: a seed or ``np.random.Generator`` for W1, W2, W3, drawn in that order (never the global state).
        dtype: the parameters' dtype.

    Attributes:
        params: ``W1, b1, W2, b2, W3, b3``, the very arrays the layers use (update them in place).
        layers: the book's OrderedDict ``Conv1``, ``Relu1``, ``Pool1``, ``Affine1``, ``Relu2``, ``Affine2``.

    >>> net = BookSimpleConvNet((1, 8, 8), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 4, 3, rng=0)
    >>> x, t = np.ones((2, 1, 8, 8)), np.array([0, 2])
    >>> {key: grad.shape for key, grad in net.gradient(x, t).items()}["W2"]
    (18, 4)
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100, output_size=10,
                 weight_init_std=0.01, rng=None, dtype=np.float64):
        conv_param = conv_param or {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        filter_num = conv_param["filter_num"]
        filter_size = conv_param["filter_size"]
        filter_pad = conv_param["pad"]
        filter_stride = conv_param["stride"]
        input_size = input_dim[1]
        conv_output_size = (input_size - filter_size + 2 * filter_pad) / filter_stride + 1
        pool_output_size = int(filter_num * (conv_output_size / 2) * (conv_output_size / 2))
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.params = {
            "W1": weight_init_std * rng.standard_normal((filter_num, input_dim[0], filter_size, filter_size)),
            "b1": np.zeros(filter_num),
            "W2": weight_init_std * rng.standard_normal((pool_output_size, hidden_size)),
            "b2": np.zeros(hidden_size),
            "W3": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b3": np.zeros(output_size),
        }
        self.params = {key: value.astype(dtype, copy=False) for key, value in self.params.items()}
        self._build_layers(conv_param)

    @classmethod
    def from_params(cls, params: Mapping, conv_param=None, dtype=None) -> "BookSimpleConvNet":
        """A net starting from copies of the given ``W1 … b3`` (e.g. an `nn.SimpleConvNet`'s ``params``).

        ``conv_param`` gives the convolution's ``stride`` and ``pad`` (default 1 and 0).
        """
        missing = [name for name in PARAM_NAMES if name not in params]
        if missing:
            raise ValueError(f"BookSimpleConvNet.from_params: missing {missing}; need {list(PARAM_NAMES)}")
        net = cls.__new__(cls)
        net.params = {name: np.array(params[name], dtype=dtype, copy=True) for name in PARAM_NAMES}
        net._build_layers(conv_param or {"stride": 1, "pad": 0})
        return net

    def _build_layers(self, conv_param) -> None:
        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(self.params["W1"], self.params["b1"], conv_param["stride"],
                                           conv_param["pad"])
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(self.params["W2"], self.params["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W3"], self.params["b3"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        return self.last_layer.forward(y, t)

    def accuracy(self, x, t, batch_size=100):
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        acc = 0.0
        for i in range(int(x.shape[0] / batch_size)):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            y = self.predict(tx)
            y = np.argmax(y, axis=1)
            acc += np.sum(y == tt)
        return acc / x.shape[0]

    def numerical_gradient(self, x, t):
        loss_w = lambda w: self.loss(x, t)  # noqa: E731 (the book's closure)
        grads = {}
        for idx in (1, 2, 3):
            grads["W" + str(idx)] = numerical_gradient(loss_w, self.params["W" + str(idx)])
            grads["b" + str(idx)] = numerical_gradient(loss_w, self.params["b" + str(idx)])
        return grads

    def gradient(self, x, t):
        # forward
        self.loss(x, t)
        # backward
        dout = 1
        dout = self.last_layer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        grads["W1"], grads["b1"] = self.layers["Conv1"].dW, self.layers["Conv1"].db
        grads["W2"], grads["b2"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W3"], grads["b3"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        return grads
