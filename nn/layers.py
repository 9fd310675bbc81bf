"""Layers built from autograd ops (`Linear`/`Affine`, activations, `Dropout`, `Flatten`, `Sequential`); none has a backward.

Their gradients come from the graph their forward records. The book's hand-written forward/backward
interface lives in `nn.compat`; the loss layer in `nn.losses`; batch normalization in `nn.normalization`.
"""

from __future__ import annotations

from collections.abc import Mapping

import math
import numbers

import numpy as np

import autograd
from autograd import Tensor, functional

from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Affine", "ReLU", "Sigmoid", "Tanh", "Dropout", "Flatten", "Sequential"]


class Linear(Module):
    """``x @ weight + bias``: the book's Affine layer, with weight (in_features, out_features) and bias (out_features,).

    Args:
        in_features, out_features: the sizes of an input row and an output row.
        weight_init: the weights' std: a number (the book's 0.01), ``"he"`` or ``"xavier"`` (see
            `nn.init.std_for`). Biases start at zero.
        rng: an int seed or an `np.random.Generator` for the weights; None draws from NumPy's global
            generator, as the book does (``np.random.seed`` reproduces them).
        dtype: the parameters' dtype (float64, or float32 for a float32 network).
        name: the label of the nodes it records (see `nn.module`).

    An input of more than two dimensions (an image batch (N, C, H, W)) is flattened to (N, -1) first,
    as the book's Affine does; the gradient reaching it has its shape.

    >>> layer = Linear(3, 2, rng=0)
    >>> y = layer(np.ones((4, 3)))
    >>> y.shape, y.node.module, layer.weight.shape, layer.bias.shape
    ((4, 2), 'Linear', (3, 2), (2,))
    >>> Linear(12, 2, rng=0)(np.ones((5, 3, 2, 2))).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, *, weight_init=0.01, rng=None,
                 dtype=np.float64, name: str | None = None):
        super().__init__(name)
        for what, size in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"{type(self).__name__}: {what} must be a positive int, got {size!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(init.normal((in_features, out_features), weight_init, rng, dtype),
                                name="W")
        self.bias = Parameter(init.zeros(out_features, dtype), name="b")

    def forward(self, x):
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        if len(shape) > 2:
            if math.prod(shape[1:]) != self.in_features:
                raise ValueError(
                    f"{self.name}: an input of shape {shape} flattens to {math.prod(shape[1:])} features per "
                    f"sample, expected {self.in_features}"
                )
            x = autograd.reshape(x, (shape[0], self.in_features))
        elif not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"{self.name}: expected inputs with {self.in_features} features in the last dimension, "
                f"got shape {shape}"
            )
        return autograd.matmul(x, self.weight) + self.bias

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_features}, {self.out_features}, dtype={self.weight.dtype})"


Affine = Linear
"""The book's name for `Linear`: the same class."""


