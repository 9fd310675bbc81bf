"""nn.compat: the seed's layer interface, with every backward read from the recorded graph."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import autograd
import nn
from nn import compat

SEED_SCRIPTS = Path(__file__).parent / "seed_scripts"


@pytest.fixture
def grad_calls(monkeypatch):
    """Counts the calls of autograd.grad made by nn.compat: every backward must make one."""
    calls = []
    real_grad = autograd.grad

    def counting_grad(*args, **kwargs):
        calls.append(args[0])
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(compat.autograd, "grad", counting_grad)
    return calls


def test_mul_layer_gives_the_seed_apple_numbers(grad_calls):
    mul_apple, mul_tax = compat.MulLayer(), compat.MulLayer()
    price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)
    dapple_price, dtax = mul_tax.backward(1)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert (mul_apple.x, mul_apple.y) == (100, 2)
    assert [round(v, 10) for v in (price, dapple, dapple_num, dtax)] == [220, 2.2, 110, 200]
    assert len(grad_calls) == 2


def test_add_layer_passes_dout_to_both_inputs(grad_calls):
    layer = compat.AddLayer()
    assert layer.forward(200.0, 450.0) == 650.0
    assert layer.backward(1.1) == (1.1, 1.1)
    assert len(grad_calls) == 1


def test_relu_keeps_the_seed_mask_and_zeroes_dout_where_it_is_set(grad_calls):
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    layer = compat.Relu()
    np.testing.assert_array_equal(layer.forward(x), [[1.0, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(layer.mask, [[False, True], [True, False]])
    dout = np.array([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_array_equal(layer.backward(dout), [[5.0, 0.0], [0.0, 8.0]])
    np.testing.assert_array_equal(dout, [[5.0, 6.0], [7.0, 8.0]])  # the seed overwrote it; we do not
    assert len(grad_calls) == 1


def test_sigmoid_backward_is_dout_times_one_minus_out_times_out(grad_calls):
    x = np.array([-3.0, 0.0, 0.7])
    layer = compat.Sigmoid()
    out = layer.forward(x)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-x)), rtol=1e-15)
    assert layer.out is out
    dout = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(layer.backward(dout), dout * (1.0 - out) * out, rtol=1e-15)
    assert len(grad_calls) == 1


def test_affine_backward_is_the_seed_formulas_with_db_5_7_9(grad_calls):
    rng = np.random.default_rng(0)
    W, b, x = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((2, 4))
    layer = compat.Affine(W, b)
    np.testing.assert_allclose(layer.forward(x), np.dot(x, W) + b, rtol=1e-15)
    assert layer.x is x
    dY = np.array([[1, 2, 3], [4, 5, 6]])
    dx = layer.backward(dY)
    np.testing.assert_array_equal(layer.db, [5, 7, 9])
    np.testing.assert_allclose(layer.dW, np.dot(x.T, dY), rtol=1e-15)
    np.testing.assert_allclose(dx, np.dot(dY, W.T), rtol=1e-15)
    assert len(grad_calls) == 1


def test_affine_uses_the_arrays_it_was_given():
    W, b = np.ones((2, 2)), np.zeros(2)
    layer = compat.Affine(W, b)
    assert layer.W is W and layer.b is b
    W -= 1.0  # the seed's in-place update of params['W1'] reaches the layer
    b += 3.0
    np.testing.assert_array_equal(layer.forward(np.ones((1, 2))), [[3.0, 3.0]])


def test_softmax_with_loss_keeps_loss_y_t_and_backward_is_y_minus_t_over_n(grad_calls):
    x = np.array([[0.3, 2.9, 4.0], [1.0, -1.0, 0.0]])
    t = np.array([[0, 0, 1], [1, 0, 0]])
    layer = compat.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(layer.y, y, rtol=1e-15)
    assert layer.t is t and layer.loss == loss
    np.testing.assert_allclose(loss, -np.sum(t * np.log(y)) / 2, rtol=1e-14)
    np.testing.assert_allclose(layer.backward(), (y - t) / 2, rtol=1e-14, atol=1e-17)
    layer.forward(x, np.array([2, 0]))  # labels work too
    np.testing.assert_allclose(layer.backward(1), (y - t) / 2, rtol=1e-14, atol=1e-17)
    assert len(grad_calls) == 2


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="Affine.backward: call forward first"):
        compat.Affine(np.ones((1, 1)), np.zeros(1)).backward(np.ones((1, 1)))


def test_the_seed_two_layer_net_on_compat_layers_matches_nn_two_layer_net():
    SeedNet = runpy.run_path(str(SEED_SCRIPTS / "two_layer_net.py"))["TwoLayerNet"]
    seed_net = SeedNet(12, 6, 4)
    net = nn.TwoLayerNet(12, 6, 4, weight_init_std=0.3, rng=0)
    for key in ("W1", "b1", "W2", "b2"):
        seed_net.params[key][...] = net.params[key]  # in place: the layers share these arrays
    rng = np.random.default_rng(1)
    x, t = rng.random((3, 12)), np.eye(4)[[0, 3, 1]]
    ours, theirs = net.gradient(x, t), seed_net.gradient(x, t)
    numerical = seed_net.numerical_gradient(x, t)
    for key in ours:
        np.testing.assert_allclose(theirs[key], ours[key], rtol=0, atol=1e-14, err_msg=key)
        assert np.average(np.abs(theirs[key] - numerical[key])) < 1e-7
    assert seed_net.accuracy(x, t) == net.accuracy(x, t)


def test_a_compat_layer_runs_backward_twice_after_one_forward_as_the_books_layers_do():
    # Found this session (adversarial hunt): the second backward raised "may have been changed in place",
    # which cannot happen to the private snapshots compat layers record on; the book allows it.
    layer = compat.Affine(np.ones((3, 2)), np.zeros(2))
    layer.forward(np.ones((4, 3)))
    first = layer.backward(np.ones((4, 2)))
    second = layer.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(first, second)
    relu = compat.Relu()
    relu.forward(np.array([-1.0, 2.0]))
    relu.backward(np.ones(2))
    np.testing.assert_array_equal(relu.backward(np.ones(2)), [0.0, 1.0])
