"""The engine's modes: `no_grad`, `enable_grad`, `detect_anomaly`, and the module scope that labels nodes.

The modes live in one immutable `_Mode` held by a `contextvars.ContextVar`, so they are per thread and per
asyncio task (PyTorch's grad mode is per thread too): one thread inside `no_grad()` never stops another
from recording, and a thread starts with the defaults (recording on, anomaly checks off, no module). The
hot path (`engine.apply`) reads all three with one ``current()`` call.

Every entry restores exactly what it found: contexts keep a stack of the modes they replaced, and a
decorated function enters a fresh context per call, so recursion and threads cannot leave a mode behind.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "module_scope"]


class _Mode:
    """A snapshot of the modes; replaced, never changed, so a context can put the old one back."""

    __slots__ = ("grad_enabled", "anomaly", "module", "_inside", "_switched")

    def __init__(self, grad_enabled: bool, anomaly: bool, module: str | None) -> None:
        self.grad_enabled = grad_enabled
        self.anomaly = anomaly
        self.module = module  # dotted name of the innermost nn module recording, or None
        self._inside = {}  # module name -> the mode inside it: modes never change, so one serves every entry
        self._switched = {}  # (grad_enabled, anomaly) -> that mode here, for the same reason

    def switched(self, grad_enabled: bool, anomaly: bool) -> _Mode:
        """This mode with recording and anomaly checks set as given (the same object for every entry).

        Kept, so that the modes inside modules, which `inside` keeps, are made once and not on every
        `no_grad` block (a network's ``predict`` made 5 of them a call).
        """
        if grad_enabled == self.grad_enabled and anomaly == self.anomaly:
            return self
        mode = self._switched.get((grad_enabled, anomaly))
        if mode is None:
            mode = self._switched[grad_enabled, anomaly] = _Mode(grad_enabled, anomaly, self.module)
        return mode

    def inside(self, name: str) -> _Mode:
        """This mode inside the module ``name`` (nested module names join with ``.``)."""
        mode = self._inside.get(name)
        if mode is None:
            mode = _Mode(self.grad_enabled, self.anomaly, name if self.module is None else f"{self.module}.{name}")
            if len(self._inside) < _INSIDE_LIMIT:  # names made on the fly must not grow it without end
                self._inside[name] = mode
        return mode

    def __repr__(self) -> str:
        return f"_Mode(grad_enabled={self.grad_enabled}, anomaly={self.anomaly}, module={self.module!r})"


_INSIDE_LIMIT = 256
_MODE = contextvars.ContextVar("graphgrad_mode", default=_Mode(True, False, None))
current = _MODE.get
"""The `_Mode` in force in this thread or task (``current().grad_enabled`` ...)."""


def enter_module(name: str) -> contextvars.Token:
    """Start labelling recorded nodes with the module ``name``; `leave_module` with the token ends it.

    `module_scope` without the context object: `nn.Module.__call__` runs this on every call. The seed step
    (4 module calls) took 6.415M instructions with a `module_scope` per call, 6.376M with this (callgrind).
    """
    return _MODE.set(_MODE.get().inside(name))


leave_module = _MODE.reset
"""Put back the mode `enter_module` replaced (its token)."""


class _ModeContext(contextlib.ContextDecorator):
    """Replaces the mode for a `with` block or each call of a decorated function, and puts back what it found.

    Each subclass defines ``_changed(mode) -> _Mode``, the mode it sets given the one in force.
    """

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved = []  # the modes this context replaced, innermost last (a `with` may nest on one object)

    def __enter__(self):
        mode = _MODE.get()
        self._saved.append(mode)
        _MODE.set(self._changed(mode))
        return self

    def __exit__(self, *exc_info):
        _MODE.set(self._saved.pop())
        return False

    def _recreate_cm(self):
        # A decorated function gets a fresh context per call: recursion and threads never share `_saved`.
        return type(self)()


class no_grad(_ModeContext):
    """Record nothing: results of ops inside are constants (``requires_grad`` False, no ``node``).

    Works as a context manager and as a decorator, in this thread or task only.

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

    __slots__ = ()

    def _changed(self, mode):
        return mode.switched(False, mode.anomaly)


class enable_grad(_ModeContext):
    """Record again inside a `no_grad` block (context manager or decorator)."""

    __slots__ = ()

    def _changed(self, mode):
        return mode.switched(True, mode.anomaly)


class detect_anomaly(_ModeContext):
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

    __slots__ = ()

    def _changed(self, mode):
        return mode.switched(mode.grad_enabled, True)


def is_grad_enabled() -> bool:
    """True unless inside `no_grad` (in this thread or task)."""
    return _MODE.get().grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly` (in this thread or task)."""
    return _MODE.get().anomaly


def current_module() -> str | None:
    """The dotted name of the innermost `module_scope` in this thread or task, or None."""
    return _MODE.get().module


class module_scope(_ModeContext):
    """Label every node recorded inside with the module ``name`` (nested scopes join with ``.``).

    `nn.Module.__call__` does the same through `enter_module` (no context object), so that `viz` can draw a
    network layer by layer.

    >>> from autograd import Tensor, module_scope
    >>> x = Tensor(1.0)
    >>> with module_scope("Net"), module_scope("Affine1"):
    ...     y = x * 2
    >>> y.node.module
    'Net.Affine1'
    """

    __slots__ = ("name",)

    def __init__(self, name: str):
        self._saved = []  # as _ModeContext.__init__, without the call: this runs on every module call
        self.name = name

    def _changed(self, mode):
        return mode.inside(self.name)

    def _recreate_cm(self):
        return module_scope(self.name)
