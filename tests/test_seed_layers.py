"""The hand-written reference in benchmarks.seed_layers computes the seed's numbers and correct gradients."""

import doctest

import numpy as np
import pytest

from benchmarks import seed_layers
from benchmarks.seed_layers import Affine, Relu, SeedTwoLayerNet, Sigmoid, SoftmaxWithLoss, cross_entropy_error


def tiny_batch(rng, n=4, d=5, classes=3):
    return rng.normal(size=(n, d)), np.eye(classes)[rng.integers(0, classes, n)]


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_gradient_agrees_with_its_own_numerical_gradient(activation):
    rng = np.random.default_rng(0)
    net = SeedTwoLayerNet(5, 4, 3, weight_init_std=0.5, rng=rng, activation=activation)
    x, t = tiny_batch(rng)
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    for key in ("W1", "b1", "W2", "b2"):
        assert backprop[key].shape == net.params[key].shape
        # The book's + 1e-7 inside the loss's log perturbs the numerical side by about 1e-7 / y.
        np.testing.assert_allclose(backprop[key], numerical[key], atol=1e-6, err_msg=key)


def test_affine_db_sums_dout_over_the_batch_as_in_the_seed():
    affine = Affine(np.zeros((2, 3)), np.zeros(3))
    affine.forward(np.ones((2, 2)))
    affine.backward(np.array([[1, 2, 3], [4, 5, 6]]))
    assert np.array_equal(affine.db, [5, 7, 9])


def test_affine_backward_uses_the_seed_formulas():
    rng = np.random.default_rng(1)
    W, b, x, dout = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    affine = Affine(W, b)
    assert np.array_equal(affine.forward(x), np.dot(x, W) + b)
    dx = affine.backward(dout)
    assert np.array_equal(dx, dout @ W.T) and np.array_equal(affine.dW, x.T @ dout)


def test_relu_mask_is_x_le_0_and_sigmoid_derivative_is_y_times_1_minus_y():
    relu = Relu()
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    relu.forward(x)
    assert np.array_equal(relu.mask, [[False, True], [True, False]])
    assert np.array_equal(relu.backward(np.ones((2, 2))), [[1, 0], [0, 1]])
    sigmoid = Sigmoid()
    y = sigmoid.forward(np.array([-1.0, 0.0, 2.0]))
    assert np.array_equal(sigmoid.backward(np.ones(3)), y * (1 - y))


def test_softmax_with_loss_backward_is_y_minus_t_over_batch_for_one_hot_and_labels():
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    one_hot, by_label = SoftmaxWithLoss(), SoftmaxWithLoss()
    loss = one_hot.forward(logits, np.eye(3)[labels])
    assert by_label.forward(logits, labels) == loss
    assert loss == pytest.approx(cross_entropy_error(one_hot.y, labels))
    expected = (one_hot.y - np.eye(3)[labels]) / 4
    np.testing.assert_allclose(one_hot.backward(), expected, rtol=1e-15)
    np.testing.assert_allclose(by_label.backward(), expected, rtol=1e-15)


def test_params_are_the_arrays_the_layers_use():
    net = SeedTwoLayerNet(3, 2, 2, rng=0)
    assert net.layers["Affine1"].W is net.params["W1"] and net.layers["Affine2"].b is net.params["b2"]
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    x, t = np.ones((1, 3)), np.array([1])
    before = net.loss(x, t)
    net.params["b2"] -= np.array([1.0, -1.0])  # the seed's in-place update moves the layer's bias
    assert net.loss(x, t) < before


def test_from_params_copies_the_given_weights_and_seeded_nets_repeat():
    start = SeedTwoLayerNet(6, 4, 3, rng=7)
    assert all(np.array_equal(start.params[k], SeedTwoLayerNet(6, 4, 3, rng=7).params[k]) for k in start.params)
    copy = SeedTwoLayerNet.from_params(start.params)
    copy.params["W1"] += 1.0
    assert not np.array_equal(copy.params["W1"], start.params["W1"])
    as_f32 = SeedTwoLayerNet.from_params(start.params, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in as_f32.params.values())
    assert SeedTwoLayerNet(6, 4, 3, rng=0, dtype=np.float32).gradient(np.ones((2, 6), np.float32),
                                                                      np.array([0, 1]))["W1"].dtype == np.float32


def test_from_params_and_activation_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"from_params: missing \['b2'\]"):
        SeedTwoLayerNet.from_params({"W1": np.ones((2, 3)), "b1": np.ones(3), "W2": np.ones((3, 1))})
    bad = {"W1": np.ones((2, 3)), "b1": np.ones(4), "W2": np.ones((3, 1)), "b2": np.ones(1)}
    with pytest.raises(ValueError, match=r"shapes do not chain .* W1 \(2, 3\), b1 \(4,\)"):
        SeedTwoLayerNet.from_params(bad)
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'sigmoid'\], got 'tanh'"):
        SeedTwoLayerNet(2, 2, 2, activation="tanh")


def test_docstring_examples_run():
    result = doctest.testmod(seed_layers, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
