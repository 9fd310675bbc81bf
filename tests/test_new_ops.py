"""issue 9's remaining ops: `sum_to`, `flatten`, `linear`, `mean_squared_error`, and labels given as a Tensor
to `softmax_cross_entropy`. Their gradients, NumPy references and dtypes are in the op matrix (tests/op_specs.py);
here are the properties and errors the matrix does not state."""

from __future__ import annotations

import re

import numpy as np
import pytest

import autograd
from autograd import Tensor, grad, ops


# --- sum_to ---------------------------------------------------------------------------------------------------
def test_sum_to_is_the_adjoint_of_broadcast_to():
    rng = np.random.default_rng(0)
    small, large = rng.standard_normal((3, 1)), rng.standard_normal((2, 3, 4))
    lhs = np.sum(autograd.broadcast_to(Tensor(small), large.shape).data * large)
    rhs = np.sum(small * autograd.sum_to(Tensor(large), small.shape).data)
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_sum_to_runs_the_engines_own_helper_on_the_graph():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    out = autograd.sum_to(x, (1, 3))
    np.testing.assert_array_equal(out.data, ops.sum_to(x.data, (1, 3)))
    assert [node.op.name for node in (out.node, out.node.inputs[0].node)] == ["reshape", "sum"]
    g = grad(out, x, grad_outputs=np.array([[1.0, 2.0, 3.0]]), create_graph=True)
    np.testing.assert_array_equal(g.data, [[1.0, 2.0, 3.0]] * 2)


def test_sum_to_its_own_shape_is_a_new_tensor_and_a_method_too():
    x = Tensor(np.ones((2, 3)))
    same = autograd.sum_to(x, (2, 3))
    assert same is not x and same.node is not None
    np.testing.assert_array_equal(x.sum_to(3).data, [2.0, 2.0, 2.0])
    assert autograd.sum_to(np.ones((2, 2)), (2,)).requires_grad is False  # an array input is a constant


@pytest.mark.parametrize("x_shape, shape", [((2, 3), (2,)), ((3,), (2, 3)), ((2, 3), (-1, 3)), ((2, 3), (4, 3))])
def test_sum_to_refuses_a_shape_that_does_not_broadcast_to_the_input(x_shape, shape):
    message = f"sum_to: shape {shape} cannot be broadcast to the input's shape {x_shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        autograd.sum_to(Tensor(np.ones(x_shape)), shape)


# --- flatten --------------------------------------------------------------------------------------------------
def test_flatten_keeps_the_batch_axis_by_default_and_the_method_flattens_all_as_numpy():
    images = Tensor(np.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5))
    out = autograd.flatten(images)
    np.testing.assert_array_equal(out.data, images.data.reshape(2, -1))
    np.testing.assert_array_equal(images.flatten().data, images.data.flatten())
    assert images.flatten(1, 2).shape == (2, 12, 5)
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(images.grad, np.ones((2, 3, 4, 5)))


def test_flatten_merges_empty_axes_which_reshape_minus_one_cannot():
    assert autograd.flatten(Tensor(np.zeros((0, 3, 4)))).shape == (0, 12)
    assert autograd.flatten(Tensor(np.zeros((3, 0, 2)))).shape == (3, 0)
    assert autograd.flatten(Tensor(2.0), 0).shape == (1,)  # a 0-d input counts as 1-d, as in PyTorch


@pytest.mark.parametrize("args, error, message", [
    (((2, 3), 2), ValueError, "flatten: start_dim 2 is out of range for an input of 2 dimensions"),
    (((2, 3), 0, -3), ValueError, "flatten: end_dim -3 is out of range for an input of 2 dimensions"),
    (((2, 3, 4), 2, 1), ValueError, "flatten: start_dim 2 comes after end_dim 1 for an input of 3 dimensions"),
    (((2, 3), 1.0), TypeError, "flatten: start_dim must be an int, got float"),
    (((), 1), ValueError, "flatten: start_dim 1 is out of range for an input of 0 dimensions"),
])
def test_flatten_errors_name_the_dims_and_the_input(args, error, message):
    shape, *dims = args
    with pytest.raises(error, match=re.escape(message)):
        autograd.flatten(Tensor(np.zeros(shape)), *dims)


