"""nn.compat's chapter 6 layers (BatchNormalization, Dropout) and Affine on image batches, against the
book's layer formulas written out below; every backward comes from the recorded graph."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
from _book_reference import BookBatchNorm
from nn import compat


@pytest.fixture
def grad_calls(monkeypatch):
    """Counts nn.compat's calls of autograd.grad: each backward must make one (no formula by hand)."""
    calls = []
    real_grad = autograd.grad
    monkeypatch.setattr(compat.autograd, "grad", lambda *a, **k: calls.append(a[0]) or real_grad(*a, **k))
    return calls


@pytest.mark.parametrize("shape", [(8, 5), (4, 2, 3, 3)])
def test_batch_normalization_equals_the_book_formulas_over_training_steps_and_in_eval(shape, grad_calls):
    rng = np.random.default_rng(0)
    features = int(np.prod(shape[1:]))
    gamma, beta = rng.uniform(0.5, 2.0, features), rng.standard_normal(features)
    ours, book = compat.BatchNormalization(gamma, beta), BookBatchNorm(gamma, beta)
    for step in range(3):
        x, dout = rng.normal(step, 1.0 + step, size=shape), rng.standard_normal(shape)
        np.testing.assert_allclose(ours.forward(x, train_flg=True), book.forward(x), rtol=0, atol=1e-10)
        dx, book_dx = ours.backward(dout), book.backward(dout)
        assert dx.shape == shape
        np.testing.assert_allclose(dx, book_dx, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.dgamma, book.dgamma, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.dbeta, book.dbeta, rtol=0, atol=1e-10)
        for name in ("running_mean", "running_var", "xc", "xn", "std"):
            np.testing.assert_allclose(getattr(ours, name), getattr(book, name), rtol=0, atol=1e-10)
        assert ours.batch_size == shape[0] and ours.input_shape == shape
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours.forward(x, train_flg=False), book.forward(x, train_flg=False),
                               rtol=0, atol=1e-10)
    assert len(grad_calls) == 3


def test_batch_normalization_keeps_given_running_averages_and_does_not_write_into_them():
    running_mean, running_var = np.array([1.0, 2.0]), np.array([4.0, 9.0])
    layer = compat.BatchNormalization(np.ones(2), np.zeros(2), momentum=0.5, running_mean=running_mean,
                                      running_var=running_var)
    out = layer.forward(np.array([[3.0, 5.0]]), train_flg=False)
    np.testing.assert_allclose(out, [[2.0 / np.sqrt(4.0 + 1e-6), 3.0 / np.sqrt(9.0 + 1e-6)]], rtol=1e-15)
    layer.forward(np.array([[3.0, 4.0], [5.0, 6.0]]))
    np.testing.assert_allclose(layer.running_mean, [2.5, 3.5])
    np.testing.assert_array_equal(running_mean, [1.0, 2.0])  # rebound, as the book rebinds it


