"""`apply`: the single way an op runs. It coerces inputs, runs forward and records a `Node`.

Recording, dtype rules, anomaly checks and module labels for `viz` live here and nowhere else.
"""

from __future__ import annotations

from operator import attrgetter
from weakref import ref as _weak_ref

import numpy as np

from .inplace import freeze
from .mode import current as _current_mode
from .node import GuardedNode, Node
from .tensor import Tensor, as_float_array

__all__ = ["apply", "constant"]

_new_tensor = Tensor.__new__
_DATA = attrgetter("_data")
_ndarray, _generic, _float64 = np.ndarray, np.generic, np.float64
_new_node = Node.__new__  # object.__new__: makes a GuardedNode too


def constant(value, dtype=None, *, who: str = "apply") -> Tensor:
    """A Tensor that does not require grad, for a number, list or ndarray passed to an op.

    Python numbers and integer or bool arrays take ``dtype`` (the float dtype of the op's Tensor
    inputs), as NumPy's Python scalars do, so ``x32 * 2`` stays float32. Float arrays keep their dtype.
    """
    kind = type(value)
    if kind is float or kind is int:  # the common case, a number in an expression: no array round trip
        t = _new_tensor(Tensor)
        t._data = (_float64 if dtype is None else dtype.type)(value)
        t._grad, t.requires_grad, t.name, t.node = None, False, None, None
        return t
    if isinstance(value, (int, float, bool, np.integer, np.bool_)) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "biu"
    ):
        array = as_float_array(value, dtype, who=who)
    else:
        array = as_float_array(value, who=who)
    if array.ndim == 0 and not isinstance(value, np.ndarray):
        array = array[()]  # a number stays a NumPy scalar, as in Tensor()
    t = _new_tensor(Tensor)
    t._data, t._grad, t.requires_grad, t.name, t.node = array, None, False, None, None
    return t


def apply(op, *inputs, **params) -> Tensor:
    """Run ``op`` forward on ``inputs`` and, unless inside `no_grad`, record the application.

    Args:
        op: an `autograd.ops.Op`.
        *inputs: Tensors, or numbers / lists / ndarrays that become constants.
        **params: the op's non-differentiable parameters (``axis=1``), passed to forward and VJP.

    Returns:
        The output Tensor. It requires grad when grad mode is on and any input requires grad; then its
        ``node`` records the op, the inputs, the params and what forward saved.

    >>> from autograd import Tensor, ops
    >>> y = apply(ops.MUL, Tensor(3.0), 2)
    >>> y.item(), y.node.op.name
    (6.0, 'mul')
    """
    tensors = inputs
    for value in inputs:
        if not isinstance(value, Tensor):
            tensors = _coerce(op, inputs)
            break
    # A tuple, not a list: the collector stops tracking a tuple of arrays and scalars after its first pass,
    # where a list per recorded op stays tracked (one more object per op in every full collection).
    arrays = tuple(map(_DATA, tensors))
    mode = _current_mode()
    if mode.anomaly:
        result = _forward_checked(op, arrays, params)
    else:
        try:
            result = op.forward(*arrays, **params)
        except (ValueError, TypeError) as exc:
            raise _named_error(op, arrays, exc) from None
    saved = None
    if op.saves:
        result, saved = result
    if type(result) is not _ndarray and not isinstance(result, _generic):
        result = np.asarray(result)

    out = _new_tensor(Tensor)
    out._data = result  # a NumPy scalar for 0-d results: see Tensor.__slots__
    out._grad = None
    out.name = None
    if mode.grad_enabled:
        for t in tensors:
            if t.requires_grad:
                # The arrays the VJPs will read stay read-only until backward has run (autograd.inplace).
                # Scalar graphs only look: NumPy scalars are immutable (a list and a call cost ~10% of a scalar op).
                frozen = None
                for i in op.reads:
                    if type(arrays[i]) is _ndarray:
                        frozen = freeze(map(arrays.__getitem__, op.reads))
                        break
                if op.reads_out and type(result) is _ndarray:
                    held = freeze((result,))
                    if held:
                        frozen = held if frozen is None else frozen + held
                node = _new_node(Node if frozen is None else GuardedNode)
                node._frozen = frozen
                node.op, node.inputs, node.params, node.saved = op, tensors, params or None, saved
                node.module, node._output = mode.module, _weak_ref(out)
                node._values, node._out_value = arrays, result
                out.requires_grad = True
                out.node = node
                return out
    out.requires_grad = False
    out.node = None
    return out


def _coerce(op, inputs) -> tuple:
    """Turn non-Tensor inputs into constants of the Tensor inputs' float dtype."""
    dtype = None
    for v in inputs:
        if isinstance(v, Tensor):
            dtype = v._data.dtype
            break
    return tuple(v if isinstance(v, Tensor) else constant(v, dtype, who=op.name) for v in inputs)


def _named_error(op, arrays, exc: Exception) -> Exception:
    """Re-raise NumPy's error with the op's name and the input shapes, unless the op already named itself."""
    message = str(exc)
    if message.startswith(f"{op.name}:"):
        return exc
    shapes = " and ".join(str(a.shape) for a in arrays)
    if "broadcast" in message:
        return ValueError(f"{op.name}: shapes {shapes} cannot be broadcast together")
    return type(exc)(f"{op.name}: {message} (input shapes {shapes})")


def _forward_checked(op, arrays, params):
    """Forward under `detect_anomaly`: NumPy warnings are silenced because non-finite results raise."""
    with np.errstate(all="ignore"):
        try:
            result = op.forward(*arrays, **params)
        except (ValueError, TypeError) as exc:
            raise _named_error(op, arrays, exc) from None
    check_finite(op, "forward", result[0] if op.saves else result, arrays)
    return result


def check_finite(op, phase: str, value, arrays) -> None:
    """Raise `FloatingPointError` naming ``op`` and the input shapes if ``value`` holds NaN or inf."""
    value = np.asarray(value)
    finite = np.isfinite(value)
    if finite.all():
        return
    bad = value[~finite]
    kinds = ", ".join(sorted({str(v) for v in bad.ravel()[:3].tolist()}))
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    plural = "s" if bad.size > 1 else ""
    raise FloatingPointError(
        f"{op.name}: {phase} produced {bad.size} non-finite value{plural} ({kinds}) from inputs of shape {shapes}"
    )