# --- linear ---------------------------------------------------------------------------------------------------
def test_linear_is_the_seeds_affine_with_its_gradients():
    x, W, b = Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor(np.ones((2, 3))), Tensor(np.zeros(3))
    out = autograd.linear(x, W, b)
    np.testing.assert_array_equal(out.data, [[3.0] * 3, [7.0] * 3])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out.backward(dout)
    np.testing.assert_array_equal(b.grad, [5.0, 7.0, 9.0])  # the seed's db
    np.testing.assert_array_equal(W.grad, x.data.T @ dout)
    np.testing.assert_array_equal(x.grad, dout @ W.data.T)


def test_linear_keeps_leading_axes_and_sums_the_bias_gradient_over_all_of_them():
    rng = np.random.default_rng(1)
    x, W, b = Tensor(rng.standard_normal((2, 5, 3))), Tensor(rng.standard_normal((3, 4))), Tensor(np.zeros(4))
    out = autograd.linear(x, W, b)
    assert out.shape == (2, 5, 4)
    out.sum().backward()
    np.testing.assert_allclose(b.grad, np.full(4, 10.0))
    assert autograd.linear(x, W).node.op.name == "matmul"  # no bias: no add


@pytest.mark.parametrize("shapes, message", [
    (((4, 3), (3, 2), (3,)), "linear: the bias of shape (3,) does not fit the 2 outputs of W of shape (3, 2)"),
    (((4, 3), (3, 2), (4, 2)), "linear: the bias of shape (4, 2) does not fit the 2 outputs of W of shape (3, 2)"),
    (((4, 3), (3,), (1,)), "linear: the bias of shape (1,) does not fit the single output of W of shape (3,)"),
    (((4, 3), (4, 2), None), "linear: the input of shape (4, 3) has 3 features but W of shape (4, 2) expects 4"),
    (((4, 3), (3, 2, 1), None), "linear: W must have shape (in, out) or (in,), got (3, 2, 1)"),
])
def test_linear_errors_name_the_shapes(shapes, message):
    x, W, b = (None if s is None else Tensor(np.ones(s)) for s in shapes)
    with pytest.raises(ValueError, match=re.escape(message)):
        autograd.linear(x, W, b)


# --- mean_squared_error ---------------------------------------------------------------------------------------
def test_mean_squared_error_reductions_and_the_books_half_sum_gradient():
    rng = np.random.default_rng(2)
    y_data, t_data = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    squared = (y_data - t_data) ** 2
    expected = {"mean": squared.mean(), "sum": squared.sum(), "half_sum": 0.5 * squared.sum(), "none": squared}
    for reduction, value in expected.items():
        y, t = Tensor(y_data), Tensor(t_data)
        loss = autograd.mean_squared_error(y, t, reduction=reduction)
        np.testing.assert_allclose(loss.data, value, rtol=1e-14)
        loss.backward(np.ones(loss.shape))
        np.testing.assert_allclose(y.grad, -t.grad, rtol=1e-14)  # both inputs get gradients
    y = Tensor(y_data)
    autograd.mean_squared_error(y, t_data, reduction="half_sum").backward()
    np.testing.assert_allclose(y.grad, y_data - t_data, rtol=1e-14)  # the book's: dL/dy = y - t


def test_mean_squared_error_refuses_shapes_that_would_broadcast_and_unknown_reductions():
    with pytest.raises(ValueError, match=re.escape("mean_squared_error: y of shape (3, 1) and t of shape (3,) differ")):
        autograd.mean_squared_error(Tensor(np.zeros((3, 1))), np.zeros(3))
    with pytest.raises(ValueError, match=re.escape(
            "mean_squared_error: reduction must be one of ('mean', 'sum', 'half_sum', 'none'), got 'avg'")):
        autograd.mean_squared_error(Tensor([1.0]), Tensor([1.0]), reduction="avg")


