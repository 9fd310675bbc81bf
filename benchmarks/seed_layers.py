"""The seed's hand-written NumPy layers and TwoLayerNet: the baseline of the benchmarks and the reference of the demos.

This is the book's code ("Deep Learning from Scratch", ch. 5 and common/functions.py) kept faithful on
purpose: every layer writes its own ``backward``, Affine computes ``dx = dout · Wᵀ`` even for the first layer
where nobody uses it, Relu's backward masks ``dout`` in place, and the loss is the book's
``cross_entropy_error`` with its ``+ 1e-7`` inside the log. Only the seed's slips are fixed (``accuracy``'s
indentation; the gradient dict built after the backward loop, not inside it; the Affine dW formula).
Two additions serve comparisons: a seedable ``rng`` and ``dtype``, and `SeedTwoLayerNet.from_params` to start
from given weights (e.g. a graphgrad ``TwoLayerNet``'s), plus an optional Sigmoid hidden layer.
It uses NumPy only, never graphgrad.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

__all__ = ["softmax", "cross_entropy_error", "numerical_gradient", "Relu", "Sigmoid", "Affine",
           "SoftmaxWithLoss", "SeedTwoLayerNet"]

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def softmax(x: np.ndarray) -> np.ndarray:
    """The book's softmax over the last axis, shifted by the maximum so ``exp`` cannot overflow.

    >>> softmax(np.array([[0.0, np.log(3.0)]])).round(6)
    array([[0.25, 0.75]])
    """
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
    """The book's mean cross-entropy of probabilities ``y`` against labels or one-hot ``t`` (``+ 1e-7`` in the log).

    >>> round(float(cross_entropy_error(np.array([[0.5, 0.5]]), np.array([1]))), 6)
    0.693147
    """
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot labels -> indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def numerical_gradient(f, x: np.ndarray) -> np.ndarray:
    """The book's central differences (h = 1e-4), perturbing ``x`` in place one element at a time.

    >>> numerical_gradient(lambda v: np.sum(v ** 2), np.array([1.0, 2.0])).round(6)
    array([2., 4.])
    """
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad


class Relu:
    """ReLU with the book's mask ``x <= 0`` (derivative 0 at 0); backward overwrites ``dout`` in place.

    >>> relu = Relu(); relu.forward(np.array([1.0, -0.5, 0.0]))
    array([1., 0., 0.])
    >>> relu.backward(np.ones(3))
    array([1., 0., 0.])
    """

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


class Sigmoid:
    """Sigmoid, with backward ``dout · (1 - y) · y`` from the saved output.

    >>> sigmoid = Sigmoid(); float(sigmoid.forward(np.array(0.0))), float(sigmoid.backward(np.array(1.0)))
    (0.5, 0.25)
    """

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Affine:
    """``x · W + b``; backward sets ``dW = xᵀ · dout``, ``db = Σ_batch dout`` and returns ``dx = dout · Wᵀ``.

    >>> affine = Affine(np.zeros((2, 3)), np.zeros(3)); _ = affine.forward(np.ones((2, 2)))
    >>> _ = affine.backward(np.array([[1.0, 2, 3], [4, 5, 6]])); affine.db
    array([5., 7., 9.])
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        out = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class SoftmaxWithLoss:
    """Softmax and the book's cross-entropy; backward is ``(y - t) / batch_size`` (``dout`` is ignored, as in the book).

    ``t`` may be one-hot (the seed) or integer labels (the book's common/layers.py).

    >>> layer = SoftmaxWithLoss(); round(float(layer.forward(np.zeros((1, 2)), np.array([[0.0, 1.0]]))), 6)
    0.693147
    >>> layer.backward()
    array([[ 0.5, -0.5]])
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


class SeedTwoLayerNet:
    """The seed's TwoLayerNet: Affine1 → Relu1 (or Sigmoid1) → Affine2 → SoftmaxWithLoss, all hand-written.

    Args:
        input_size, hidden_size, output_size: the layer widths (the seed: 784, 50, 10).
        weight_init_std: weights are ``weight_init_std * standard normal``, biases zero.
        rng: a seed or ``np.random.Generator`` for the weights (never NumPy's global state).
        activation: ``"relu"`` (the seed) or ``"sigmoid"``.
        dtype: the parameters' dtype.

    Attributes:
        params: ``W1, b1, W2, b2``, the very arrays the layers use (update them in place).
        layers: ``Affine1``, ``Relu1`` (or ``Sigmoid1``), ``Affine2`` in order; ``lastLayer``.

    >>> net = SeedTwoLayerNet(4, 3, 2, rng=0)
    >>> x, t = np.ones((5, 4)), np.eye(2)[[0, 1, 0, 1, 1]]
    >>> grads = net.gradient(x, t); sorted(grads), grads["W1"].shape
    (['W1', 'W2', 'b1', 'b2'], (4, 3))
    >>> float(net.accuracy(x, t)) in (0.4, 0.6)
    True
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, weight_init_std: float = 0.01,
                 rng: int | np.random.Generator | None = None, activation: str = "relu", dtype=np.float64):
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        dtype = np.dtype(dtype)
        self.params = {
            "W1": (weight_init_std * rng.standard_normal((input_size, hidden_size))).astype(dtype),
            "b1": np.zeros(hidden_size, dtype),
            "W2": (weight_init_std * rng.standard_normal((hidden_size, output_size))).astype(dtype),
            "b2": np.zeros(output_size, dtype),
        }
        self._build_layers(activation)

    @classmethod
    def from_params(cls, params: Mapping, activation: str = "relu", dtype=None) -> "SeedTwoLayerNet":
        """A net starting from copies of the given ``W1, b1, W2, b2`` (arrays, or anything ``np.array`` takes).

        The arrays are copied, so training this net never moves the weights it was started from.

        Raises:
            ValueError: a parameter is missing or the shapes do not chain (784×50, 50, 50×10, 10).

        >>> w = {"W1": np.ones((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 1)), "b2": np.zeros(1)}
        >>> net = SeedTwoLayerNet.from_params(w); net.params["W1"] is w["W1"], net.predict(np.ones((1, 2)))
        (False, array([[6.]]))
        """
        missing = [name for name in PARAM_NAMES if name not in params]
        if missing:
            raise ValueError(f"SeedTwoLayerNet.from_params: missing {missing}; need {list(PARAM_NAMES)}")
        arrays = {name: np.array(params[name], dtype=dtype, copy=True) for name in PARAM_NAMES}
        W1, b1, W2, b2 = (arrays[name] for name in PARAM_NAMES)
        if not (W1.ndim == 2 and W2.ndim == 2 and b1.shape == (W1.shape[1],) and W2.shape[0] == W1.shape[1]
                and b2.shape == (W2.shape[1],)):
            shapes = ", ".join(f"{name} {arrays[name].shape}" for name in PARAM_NAMES)
            raise ValueError(f"SeedTwoLayerNet.from_params: shapes do not chain as (in, hidden), (hidden,), "
                             f"(hidden, out), (out,): got {shapes}")
        net = cls.__new__(cls)
        net.params = arrays
        net._build_layers(activation)
        return net

    def _build_layers(self, activation: str) -> None:
        activations = {"relu": ("Relu1", Relu), "sigmoid": ("Sigmoid1", Sigmoid)}
        if activation not in activations:
            raise ValueError(f"SeedTwoLayerNet: activation must be one of {sorted(activations)}, got {activation!r}")
        name, layer = activations[activation]
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers[name] = layer()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    # x: input data, t: labels (one-hot or integer)
    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def numerical_gradient(self, x, t):
        loss_W = lambda W: self.loss(x, t)  # noqa: E731 (the book's closure)
        grads = {}
        grads["W1"] = numerical_gradient(loss_W, self.params["W1"])
        grads["b1"] = numerical_gradient(loss_W, self.params["b1"])
        grads["W2"] = numerical_gradient(loss_W, self.params["W2"])
        grads["b2"] = numerical_gradient(loss_W, self.params["b2"])
        return grads

    def gradient(self, x, t):
        # forward
        self.loss(x, t)
        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        grads["W1"] = self.layers["Affine1"].dW
        grads["b1"] = self.layers["Affine1"].db
        grads["W2"] = self.layers["Affine2"].dW
        grads["b2"] = self.layers["Affine2"].db
        return grads
