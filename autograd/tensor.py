"""`Tensor`: a value in the graph (its data, gradient, name and the Node that produced it). Nothing else.

Every operator and method here is one line that calls its functional form in `autograd.functional`;
the ops themselves, forward and backward, live in `autograd.ops`.
"""

from __future__ import annotations

import copy as _copy
import weakref

import numpy as np

from .inplace import RELEASED as _RELEASED, freeze as _freeze, is_held as _is_held
from .node import node_view

__all__ = ["Tensor", "as_float_array"]


def as_float_array(data, dtype=None, *, who: str = "Tensor") -> np.ndarray:
    """Return ``data`` as a floating ndarray, without copying float arrays.

    Integer and bool data becomes float64; float16/32/64 stay as they are. Anything else (strings,
    objects, complex numbers, ragged lists) is a `TypeError` or `ValueError` naming ``who`` and the dtype.

    >>> as_float_array([1, 2]).dtype
    dtype('float64')
    >>> as_float_array(np.zeros(2, np.float32)).dtype
    dtype('float32')
    >>> as_float_array(["a"])
    Traceback (most recent call last):
    ...
    TypeError: Tensor: data of dtype <U1 is not numeric; expected floats, ints or bools
    """
    if isinstance(data, Tensor):
        if data.requires_grad:
            raise TypeError(
                f"{who}: got a Tensor that requires grad; its values would become a constant and its gradient "
                "would be lost without a word: pass the Tensor itself, or t.detach() for a constant"
            )
        data = data._data
    elif type(data) is list or type(data) is tuple:
        _refuse_tensors_requiring_grad(data, who)
    try:
        array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{who}: cannot make an array from {type(data).__name__}: {exc}") from None
    kind = array.dtype.kind
    if kind == "f":
        return array
    if kind in "biu":
        return array.astype(np.float64)
    raise TypeError(f"{who}: data of dtype {array.dtype} is not numeric; expected floats, ints or bools")


def _refuse_tensors_requiring_grad(items, who: str) -> None:
    """Raise if a (nested) list or tuple holds a Tensor that requires grad: NumPy would copy its values out
    through ``__array__``, and the result would be a constant that silently drops the Tensor's gradient."""
    for item in items:
        kind = type(item)
        if kind is float or kind is int:  # the common case: numbers
            continue
        if kind is list or kind is tuple:
            _refuse_tensors_requiring_grad(item, who)
        elif isinstance(item, Tensor) and item.requires_grad:
            raise TypeError(
                f"{who}: a list holds a Tensor that requires grad (shape {item.shape}); it would become a "
                "constant and its gradient would be lost without a word: combine Tensors with ops "
                "(x * w, reshape, ...), or detach() them to use their values as constants"
            )


