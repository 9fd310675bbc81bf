"""Tests of `Tensor` itself: array-like attributes, repr, requires_grad defaults, detach, zero_grad,
no_grad, and the links between Tensors and Nodes."""

import numpy as np
import pytest

import autograd
from autograd import Node, Tensor, no_grad


def test_array_like_attributes_describe_the_data():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float64 and t.size == 6
    assert len(t) == 2
    assert t.numpy() is t.data
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_scalar_tensor_is_zero_dimensional_with_a_python_float_item():
    t = Tensor(2.5)
    assert t.shape == () and t.ndim == 0 and t.size == 1
    assert t.item() == 2.5 and type(t.item()) is float
    with pytest.raises(TypeError):
        len(t)


def test_array_protocol_lets_numpy_functions_read_a_tensor():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.sum(np.array(t)) == 10.0
    copied = np.array(t, copy=True)
    copied[0, 0] = 99.0
    assert t.data[0, 0] == 1.0


def test_repr_shows_name_shape_dtype_and_whether_there_is_a_grad():
    t = Tensor(np.zeros((2, 3), dtype=np.float32), name="W1")
    text = repr(t)
    assert "W1" in text and "(2, 3)" in text and "float32" in text and "grad" not in text
    (t * 2).sum().backward()
    assert "grad" in repr(t)
    scalar = Tensor(3.0, name="apple")
    assert "apple" in repr(scalar) and "3.0" in repr(scalar)


def test_repr_names_the_op_of_an_intermediate_and_marks_constants():
    x = Tensor([1.0, 2.0])
    assert "mul" in repr(x * 2)
    assert "constant" in repr(Tensor([1.0], requires_grad=False))


def test_user_tensors_require_grad_and_constants_do_not():
    assert Tensor(1.0).requires_grad
    assert not Tensor(1.0, requires_grad=False).requires_grad
    x = Tensor([1.0, 2.0])
    for other in (2, 2.5, [1.0, 2.0], np.array([1.0, 2.0])):
        out = x * other
        constant = out.node.inputs[1]
        assert isinstance(constant, Tensor) and not constant.requires_grad and constant.node is None


def test_ops_on_constants_only_record_nothing():
    a, b = Tensor(1.0, requires_grad=False), Tensor(2.0, requires_grad=False)
    out = a * b + 1
    assert not out.requires_grad and out.node is None


def test_result_requires_grad_when_any_input_does():
    out = Tensor(1.0, requires_grad=False) * Tensor(2.0)
    assert out.requires_grad and out.node is not None
    out.backward()
    assert out.node.inputs[0].grad is None


def test_detach_shares_data_and_cuts_the_graph():
    x = Tensor([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.node is None
    z = d * x
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])  # no contribution through the detached branch


def test_zero_grad_clears_only_that_tensor():
    x, y = Tensor([1.0]), Tensor([2.0])
    (x * y).sum().backward()
    x.zero_grad()
    assert x.grad is None and y.grad is not None
    (x * y).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])
    np.testing.assert_array_equal(y.grad, [2.0])  # accumulated: 1 + 1


def test_gradients_accumulate_over_backward_calls_until_zero_grad():
    x = Tensor([1.0, 2.0])
    for k in range(3):
        (x * x).sum().backward()
        np.testing.assert_array_equal(x.grad, (k + 1) * 2 * x.data)


def test_no_grad_context_records_nothing_and_results_are_constants():
    x = Tensor([1.0, 2.0])
    with no_grad():
        y = autograd.relu(x * 2 + 1).sum()
        assert not autograd.is_grad_enabled()
    assert autograd.is_grad_enabled()
    assert not y.requires_grad and y.node is None
    with pytest.raises(RuntimeError):
        y.backward()
    z = x * 2
    assert z.requires_grad  # recording resumes after the block


def test_no_grad_restores_recording_when_the_block_raises():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert autograd.is_grad_enabled()


def test_no_grad_as_decorator_records_nothing():
    @no_grad()
    def predict(t):
        return (t * t).sum()

    x = Tensor([3.0])
    out = predict(x)
    assert not out.requires_grad and out.node is None
    assert (x * x).node is not None


def test_enable_grad_records_inside_no_grad():
    x = Tensor(2.0)
    with no_grad():
        with autograd.enable_grad():
            y = x * x
        z = x * x
    assert y.node is not None and z.node is None


def test_node_links_op_inputs_params_and_output():
    x = Tensor(np.ones((2, 3)), name="x")
    y = autograd.sum(x, axis=1, keepdims=True)
    node = y.node
    assert isinstance(node, Node)
    assert node.op.name == "sum" and node.inputs[0] is x and node.output is y
    assert node.params == {"axis": 1, "keepdims": True}
    assert x.node is None  # a leaf
    assert "sum" in repr(node) and "(2, 3)" in repr(node)


def test_node_output_is_a_weak_link_that_dies_with_the_output():
    import gc
    x = Tensor([1.0])
    y = x * 2
    node = y.node
    gc.disable()
    try:
        del y
        assert node.output is None
    finally:
        gc.enable()


def test_leaves_and_intermediates_are_tensors_walkable_through_nodes():
    a, b, c = Tensor(1.0, name="a"), Tensor(2.0, name="b"), Tensor(3.0, name="c")
    out = (a * b) + c
    add = out.node
    mul = add.inputs[0].node
    assert add.op.name == "add" and mul.op.name == "mul"
    assert [t.name for t in mul.inputs] == ["a", "b"] and add.inputs[1] is c
    assert [n.op.name for n in autograd.toposort(out)] == ["mul", "add"]


def test_module_scope_labels_nodes_and_nests_with_dots():
    x = Tensor(1.0)
    with autograd.module_scope("Net"):
        with autograd.module_scope("Affine1"):
            inner = x * 2
        outer = x + 1
    after = x - 1
    assert inner.node.module == "Net.Affine1" and outer.node.module == "Net" and after.node.module is None


def test_comparisons_give_boolean_arrays_and_are_not_recorded():
    x = Tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x > 1.5, [False, True, True])
    np.testing.assert_array_equal(x <= Tensor([1.0, 1.0, 3.0]), [True, False, True])


def test_tensors_stay_hashable_with_identity_equality():
    a, b = Tensor(1.0), Tensor(1.0)
    assert len({a, b}) == 2 and a in {a}


def test_a_wrapped_0d_array_stays_shared_through_in_place_updates():
    # Found this session (adversarial hunt): the data setter turned every 0-d array back into a NumPy
    # scalar after an in-place update, so a caller's wrapped 0-d array stopped sharing: a == 4, x == 3.
    a = np.array(5.0)
    x = Tensor(a)
    x.data -= 1.0
    x.data -= 1.0
    assert a == 3.0 and x.data is a
    scalar = Tensor(5.0)  # a number stays a NumPy scalar inside after an update (see Tensor.__slots__)
    scalar.data -= 1.0
    assert type(scalar._data) is np.float64 and scalar.item() == 4.0


def test_data_can_be_set_from_another_tensor_requiring_grad():
    # A false-alarm hunt found `p.data = q` (a PyTorch habit) refused after the Tensor-in-a-list check.
    p, q = Tensor(np.zeros(3)), Tensor(np.arange(3.0))
    p.data = q
    np.testing.assert_array_equal(p.data, [0.0, 1.0, 2.0])
