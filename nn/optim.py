"""Optimizers of "Deep Learning from Scratch" chapter 6 (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam).

Each one updates parameters in place, with whole-array NumPy operations and one state per parameter, in
two interchangeable forms: ``step()`` over the Tensors it was built with (``SGD(model.parameters())``),
or the book's ``update(params, grads)`` over dicts of arrays (``SGD(lr=0.1).update(net.params, grads)``).
Both forms run the same update rule, so they give identical trajectories. Parameters keep their dtype:
hyperparameters are Python floats, which never promote a float32 array.

The rules and defaults are the book's, including its ``eps = 1e-7`` (added to ``sqrt(h)``, not inside it).
Every optimizer also takes ``weight_decay`` (L2 regularisation, as PyTorch's optimizers take it): each
step uses ``dW + weight_decay * W`` for the gradient, which is the gradient of the book's
``0.5 * weight_decay_lambda * sum(W ** 2)`` loss term. It applies to every parameter given, biases
too; the book decays only the weights, so leave it 0 and put the term in the loss (as `nn.MLP` does)
to match the book exactly.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from autograd import Tensor
from autograd.inplace import is_held

from .models import ParameterArrays

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "OPTIMIZERS"]


def _check_number(owner: str, name: str, value, *, low: float, high: float = math.inf,
                  low_inclusive: bool = False, high_inclusive: bool = False) -> float:
    """Return ``value`` as a Python float after checking it is a real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (math.isfinite(value) and above and below):
        interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
        raise ValueError(f"{owner}: {name} must be in {interval}, got {value!r}")
    return value


def _array_of(value, owner: str, what: str) -> np.ndarray:
    """The float ndarray behind ``value`` (an ndarray or a Tensor), never a copy."""
    array = value.data if isinstance(value, Tensor) else value
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        kind = f"ndarray of dtype {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
        raise TypeError(f"{owner}: {what} must be a float ndarray or Tensor updated in place, got {kind}")
    return array


