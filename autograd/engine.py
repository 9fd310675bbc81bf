"""`apply`: the single way an op runs. It coerces inputs, runs forward and records a `Node`.

Recording, dtype rules, anomaly checks and module labels for `viz` live here and nowhere else. The record
goes into the output Tensor's own slots (see `Tensor.__slots__`); its `Node` is a view made on access.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from .inplace import freeze, seal_view
from .mode import current as _current_mode
from .tensor import Tensor, _fill, as_float_array

__all__ = ["apply", "binary_operator", "constant"]

_new_tensor = Tensor.__new__
_DATA = attrgetter("_data")
_ndarray, _generic, _float64 = np.ndarray, np.generic, np.float64


def constant(value, dtype=None, *, who: str = "apply") -> Tensor:
    """A Tensor that does not require grad, for a number, list or ndarray passed to an op.

    Python numbers and integer or bool arrays take ``dtype`` (the float dtype of the op's Tensor
    inputs), as NumPy's Python scalars do, so ``x32 * 2`` stays float32. Float arrays keep their dtype.
    """
    kind = type(value)
    if kind is float or kind is int:  # the common case, a number in an expression: no array round trip
        return _fill(_new_tensor(Tensor), (_float64 if dtype is None else dtype.type)(value), False, None)
    if isinstance(value, (int, float, bool, np.integer, np.bool_)) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "biu"
    ):
        array = as_float_array(value, dtype, who=who)
    else:
        array = as_float_array(value, who=who)
    if array.ndim == 0 and not isinstance(value, np.ndarray):
        array = array[()]  # a number stays a NumPy scalar, as in Tensor()
    return _fill(_new_tensor(Tensor), array, False, None)


def apply(op, *inputs, **params) -> Tensor:
    """Run ``op`` forward on ``inputs`` and, unless inside `no_grad`, record the application.

    Args:
        op: an `autograd.ops.Op`.
        *inputs: Tensors, or numbers / lists / ndarrays that become constants.
        **params: the op's non-differentiable parameters (``axis=1``), passed to forward and VJP.

    Returns:
        The output Tensor. It requires grad when grad mode is on and any input requires grad; then it
        holds the op's record (its ``node``): the op, the inputs, the params and what forward saved.

    >>> from autograd import Tensor, ops
    >>> y = apply(ops.MUL, Tensor(3.0), 2)
    >>> y.item(), y.node.op.name
    (6.0, 'mul')
    """
    if len(inputs) > len(op.vjps):
        raise _inputs_without_vjps(op, len(inputs), op.name)
    for value in inputs:
        if not isinstance(value, Tensor):
            inputs = _coerce(op, inputs)
            break
    values = tuple(map(_DATA, inputs))  # a tuple of NumPy scalars or arrays: the collector stops tracking it
    mode = _current_mode()
    if mode.anomaly:
        result = _forward_checked(op, values, params)
    else:
        try:
            result = op.forward(*values, **params)
        except (ValueError, TypeError) as exc:
            raise _named_error(op, values, exc) from None
    if op.saves:
        result, saved = result
    if type(result) is not _ndarray and not isinstance(result, _generic):
        result = np.asarray(result)
    out = _fill(_new_tensor(Tensor), result, False, None)  # a NumPy scalar for 0-d results: see Tensor.__slots__
    if mode.grad_enabled:
        for t in inputs:
            if t.requires_grad:
                out.requires_grad = True
                if type(result) is _ndarray and result.base is not None:
                    seal_view(result, values)  # a recorded view of an input is read-only: writes would reach it
                out._op, out._out_value = op, result
                out._x, out._y, out._more = inputs[0], inputs[1] if len(inputs) > 1 else None, inputs[2:]
                out._x_value, out._y_value = values[0], values[1] if len(values) > 1 else None
                out._more_values = values[2:]
                # What forward saved is one more param of the VJPs (``saved=``); the Node shows it apart.
                out._params, out._module = ({**params, "saved": saved} if op.saves else params or None), mode.module
                # The arrays the VJPs read, read-only until backward (`autograd.inplace`). Selected here, not in
                # a call: scalar graphs hold nothing (NumPy scalars are immutable; -3% per op).
                if op.reads_any and (_ndarray in map(type, values) or type(result) is _ndarray):
                    read = tuple(map(values.__getitem__, op.reads))
                    out._held = freeze(read + (result,) if op.reads_out else read, inputs, values)
                else:
                    out._held = None
                return out
    return out


def binary_operator(op, name: str, reflected: bool = False):
    """Tensor's operator ``name`` for ``op`` (``+ - * / @``): ``apply(op, x, y)``, faster on two 0-d Tensors.

    With ``reflected`` (``__radd__`` and the like) the operands are swapped: ``2 - x`` is ``apply(op, 2, x)``.
    Two plain Tensors holding NumPy scalars, outside `detect_anomaly`, take a direct path: no params, no
    coercion, nothing to hold read-only (NumPy scalars are immutable), so the record is filled directly.
    Everything else goes to `apply`. Measured with callgrind on the scalar chain y = y * a + c (the
    difference of 4,000 and 2,000 iterations, per op): the direct path took 17,108 -> 12,024 instructions per
    op built, 31,431 -> 26,026 built and backpropagated; being the operator itself, not a function the
    operator calls with the op looked up, saved 2.2% more (45,862 -> 44,831 instructions per iteration of two
    ops, collector off).

    >>> from autograd import Tensor, ops
    >>> times = binary_operator(ops.MUL, "__mul__")
    >>> y = times(Tensor(3.0), 2)
    >>> y.item(), y.node.op.name
    (6.0, 'mul')
    """
    if len(op.vjps) < 2:  # its path for two 0-d Tensors does not go through `apply`
        raise _inputs_without_vjps(op, 2, "binary_operator")
    forward = op.forward

    def operator(x, y):
        if type(x) is not Tensor or type(y) is not Tensor:
            return apply(op, x, y)
        a, b = x._data, y._data
        mode = _current_mode()
        if type(a) is _ndarray or type(b) is _ndarray or mode.anomaly:
            return apply(op, x, y)
        try:
            result = forward(a, b)
        except (ValueError, TypeError) as exc:
            raise _named_error(op, (a, b), exc) from None
        if not isinstance(result, _generic):
            result = np.asarray(result)
        out = _fill(_new_tensor(Tensor), result, False, None)
        if mode.grad_enabled and (x.requires_grad or y.requires_grad):
            out.requires_grad = True
            out._op, out._x, out._y, out._more, out._out_value = op, x, y, (), result
            out._x_value, out._y_value, out._more_values = a, b, ()
            out._params, out._module, out._held = None, mode.module, None
        return out

    def reflected_operator(x, y):
        return operator(y, x)

    method = reflected_operator if reflected else operator
    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    operands = "other, self" if reflected else "self, other"
    method.__doc__ = f"The op {op.name!r} on ``{operands}`` (see `autograd.engine.binary_operator`)."
    return method


def _inputs_without_vjps(op, count: int, who: str) -> TypeError:
    """The error for ``count`` inputs to an op with fewer VJPs: the inputs past the last would get no gradient."""
    return TypeError(f"{who}: {count} inputs but the op {op.name!r} has {len(op.vjps)} VJP(s); an Op needs a VJP "
                     "for each input it is given")


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
