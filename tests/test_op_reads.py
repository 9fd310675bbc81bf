"""Each op's ``reads`` declaration is true: its VJPs give the same gradients when every value it does
not declare is replaced by other numbers of the same shape and dtype.

``reads`` decides which arrays `autograd.inplace` holds read-only until backward; an op that read an
undeclared value could be handed one that changed in place, and give a wrong gradient without a word.
"""

import numpy as np
import pytest

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
