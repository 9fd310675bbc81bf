"""Global switches of the engine: `no_grad`, `detect_anomaly` and the module scope that labels nodes.

The flags live on one small object so the hot path (`engine.apply`) reads each with a single attribute
lookup. They are process-wide, not thread-local: graphgrad records from one thread at a time.
"""

from __future__ import annotations

import contextlib

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "module_scope"]


class _State:
    __slots__ = ("grad_enabled", "anomaly", "module")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.module = None  # dotted name of the innermost nn module recording, or None


STATE = _State()


class _FlagContext(contextlib.ContextDecorator):
    """Sets one flag of `STATE` for a `with` block or a decorated function, restoring it afterwards."""

    _flag = ""
    _value = None

    def __enter__(self):
        self._previous = getattr(STATE, self._flag)
        setattr(STATE, self._flag, self._value)
        return self

    def __exit__(self, *exc_info):
        setattr(STATE, self._flag, self._previous)
        return False


class no_grad(_FlagContext):
    """Record nothing: results of ops inside are constants (``requires_grad`` False, no ``node``).

    Works as a context manager and as a decorator.

    >>> from autograd import Tensor, no_grad
    >>> x = Tensor(3.0)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad, y.node is None
    (False, True)
    >>> @no_grad()
    ... def evaluate(t):
    ...     return t * t
    >>> evaluate(x).requires_grad
    False
    """

    _flag = "grad_enabled"
    _value = False


class enable_grad(_FlagContext):
    """Record again inside a `no_grad` block (context manager or decorator)."""

    _flag = "grad_enabled"
    _value = True


class detect_anomaly(_FlagContext):
    """Raise `FloatingPointError` at the first op whose forward or backward produces NaN or inf.

    The message names the op, the pass (forward or backward) and the input shapes. Checking every result
    costs a pass over each array, so it is off by default.

    >>> import numpy as np
    >>> from autograd import Tensor, detect_anomaly
    >>> x = Tensor(np.array([1.0, 0.0]))
    >>> with detect_anomaly():
    ...     (x.log()).sum()
    Traceback (most recent call last):
    ...
    FloatingPointError: log: forward produced 1 non-finite value (-inf) from inputs of shape (2,)
    """

    _flag = "anomaly"
    _value = True


def is_grad_enabled() -> bool:
    """True unless inside `no_grad`."""
    return STATE.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly`."""
    return STATE.anomaly


class module_scope:
    """Label every node recorded inside with the module ``name`` (nested scopes join with ``.``).

    `nn.Module.__call__` uses this so that `viz` can draw a network layer by layer. A small class rather
    than a generator: it runs on every module call, and costs a fraction of `contextlib`'s machinery.

    >>> from autograd import Tensor, module_scope
    >>> x = Tensor(1.0)
    >>> with module_scope("Net"), module_scope("Affine1"):
    ...     y = x * 2
    >>> y.node.module
    'Net.Affine1'
    """

    __slots__ = ("name", "_previous")

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self._previous = previous = STATE.module
        STATE.module = self.name if previous is None else f"{previous}.{self.name}"
        return self

    def __exit__(self, *exc_info):
        STATE.module = self._previous
        return False
