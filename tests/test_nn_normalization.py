"""BatchNorm1d/2d, Dropout, Flatten, Linear on images, and train()/eval(): values, gradients, modes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import nn


def _batchnorm_reference(x, gamma, beta, axes, eps=10e-7):
    """Batch normalization over ``axes`` in NumPy: the formulas of the book's layer (its 10e-7 too)."""
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = np.mean(xc ** 2, axis=axes, keepdims=True)
    return gamma * (xc / np.sqrt(var + eps)) + beta, mu, var


def test_batchnorm1d_train_mode_normalizes_with_batch_statistics_and_updates_running_averages():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(6, 4))
    bn = nn.BatchNorm1d(4)
    bn.weight.data[...] = [1.0, 2.0, 0.5, -1.0]
    bn.bias.data[...] = [0.0, 1.0, -1.0, 3.0]
    expected, mu, var = _batchnorm_reference(x, bn.weight.data, bn.bias.data, axes=0)
    np.testing.assert_allclose(bn(x).data, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mu.ravel(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * var.ravel(), rtol=0, atol=1e-15)


def test_batchnorm1d_eval_mode_uses_the_running_averages_and_leaves_them_alone():
    bn = nn.BatchNorm1d(2).eval()
    bn.running_mean, bn.running_var = np.array([1.0, -1.0]), np.array([4.0, 0.25])
    y = bn(np.array([[3.0, 0.0]]))
    np.testing.assert_allclose(y.data, [[2.0 / np.sqrt(4.0 + 1e-6), 1.0 / np.sqrt(0.25 + 1e-6)]], rtol=1e-15)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -1.0])


def test_batchnorm2d_normalizes_each_channel_over_batch_and_space():
    x = np.random.default_rng(1).normal(-2.0, 3.0, size=(3, 2, 4, 5))
    bn = nn.BatchNorm2d(2)
    bn.weight.data[...] = [2.0, 0.5]
    bn.bias.data[...] = [1.0, -1.0]
    gamma, beta = bn.weight.data.reshape(1, 2, 1, 1), bn.bias.data.reshape(1, 2, 1, 1)
    expected, mu, _ = _batchnorm_reference(x, gamma, beta, axes=(0, 2, 3))
    np.testing.assert_allclose(bn(x).data, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mu.ravel(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d(3), (5, 3)), (nn.BatchNorm2d(2), (2, 2, 3, 3))])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_input_gradient_matches_central_differences(layer, shape, training):
    layer.train(training)
    layer.weight.data[...] = np.linspace(0.5, 2.0, layer.num_features)
    layer.bias.data[...] = np.linspace(-1.0, 1.0, layer.num_features)
    x = np.random.default_rng(2).standard_normal(shape)
    assert autograd.gradcheck(lambda x: layer(x), x, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d(3), (5, 3)), (nn.BatchNorm2d(2), (2, 2, 3, 3))])
def test_batchnorm_parameter_gradients_match_central_differences(layer, shape):
    rng = np.random.default_rng(3)
    x, weights = rng.standard_normal(shape), rng.standard_normal(shape)
    layer.weight.data[...] = np.linspace(0.5, 2.0, layer.num_features)
    loss = lambda: float(np.sum(weights * layer(x).data))  # noqa: E731
    (layer(x) * weights).sum().backward()
    for param in (layer.weight, layer.bias):
        numeric = autograd.numerical_gradient(lambda _: loss(), param, eps=1e-6)
        np.testing.assert_allclose(param.grad, numeric, rtol=1e-6, atol=1e-8)


def test_batchnorm_float32_stays_float32():
    bn = nn.BatchNorm2d(2, dtype=np.float32)
    y = bn(np.ones((2, 2, 3, 3), dtype=np.float32))
    assert y.dtype == np.float32 and bn.running_mean.dtype == bn.running_var.dtype == np.float32