# --- softmax_cross_entropy: labels held in a Tensor -------------------------------------------------------------
@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_a_tensor_of_whole_number_labels_is_read_as_the_integer_labels(create_graph):
    logits_data = np.random.default_rng(3).standard_normal((3, 4))
    losses, grads = [], []
    for labels in (np.array([0, 3, 1]), Tensor([0.0, 3.0, 1.0]), Tensor(np.array([0, 3, 1], dtype=np.float32))):
        logits = Tensor(logits_data)
        loss = autograd.softmax_cross_entropy(logits, labels)
        losses.append(loss.item())
        grads.append(grad(loss, logits, create_graph=create_graph).data)
    assert losses[0] == losses[1] == losses[2]
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_array_equal(grads[0], grads[2])


def test_a_scalar_tensor_label_for_one_sample_and_tensor_one_hot_rows_still_work():
    logits = Tensor([2.0, 1.0, 0.1])
    by_label = autograd.softmax_cross_entropy(logits, Tensor(0.0)).item()
    assert by_label == pytest.approx(autograd.softmax_cross_entropy(logits, 0).item(), rel=1e-15)
    one_hot = Tensor(np.eye(3)[[0, 2]])  # a Tensor of the logits' shape stays one-hot rows
    rows = Tensor(np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 1.0]]))
    assert autograd.softmax_cross_entropy(rows, one_hot).item() == pytest.approx(
        autograd.softmax_cross_entropy(rows, np.array([0, 2])).item(), rel=1e-15)


@pytest.mark.parametrize("labels, message", [
    ([0.0, 1.5, 1.0], "labels must be whole numbers, got 1.5 at index 1 of the labels Tensor of shape (3,)"),
    ([np.nan, 0.0, 1.0], "labels must be whole numbers, got nan at index 0 of the labels Tensor of shape (3,)"),
    ([0.0, 1.0, 4.0], "label out of range for 4 classes (0..3): 4 at index 2 of the labels Tensor of shape (3,)"),
    ([-1.0, 1.0, 2.0], "label out of range for 4 classes (0..3): -1 at index 0 of the labels Tensor of shape (3,)"),
    ([0.0, 1e20, 2.0], "label out of range for 4 classes (0..3): 1e+20 at index 1 of the labels Tensor of shape (3,)"),
])
def test_tensor_labels_that_are_not_whole_numbers_in_range_are_refused_naming_value_index_and_shape(labels, message):
    with pytest.raises(ValueError, match=re.escape(f"softmax_cross_entropy: {message}")):
        autograd.softmax_cross_entropy(Tensor(np.zeros((3, 4))), Tensor(labels))


def test_a_scalar_tensor_label_out_of_range_names_the_value():
    with pytest.raises(ValueError, match=re.escape(
            "softmax_cross_entropy: label out of range for 3 classes (0..2): 3 of the labels Tensor of shape ()")):
        autograd.softmax_cross_entropy(Tensor([1.0, 2.0, 3.0]), Tensor(3.0))


def test_integer_labels_out_of_range_name_the_index_and_the_shape():
    with pytest.raises(ValueError, match=re.escape(
            "softmax_cross_entropy: label 7 is out of range for 4 classes (0..3), at index 2 of the labels of shape (3,)")):
        autograd.softmax_cross_entropy(Tensor(np.zeros((3, 4))), np.array([0, 1, 7]))


def test_nn_softmax_with_loss_takes_tensor_labels_as_dezero_and_pytorch_users_pass_them():
    import nn

    logits = Tensor(np.array([[2.0, 1.0, 0.1], [0.0, 3.0, 1.0]]))
    loss = nn.SoftmaxWithLoss()(logits, Tensor([0.0, 1.0]))
    assert loss.item() == pytest.approx(autograd.softmax_cross_entropy(logits, np.array([0, 1])).item(), rel=1e-15)
