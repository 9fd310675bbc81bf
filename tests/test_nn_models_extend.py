"""MLP's batchnorm / dropout / weight decay options and the book's MultiLayerNetExtend: the book's weights,
gradients (against its hand-written layers and central differences), loss with the weight decay term, modes."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import nn
from _book_reference import BookBatchNorm, book_extend_gradient

SIZES = (6, [5, 4], 3)


def batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    return rng.standard_normal((n, 6)), np.eye(3)[labels]


def book_initial_params(input_size, hidden_size_list, output_size, use_batchnorm):
    """The book's __init_weight for weight_init_std='relu', drawn from NumPy's global generator, then gamma/beta."""
    sizes = [input_size, *hidden_size_list, output_size]
    params = {}
    for index in range(1, len(sizes)):
        params[f"W{index}"] = np.sqrt(2.0 / sizes[index - 1]) * np.random.randn(sizes[index - 1], sizes[index])
        params[f"b{index}"] = np.zeros(sizes[index])
    if use_batchnorm:
        for index, size in enumerate(hidden_size_list, start=1):
            params[f"gamma{index}"], params[f"beta{index}"] = np.ones(size), np.zeros(size)
    return params


@pytest.mark.parametrize("use_batchnorm, use_dropout", [(False, False), (True, False), (False, True), (True, True)])
def test_extend_net_starts_from_the_books_weights_and_its_gradients_are_the_books(use_batchnorm, use_dropout):
    np.random.seed(0)
    net = nn.MultiLayerNetExtend(*SIZES, weight_decay_lambda=0.1, use_dropout=use_dropout, dropout_ration=0.3,
                                 use_batchnorm=use_batchnorm)
    np.random.seed(0)
    book = book_initial_params(*SIZES, use_batchnorm)
    assert list(net.params) == list(book)
    for key in book:
        np.testing.assert_array_equal(net.params[key], book[key])
    norms = [BookBatchNorm(book[f"gamma{i}"], book[f"beta{i}"]) for i in (1, 2)] if use_batchnorm else None
    for step in range(2):
        x, t = batch(seed=step)
        np.random.seed(10 + step)
        grads = net.gradient(x, t)
        np.random.seed(10 + step)
        expected = book_extend_gradient(book, x, t, 2, 0.1, 0.3 if use_dropout else None, norms)
        assert sorted(grads) == sorted(expected)
        for key in expected:
            np.testing.assert_allclose(grads[key], expected[key], rtol=0, atol=1e-10, err_msg=key)
    if use_batchnorm:
        for index, norm in enumerate(norms, start=1):
            layer = net.layers[f"BatchNorm{index}"]
            np.testing.assert_allclose(layer.running_mean, norm.running_mean, rtol=0, atol=1e-12)
            np.testing.assert_allclose(layer.running_var, norm.running_var, rtol=0, atol=1e-12)


def test_loss_adds_the_books_half_lambda_sum_of_squared_weights():
    net = nn.MultiLayerNetExtend(*SIZES, weight_decay_lambda=0.25, rng=1)
    plain = nn.MultiLayerNetExtend(*SIZES, rng=1)
    x, t = batch()
    term = sum(0.5 * 0.25 * np.sum(net.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert net.loss(x, t) == pytest.approx(plain.loss(x, t) + term, rel=1e-14)
    grads, plain_grads = net.gradient(x, t), plain.gradient(x, t)
    for key in plain_grads:
        decay = 0.25 * net.params[key] if key.startswith("W") else 0.0
        np.testing.assert_allclose(grads[key], plain_grads[key] + decay, rtol=0, atol=1e-14)


def test_mlp_options_pass_a_central_difference_check_in_training_mode():
    net = nn.MLP([6, 5, 3], activation="tanh", rng=2, batchnorm=True, weight_decay=0.05)
    x, t = batch(n=5)
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_predict_evaluates_and_restores_the_modes_and_calling_follows_the_networks_mode():
    net = nn.MLP([6, 5, 3], rng=3, batchnorm=True, dropout=0.5)
    x, _ = batch()
    first = net.predict(x)
    np.testing.assert_array_equal(net.predict(x), first)  # eval: no dropout, running statistics
    assert all(module.training for module in net.modules())
    assert not np.array_equal(net.predict(x, train_flg=True), first)  # which also moves the running averages
    evaluated = net.predict(x)
    net.eval()
    np.testing.assert_array_equal(net(x).data, evaluated)
    net.gradient(x, batch()[1])  # in training mode, as the book's gradient
    assert not any(module.training for module in net.modules())


def test_mlp_dropout_draws_from_its_seeded_generator():
    x, t = batch()
    grads = [nn.MLP([6, 5, 3], rng=4, dropout=0.5).gradient(x, t)["W1"] for _ in range(2)]
    np.testing.assert_array_equal(grads[0], grads[1])


def test_extend_net_has_the_books_attributes_and_mlp_checks_weight_decay():
    net = nn.MultiLayerNetExtend(784, [100, 100], 10, use_batchnorm=True, rng=0)
    assert (net.input_size, net.hidden_size_list, net.output_size, net.hidden_layer_num) == (784, [100, 100], 10, 2)
    assert net.last_layer is net.lastLayer and net.weight_decay_lambda == 0
    np.testing.assert_array_equal(net.layers["BatchNorm1"].running_var, np.zeros(100))  # the book starts at 0
    with pytest.raises(ValueError, match=r"MLP: weight_decay must be a finite number >= 0, got -1"):
        nn.MLP([2, 2], weight_decay=-1)
    assert autograd.is_grad_enabled()


def test_mlp_weight_decay_must_be_a_number():
    with pytest.raises(TypeError, match=r"MLP: weight_decay must be a real number, got str '0.1'"):
        nn.MLP([2, 2], weight_decay="0.1")