class Optimizer(abc.ABC):
    """Base class: holds the parameters, their per-parameter state and the two update forms.

    Subclasses define ``_new_state(param)`` (the zeroed state of one parameter, a dict of arrays) and
    ``_update(param, grad, state)`` (one in-place update of the ndarray ``param``).

    Args:
        params: an iterable of Tensors (e.g. ``model.parameters()``) for ``step()``, or None when only
            the dict form ``update(params, grads)`` is used.
        lr: the learning rate, > 0.
        weight_decay: L2 regularisation, >= 0: ``weight_decay * W`` is added to each gradient.

    Attributes:
        params: the list of Tensors ``step()`` updates.
        state: one dict of state arrays per entry of ``params`` (empty until its first update).
        dict_state: the same for the dict form, keyed like the ``params`` dict.
    """

    def __init__(self, params: Iterable[Tensor] | None = None, lr: float = 0.01, weight_decay: float = 0.0):
        owner = type(self).__name__
        self.lr = _check_number(owner, "lr", lr, low=0.0)
        self.weight_decay = _check_number(owner, "weight_decay", weight_decay, low=0.0, low_inclusive=True)
        self.params = self._collect(params, owner)
        self.state: list[dict] = [{} for _ in self.params]
        self.dict_state: dict = {}

    @staticmethod
    def _collect(params, owner: str) -> list[Tensor]:
        if params is None:
            return []
        if isinstance(params, (Tensor, np.ndarray, Mapping, str, int, float)):
            raise TypeError(f"{owner}: params must be an iterable of Tensors such as model.parameters(), "
                            f"got {type(params).__name__}; for dicts of arrays use update(params, grads)")
        params = list(params)
        seen: dict[int, int] = {}
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{owner}: params[{index}] is a {type(param).__name__}, not a Tensor")
            _array_of(param, owner, f"params[{index}]")
            if id(param) in seen:
                raise ValueError(f"{owner}: params[{index}] is the same Tensor as params[{seen[id(param)]}]; "
                                 f"it would be updated twice per step")
            seen[id(param)] = index
        if not params:
            raise ValueError(f"{owner}: params is empty; pass model.parameters() or None for the dict form")
        return params

    def step(self) -> None:
        """Update every parameter whose ``.grad`` is not None, in place.

        Raises:
            RuntimeError: the optimizer was built without parameters.
            ValueError: a gradient's shape differs from its parameter's.
        """
        owner = type(self).__name__
        if not self.params:
            raise RuntimeError(f"{owner}: built without parameters, so step() has nothing to update; "
                               f"pass model.parameters() or call update(params, grads)")
        for index, (param, state) in enumerate(zip(self.params, self.state)):
            if param.grad is not None:
                name = param.name if param.name is not None else f"params[{index}]"
                self._apply_to_tensor(param, param.grad, state, name)

    def update(self, params: Mapping, grads: Mapping) -> None:
        """The book's form: update each array of the dict ``params`` in place from ``grads[key]``.

        Values may be ndarrays or Tensors (updated in place) or numbers (the entry is rebound to the new
        number, as the book's ``params[key] -= ...`` rebinds it: its ``optimizer_compare_naive.py`` keeps
        Python floats); a key whose gradient is None is skipped. State is kept per key.

        >>> params, grads = {"x": -7.0, "y": 2.0}, {"x": -0.7, "y": 4.0}
        >>> SGD(lr=0.95).update(params, grads); params
        {'x': -6.335, 'y': -1.7999999999999998}

        Raises:
            ValueError: ``grads`` lacks a key of ``params``, or a gradient has the wrong shape.
        """
        owner = type(self).__name__
        for key, value in params.items():
            if key not in grads:
                raise ValueError(f"{owner}.update: grads has no entry {key!r} (it has {list(grads)})")
            grad = grads[key]
            if grad is None:
                continue
            grad = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
            state = self.dict_state.setdefault(key, {})
            if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                # A number is immutable: update a 0-d copy and rebind the entry, keeping a NumPy scalar's dtype.
                number = np.array(value, dtype=value.dtype if isinstance(value, np.floating) else np.float64)
                self._apply(number, grad, state, repr(key))
                params[key] = number[()] if isinstance(value, np.floating) else float(number)
                continue
            param = _array_of(value, owner, f"params[{key!r}]")
            if isinstance(value, Tensor):
                self._apply_to_tensor(value, grad, state, repr(key))
            elif param.flags.writeable:
                self._apply(param, grad, state, repr(key))
            elif isinstance(params, ParameterArrays):  # it writes through to the Parameter
                param = param.copy()
                self._apply(param, grad, state, repr(key))
                params[key] = param
            else:
                why = ("a recorded graph that has not been backpropagated yet holds it (autograd.inplace); "
                       "backpropagate or drop that graph first") if is_held(param) else "it cannot be updated in place"
                raise ValueError(f"{owner}.update: params[{key!r}] is read-only: {why}")

    def zero_grad(self) -> None:
        """Forget the gradients of the parameters (each ``.grad`` becomes None)."""
        for param in self.params:
            param.grad = None

    def _apply_to_tensor(self, tensor: Tensor, grad: np.ndarray, state: dict, name: str) -> None:
        data = tensor.data
        if data.flags.writeable:
            self._apply(data, grad, state, name)
        else:  # a graph not yet backpropagated holds it read-only: that graph keeps the old values
            data = data.copy()
            self._apply(data, grad, state, name)
            tensor.data = data

    def _apply(self, param: np.ndarray, grad: np.ndarray, state: dict, name: str) -> None:
        if grad.shape != param.shape:
            raise ValueError(f"{type(self).__name__}: gradient of {name} has shape {grad.shape}, "
                             f"but the parameter has shape {param.shape}")
        if not state:
            state.update(self._new_state(param))
        elif next(iter(state.values())).shape != param.shape:
            raise ValueError(f"{type(self).__name__}: {name} changed shape to {param.shape} since its state "
                             f"was created")
        if self.weight_decay:
            grad = grad + self.weight_decay * param  # a new array: the caller's gradient is left alone
        self._update(param, grad, state)

    def _new_state(self, param: np.ndarray) -> dict:
        return {}

    @abc.abstractmethod
    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        """Update ``param`` in place from ``grad`` and this parameter's ``state``."""

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if isinstance(v, float))
        return f"{type(self).__name__}({hyper}, {len(self.params)} parameters)"


class SGD(Optimizer):
    """Stochastic gradient descent: ``W -= lr * dW``.

    >>> w = Tensor([1.0, -2.0]); opt = SGD([w], lr=0.5)
    >>> (w * w).sum().backward(); opt.step(); w.data
    array([0., 0.])
    >>> params, grads = {"W": np.array([1.0])}, {"W": np.array([4.0])}
    >>> SGD(lr=0.1).update(params, grads); params["W"]
    array([0.6])
    """

    def __init__(self, params: Iterable[Tensor] | None = None, lr: float = 0.01, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)

    def _new_state(self, param):
        # Reused for lr * dW: a fresh temporary the size of W1 each step costs a page-faulting allocation.
        return {"scaled": np.empty_like(param)}

    def _update(self, param, grad, state):
        scaled = state["scaled"]
        np.multiply(grad, self.lr, out=scaled)
        param -= scaled


