"""Whole networks with the book's interface (``params``, ``layers``, ``gradient``): `MLP`, `TwoLayerNet`,
`MultiLayerNetExtend` and `SimpleConvNet`.

The ``params`` dict of the book is a `ParameterArrays` view: it hands out the arrays the layers compute
with, so ``network.params[key] -= lr * grad[key]`` trains the network, and assigning a new array copies
it into the parameter.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import MutableMapping

import numpy as np

import autograd
from autograd import Tensor

from . import init
from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh
from .losses import SoftmaxWithLoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d

__all__ = ["MLP", "TwoLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "ParameterArrays", "ACTIVATIONS"]

ACTIVATIONS = {"relu": (ReLU, "Relu"), "sigmoid": (Sigmoid, "Sigmoid"), "tanh": (Tanh, "Tanh")}
"""Activation name -> (layer class, the book-style name prefix of its layers: ``Relu1``, ``Sigmoid1``)."""


_NO_SWITCH = contextlib.nullcontext()  # reentrant and stateless: one serves every call


class ParameterArrays(MutableMapping):
    """The book's ``params`` dict over Parameters: reading gives each Parameter's array, writing copies into it.

    Keys are fixed (the network's parameter names); a new value must have the parameter's shape and is
    cast to its dtype. ``tensor(key)`` gives the Parameter itself.

    >>> w = Parameter(np.zeros(2))
    >>> params = ParameterArrays({"W1": w})
    >>> params["W1"] -= 1.0           # in place: the book's update
    >>> params["W1"] = np.array([5, 6])
    >>> w.data
    array([5., 6.])
    >>> params["W1"] = np.zeros(3)
    Traceback (most recent call last):
    ...
    ValueError: params['W1']: a new value of shape (3,) does not fit the parameter's shape (2,)
    """

    def __init__(self, parameters):
        self._parameters = dict(parameters)

    def tensor(self, key: str) -> Parameter:
        """The Parameter stored under ``key``."""
        return self._parameter(key)

    def _parameter(self, key) -> Parameter:
        param = self._parameters.get(key)  # one lookup: the book's update runs this twice per key and step
        if param is None:
            raise KeyError(f"params has no entry {key!r}; its entries are {list(self._parameters)}")
        return param

    def __getitem__(self, key) -> np.ndarray:
        return self._parameter(key).data

    def __setitem__(self, key, value) -> None:
        param = self._parameter(key)
        array = value.data if isinstance(value, Tensor) else value
        if array is param._data:  # `params[key] -= ...` already updated it in place (the array `data` gave)
            return
        param.assign(array, f"params[{key!r}]")

    def __delitem__(self, key) -> None:
        raise TypeError(f"params: cannot remove {key!r}; the network's layers use it")

    def __iter__(self):
        return iter(self._parameters)

    def __len__(self) -> int:
        return len(self._parameters)

    def __repr__(self) -> str:
        inner = ", ".join(f"{key!r}: array{p.shape}" for key, p in self._parameters.items())
        return f"ParameterArrays({{{inner}}})"


class _BookNetwork(Module):
    """The book's network interface over a graph-native network: `predict`, `loss`, `accuracy`, `gradient`, ...

    A subclass sets ``dtype``, ``layers`` (a `Sequential`), ``params`` (a `ParameterArrays`) and defines
    ``forward(x)`` (the scores) and ``loss_tensor(x, t)`` (the loss Tensor).
    """

    _container = True

    def _as_input(self, x):
        """``x`` as the network computes with it, converted only when it must be.

        Float arrays no wider than the network's dtype pass through uncopied (float32 MNIST images into
        a float64 network are promoted by NumPy inside the first matmul, as in the book); wider floats
        (float64 into a float32 network, which must stay float32) and integer data take its dtype.
        """
        if isinstance(x, Tensor):
            return x
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.dtype.itemsize <= self.dtype.itemsize:
            return x
        return np.asarray(x, dtype=self.dtype)

    def _mode(self, training: bool):
        """Run the layers that depend on the mode (Dropout, BatchNorm) in ``training`` mode, then restore theirs.

        Only those layers are switched: the others compute the same either way, and a TwoLayerNet's
        `gradient` (the training loop's hot path) pays for no walk over its modules and no generator.
        """
        modal = [layer for layer in self.layers.values() if isinstance(layer, (Dropout, BatchNorm1d, BatchNorm2d))]
        return self._switched(modal, training) if modal else _NO_SWITCH

    @staticmethod
    @contextlib.contextmanager
    def _switched(modal: list, training: bool):
        before = [layer.training for layer in modal]
        for layer in modal:
            layer.__dict__["training"] = bool(training)
        try:
            yield
        finally:
            for layer, mode in zip(modal, before):
                layer.__dict__["training"] = mode

    def predict(self, x, train_flg: bool = False) -> np.ndarray:
        """The scores (N, C) as an ndarray, recording nothing; in evaluation mode unless ``train_flg``."""
        with autograd.no_grad(), self._mode(train_flg):
            return self.forward(x).data

    def loss(self, x, t, train_flg: bool = False) -> float:
        """The mean loss (with any weight decay term) as a float, recording nothing (the book's ``loss``)."""
        with autograd.no_grad(), self._mode(train_flg):
            return self.loss_tensor(x, t).item()

    def accuracy(self, x, t, batch_size: int | None = None) -> float:
        """The fraction of rows whose highest score is the label; ``t`` holds labels (N,) or one-hot rows.

        ``batch_size`` predicts that many rows at a time (bounding the memory a big test set takes);
        None predicts all at once.
        """
        t = np.asarray(t.data if isinstance(t, Tensor) else t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        n = len(t)
        if batch_size is None:
            batch_size = max(n, 1)
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}.accuracy: batch_size must be a positive int, got {batch_size!r}")
        if isinstance(x, Tensor):
            x = x.data
        if len(x) != n:
            raise ValueError(f"{type(self).__name__}.accuracy: {len(x)} inputs but {n} labels")
        correct = 0
        for begin in range(0, n, batch_size):
            y = np.argmax(self.predict(x[begin:begin + batch_size]), axis=1)
            correct += int(np.sum(y == t[begin:begin + batch_size]))
        return correct / float(n)

    def numerical_gradient(self, x, t) -> dict:
        """Central differences of `loss` for every parameter, as the book computes them (slow: 2 losses each)."""
        loss_W = lambda W: self.loss(x, t, train_flg=True)  # noqa: E731 - the book's form: reads the perturbed params
        return {key: autograd.numerical_gradient(loss_W, self.params.tensor(key)) for key in self.params}

    def gradient(self, x, t) -> dict:
        """The gradient of the loss for every parameter, from one backward pass over the recorded graph.

        The forward pass runs in training mode, as the book's ``gradient`` does.

        Returns new arrays each call (``.grad`` of the parameters is left alone, so nothing accumulates).
        """
        parameters = self.params._parameters
        with self._mode(True):
            loss = self.loss_tensor(x, t)
        grads = autograd.grad(loss, list(parameters.values()))
        return {key: g.data for key, g in zip(parameters, grads)}  # `grad` gives arrays of their own


class MLP(_BookNetwork):
    """A fully connected classifier: Affine layers with an activation between them and a softmax-with-loss.

    ``sizes`` lists the layer widths, input first (``[784, 100, 100, 10]``). The layers are named as
    the book names them (``Affine1``, ``Relu1``, ``Affine2``, ...), the loss ``SoftmaxWithLoss``, and
    the parameters ``W1``, ``b1``, ``W2``, ... in ``params``, `named_parameters` and saved files.

    Args:
        sizes: at least two positive layer widths.
        activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.
        weight_init: the weights' std (a number, ``"he"`` or ``"xavier"``); by default He for ReLU and
            Xavier for sigmoid and tanh, as the book's chapter 6 recommends.
        rng: an int seed or an `np.random.Generator` (weights are drawn layer by layer from it); None
            draws from NumPy's global generator, as the book does.
        dtype: float64 (default) or float32; integer inputs, and float64 inputs of a float32 network,
            are converted to it.
        batchnorm: a `BatchNorm1d` after each hidden Affine layer (``BatchNorm1``, ...), its gamma and
            beta in ``params`` as ``gamma1``, ``beta1``, ... after all the weights and biases.
        dropout: the drop probability of a `Dropout` after each hidden activation (``Dropout1``, ...),
            drawing its masks from ``rng``; 0 (the default) adds none.
        weight_decay: the book's ``weight_decay_lambda``: the loss gains ``0.5 * weight_decay *
            sum(W ** 2)`` for every weight matrix (not the biases, nor gamma and beta), so its
            gradient gains ``weight_decay * W``.

    The book's methods: `predict` (scores), `loss` (a float), `accuracy`, `numerical_gradient`,
    `gradient` (dicts keyed like ``params``). Like the book's, `predict`, `loss` and `accuracy`
    evaluate in evaluation mode unless given ``train_flg=True``, and `gradient` and
    `numerical_gradient` in training mode; each restores the modes it found. Graph-level: calling the
    network gives the score Tensor and `loss_tensor` the loss Tensor to call ``backward()`` on, both
    in the mode `Module.train` / `Module.eval` set.

    >>> net = MLP([4, 8, 8, 3], rng=0)
    >>> list(net.layers), list(net.params)
    (['Affine1', 'Relu1', 'Affine2', 'Relu2', 'Affine3'], ['W1', 'b1', 'W2', 'b2', 'W3', 'b3'])
    >>> x, t = np.ones((2, 4)), np.array([0, 2])
    >>> {key: grad.shape for key, grad in net.gradient(x, t).items()}["W3"]
    (8, 3)
    >>> net = MLP([4, 8, 3], rng=0, batchnorm=True, dropout=0.2, weight_decay=0.1)
    >>> list(net.layers), list(net.params)
    (['Affine1', 'BatchNorm1', 'Relu1', 'Dropout1', 'Affine2'], ['W1', 'b1', 'W2', 'b2', 'gamma1', 'beta1'])
    """

    # MultiLayerNetExtend sets it: the book's layer names, its dropout, its running variance starting at 0.
    _book_form = False

    def __init__(self, sizes, activation: str = "relu", weight_init=None, rng=None, dtype=np.float64,
                 name: str | None = None, *, batchnorm: bool = False, dropout: float = 0.0,
                 weight_decay: float = 0.0):
        super().__init__(name)
        owner = type(self).__name__
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real):
            raise TypeError(f"{owner}: weight_decay must be a real number, got {type(weight_decay).__name__} "
                            f"{weight_decay!r}")
        if not (np.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"{owner}: weight_decay must be a finite number >= 0, got {weight_decay!r}")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"{type(self).__name__}: sizes must be at least two positive widths, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"{type(self).__name__}: activation {activation!r} is not one of {sorted(ACTIVATIONS)}"
            )
        activation_class, prefix = ACTIVATIONS[activation]
        if weight_init is None:
            weight_init = "he" if activation == "relu" else "xavier"
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}: dtype must be a float dtype, got {self.dtype}")
        rng = None if rng is None else init.make_rng(rng)  # one generator, drawn from layer by layer
        if self._book_form:
            prefix = "Activation_function"
        layers, norms = {}, []
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            affine = Linear(n_in, n_out, weight_init=weight_init, rng=rng, dtype=self.dtype)
            affine.weight.name, affine.bias.name = f"W{index}", f"b{index}"
            # Registered first, so the state dict and saved files use the book's names W1, b1, ...
            self.register(f"W{index}", affine.weight)
            self.register(f"b{index}", affine.bias)
            layers[f"Affine{index}"] = affine
            if index == len(sizes) - 1:
                break
            if batchnorm:
                norm = BatchNorm1d(n_out, dtype=self.dtype)
                if self._book_form:
                    norm.running_var = np.zeros(n_out, dtype=self.dtype)  # the book's starting point
                norm.weight.name, norm.bias.name = f"gamma{index}", f"beta{index}"
                layers[f"BatchNorm{index}"] = norm
                norms.append(norm)
            layers[f"{prefix}{index}"] = activation_class()
            if dropout:
                layers[f"Dropout{index}"] = Dropout(dropout, inverted=not self._book_form, rng=rng)
        for norm in norms:  # after every W and b, in the book's order of params
            self.register(norm.weight.name, norm.weight)
            self.register(norm.bias.name, norm.bias)
        self.sizes = sizes
        self.activation = activation
        self.batchnorm, self.dropout, self.weight_decay = bool(batchnorm), float(dropout), float(weight_decay)
        self.layers = Sequential(layers)
        self.lastLayer = SoftmaxWithLoss(name="SoftmaxWithLoss")
        self.params = ParameterArrays(
            (key, param) for key, param in self._members.items() if isinstance(param, Parameter)
        )

    def forward(self, x) -> Tensor:
        """The scores (N, C) as a Tensor, recording the graph (``network(x)`` calls this)."""
        x = self._as_input(x)
        for layer in self.layers.values():
            x = layer(x)
        return x

    def loss_tensor(self, x, t) -> Tensor:
        """The mean softmax-with-loss over the batch, plus the weight decay term, as a 0-d Tensor with its graph.

        The term is the book's: ``0.5 * weight_decay * sum(W ** 2)`` for each weight matrix, added up
        from the first. The modes are the network's own (see `Module.train`).
        """
        loss = self.lastLayer(self.forward(x), t)
        if self.weight_decay:
            decay = 0.0
            for index in range(1, len(self.sizes)):
                weight = self.params.tensor(f"W{index}")
                decay = decay + 0.5 * self.weight_decay * autograd.sum(weight * weight)
            loss = loss + decay
        return loss

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sizes}, activation={self.activation!r}, dtype={self.dtype})"


