"""`Module` (parameters and submodules registered on assignment, state dicts, safe .npz files) and `Parameter`.

Layers live in `nn.layers`, losses in `nn.losses`, whole networks in `nn.models`.

Names. A module's ``name`` labels every Node its forward records (``node.module``), which is what `viz`
groups into one cluster per layer. It is the ``name=`` given to the constructor, else the key under which a
parent registered it (its attribute name, or its key in a `Sequential`), else its class name. Nested calls
join names with ``.``, except that a *container* (`Sequential`, `TwoLayerNet`, `MLP`) called as the root
adds no level of its own: a TwoLayerNet's nodes read ``Affine1``, ``Relu1``, ``Affine2``,
``SoftmaxWithLoss``, as in the book's figures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from autograd import Tensor
from autograd.mode import enter_module, leave_module

from . import serialization
from .serialization import FORMAT, FORMAT_VERSION, METADATA_KEY  # their home before nn.serialization

__all__ = ["Parameter", "Module", "FORMAT", "FORMAT_VERSION", "METADATA_KEY"]


class Parameter(Tensor):
    """A Tensor that a `Module` registers as a parameter when it is assigned as an attribute.

    It always requires grad. Its ``data`` is used in place by the layers, so updating ``param.data``
    in place (``-=``, as the book's training loop does) changes what the network computes. A parameter
    is never replaced by a graph node: ``param -= lr * param.grad`` (and ``+=``, ``*=``, ``/=``) updates
    its values, and assigning an array to a module attribute that holds a parameter copies it in (see
    `assign`).

    >>> w = Parameter(np.zeros((2, 3)), name="W")
    >>> w.requires_grad, w.shape, w.name
    (True, (2, 3), 'W')
    >>> w -= 1.0
    >>> w.data[0], w.node is None
    (array([-1., -1., -1.]), True)
    """

    __slots__ = ()

    def __init__(self, data, name: str | None = None, dtype=None):
        super().__init__(data, requires_grad=True, name=name, dtype=dtype)

    def assign(self, value, who: str | None = None) -> None:
        """Copy ``value`` (an array, number, nested list or Tensor) into this parameter, keeping its dtype.

        The array keeps its identity, so anything sharing it sees the new values, unless a recorded
        graph that has not been backpropagated yet holds it read-only (`autograd.inplace`): then the
        parameter gets a new array, and that graph keeps the values its forward pass used.

        Raises:
            TypeError: ``value`` is not numeric.
            ValueError: ``value``'s shape differs from the parameter's, or a finite value of a wider float
                dtype does not fit the parameter's (float64 1e300 into float32 would become inf).
        """
        who = who or f"Parameter {self.name!r}"
        array = np.asarray(value._data if isinstance(value, Tensor) else value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{who}: a new value must be numeric, got dtype {array.dtype}")
        data = self.data
        if array.shape != data.shape:
            raise ValueError(f"{who}: a new value of shape {array.shape} does not fit the parameter's shape {data.shape}")
        if array.dtype.kind == "f" and array.dtype.itemsize > data.dtype.itemsize:
            with np.errstate(over="ignore"):  # checked here: a finite value must not become inf
                array = array.astype(data.dtype)
            overflowed = np.isinf(array) & np.isfinite(np.asarray(value._data if isinstance(value, Tensor) else value))
            if overflowed.any():
                index = tuple(int(i) for i in np.argwhere(overflowed)[0])
                original = np.asarray(value._data if isinstance(value, Tensor) else value)[index]
                raise ValueError(
                    f"{who}: the value {float(original)!r} at index {index} does not fit the parameter's dtype "
                    f"{data.dtype} (largest {float(np.finfo(data.dtype).max):.4g}): it would become inf"
                )
        if data.flags.writeable:
            np.copyto(data, array, casting="unsafe")
        else:
            self.data = np.array(array, dtype=data.dtype)

    # In-place arithmetic updates the values (Tensor's operators would record a new graph node).
    def __iadd__(self, other):
        self.assign(self._data + _values(other))
        return self

    def __isub__(self, other):
        self.assign(self._data - _values(other))
        return self

    def __imul__(self, other):
        self.assign(self._data * _values(other))
        return self

    def __itruediv__(self, other):
        self.assign(self._data / _values(other))
        return self


def _values(value):
    return value._data if isinstance(value, Tensor) else value


def _check_buffer(module, key: str, value) -> None:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        what = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"{type(module).__name__}.{key}: a buffer must be a float ndarray, got {what}")


def _refuse_unregistered_members(module, key: str, value) -> None:
    """Raise if a list, tuple or dict assigned to ``module.key`` holds Modules or Parameters: they would not be
    registered, so their parameters would be missing from parameters(), state_dict(), save() and every optimizer."""
    items = value.values() if isinstance(value, dict) else value
    members = [item for item in items if isinstance(item, (Module, Parameter))]
    if not members:
        return
    # Members registered elsewhere in the tree (self.layers = [self.fc1, self.fc2], the book's params dict of
    # a child's weights) are not lost: only new ones would be.
    registered = {id(m) for m in module.modules()} | {id(p) for _, p in module.named_parameters()}
    for item in members:
        if id(item) not in registered:
            kind = "nn.Modules" if isinstance(item, Module) else "Parameters"
            raise TypeError(
                f"{type(module).__name__}.{key}: a {type(value).__name__} holding {kind} does not register them, "
                "so their parameters would be missing from parameters(), state_dict(), save() and every "
                "optimizer without a word; hold modules in an nn.Sequential (seq[i] and seq[name] give each "
                "back; a dict of names to modules keeps the names), or assign each to an attribute of its own"
            )


class Module:
    """Base class of layers and networks: subclasses assign Parameters and Modules, and define ``forward``.

    Assigning a `Parameter` or a `Module` to an attribute registers it under the attribute's name, in
    the order of assignment; `named_parameters` walks them depth first with dotted names
    (``"Affine1.weight"``), each shared Parameter once, under its first name. Calling the module runs
    ``forward`` as inside ``autograd.module_scope(self.name)`` (see the module docstring for names).

    Args:
        name: the label of this module's nodes, overriding the key its parent gives it.

    >>> class Scale(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.factor = Parameter(np.array([2.0]))
    ...     def forward(self, x):
    ...         return x * self.factor
    >>> scale = Scale()
    >>> y = scale(np.array([3.0]))
    >>> y.data, y.node.module, [name for name, _ in scale.named_parameters()]
    (array([6.]), 'Scale', ['factor'])
    """

    # A container called as the root opens no scope, so its children's names are the labels.
    _container = False

    def __init__(self, name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        state = self.__dict__
        state["_members"] = {}  # key -> Parameter or Module, in the order of assignment
        state["_buffers"] = []  # the keys of this module's buffers (`register_buffer`), in the order of registration
        state["_name"] = name
        state["_key"] = None  # the key under which a parent registered this module
        state["training"] = True  # train() / eval() switch it, for this module and every submodule

    # --- registration -------------------------------------------------------------------------------
    def __setattr__(self, key: str, value) -> None:
        members = self.__dict__.get("_members")
        if members is None:
            if isinstance(value, (Parameter, Module)):
                raise RuntimeError(
                    f"{type(self).__name__}: assigning {key!r} before Module.__init__() ran; "
                    "call super().__init__() first in __init__"
                )
        elif isinstance(value, (Parameter, Module)):
            self.register(key, value)
        elif key in self._buffers:
            _check_buffer(self, key, value)  # stays a buffer: BatchNorm replaces its running averages each step
        elif value is not None and isinstance(members.get(key), Parameter):
            # `layer.weight = array` updates the registered parameter; rebinding the attribute would
            # drop it from named_parameters(), save() and every optimizer without a word.
            members[key].assign(value, f"{type(self).__name__}.{key}")
            return
        else:
            if isinstance(value, (list, tuple, dict)):
                _refuse_unregistered_members(self, key, value)
            members.pop(key, None)
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        self._members.pop(key, None)
        if key in self.__dict__.get("_buffers", ()):
            self._buffers.remove(key)
        object.__delattr__(self, key)

    def register(self, key: str, value) -> None:
        """Register a `Parameter` or `Module` under ``key`` without making an attribute (`Sequential` uses this).

        A Parameter without a name takes ``key`` as its name; a Module remembers ``key`` as its default name.
        Re-registering a key keeps its place in the order.

        Raises:
            ValueError: ``key`` is empty or contains a ``.`` (the separator of dotted names).
            TypeError: ``value`` is neither a Parameter nor a Module.
        """
        if not isinstance(key, str) or not key or "." in key:
            raise ValueError(f"{type(self).__name__}: {key!r} cannot name a member (non-empty, no '.')")
        if key in self._buffers:
            raise ValueError(f"{type(self).__name__}: {key!r} names a buffer; delete it first to register a "
                             "member there")
        if isinstance(value, Module):
            value.__dict__["_key"] = key
        elif isinstance(value, Parameter):
            if value.name is None:
                value.name = key
        else:
            raise TypeError(f"{type(self).__name__}: can register a Parameter or a Module, got {type(value).__name__}")
        self._members[key] = value

    def register_buffer(self, key: str, value: np.ndarray) -> None:
        """Make the attribute ``key`` a buffer holding ``value``, a float ndarray: state that is saved but not trained.

        A buffer (BatchNorm's running averages) gets no gradient and no optimizer step, but `state_dict`,
        `load_state_dict`, `save` and `load` carry it beside the parameters, under its dotted name. It is a
        plain attribute: assigning another float ndarray to it replaces the array, and it stays a buffer.

        Raises:
            ValueError: ``key`` is empty, contains a ``.``, or names a registered Parameter or Module.
            TypeError: ``value`` is not a float ndarray (here or in a later assignment).

        >>> class Counter(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.register_buffer("seen", np.zeros(1))
        >>> counter = Counter()
        >>> counter.seen = counter.seen + 1
        >>> counter.named_buffers(), list(counter.state_dict())
        ([('seen', array([1.]))], ['seen'])
        """
        if not isinstance(key, str) or not key or "." in key:
            raise ValueError(f"{type(self).__name__}: {key!r} cannot name a buffer (non-empty, no '.')")
        if key in self._members:
            raise ValueError(f"{type(self).__name__}: {key!r} already names a registered "
                             f"{type(self._members[key]).__name__}")
        _check_buffer(self, key, value)
        if key not in self._buffers:
            self._buffers.append(key)
        object.__setattr__(self, key, value)

    @property
    def name(self) -> str:
        """The label of this module's nodes: its ``name=``, else its key in the parent, else its class name."""
        return self._name or self._key or type(self).__name__

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {value!r}")
        self.__dict__["_name"] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- calling ------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._container and self._name is None and self._key is None:
            return self.forward(*args, **kwargs)
        token = enter_module(self._name or self._key or type(self).__name__)
        try:
            return self.forward(*args, **kwargs)
        finally:
            leave_module(token)

    def forward(self, *args, **kwargs):
        """The computation, from autograd ops; subclasses define it (calling the module runs it)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # --- modes --------------------------------------------------------------------------------------
    def modules(self) -> list:
        """This module and every submodule, depth first in the order of assignment, each once.

        >>> from nn import Linear, ReLU, Sequential
        >>> [type(m).__name__ for m in Sequential(Linear(2, 2, rng=0), ReLU()).modules()]
        ['Sequential', 'Linear', 'ReLU']
        """
        return [module for _, module in self._named_modules()]

    def _named_modules(self, prefix: str = "") -> list:
        """``(dotted_name, module)`` for this module (named ``prefix``) and every submodule, in `modules` order."""
        return [(prefix, self)] + [(name, member) for name, member in self._walk(prefix) if isinstance(member, Module)]

    def _walk(self, prefix: str = "") -> list:
        """``(dotted_name, member)`` for every Module and Parameter below this one, each once, under its first name.

        Depth first in the order of assignment, a Module before its members: the one walk that
        `named_parameters`, `modules` and `named_buffers` read.
        """
        seen, found = {id(self)}, []
        # An explicit stack of iterators, so deep nesting cannot hit the recursion limit.
        stack = [(prefix, iter(self._members.items()))]
        while stack:
            base, items = stack[-1]
            key, member = next(items, (None, None))
            if member is None:
                stack.pop()
            elif id(member) not in seen:
                seen.add(id(member))
                dotted = f"{base}.{key}" if base else key
                found.append((dotted, member))
                if isinstance(member, Module):
                    stack.append((dotted, iter(member._members.items())))
        return found

    def train(self, mode: bool = True):
        """Set ``training`` to ``mode`` on this module and every submodule; returns ``self`` (PyTorch's convention).

        In training mode `Dropout` drops and `BatchNorm1d`/`BatchNorm2d` normalize with the batch's
        statistics (and update their running averages); in evaluation mode Dropout passes its input on
        and BatchNorm uses the running averages. Other layers compute the same in both modes.

        Raises:
            TypeError: ``mode`` is not a bool.

        >>> from nn import Dropout, Sequential
        >>> net = Sequential(Dropout(0.5))
        >>> net.eval() is net, net.training, net[0].training
        (True, False, False)
        >>> net.train().training, net[0].training
        (True, True)
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {type(mode).__name__} {mode!r}")
        for module in self.modules():
            module.__dict__["training"] = bool(mode)
        return self

    def eval(self):
        """Evaluation mode for this module and every submodule: ``train(False)``; returns ``self``."""
        return self.train(False)

    # --- parameters ---------------------------------------------------------------------------------
    def named_parameters(self, prefix: str = ""):
        """``(dotted_name, Parameter)`` pairs, depth first in the order of assignment, each Parameter once.

        >>> from nn import Linear
        >>> [(name, p.shape) for name, p in Linear(3, 2, rng=0).named_parameters()]
        [('weight', (3, 2)), ('bias', (2,))]
        """
        return [(name, member) for name, member in self._walk(prefix) if isinstance(member, Parameter)]

    def parameters(self) -> list:
        """The Parameters of `named_parameters`, in the same order (a new list each call)."""
        return [param for _, param in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> list:
        """``(dotted_name, array)`` for every buffer (`register_buffer`), module by module as `modules` orders them.

        >>> from nn import BatchNorm1d, Linear, Sequential
        >>> [name for name, _ in Sequential(Linear(2, 2, rng=0), BatchNorm1d(2)).named_buffers()]
        ['BatchNorm1d1.running_mean', 'BatchNorm1d1.running_var']
        """
        return [(name, getattr(module, key)) for name, (module, key) in self._buffer_owners(prefix)]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (each ``.grad`` becomes None)."""
        for param in self.parameters():
            param.grad = None

    # --- state dicts --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A dict from dotted name to a copy of its array: the parameters in `named_parameters` order, then the buffers.

        >>> from nn import Linear
        >>> {name: a.shape for name, a in Linear(3, 2, rng=0).state_dict().items()}
        {'weight': (3, 2), 'bias': (2,)}
        """
        state = {name: param.data.copy() for name, param in self.named_parameters()}
        state.update((name, array.copy()) for name, array in self.named_buffers())
        return state

    def load_state_dict(self, state) -> None:
        """Copy the arrays of ``state`` into the parameters, in place, and the buffers, after checking all of them.

        The parameters keep their arrays (anything sharing them sees the new values) and their dtype; each
        buffer gets a new array of its old dtype. Nothing is changed unless every entry is present,
        expected, numeric and of the right shape.

        Raises:
            ValueError: naming the missing entries, the unexpected ones and the wrongly shaped ones.
            TypeError: ``state`` is not a mapping, or an entry is not a numeric array.

        >>> from nn import Linear
        >>> layer = Linear(3, 2, rng=0)
        >>> layer.load_state_dict({"weight": np.zeros((3, 2))})
        Traceback (most recent call last):
        ...
        ValueError: Linear.load_state_dict: missing entries ['bias']
        """
        arrays = self._checked_state(state, f"{type(self).__name__}.load_state_dict")
        params = dict(self.named_parameters())
        owners = dict(self._buffer_owners())
        for name, array in arrays.items():
            if name in params:
                params[name].assign(array)
            else:
                module, key = owners[name]
                setattr(module, key, np.array(array, dtype=getattr(module, key).dtype))

    def _buffer_owners(self, prefix: str = "") -> list:
        """``(dotted_name, (module, key))`` for every buffer, in `named_buffers` order."""
        return [(f"{base}.{key}" if base else key, (module, key))
                for base, module in self._named_modules(prefix) for key in module._buffers]

    def _checked_state(self, state, who: str) -> dict:
        """The arrays of ``state`` by parameter (or buffer) name, once all of them fit; `load_state_dict`'s checks.

        `nn.serialization.load` runs them on stand-ins of the file's .npy headers, before reading any data.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"{who}: expected a mapping from parameter name to array, got {type(state).__name__}")
        params = dict(self.named_parameters())
        params.update(self.named_buffers())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        arrays, wrong_shapes = {}, []
        for name, param in params.items():
            if name not in state:
                continue
            value = state[name]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"{who}: entry {name!r} has dtype {array.dtype}; expected a numeric array")
            if array.shape != param.shape:
                kind = "parameter" if isinstance(param, Parameter) else "buffer"
                wrong_shapes.append(f"{name} {array.shape} (the {kind} is {param.shape})")
            arrays[name] = array
        problems = []
        if missing:
            problems.append(f"missing entries {missing}")
        if unexpected:
            problems.append(f"unexpected entries {unexpected}")
        if wrong_shapes:
            problems.append("wrong shapes: " + ", ".join(wrong_shapes))
        if problems:
            raise ValueError(f"{who}: " + "; ".join(problems))
        return arrays

    # --- files --------------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the parameters to the .npz file ``path`` (exactly that name); see `nn.serialization.save`."""
        serialization.save(self, path)

    def load(self, path):
        """Load parameters written by `save` from ``path``; returns ``self``. See `nn.serialization.load`.

        Raises:
            ValueError: the file is not a graphgrad weights file that fits this module.
        """
        return serialization.load(self, path)