class Momentum(Optimizer):
    """Momentum SGD: ``v = momentum * v - lr * dW; W += v``.

    >>> params, grads = {"W": np.array([1.0])}, {"W": np.array([1.0])}
    >>> opt = Momentum(lr=0.1, momentum=0.9)
    >>> opt.update(params, grads); opt.update(params, grads); params["W"]   # steps of 0.1, then 0.19
    array([0.71])
    """

    def __init__(self, params: Iterable[Tensor] | None = None, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum = _check_number(type(self).__name__, "momentum", momentum, low=0.0, high=1.0,
                                      low_inclusive=True)

    def _new_state(self, param):
        return {"v": np.zeros_like(param)}

    def _update(self, param, grad, state):
        v = state["v"]
        v *= self.momentum
        v -= self.lr * grad
        param += v


class Nesterov(Momentum):
    """Nesterov's accelerated gradient, in the book's form (Sutskever et al. 2013, reparametrised).

    ``v = momentum v - lr dW; W += momentum² v; W -= (1 + momentum) lr dW``, the new velocity moving W,
    in the book's order (``common/optimizer.py``). Momentum's settings and velocity state; only the update
    differs.

    >>> params, grads = {"W": np.array([1.0])}, {"W": np.array([1.0])}
    >>> Nesterov(lr=0.1, momentum=0.9).update(params, grads); params["W"].round(6)
    array([0.729])
    """

    def _update(self, param, grad, state):
        v = state["v"]
        v *= self.momentum
        v -= self.lr * grad
        param += self.momentum * self.momentum * v
        param -= (1.0 + self.momentum) * self.lr * grad


class AdaGrad(Optimizer):
    """AdaGrad: ``h += dW²; W -= lr dW / (sqrt(h) + eps)``.

    >>> params, grads = {"W": np.array([1.0])}, {"W": np.array([3.0])}
    >>> AdaGrad(lr=0.5).update(params, grads); params["W"].round(6)
    array([0.5])
    """

    def __init__(self, params: Iterable[Tensor] | None = None, lr: float = 0.01, eps: float = 1e-7,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = _check_number(type(self).__name__, "eps", eps, low=0.0)

    def _new_state(self, param):
        return {"h": np.zeros_like(param)}

    def _update(self, param, grad, state):
        h = state["h"]
        h += grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """RMSprop: ``h = decay_rate h + (1 - decay_rate) dW²; W -= lr dW / (sqrt(h) + eps)``.

    >>> params, grads = {"W": np.array([1.0])}, {"W": np.array([2.0])}
    >>> RMSprop(lr=0.1, decay_rate=0.75).update(params, grads); params["W"].round(6)   # h = 1
    array([0.8])
    """

    def __init__(self, params: Iterable[Tensor] | None = None, lr: float = 0.01, decay_rate: float = 0.99,
                 eps: float = 1e-7, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        owner = type(self).__name__
        self.decay_rate = _check_number(owner, "decay_rate", decay_rate, low=0.0, high=1.0, low_inclusive=True)
        self.eps = _check_number(owner, "eps", eps, low=0.0)

    def _new_state(self, param):
        return {"h": np.zeros_like(param)}

    def _update(self, param, grad, state):
        h = state["h"]
        h *= self.decay_rate
        h += (1.0 - self.decay_rate) * grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) in the book's form, with the bias correction folded into the step size.

    ``m += (1 - beta1)(dW - m); v += (1 - beta2)(dW² - v);
    W -= lr sqrt(1 - beta2^k) / (1 - beta1^k) · m / (sqrt(v) + eps)``, where k counts this parameter's
    updates (a parameter skipped for a None gradient does not advance its count).

    >>> params, grads = {"W": np.array([1.0])}, {"W": np.array([5.0])}
    >>> Adam(lr=0.1).update(params, grads); params["W"].round(6)   # the first step is about lr
    array([0.9])
    """

    def __init__(self, params: Iterable[Tensor] | None = None, lr: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-7, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        owner = type(self).__name__
        self.beta1 = _check_number(owner, "beta1", beta1, low=0.0, high=1.0, low_inclusive=True)
        self.beta2 = _check_number(owner, "beta2", beta2, low=0.0, high=1.0, low_inclusive=True)
        self.eps = _check_number(owner, "eps", eps, low=0.0)

    def _new_state(self, param):
        return {"m": np.zeros_like(param), "v": np.zeros_like(param), "step": np.zeros((), np.int64)}

    def _update(self, param, grad, state):
        m, v, step = state["m"], state["v"], state["step"]
        step += 1
        k = int(step)
        # math, not NumPy, for the scalar: a NumPy float64 would promote a float32 update.
        lr_t = self.lr * math.sqrt(1.0 - self.beta2 ** k) / (1.0 - self.beta1 ** k)
        m += (1.0 - self.beta1) * (grad - m)
        v += (1.0 - self.beta2) * (grad * grad - v)
        param -= lr_t * m / (np.sqrt(v) + self.eps)


#: The optimizers by name, for command-line flags such as ``--optimizer adam``.
OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)}