class ReLU(Module):
    """``max(x, 0)``; its gradient is 0 where ``x <= 0`` (the book's mask).

    >>> ReLU()(np.array([-1.0, 0.0, 2.0])).data
    array([0., 0., 2.])
    """

    def forward(self, x):
        return autograd.relu(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``; its gradient is ``y (1 - y)``.

    >>> Sigmoid()(np.array([0.0])).data
    array([0.5])
    """

    def forward(self, x):
        return autograd.sigmoid(x)


class Tanh(Module):
    """``tanh(x)``; its gradient is ``1 - y²``.

    >>> Tanh()(np.array([0.0])).data
    array([0.])
    """

    def forward(self, x):
        return autograd.tanh(x)


class Dropout(Module):
    """Zeroes each input value with probability ``p`` in training mode, drawing a new mask on each call.

    The mask is a constant of the graph, so the gradient passes where the value did (scaled alike).
    By default this is *inverted* dropout, PyTorch's: kept values are scaled by ``1 / (1 - p)`` in
    training and evaluation mode passes the input on unchanged. ``inverted=False`` gives the book's
    form: kept values unscaled in training, and every value multiplied by ``1 - p`` in evaluation.

    Args:
        p: the probability of dropping a value, in [0, 1]. A value is kept where its uniform draw in
            [0, 1) is ``> p``, as in the book.
        inverted: scale in training (True) or in evaluation (False, the book's).
        rng: an int seed or an `np.random.Generator` for the masks; None draws them from NumPy's global
            generator, as the book does (``np.random.rand(*x.shape) > p``).

    Attributes:
        mask: the boolean mask (True where kept) of the last call in training mode.

    >>> drop = Dropout(0.5, rng=0)
    >>> y = drop(np.ones((2, 4)))
    >>> drop.mask
    array([[ True, False, False, False],
           [ True,  True,  True,  True]])
    >>> y.data
    array([[2., 0., 0., 0.],
           [2., 2., 2., 2.]])
    >>> drop.eval()(np.ones(2))
    array([1., 1.])
    >>> Dropout(0.5, inverted=False).eval()(np.ones(2)).data
    array([0.5, 0.5])
    """

    def __init__(self, p: float = 0.5, *, inverted: bool = True, rng=None, name: str | None = None):
        super().__init__(name)
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"{type(self).__name__}: p must be a real number, got {type(p).__name__} {p!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inverted = bool(inverted)
        self._rng = None if rng is None else init.make_rng(rng)
        self.mask = None

    def forward(self, x):
        if not self.training:
            return x if self.inverted else functional.mul(x, 1.0 - self.p)
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        draws = np.random.rand(*shape) if self._rng is None else self._rng.random(shape)
        self.mask = draws > self.p
        dtype = x.dtype if isinstance(x, (Tensor, np.ndarray)) and x.dtype.kind == "f" else np.dtype(np.float64)
        scale = self.mask.astype(dtype)  # in x's dtype, so a float32 network stays float32
        if self.inverted:
            scale *= 1.0 / (1.0 - self.p) if self.p < 1.0 else 0.0
        return functional.mul(x, scale)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p:g}{'' if self.inverted else ', inverted=False'})"


class Flatten(Module):
    """Reshapes (N, ...) to (N, -1): an image batch (N, C, H, W) into rows for a `Linear` layer.

    >>> Flatten()(np.ones((2, 3, 4, 4))).shape
    (2, 48)
    >>> Flatten()(np.ones(3))
    Traceback (most recent call last):
    ...
    ValueError: Flatten: expected a batch (N, ...) of at least 2 dimensions, got shape (3,)
    """

    def forward(self, x):
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        if len(shape) < 2:
            raise ValueError(f"{self.name}: expected a batch (N, ...) of at least 2 dimensions, got shape {shape}")
        return autograd.reshape(x, (shape[0], math.prod(shape[1:])))


class Sequential(Module):
    """Layers applied in order, held as an ordered mapping from name to layer, like the book's OrderedDict.

    Build it from layers (each named by its class and a count per class: ``Linear1``, ``ReLU1``,
    ``Linear2``) or from a mapping of names to layers. Like a dict, iterating gives the names, and
    ``keys()``, ``values()``, ``items()`` and ``seq[name]`` work; ``seq[i]`` gives the i-th layer.
    Called as the root it adds no level to the node labels, so each layer is labelled by its own name.

    >>> seq = Sequential(Linear(4, 3, rng=0), ReLU(), Linear(3, 2, rng=1))
    >>> list(seq), seq[1] is seq["ReLU1"]
    (['Linear1', 'ReLU1', 'Linear2'], True)
    >>> out = seq(np.ones((5, 4)))
    >>> out.shape, out.node.module
    ((5, 2), 'Linear2')
    """

    _container = True

    def __init__(self, *layers, name: str | None = None):
        super().__init__(name)
        if len(layers) == 1 and isinstance(layers[0], Mapping) and not isinstance(layers[0], Module):
            named = list(layers[0].items())
        else:
            counts = {}
            named = []
            for layer in layers:
                kind = type(layer).__name__
                counts[kind] = counts.get(kind, 0) + 1
                named.append((f"{kind}{counts[kind]}", layer))
        for key, layer in named:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {key!r} is a {type(layer).__name__}, not an nn.Module")
            self.register(key, layer)

    def forward(self, x):
        for layer in self._members.values():
            x = layer(x)
        return x

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            layers = list(self._members.values())
            if not -len(layers) <= key < len(layers):
                raise IndexError(f"Sequential: index {key} is out of range for {len(layers)} layers")
            return layers[key]
        try:
            return self._members[key]
        except KeyError:
            raise KeyError(f"Sequential has no layer {key!r}; its layers are {list(self._members)}") from None

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self):
        return iter(self._members)

    def __contains__(self, key) -> bool:
        return key in self._members

    def keys(self):
        return self._members.keys()

    def values(self):
        return self._members.values()

    def items(self):
        return self._members.items()

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={layer!r}" for key, layer in self._members.items())
        return f"Sequential({inner})"


Mapping.register(Sequential)