class Tensor:
    """A NumPy array in a recorded graph, with its gradient.

    Args:
        data: a number, nested list or ndarray. Float arrays are used without a copy (so the Tensor and
            the array share memory); integer and bool data becomes float64. A Tensor that requires grad,
            alone or in a list, is refused (`TypeError`): it would become a constant without its gradient.
            While a recorded graph still needs the array for its backward pass, it is read-only (see
            `autograd.inplace`).
        requires_grad: whether backward computes a gradient for this Tensor. True by default, as in the
            seed where every input of the shopping bill gets its derivative.
        name: an optional label, shown by ``repr`` and by `viz` drawings.

    Attributes:
        data: the ndarray (0-d for a scalar).
        grad: None until a backward pass reaches this Tensor, then an ndarray of ``data``'s shape and dtype.
        node: the `Node` that produced this Tensor, or None for a leaf or a constant.

    >>> apple, apple_num, tax = Tensor(100.0), Tensor(2.0), Tensor(1.1)
    >>> price = apple * apple_num * tax
    >>> price.backward()
    >>> round(price.item(), 6), round(apple.grad.item(), 6), apple_num.grad.item(), tax.grad.item()
    (220.0, 2.2, 110.00000000000001, 200.0)
    """

    # `_data` and `_grad` hold an ndarray, or, for a 0-d result the engine made, a NumPy scalar: scalar
    # arithmetic costs a tenth of 0-d array arithmetic, and scalar graphs are made of nothing else. The
    # public `data` and `grad` always hand out an ndarray (and keep it, so in-place changes stick).
    #
    # A Tensor an op produced also holds that op's record (engine.apply fills it; `_op` is None for leaves
    # and constants): the op, its input Tensors, the values it saw, its params (with ``saved``, what forward
    # saved, for ops that save), the module recording, the arrays it holds read-only. One object the cyclic
    # collector tracks per recorded op, not four (the output, a Node, a weak reference, a list): the public
    # `node` is a view made on first access. The inputs sit in fixed slots (`_x`, `_y`, then `_more`, a
    # tuple, for a third and later), not in a tuple of Tensors, which the collector would track too: one
    # tracked object more per op made micrograd's demo step 1.4x slower with the collector on (263 -> 373 ms,
    # ``python -m benchmarks``).
    # So do the values they had (`_x_value`, `_y_value`, `_more_values`): a tuple of them, though untracked
    # by the first collection it meets, was one more allocation counted toward the next collection, and
    # building the demo's graph took 109-119 ms with the collector on, 64-65 ms without the tuple.
    __slots__ = ("_data", "_grad", "requires_grad", "name", "_op", "_x", "_y", "_more", "_x_value", "_y_value",
                 "_more_values", "_out_value", "_params", "_module", "_held", "_node", "__weakref__")

    # NumPy defers to our reflected operators: `array + tensor` calls Tensor.__radd__ and records the op.
    __array_ufunc__ = None

    def __array_function__(self, func, types, args, kwargs):
        # NumPy's functions run on the values. Where a Tensor that requires grad went in and a float result
        # comes out, that result would carry no graph: the book's np.dot(x, W) on Tensors left W.grad None
        # without a word, so that is refused. Comparisons, argmax, saving, shapes, and any call on
        # constants run as NumPy runs them.
        needs_grad = []
        result = func(*_values_of(args, needs_grad), **dict(zip(kwargs, _values_of(kwargs.values(), needs_grad))))
        if not (needs_grad and _holds_floats(result)):
            return result
        name = getattr(func, "__name__", str(func))
        if name in ("dot", "matmul"):
            instead = "x @ W (autograd.dot)"
        elif hasattr(_F, name):
            instead = f"autograd.{name}"
        else:
            instead = "graphgrad's ops"
        raise TypeError(
            f"np.{name} got a Tensor that requires grad: NumPy computes on its values and records nothing, so no "
            f"gradient would flow through the result; use {instead}, or pass t.data to compute on the values alone"
        )

    def __init__(self, data, requires_grad: bool = True, name: str | None = None, dtype=None):
        array = as_float_array(data, dtype)
        # A number (not an array the caller may share) is kept as a NumPy scalar; see __slots__.
        _fill(self, array[()] if array.ndim == 0 and not isinstance(data, np.ndarray) else array,
              bool(requires_grad), name)

    @property
    def _inputs(self) -> tuple:
        """The input Tensors of the op that produced this Tensor, in argument order (see __slots__)."""
        return (self._x,) if self._y is None else (self._x, self._y) + self._more

    @property
    def _values(self) -> tuple:
        """The values those inputs had when the op ran, which backward uses (see __slots__)."""
        return (self._x_value,) if self._y is None else (self._x_value, self._y_value) + self._more_values

    @property
    def node(self):
        """The `Node` that produced this Tensor, or None for a leaf or a constant."""
        if self._op is None:
            return None
        try:
            return self._node
        except AttributeError:  # first access: the view is made once and kept
            return node_view(self)

    @property
    def data(self) -> np.ndarray:
        """The value, an ndarray (0-d for a scalar)."""
        data = self._data
        if type(data) is not np.ndarray:
            self._data = data = np.asarray(data)
            _FROM_SCALARS[id(data)] = data  # the setter may make it a scalar again; a caller's 0-d array it keeps
        return data

    @data.setter
    def data(self, value) -> None:
        # Checked as the constructor checks. A graph already recorded keeps the values it saw, so a new
        # array here changes what the next forward pass computes, never an old graph's gradient.
        if value is self._data:  # `x.data -= lr * x.grad` hands the same array back, changed in place
            # A scalar's value goes back to a NumPy scalar (see __slots__): 0-d array arithmetic made
            # micrograd's demo step 3x slower after the first update. A caller's own 0-d array stays shared.
            if value.ndim == 0 and _FROM_SCALARS.get(id(value)) is value:
                self._data = value[()]
            return
        if isinstance(value, Tensor):  # `p.data = q` (a PyTorch habit) takes q's values: no gradient is involved
            value = value._data
        array = as_float_array(value, who="Tensor.data")
        grad = self._grad
        if grad is not None and grad.shape != array.shape:
            raise ValueError(
                f"Tensor.data: new data of shape {array.shape} for a Tensor whose grad has shape {grad.shape}; "
                "call zero_grad() first to change its shape"
            )
        self._data = array[()] if array.ndim == 0 and not isinstance(value, np.ndarray) else array

    @property
    def grad(self):
        """None until a backward pass reaches this Tensor, then an ndarray of ``data``'s shape and dtype."""
        grad = self._grad
        if grad is not None and type(grad) is not np.ndarray:
            self._grad = grad = np.asarray(grad)
        return grad

    @grad.setter
    def grad(self, value) -> None:
        """None, or an array of ``data``'s shape (converted to ``data``'s dtype)."""
        if value is None:
            self._grad = None
            return
        array = as_float_array(value, who="Tensor.grad")
        data = self._data
        if array.shape != data.shape:
            raise ValueError(f"Tensor.grad: a gradient of shape {array.shape} for a Tensor of shape {data.shape}")
        self._grad = array if array.dtype == data.dtype else array.astype(data.dtype)

    # --- array-like -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def size(self) -> int:
        return self._data.size

    def item(self) -> float:
        """The value of a one-element Tensor as a Python float."""
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The data array itself (not a copy)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is None or dtype == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    # Comparisons give plain boolean arrays: they are not differentiable and are not recorded.
    # (== and != keep identity semantics so Tensors stay hashable.)
    def __lt__(self, other):
        return self._data < _data_of(other)

    def __le__(self, other):
        return self._data <= _data_of(other)

    def __gt__(self, other):
        return self._data > _data_of(other)

    def __ge__(self, other):
        return self._data >= _data_of(other)

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}"] if self.name is not None else []
        data = self._data
        parts.append(f"value={data.item()!r}" if data.ndim == 0 else f"shape={data.shape}")
        parts.append(f"dtype={data.dtype}")
        if self._op is not None:
            parts.append(f"op={self._op.name}")
        elif not self.requires_grad:
            parts.append("constant")
        if self._grad is not None:
            parts.append(f"grad={self._grad.item()!r}" if self._grad.ndim == 0 else "grad=yes")
        return f"Tensor({', '.join(parts)})"

    # --- graph ------------------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this Tensor, adding into ``.grad`` of every Tensor that requires grad.

        Args:
            grad: the gradient of some scalar with respect to this Tensor, of this Tensor's shape.
                Optional for a one-element output, where it is 1 (the book's ``dout = 1``).
            retain_graph: keep the graph's saved arrays read-only so it can be backpropagated again;
                by default they are given back for in-place updates (see `autograd.graph.backward`).

        Raises:
            RuntimeError: this Tensor does not require grad, or it has several elements and no ``grad``,
                or an op of the graph that held arrays was backpropagated before without ``retain_graph``.
            ValueError: ``grad``'s shape differs from this Tensor's.
        """
        _graph.backward(self, grad, retain_graph)

    def zero_grad(self) -> None:
        """Forget this Tensor's gradient (``grad`` becomes None)."""
        self._grad = None

    def detach(self) -> "Tensor":
        """A constant Tensor sharing this one's data, cut off from the graph.

        Data that is read-only for good (a recorded view of another Tensor's array, see
        `autograd.inplace.seal_view`) is copied instead, so the detached Tensor can be changed in place
        (``W = Tensor(a).reshape(4, 3).detach()``, then ``W.data -= lr * W.grad``).
        """
        data = self._data
        if type(data) is np.ndarray and not data.flags.writeable and not _is_held(data):
            data = data.copy()
        return Tensor(data, requires_grad=False, name=self.name)

    def __copy__(self) -> "Tensor":
        """``copy.copy``: a Tensor with the same data, grad and record; a recorded one gets a Hold of its own.

        The copy is made as ``copy.copy`` makes one by default (slots, a subclass's ``__getstate__`` or
        ``__reduce__``), then given its own `autograd.inplace.Hold`: sharing the original's let a backward
        pass through one give back the arrays the other still needed (and the emptied Hold went on to
        another graph). The copy holds the same arrays read-only once more, until it is backpropagated or
        freed; its ``node`` is its own.
        """
        copy = _copy._reconstruct(self, None, *self.__reduce_ex__(4))
        try:
            del copy._node  # a view of the original, made when it was first asked for
        except AttributeError:
            pass
        held = self._held if self._op is not None else None  # (a leaf's `_held` was never set)
        if held is not None and held is not _RELEASED and getattr(copy, "_held", None) is held:
            copy._held = _freeze(held.arrays)
        return copy

    # --- operators: one line each. ``+ - * / @`` and their reflections (``__add__``, ``__radd__``, ...) are
    # set on the class by `_bind`, each `engine.binary_operator` of its op. ---------------------------------
    def __neg__(self):
        return _apply(_ops.NEG, self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return _F.power(self, exponent)

    def __rpow__(self, base):
        return _F.exp(self * _F.log_of_base(base))

    def __getitem__(self, index):
        return _F.getitem(self, index)

    # --- methods: one line each ---------------------------------------------------------------------
    def dot(self, other):
        return _F.dot(self, other)

    def exp(self):
        return _F.exp(self)

    def log(self):
        return _F.log(self)

    def tanh(self):
        return _F.tanh(self)

    def relu(self):
        return _F.relu(self)

    def sigmoid(self):
        return _F.sigmoid(self)

    def softmax(self, axis: int = -1):
        return _F.softmax(self, axis)

    def log_softmax(self, axis: int = -1):
        return _F.log_softmax(self, axis)

    def sum(self, axis=None, keepdims: bool = False):
        return _F.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return _F.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims: bool = False):
        return _F.max(self, axis, keepdims)

    def reshape(self, *shape):
        return _F.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)

    def transpose(self, *axes):
        return _F.transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None))

    @property
    def T(self):
        return _F.transpose(self)

    def astype(self, dtype):
        return _F.astype(self, dtype)

    def broadcast_to(self, shape):
        return _F.broadcast_to(self, shape)

    def sum_to(self, shape):
        return _F.sum_to(self, shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """All axes merged into one by default, as NumPy's ``ndarray.flatten`` (`autograd.flatten` keeps axis 0)."""
        return _F.flatten(self, start_dim, end_dim)


# The 0-d arrays `Tensor.data` made from a NumPy scalar. A 0-d array a caller wrapped (``Tensor(np.array(5.))``)
# is not among them, so an in-place update keeps sharing it, as every float array is shared.
_FROM_SCALARS = weakref.WeakValueDictionary()  # id -> array (ndarrays are unhashable)

def _values_of(items, needs_grad: list) -> list:
    """``items`` with each Tensor (also inside a list or tuple, as np.concatenate takes them) replaced by its
    data; a Tensor that requires grad is noted in ``needs_grad``."""
    values = []
    for item in items:
        if isinstance(item, Tensor):
            if item.requires_grad:
                needs_grad.append(item)
            item = item.data
        elif type(item) is list or type(item) is tuple:
            item = type(item)(_values_of(item, needs_grad))
        values.append(item)
    return values


def _holds_floats(result) -> bool:
    """Whether a NumPy function's result holds floats (a value a gradient would flow through)."""
    if isinstance(result, (list, tuple)):
        return any(map(_holds_floats, result))
    return isinstance(result, (float, complex, np.floating, np.complexfloating)) or (
        isinstance(result, np.ndarray) and result.dtype.kind in "fc")


def _fill(t: Tensor, data, requires_grad: bool, name) -> Tensor:
    """Fill a new Tensor's slots: the one place a Tensor is built (``Tensor()``, `engine.constant`, `engine.apply`)."""
    t._data, t._grad, t.requires_grad, t.name, t._op = data, None, requires_grad, name, None
    return t


def _data_of(value):
    return value._data if isinstance(value, Tensor) else value


# The layers above Tensor, which its operators and methods call. `autograd/__init__.py` binds them once they
# are loaded, so this module imports none of them and the package has no import circle: node, mode, inplace,
# then tensor, engine, ops, functional, graph, each importing only the ones before it.
_F = _ops = _graph = _apply = None

# The binary operators, by the name of their method (the reflected one is ``__r<name>__``) and their op.
_BINARY = {"add": "ADD", "sub": "SUB", "mul": "MUL", "truediv": "DIV", "matmul": "MATMUL"}


def _bind(functional, ops, engine, graph) -> None:
    """Give Tensor's operators and methods the modules above it (run once, by `autograd/__init__.py`)."""
    global _F, _ops, _graph, _apply
    _F, _ops, _graph, _apply = functional, ops, graph, engine.apply
    for name, op_name in _BINARY.items():
        op = getattr(ops, op_name)
        setattr(Tensor, f"__{name}__", engine.binary_operator(op, f"__{name}__"))
        setattr(Tensor, f"__r{name}__", engine.binary_operator(op, f"__r{name}__", reflected=True))