def test_batch_normalization_gradients_match_central_differences():
    rng = np.random.default_rng(1)
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    layer = compat.BatchNormalization(gamma, beta)
    layer.forward(x)
    dx = layer.backward(dout)
    loss = lambda: float(np.sum(dout * compat.BatchNormalization(gamma, beta).forward(x)))  # noqa: E731
    for array, analytic in ((x, dx), (gamma, layer.dgamma), (beta, layer.dbeta)):
        numeric = autograd.numerical_gradient(lambda _: loss(), array, eps=1e-6)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_batch_normalization_says_which_parameter_does_not_fit():
    layer = compat.BatchNormalization(np.ones(3), np.zeros(8))
    with pytest.raises(ValueError, match=r"BatchNormalization: gamma of shape \(3,\) does not fit an input of "
                                         r"shape \(4, 2, 2, 2\), which has 8 features per sample"):
        layer.forward(np.ones((4, 2, 2, 2)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_draws_the_books_masks_and_backward_passes_dout_through_them(dtype, grad_calls):
    x, dout = np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(dtype), np.ones((2, 3, 4, 4))
    layer = compat.Dropout(0.3)
    np.random.seed(3)
    out = layer.forward(x)
    np.random.seed(3)
    book_mask = np.random.rand(*x.shape) > 0.3  # the book's Dropout.forward with train_flg=True
    np.testing.assert_array_equal(layer.mask, book_mask)
    np.testing.assert_array_equal(out, x * book_mask)
    assert out.dtype == (x * book_mask).dtype
    np.testing.assert_array_equal(layer.backward(dout), dout * book_mask)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x * (1.0 - 0.3))
    assert len(grad_calls) == 1


def test_affine_flattens_an_image_batch_and_gives_dx_back_in_its_shape(grad_calls):
    rng = np.random.default_rng(4)
    x, W, b = rng.standard_normal((3, 1, 4, 4)), rng.standard_normal((16, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((3, 5))
    layer = compat.Affine(W, b)
    rows = x.reshape(3, -1)
    np.testing.assert_allclose(layer.forward(x), rows @ W + b, rtol=0, atol=1e-12)
    assert layer.original_x_shape == (3, 1, 4, 4) and layer.x.shape == (3, 16)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, (dout @ W.T).reshape(3, 1, 4, 4), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.dW, rows.T @ dout, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.db, dout.sum(axis=0), rtol=0, atol=1e-12)
    assert len(grad_calls) == 1


def test_compat_layers_assembled_as_the_books_extend_net_give_its_gradients(grad_calls):
    """The book's MultiLayerNetExtend loop (layer.forward(x, train_flg), then backward in reverse) on
    nn.compat layers, against the book's formulas (tests/_book_reference.py) with the same dropout draws."""
    from _book_reference import book_extend_gradient

    rng = np.random.default_rng(5)
    sizes, decay = [6, 5, 4, 3], 0.1
    params = {}
    for index in range(1, 4):
        params[f"W{index}"] = rng.standard_normal((sizes[index - 1], sizes[index])) * 0.5
        params[f"b{index}"] = rng.standard_normal(sizes[index]) * 0.1
    for index in (1, 2):
        params[f"gamma{index}"], params[f"beta{index}"] = rng.uniform(0.5, 1.5, sizes[index]), np.zeros(sizes[index])
    layers = {}
    for index in (1, 2):
        layers[f"Affine{index}"] = compat.Affine(params[f"W{index}"], params[f"b{index}"])
        layers[f"BatchNorm{index}"] = compat.BatchNormalization(params[f"gamma{index}"], params[f"beta{index}"])
        layers[f"Activation_function{index}"] = compat.Relu()
        layers[f"Dropout{index}"] = compat.Dropout(0.3)
    layers["Affine3"] = compat.Affine(params["W3"], params["b3"])
    last_layer = compat.SoftmaxWithLoss()
    norms = [BookBatchNorm(params[f"gamma{i}"], params[f"beta{i}"]) for i in (1, 2)]
    x, t = rng.standard_normal((7, 6)), np.eye(3)[rng.integers(0, 3, 7)]

    np.random.seed(6)
    y = x
    for key, layer in layers.items():
        y = layer.forward(y, True) if key.startswith(("BatchNorm", "Dropout")) else layer.forward(y)
    last_layer.forward(y, t)
    dout = last_layer.backward(1)
    for layer in reversed(list(layers.values())):
        dout = layer.backward(dout)
    np.random.seed(6)
    expected = book_extend_gradient(params, x, t, 2, decay, 0.3, norms)
    for index in (1, 2, 3):
        affine = layers[f"Affine{index}"]
        np.testing.assert_allclose(affine.dW + decay * params[f"W{index}"], expected[f"W{index}"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(affine.db, expected[f"b{index}"], rtol=0, atol=1e-10)
    for index in (1, 2):
        np.testing.assert_allclose(layers[f"BatchNorm{index}"].dgamma, expected[f"gamma{index}"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(layers[f"BatchNorm{index}"].dbeta, expected[f"beta{index}"], rtol=0, atol=1e-10)
    assert len(grad_calls) == 10  # one graph question per backward: 3 Affine, 2 each of the others, the loss