def test_batchnorm_errors_name_the_layer_shapes_and_values():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected inputs \(N, D\) with 3 features in dimension 1, "
                                         r"got shape \(4, 2\)"):
        nn.BatchNorm1d(3)(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected inputs \(N, C, H, W\) with 2 channels in "
                                         r"dimension 1, got shape \(4, 2\)"):
        nn.BatchNorm2d(2)(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"BatchNorm1d: num_features must be a positive int, got 0"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: momentum must be in \[0, 1\], got 1.5"):
        nn.BatchNorm2d(2, momentum=1.5)
    with pytest.raises(ValueError, match=r"BatchNorm1d: eps must be a finite number >= 0, got -1"):
        nn.BatchNorm1d(2, eps=-1)
    with pytest.raises(TypeError, match=r"BatchNorm1d: eps must be a real number, got str '1'"):
        nn.BatchNorm1d(2, eps="1")


def test_dropout_train_mode_masks_and_scales_and_its_gradient_is_the_same_mask():
    drop = nn.Dropout(0.25, rng=4)
    x = autograd.Tensor(np.random.default_rng(5).standard_normal((50, 40)))
    y = drop(x)
    expected_mask = np.random.default_rng(4).random((50, 40)) > 0.25
    np.testing.assert_array_equal(drop.mask, expected_mask)
    np.testing.assert_allclose(y.data, x.data * expected_mask / 0.75, rtol=1e-15)
    y.backward(np.ones((50, 40)))
    np.testing.assert_allclose(x.grad, expected_mask / 0.75, rtol=1e-15)
    assert 0.70 < expected_mask.mean() < 0.80


def test_dropout_book_form_scales_in_eval_mode_and_draws_from_numpys_global_generator():
    drop = nn.Dropout(0.3, inverted=False)
    x = np.random.default_rng(6).standard_normal((4, 5))
    np.random.seed(7)
    y = drop(x)
    np.random.seed(7)
    book_mask = np.random.rand(*x.shape) > 0.3  # the book's Dropout.forward(x, train_flg=True)
    np.testing.assert_array_equal(y.data, x * book_mask)
    np.testing.assert_array_equal(drop.eval()(x).data, x * (1.0 - 0.3))


def test_dropout_eval_mode_is_the_identity_and_p_edges_work():
    x = np.ones((3, 3))
    assert nn.Dropout(0.5).eval()(x) is x
    np.testing.assert_array_equal(nn.Dropout(0.0, rng=0)(x).data, x)
    np.testing.assert_array_equal(nn.Dropout(1.0, rng=0)(x).data, np.zeros((3, 3)))
    assert nn.Dropout(0.5, rng=0)(np.ones(4, dtype=np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match=r"Dropout: p must be a real number, got str '0.5'"):
        nn.Dropout("0.5")


def test_train_and_eval_propagate_to_every_submodule():
    net = nn.Sequential(nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3), nn.ReLU(), nn.Dropout(0.5))
    assert all(module.training for module in net.modules())
    assert net.eval() is net
    assert [module.training for module in net.modules()] == [False] * 5
    x = np.random.default_rng(0).standard_normal((6, 4))
    np.testing.assert_array_equal(net(x).data, net(x).data)  # deterministic in eval mode
    net.train()
    assert all(module.training for module in net.modules())
    with pytest.raises(TypeError, match=r"Sequential.train: mode must be a bool, got str 'no'"):
        net.train("no")


def test_flatten_and_linear_take_image_batches_and_give_back_their_shape_in_the_gradient():
    x = autograd.Tensor(np.random.default_rng(8).standard_normal((2, 1, 3, 3)))
    layer = nn.Linear(9, 4, rng=0)
    y = layer(x)
    np.testing.assert_allclose(y.data, x.data.reshape(2, 9) @ layer.weight.data, rtol=1e-15)
    y.backward(np.ones((2, 4)))
    assert x.grad.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(x.grad, (np.ones((2, 4)) @ layer.weight.data.T).reshape(2, 1, 3, 3), rtol=1e-15)
    assert nn.Flatten()(x).shape == (2, 9)
    with pytest.raises(ValueError, match=r"Linear: an input of shape \(2, 1, 3, 3\) flattens to 9 features per "
                                         r"sample, expected 8"):
        nn.Linear(8, 4, rng=0)(x)
