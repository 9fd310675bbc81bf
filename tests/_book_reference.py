"""The book's chapter 6 formulas (common/layers.py, common/multi_layer_net_extend.py) restated in NumPy, as
references for the tests: hand-written forward and backward passes, as the book computes them.

`hand_written_layers` gathers every hand-written layer the book's networks use (these, the chapter-7 ones of
``_book_conv`` and the chapter-5 ones of ``benchmarks.seed_layers``) into one module, the ``common.layers`` that
``tests/test_book_cnn_scripts.py`` gives the book's networks when they are to run without graphgrad.
"""

from __future__ import annotations

import types

import numpy as np


class BookBatchNorm:
    """The book's BatchNormalization formulas (common/layers.py), restated as a reference for the tests."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            self.xc = x - mu
            var = np.mean(self.xc ** 2, axis=0)
            self.std = np.sqrt(var + 10e-7)
            self.xn = self.xc / self.std
            self.n = x.shape[0]
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)
        return (self.gamma * xn + self.beta).reshape(self.input_shape)

    def backward(self, dout):
        dout = dout.reshape(dout.shape[0], -1)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum(dxn * self.xc / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.n) * self.xc * dvar
        dx = dxc - np.sum(dxc, axis=0) / self.n
        return dx.reshape(self.input_shape)


def book_extend_gradient(params, x, t, hidden_layer_num, weight_decay_lambda=0.0, dropout_ratio=None,
                         batchnorms=None):
    """The book's MultiLayerNetExtend.gradient with ReLU (train_flg=True): the forward pass, then each
    layer's hand-written backward; dropout masks drawn from NumPy's global generator in layer order.

    ``batchnorms`` holds one BookBatchNorm per hidden layer (keeping running averages across calls),
    or None. ``t`` holds one-hot rows. Returns the gradients, keyed like the book's.
    """
    saved = []
    for index in range(1, hidden_layer_num + 1):
        x_in = x
        x = x @ params[f"W{index}"] + params[f"b{index}"]
        if batchnorms is not None:
            x = batchnorms[index - 1].forward(x)
        relu_mask = x <= 0
        x = np.where(relu_mask, 0.0, x)
        drop_mask = None
        if dropout_ratio is not None:
            drop_mask = np.random.rand(*x.shape) > dropout_ratio
            x = x * drop_mask
        saved.append((x_in, relu_mask, drop_mask))
    last = hidden_layer_num + 1
    scores = x @ params[f"W{last}"] + params[f"b{last}"]
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    y = shifted / shifted.sum(axis=1, keepdims=True)
    dout = (y - t) / x.shape[0]
    grads = {f"W{last}": x.T @ dout, f"b{last}": dout.sum(axis=0)}
    dout = dout @ params[f"W{last}"].T
    for index in range(hidden_layer_num, 0, -1):
        x_in, relu_mask, drop_mask = saved[index - 1]
        if drop_mask is not None:
            dout = dout * drop_mask
        dout = np.where(relu_mask, 0.0, dout)
        if batchnorms is not None:
            norm = batchnorms[index - 1]
            dout = norm.backward(dout)
            grads[f"gamma{index}"], grads[f"beta{index}"] = norm.dgamma, norm.dbeta
        grads[f"W{index}"], grads[f"b{index}"] = x_in.T @ dout, dout.sum(axis=0)
        dout = dout @ params[f"W{index}"].T
    for index in range(1, last + 1):
        grads[f"W{index}"] = grads[f"W{index}"] + weight_decay_lambda * params[f"W{index}"]
    return grads


class BookAffine:
    """The book's chapter-7 Affine (common/layers.py): an image batch is reshaped to (N, -1), and dx back."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class BookDropout:
    """The book's Dropout: a mask ``rand > ratio`` from NumPy's global generator in training, ``x * (1 - ratio)``
    otherwise; backward multiplies by the mask."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


def hand_written_layers() -> types.ModuleType:
    """A module named ``common.layers`` holding the book's hand-written layers, under the book's names."""
    import _book_conv
    from benchmarks import seed_layers

    module = types.ModuleType("common.layers", "The book's hand-written layers, as the tests restate them.")
    layers = {"Relu": seed_layers.Relu, "Sigmoid": seed_layers.Sigmoid, "SoftmaxWithLoss": seed_layers.SoftmaxWithLoss,
              "Affine": BookAffine, "Dropout": BookDropout, "BatchNormalization": BookBatchNorm,
              "Convolution": _book_conv.Convolution, "Pooling": _book_conv.Pooling}
    module.__dict__.update(layers)
    module.__all__ = list(layers)
    return module
