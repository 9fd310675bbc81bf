"""Each op's ``reads`` declaration is true: its VJPs give the same gradients when every value it does
not declare is replaced by other numbers of the same shape and dtype.

``reads`` decides which arrays `autograd.inplace` holds read-only until backward; an op that read an
undeclared value could be handed one that changed in place, and give a wrong gradient without a word.
"""

import numpy as np
import pytest

import autograd
from autograd import Tensor, ops
from op_specs import SPECS


def _table_cases():
    for spec in SPECS:
        if spec.composite:
            continue
        for number, case in enumerate(spec.examples):
            yield pytest.param(spec, case, id=f"{spec.name}-{number}")


def _vjps(node, values, out_value, g):
    params = dict(node.params or {})
    if node.op.saves:
        params["saved"] = node.saved
    return [vjp(g, out_value, *values, **params) for vjp in node.op.vjps]


@pytest.mark.parametrize("spec, case", list(_table_cases()))
def test_vjps_use_no_value_their_op_does_not_declare_in_reads(spec, case):
    tensors = [Tensor(a) for a in spec.example_inputs(case)]
    node = spec.call(*tensors, **case.params).node
    op = node.op
    assert op in ops.ALL_OPS
    rng = np.random.default_rng(1)
    g = np.asarray(rng.standard_normal(np.shape(node._out_value))).astype(np.asarray(node._out_value).dtype)
    expected = _vjps(node, node._values, node._out_value, g)

    def other(value):  # same shape and dtype, other numbers
        return np.asarray(value) + np.asarray(1.375, dtype=np.asarray(value).dtype)

    values = [v if i in op.reads else other(v) for i, v in enumerate(node._values)]
    out_value = node._out_value if op.reads_out else other(node._out_value)
    for got, want in zip(_vjps(node, values, out_value, g), expected):
        np.testing.assert_array_equal(got, want)


def test_an_op_declared_without_reads_holds_every_input_and_its_output():
    op = ops.Op("custom", forward=lambda x, y: x * y, vjp=(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x))
    assert op.reads == (0, 1) and op.reads_out


def test_reads_naming_an_unknown_value_is_refused():
    with pytest.raises(ValueError, match=r"Op 'custom': reads names \['z'\], which are not among its inputs \['x'\] or 'out'"):
        ops.Op("custom", forward=lambda x: x, vjp=lambda g, out, x: g, reads=("z",))


def _as_view_of_a_larger_array(array):
    """``array``'s values in a view of a larger array, as ``Tensor(a[1:])`` or a reshaped ``np.arange`` give."""
    owner = np.zeros(array.size + 1, dtype=array.dtype)
    view = owner[1:].reshape(array.shape)
    view[...] = array
    return view, owner


@pytest.mark.parametrize("spec, case", list(_table_cases()))
def test_no_write_reaches_an_outputs_memory_while_a_node_that_read_it_can_be_backpropagated(spec, case):
    # An op may return a view of an input (transpose, reshape, getitem, ...). A later node that reads that
    # output holds it read-only, and must also hold the input's array and the array that owns the memory:
    # a write into either changes the output under the node (found by this test: `W.data[...] = 5` changed
    # `W.T` that a matmul had read, and the gradient with it).
    arrays = [np.asarray(a) for a in spec.example_inputs(case)]
    views = [_as_view_of_a_larger_array(a) if a.dtype.kind == "f" and a.ndim else (a, None) for a in arrays]
    out = spec.call(*[Tensor(view) for view, _ in views], **case.params)
    reader = out * out  # mul reads both its inputs: it holds the output's array read-only
    shared = [(view, owner) for view, owner in views
              if owner is not None and type(out._data) is np.ndarray and np.shares_memory(view, out._data)]
    for view, owner in shared:
        for target in (view, owner):
            with pytest.raises(ValueError, match="read-only"):
                target.flat[0] = 42.0
    reader.sum().backward()
    for view, owner in shared:
        assert view.flags.writeable and owner.flags.writeable  # given back by the backward pass


def test_the_matrix_above_meets_ops_that_return_views():
    viewing = set()
    for spec in SPECS:
        if spec.composite:
            continue
        for case in spec.examples:
            arrays = [np.asarray(a) for a in spec.example_inputs(case)]
            out = spec.call(*[Tensor(a) for a in arrays], **case.params)
            if type(out._data) is np.ndarray and any(np.shares_memory(a, out._data) for a in arrays):
                viewing.add(spec.name)
    assert {"transpose", "reshape", "getitem"} <= viewing, viewing


def test_a_custom_op_reading_its_output_that_views_an_input_holds_that_input():
    op = ops.Op("tail", forward=lambda x: x[1:], vjp=lambda g, out, x: np.concatenate([np.zeros(1), g]),
                reads=("out",))
    a = np.arange(4.0)
    y = autograd.apply(op, Tensor(a))
    with pytest.raises(ValueError, match="read-only"):
        a[1] = 7.0
    y.sum().backward()
    a[1] = 7.0