class TwoLayerNet(MLP):
    """The book's two-layer network: Affine1, Relu1, Affine2 and a SoftmaxWithLoss, with its interface.

    Args:
        input_size, hidden_size, output_size: the book's sizes (784, 50, 10 for MNIST).
        weight_init_std: the weights' std (the book's 0.01), or ``"he"`` / ``"xavier"``.
        rng: an int seed or an `np.random.Generator`; W1 is drawn before W2, as in the book. None (the
            default) draws them from NumPy's global generator exactly as the book does, so after
            ``np.random.seed(0)`` the network starts from the book's weights.
        dtype: float64 (default) or float32.

    >>> net = TwoLayerNet(4, 5, 3, rng=0)
    >>> sorted(net.params), list(net.layers), type(net.lastLayer).__name__
    (['W1', 'W2', 'b1', 'b2'], ['Affine1', 'Relu1', 'Affine2'], 'SoftmaxWithLoss')
    >>> x, t = np.ones((2, 4)), np.array([[1, 0, 0], [0, 0, 1]])
    >>> grads = net.gradient(x, t)
    >>> net.params["W1"] -= 0.1 * grads["W1"]    # updates the array Affine1 computes with
    >>> net.params["W1"] is net.layers["Affine1"].weight.data
    True
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, weight_init_std=0.01,
                 rng=None, dtype=np.float64):
        super().__init__([input_size, hidden_size, output_size], activation="relu",
                         weight_init=weight_init_std, rng=rng, dtype=dtype)

    def __repr__(self) -> str:
        input_size, hidden_size, output_size = self.sizes
        return f"TwoLayerNet({input_size}, {hidden_size}, {output_size}, dtype={self.dtype})"


class MultiLayerNetExtend(MLP):
    """The book's extended multi-layer network (chapter 6): weight decay, dropout and batch normalization.

    The book's constructor and interface (``params``, ``layers``, ``last_layer``, ``predict(x,
    train_flg=False)``, ``loss(x, t, train_flg=False)``, ``accuracy``, ``gradient``,
    ``numerical_gradient``), computing what the book's does: for each hidden layer ``Affine`` →
    ``BatchNorm`` → ``Activation_function`` → ``Dropout``, then an ``Affine`` and a softmax-with-loss;
    the loss adds ``0.5 * weight_decay_lambda * sum(W ** 2)`` per weight matrix, so ``gradient`` gives
    ``dW + weight_decay_lambda * W`` as the book's does. Its dropout is the book's (kept values
    unscaled, ``x * (1 - dropout_ration)`` when evaluating) and its batch normalization starts its
    running variance at zero, as the book's does. The gradients come from the recorded graph.

    Args:
        input_size, hidden_size_list, output_size: the layer widths (784, [100, 100, 100], 10).
        activation: ``"relu"`` or ``"sigmoid"`` (or ``"tanh"``).
        weight_init_std: a std, or ``"relu"``/``"he"`` (He) or ``"sigmoid"``/``"xavier"`` (Xavier).
        weight_decay_lambda: the strength of the L2 term, >= 0.
        use_dropout, dropout_ration: dropout after each hidden activation, and its ratio (the book's spelling).
        use_batchnorm: batch normalization after each hidden Affine layer.
        rng: None (NumPy's global generator, as the book: ``np.random.seed`` reproduces its weights and
            dropout masks), an int seed or an `np.random.Generator`.
        dtype: float64 (default) or float32.

    >>> net = MultiLayerNetExtend(4, [5, 5], 3, use_batchnorm=True, use_dropout=True, rng=0)
    >>> list(net.layers)[:4]
    ['Affine1', 'BatchNorm1', 'Activation_function1', 'Dropout1']
    >>> sorted(net.gradient(np.ones((2, 4)), np.array([0, 2])))
    ['W1', 'W2', 'W3', 'b1', 'b2', 'b3', 'beta1', 'beta2', 'gamma1', 'gamma2']
    """

    _book_form = True

    def __init__(self, input_size: int, hidden_size_list, output_size: int, activation: str = "relu",
                 weight_init_std="relu", weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ration: float = 0.5, use_batchnorm: bool = False, rng=None, dtype=np.float64):
        hidden_size_list = list(hidden_size_list)
        super().__init__([input_size, *hidden_size_list, output_size], activation=activation,
                         weight_init=weight_init_std, rng=rng, dtype=dtype, batchnorm=use_batchnorm,
                         dropout=dropout_ration if use_dropout else 0.0, weight_decay=weight_decay_lambda)
        self.input_size, self.output_size = int(input_size), int(output_size)
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.use_dropout, self.use_batchnorm = bool(use_dropout), bool(use_batchnorm)
        self.weight_decay_lambda = weight_decay_lambda

    @property
    def last_layer(self) -> SoftmaxWithLoss:
        """The book's name for `lastLayer`."""
        return self.lastLayer

    def __repr__(self) -> str:
        return (f"MultiLayerNetExtend({self.input_size}, {self.hidden_size_list}, {self.output_size}, "
                f"activation={self.activation!r}, weight_decay_lambda={self.weight_decay_lambda!r}, "
                f"use_dropout={self.use_dropout}, use_batchnorm={self.use_batchnorm})")


class SimpleConvNet(_BookNetwork):
    """The book's chapter 7 convolutional network: conv - relu - pool - affine - relu - affine - softmax.

    The layers are ``Conv1`` (a `Conv2d`), ``Relu1``, ``Pool1`` (a 2x2 `MaxPool2d`, stride 2), ``Affine1``
    (flattening the pooled images), ``Relu2``, ``Affine2``, and the loss ``SoftmaxWithLoss``; the
    parameters are the book's ``W1, b1`` (the filters (FN, C, FH, FW) and their biases), ``W2, b2``,
    ``W3, b3``, in ``params``, `named_parameters` and saved files. The gradients come from the recorded
    graph; the images never get one (the book computes the first layer's col2im and throws it away).

    Args:
        input_dim: (C, H, W) of an image; the book's (1, 28, 28).
        conv_param: the book's dict: ``filter_num`` (30), ``filter_size`` (5), ``pad`` (0), ``stride`` (1).
        hidden_size, output_size: the widths of the two Affine layers (100, 10).
        weight_init_std: the std of all three weights (the book's 0.01), or ``"he"`` / ``"xavier"``
            (scaled by each layer's fan-in: C*FH*FW for the filters).
        rng: None (the default) draws W1, W2, W3 in that order from NumPy's global generator exactly
            as the book does, so after ``np.random.seed(0)`` the network starts from the book's
            weights; an int seed or an `np.random.Generator` draws them from that instead.
        dtype: float64 (default) or float32.

    Inputs are image batches (N, C, H, W); rows (N, C*H*W), as ``load_mnist()`` gives by default,
    are reshaped to images. `predict`, `loss`, `gradient` and `numerical_gradient` are the book's;
    `accuracy` predicts ``batch_size`` images at a time as the book's does (unlike the book's, a last
    partial batch is counted too). Calling the network gives the score Tensor and `loss_tensor` the
    loss Tensor, for ``backward()`` and an optimizer's ``step()``.

    >>> net = SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 4, "filter_size": 3},
    ...                     hidden_size=8, output_size=3, rng=0)
    >>> list(net.layers), {key: value.shape for key, value in net.params.items()}["W2"]
    (['Conv1', 'Relu1', 'Pool1', 'Affine1', 'Relu2', 'Affine2'], (64, 8))
    >>> x, t = np.ones((2, 1, 10, 10)), np.array([0, 2])
    >>> net.predict(x).shape, {key: g.shape for key, g in net.gradient(x, t).items()}["W1"]
    ((2, 3), (4, 1, 3, 3))
    """

    DEFAULT_CONV_PARAM = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
    """The book's convolution: 30 filters of 5x5, no padding, stride 1 (missing keys of ``conv_param`` take these)."""

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size: int = 100, output_size: int = 10,
                 weight_init_std=0.01, rng=None, dtype=np.float64, name: str | None = None):
        super().__init__(name)
        owner = type(self).__name__
        conv_param = dict(self.DEFAULT_CONV_PARAM, **(conv_param or {}))
        unknown = sorted(set(conv_param) - set(self.DEFAULT_CONV_PARAM))
        if unknown:
            raise ValueError(f"{owner}: conv_param has unknown keys {unknown}; "
                             f"its keys are {sorted(self.DEFAULT_CONV_PARAM)}")
        input_dim = tuple(input_dim)
        if len(input_dim) != 3 or not all(isinstance(v, numbers.Integral) and v >= 1 for v in input_dim):
            raise ValueError(f"{owner}: input_dim must be (C, H, W) of positive ints, got {input_dim!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"{owner}: dtype must be a float dtype, got {self.dtype}")
        channels, height, width = (int(v) for v in input_dim)
        filter_num, filter_size = conv_param["filter_num"], conv_param["filter_size"]
        rng = None if rng is None else init.make_rng(rng)  # one generator: W1, then W2, then W3
        conv = Conv2d(channels, filter_num, filter_size, stride=conv_param["stride"], padding=conv_param["pad"],
                      weight_init=weight_init_std, rng=0, dtype=self.dtype)
        # Drawn here, not by Conv2d: its rng=None means fresh entropy, and the book draws from the global generator.
        conv.weight.assign(self._draw(conv.weight.shape, weight_init_std, channels * filter_size ** 2, rng))
        conv_h, conv_w = (_conv_side(side, conv.kernel_size[i], conv.stride[i], conv.padding[i], owner)
                          for i, side in enumerate((height, width)))
        pool_h, pool_w = conv_h // 2, conv_w // 2
        if pool_h < 1 or pool_w < 1:
            raise ValueError(f"{owner}: the convolution's output ({conv_h}, {conv_w}) is too small for the 2x2 pooling")
        pooled = filter_num * pool_h * pool_w  # the book's filter_num * (conv_output_size / 2) ** 2
        hidden = Linear(pooled, hidden_size, weight_init=weight_init_std, rng=0, dtype=self.dtype)
        hidden.weight.assign(self._draw(hidden.weight.shape, weight_init_std, pooled, rng))
        scores = Linear(hidden_size, output_size, weight_init=weight_init_std, rng=0, dtype=self.dtype)
        scores.weight.assign(self._draw(scores.weight.shape, weight_init_std, hidden_size, rng))
        for index, layer in enumerate((conv, hidden, scores), start=1):
            layer.weight.name, layer.bias.name = f"W{index}", f"b{index}"
            # Registered first, so the state dict and saved files use the book's names W1, b1, ...
            self.register(f"W{index}", layer.weight)
            self.register(f"b{index}", layer.bias)
        self.layers = Sequential({"Conv1": conv, "Relu1": ReLU(), "Pool1": MaxPool2d(2, stride=2),
                                  "Affine1": hidden, "Relu2": ReLU(), "Affine2": scores})
        self.lastLayer = SoftmaxWithLoss(name="SoftmaxWithLoss")
        self.params = ParameterArrays(
            (key, param) for key, param in self._members.items() if isinstance(param, Parameter))
        self.input_dim, self.conv_param = (channels, height, width), conv_param
        self.hidden_size, self.output_size = int(hidden_size), int(output_size)

    @staticmethod
    def _draw(shape, weight_init_std, fan_in: int, rng) -> np.ndarray:
        """The book's ``weight_init_std * np.random.randn(*shape)`` (or from ``rng``), He/Xavier by ``fan_in``."""
        std = init.std_for(weight_init_std, fan_in)
        draws = np.random.standard_normal(shape) if rng is None else rng.standard_normal(shape)
        return std * draws

    def forward(self, x) -> Tensor:
        """The scores (N, output_size) as a Tensor, recording the graph (``network(x)`` calls this)."""
        x = self._as_input(x)
        shape = x.shape
        if len(shape) == 2 and shape[1] == math.prod(self.input_dim):  # rows, as load_mnist() gives by default
            x = autograd.reshape(x, (shape[0], *self.input_dim)) if isinstance(x, Tensor) else x.reshape(
                shape[0], *self.input_dim)
        elif len(shape) != 4 or tuple(shape[1:]) != self.input_dim:
            raise ValueError(f"{type(self).__name__}: expected images (N, {', '.join(map(str, self.input_dim))}) "
                             f"or rows (N, {math.prod(self.input_dim)}), got shape {tuple(shape)}")
        for layer in self.layers.values():
            x = layer(x)
        return x

    def loss_tensor(self, x, t) -> Tensor:
        """The mean softmax-with-loss over the batch as a 0-d Tensor with its graph."""
        return self.lastLayer(self.forward(x), t)

    def accuracy(self, x, t, batch_size: int = 100) -> float:
        """The fraction of images whose highest score is the label, predicting ``batch_size`` images at a time."""
        return super().accuracy(x, t, batch_size)

    def save_params(self, file_name="params.npz") -> None:
        """The book's ``save_params``: writes the parameters to ``file_name`` as graphgrad's .npz (`Module.save`).

        The book pickles its params dict; graphgrad never writes or reads pickle (see `nn.serialization`).
        """
        self.save(file_name)

    def load_params(self, file_name="params.npz") -> None:
        """The book's ``load_params``: reads parameters written by `save_params` into this network, in place."""
        self.load(file_name)

    def __repr__(self) -> str:
        return (f"SimpleConvNet(input_dim={self.input_dim}, conv_param={self.conv_param}, "
                f"hidden_size={self.hidden_size}, output_size={self.output_size}, dtype={self.dtype})")


def _conv_side(size: int, kernel: int, stride: int, pad: int, owner: str) -> int:
    """The convolution's output side, or a ValueError naming the network when the kernel does not fit."""
    if size + 2 * pad < kernel:
        raise ValueError(f"{owner}: the filter ({kernel}) is larger than the padded input side ({size} + 2 * {pad})")
    return (size + 2 * pad - kernel) // stride + 1
