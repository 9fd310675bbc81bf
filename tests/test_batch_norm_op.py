"""The ``batch_norm`` op (`autograd.batch_norm`): values and gradients in float32 and float64 against the book's
formulas, BatchNorm2d's axes (0, 2, 3), a batch of one, the batch statistics it returns, both VJP paths
(plain and create_graph) agreeing, and its errors. The op test matrix (``op_specs.py``) checks the rest."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import nn
from autograd import Tensor, grad, ops
from _book_reference import BookBatchNorm


def _inputs(shape, features, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.5, 2.0, size=shape)
    gamma, beta = rng.uniform(0.5, 2.0, features), rng.standard_normal(features)
    return [a.astype(dtype) for a in (x, gamma, beta)], rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_batch_norm_forward_and_gradients_equal_the_books_formulas_in_float64_and_float32(dtype, tolerance):
    (x, gamma, beta), dout = _inputs((8, 5), 5, dtype)
    book = BookBatchNorm(gamma.astype(np.float64), beta.astype(np.float64))
    expected = book.forward(x.astype(np.float64))
    book_dx = book.backward(dout.astype(np.float64))
    tensors = [Tensor(a) for a in (x, gamma, beta)]
    out = autograd.batch_norm(*tensors, eps=1e-6)
    out.backward(dout)
    assert out.dtype == dtype and all(t.grad.dtype == dtype for t in tensors)
    for got, want in ((out.data, expected), (tensors[0].grad, book_dx), (tensors[1].grad, book.dgamma),
                      (tensors[2].grad, book.dbeta)):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


def test_batch_norm_over_axes_0_2_3_equals_the_books_formulas_on_each_channels_pixels():
    # BatchNorm2d's statistic per channel over (N, H, W) is the book's per-feature statistic of the rows (N*H*W, C).
    (x, gamma, beta), dout = _inputs((3, 4, 5, 2), 4, seed=1)
    rows = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, 4)  # noqa: E731
    book = BookBatchNorm(gamma, beta)
    expected = book.forward(rows(x))
    book_dx = book.backward(rows(dout))
    tensors = [Tensor(a) for a in (x, gamma, beta)]
    out = autograd.batch_norm(*tensors, axes=(0, 2, 3), eps=1e-6)
    out.backward(dout)
    np.testing.assert_allclose(rows(out.data), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rows(tensors[0].grad), book_dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tensors[1].grad, book.dgamma, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tensors[2].grad, book.dbeta, rtol=0, atol=1e-12)
    assert autograd.gradcheck(lambda *a: autograd.batch_norm(*a, axes=(0, 2, 3)), x, gamma, beta)


@pytest.mark.parametrize("shape, axes, features", [((1, 3), (0,), 3), ((1, 2, 1, 1), (0, 2, 3), 2)])
def test_a_batch_of_one_gives_beta_and_a_zero_input_gradient_kept_finite_by_eps(shape, axes, features):
    (x, gamma, beta), dout = _inputs(shape, features, seed=2)
    tensors = [Tensor(a) for a in (x, gamma, beta)]
    out = autograd.batch_norm(*tensors, axes=axes)  # the variance is 0: 0 / sqrt(0 + eps)
    out.backward(dout)
    np.testing.assert_array_equal(out.data, np.broadcast_to(beta.reshape((1, features) + (1,) * (len(shape) - 2)),
                                                            shape))
    np.testing.assert_array_equal(tensors[0].grad, np.zeros(shape))
    np.testing.assert_array_equal(tensors[1].grad, np.zeros(features))
    np.testing.assert_allclose(tensors[2].grad, dout.sum(axis=axes), rtol=1e-15)
    again = [Tensor(a) for a in (x, gamma, beta)]
    recorded = grad(autograd.batch_norm(*again, axes=axes), again, grad_outputs=dout, create_graph=True)
    np.testing.assert_array_equal(recorded[0].data, np.zeros(shape))
    np.testing.assert_array_equal(recorded[1].data, np.zeros(features))
    with np.errstate(divide="ignore", invalid="ignore"):  # without eps: 0 / 0, as NumPy gives
        assert np.isnan(autograd.batch_norm(x, gamma, beta, axes=axes, eps=0.0).data).all()


@pytest.mark.parametrize("shape, axes", [((6, 3), (0,)), ((3, 2, 4, 4), (0, 2, 3)), ((4, 3, 2), (0, -1))])
def test_create_graph_gradients_equal_the_plain_passes(shape, axes):
    features = tuple(n for i, n in enumerate(shape) if i not in {a % len(shape) for a in axes})
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(shape), rng.uniform(0.5, 2.0, features), rng.standard_normal(features)]
    dout = rng.standard_normal(shape)
    tensors = [Tensor(a) for a in arrays]
    plain = grad(autograd.batch_norm(*tensors, axes=axes), tensors, grad_outputs=dout)
    recorded = grad(autograd.batch_norm(*tensors, axes=axes), tensors, grad_outputs=dout, create_graph=True)
    assert recorded[0].requires_grad and recorded[1].requires_grad  # dbeta = sum(g) depends on no input
    for p, r in zip(plain, recorded):
        np.testing.assert_allclose(p.data, r.data, rtol=1e-12, atol=1e-13)


def test_mixed_dtypes_give_each_input_a_gradient_of_its_own_dtype():
    (x, gamma, beta), dout = _inputs((5, 3), 3, seed=4)
    x32, gamma64, beta32 = Tensor(x.astype(np.float32)), Tensor(gamma), Tensor(beta.astype(np.float32))
    out = autograd.batch_norm(x32, gamma64, beta32)
    assert out.dtype == np.float64
    out.backward(dout)
    assert (x32.grad.dtype, gamma64.grad.dtype, beta32.grad.dtype) == (np.float32, np.float64, np.float32)
    x64 = Tensor(x.astype(np.float32).astype(np.float64))
    autograd.batch_norm(x64, Tensor(gamma), Tensor(beta.astype(np.float32).astype(np.float64))).backward(dout)
    np.testing.assert_allclose(x32.grad, x64.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "no_grad"])
def test_statistics_are_the_batch_mean_and_biased_variance_recorded_or_not(recorded):
    x = np.random.default_rng(5).normal(3.0, 2.0, size=(4, 3, 2, 2))
    with autograd.enable_grad() if recorded else autograd.no_grad():
        out, mean, var = autograd.batch_norm(Tensor(x), Tensor(np.ones(3)), Tensor(np.zeros(3)), axes=(0, 2, 3),
                                             statistics=True)
    assert (out.node is not None) == recorded
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-14)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3)), rtol=1e-14)
    assert mean.shape == var.shape == (3,)


def test_statistics_of_an_integer_input_take_the_parameters_dtype_as_the_op_does():
    out, mean, var = autograd.batch_norm(np.array([[1, 10], [3, 30]]), Tensor(np.ones(2, np.float32)),
                                         Tensor(np.zeros(2, np.float32)), statistics=True)
    assert out.dtype == mean.dtype == var.dtype == np.float32
    np.testing.assert_array_equal(mean, [2.0, 20.0])
    np.testing.assert_array_equal(var, [1.0, 100.0])


def test_an_empty_batch_gives_nan_statistics_without_a_warning():
    x = Tensor(np.zeros((0, 3)))
    with np.errstate(all="raise"):
        out, mean, var = autograd.batch_norm(x, Tensor(np.ones(3)), Tensor(np.zeros(3)), statistics=True)
        out.backward(np.zeros((0, 3)))
    assert out.shape == x.grad.shape == (0, 3)
    assert np.isnan(mean).all() and np.isnan(var).all()


def test_batchnorm_layers_record_one_batch_norm_node_in_training_mode():
    for layer, shape in ((nn.BatchNorm1d(3), (4, 3)), (nn.BatchNorm2d(2), (2, 2, 3, 3))):
        x = Tensor(np.random.default_rng(6).standard_normal(shape))
        out = layer(x)
        assert out.node.op is ops.BATCH_NORM and out.node.inputs[0] is x
        assert [t.name for t in out.node.inputs[1:]] == ["gamma", "beta"]


def test_batch_norm_holds_its_input_read_only_until_backward():
    x = Tensor(np.random.default_rng(7).standard_normal((4, 3)))
    out = autograd.batch_norm(x, Tensor(np.ones(3)), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="read-only"):
        x.data[0, 0] = 5.0
    out.backward(np.ones((4, 3)))
    x.data[0, 0] = 5.0


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(gamma=np.ones(4)), ValueError,
     r"batch_norm: gamma \(4,\) and beta \(3,\) must have the shape \(3,\) of x \(2, 3\) without the axes \(0,\)"),
    (dict(axes=(0, 1)), ValueError,
     r"batch_norm: gamma \(3,\) and beta \(3,\) must have the shape \(\) of x \(2, 3\) without the axes \(0, 1\)"),
    (dict(axes=2), ValueError, r"batch_norm: axis 2 is out of range for an input of 2 dimensions"),
    (dict(axes=()), ValueError, r"batch_norm: axes must name at least one axis, got \(\)"),
    (dict(axes=(0, -2)), ValueError, r"batch_norm: axes \(0, -2\) repeat an axis"),
    (dict(axes=0.5), TypeError, r"batch_norm: axes must be an int or a tuple of ints, got 0.5"),
    (dict(eps=-1e-5), ValueError, r"batch_norm: eps must be a finite number >= 0, got -1e-05"),
    (dict(eps="1e-5"), TypeError, r"batch_norm: eps must be a real number, got str '1e-5'"),
])
def test_batch_norm_errors_name_the_shapes_axes_and_values(kwargs, error, message):
    arguments = dict(x=np.ones((2, 3)), gamma=np.ones(3), beta=np.zeros(3), axes=(0,), eps=1e-5)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        autograd.batch_norm(Tensor(arguments.pop("x")), **arguments)
