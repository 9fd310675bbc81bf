"""TwoLayerNet and MLP: the seed's interface, gradients against numerical differentiation and the seed's
hand-written layers (`benchmarks.seed_layers`), parameter write-through, dtypes, and no graphs when evaluating."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import nn
from autograd import engine
from benchmarks.seed_layers import SeedTwoLayerNet

KEYS = ("W1", "b1", "W2", "b2")


def batch(n=3, features=12, classes=4, seed=0, one_hot=True):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features))
    labels = rng.integers(0, classes, n)
    return x, (np.eye(classes)[labels] if one_hot else labels)


def net_and_reference(weight_init_std=0.3, seed=0, **kwargs):
    # A larger std than the seed's 0.01 makes the hidden activations and gradients non-trivial.
    net = nn.TwoLayerNet(12, 6, 4, weight_init_std=weight_init_std, rng=seed, **kwargs)
    return net, SeedTwoLayerNet.from_params({key: net.params[key] for key in KEYS})


def test_two_layer_net_has_the_seed_structure():
    net = nn.TwoLayerNet(784, 50, 10, rng=0)
    assert list(net.params) == list(KEYS)
    assert [net.params[key].shape for key in KEYS] == [(784, 50), (50,), (50, 10), (10,)]
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.lastLayer, nn.SoftmaxWithLoss)
    assert [name for name, _ in net.named_parameters()] == list(KEYS)
    assert net.params["W1"] is net.layers["Affine1"].weight.data
    assert net.params["b2"] is net.layers["Affine2"].bias.data


def test_two_layer_net_starts_from_the_seed_draws_of_the_same_generator():
    net, seed_net = nn.TwoLayerNet(20, 5, 3, rng=4), SeedTwoLayerNet(20, 5, 3, rng=4)
    for key in KEYS:
        np.testing.assert_array_equal(net.params[key], seed_net.params[key])


def test_recorded_nodes_carry_the_seed_layer_names():
    net, _ = net_and_reference()
    x, t = batch()
    loss = net.loss_tensor(x, t)
    by_module = {}
    for node in autograd.toposort(loss):
        by_module.setdefault(node.module, []).append(node.op.name)
    assert by_module == {"Affine1": ["matmul", "add"], "Relu1": ["relu"], "Affine2": ["matmul", "add"],
                         "SoftmaxWithLoss": ["softmax_cross_entropy"]}


def test_gradient_agrees_with_numerical_gradient_as_the_seed_checks_it():
    net, _ = net_and_reference()
    x, t = batch(n=3)
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    for key in KEYS:
        assert np.average(np.abs(backprop[key] - numerical[key])) < 1e-7, key


def test_sigmoid_mlp_gradient_agrees_with_central_differences_element_by_element():
    net = nn.MLP([12, 6, 4], activation="sigmoid", weight_init=0.5, rng=1)
    x, t = batch(n=3)
    numerical, backprop = net.numerical_gradient(x, t), net.gradient(x, t)
    for key in KEYS:
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=0, atol=1e-8, err_msg=key)


@pytest.mark.parametrize("one_hot", [True, False])
def test_gradient_equals_the_seed_hand_written_layers_to_1e10(one_hot):
    net, seed_net = net_and_reference()
    x, t = batch(n=5, one_hot=one_hot)
    ours, theirs = net.gradient(x, t), seed_net.gradient(x, t)
    for key in KEYS:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-10, err_msg=key)


def test_training_loop_matches_the_seed_layers_step_for_step():
    net, seed_net = net_and_reference(weight_init_std=0.01)
    rng = np.random.default_rng(5)
    x_train, t_train = batch(n=200, seed=1)
    for _ in range(30):
        mask = rng.choice(200, 20)
        for model in (net, seed_net):
            grad = model.gradient(x_train[mask], t_train[mask])
            for key in KEYS:
                model.params[key] -= 0.5 * grad[key]
    for key in KEYS:
        np.testing.assert_allclose(net.params[key], seed_net.params[key], rtol=0, atol=1e-10, err_msg=key)
    assert net.accuracy(x_train, t_train) == seed_net.accuracy(x_train, t_train)


def test_gradient_returns_fresh_arrays_that_never_accumulate():
    net, _ = net_and_reference()
    x, t = batch()
    first = net.gradient(x, t)
    first_copy = {key: value.copy() for key, value in first.items()}
    for value in first.values():
        value[...] = 99.0  # the caller owns what it got
    second = net.gradient(x, t)
    for key in KEYS:
        np.testing.assert_array_equal(second[key], first_copy[key])
        assert not np.shares_memory(second[key], net.params[key])
    assert all(param.grad is None for param in net.parameters())


def test_in_place_updates_through_params_change_what_the_layers_compute():
    net, _ = net_and_reference()
    x, t = batch()
    before = net.predict(x)
    net.params["b2"] -= np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(net.predict(x), before - [1.0, 0, 0, 0], atol=1e-12)


def test_assigning_a_new_array_to_params_reaches_the_layer_and_checks_the_shape():
    net, _ = net_and_reference(dtype=np.float32)
    layer_array = net.layers["Affine2"].weight.data
    net.params["W2"] = np.ones((6, 4))
    assert net.layers["Affine2"].weight.data is layer_array
    assert layer_array.dtype == np.float32 and np.all(layer_array == 1.0)
    with pytest.raises(ValueError, match=r"params\['W2'\]: a new value of shape \(4, 6\) does not fit the parameter's shape \(6, 4\)"):
        net.params["W2"] = np.ones((4, 6))
    with pytest.raises(KeyError, match="params has no entry 'W3'"):
        net.params["W3"] = np.ones(1)
    with pytest.raises(TypeError, match="cannot remove 'W1'"):
        del net.params["W1"]


def test_float32_stays_float32_through_forward_and_backward():
    net = nn.TwoLayerNet(12, 6, 4, rng=0, dtype=np.float32)
    x, t = batch()
    x32 = x.astype(np.float32)
    assert net.predict(x32).dtype == np.float32
    assert net.loss_tensor(x32, t).dtype == np.float32
    assert {g.dtype for g in net.gradient(x32, t).values()} == {np.dtype(np.float32)}
    assert {g.dtype for g in net.gradient(x, t).values()} == {np.dtype(np.float32)}  # float64 input converted
    assert {g.dtype for g in net.gradient(x32, np.argmax(t, axis=1)).values()} == {np.dtype(np.float32)}


def test_inputs_of_the_network_dtype_are_not_copied():
    net, _ = net_and_reference()
    x, t = batch()
    first_matmul = autograd.toposort(net(x))[0]
    assert first_matmul.op.name == "matmul" and first_matmul.inputs[0].data is x
    x32 = x.astype(np.float32)  # the loader's images into the seed's float64 network: promoted, not copied
    assert net._as_input(x32) is x32
    np.testing.assert_array_equal(net.gradient(x32, t)["W1"], net.gradient(x32.astype(np.float64), t)["W1"])
    assert net._as_input(np.ones((1, 12), np.uint8)).dtype == np.float64


def test_predict_loss_and_accuracy_record_no_graph(monkeypatch):
    made = []
    real_new_tensor = engine._new_tensor

    def counting_new_tensor(cls):
        t = real_new_tensor(cls)
        made.append(t)
        return t

    def recorded():  # engine.apply makes every output through this module global; a recorded one holds its op
        return [t for t in made if t._op is not None]

    monkeypatch.setattr(engine, "_new_tensor", counting_new_tensor)
    net, _ = net_and_reference()
    x, t = batch()
    assert isinstance(net.predict(x), np.ndarray)
    assert isinstance(net.loss(x, t), float)
    assert isinstance(net.accuracy(x, t), float)
    assert recorded() == []
    net.loss_tensor(x, t)
    assert [t.node.op.name for t in recorded()] == ["matmul", "add", "relu", "matmul", "add", "softmax_cross_entropy"]


def test_accuracy_takes_labels_or_one_hot_and_returns_a_float():
    net, seed_net = net_and_reference()
    x, t = batch(n=50)
    accuracy = net.accuracy(x, t)
    assert type(accuracy) is float
    assert accuracy == net.accuracy(x, np.argmax(t, axis=1)) == float(seed_net.accuracy(x, t))


def test_loss_matches_the_seed_up_to_its_1e7_inside_the_log():
    net, seed_net = net_and_reference()
    x, t = batch(n=8)
    assert abs(net.loss(x, t) - float(seed_net.loss(x, t))) < 1e-6


def test_backward_and_an_optimizer_step_follow_the_seed_loop_exactly():
    net, _ = net_and_reference()
    twin, _ = net_and_reference()
    x, t = batch(n=40, seed=2)
    optimizer = nn.optim.SGD(net.parameters(), lr=0.5)
    start = net.loss(x, t)
    for _ in range(10):
        net.zero_grad()
        net.loss_tensor(x, t).backward()
        optimizer.step()
        grad = twin.gradient(x, t)
        for key in KEYS:
            twin.params[key] -= 0.5 * grad[key]
    for key in KEYS:
        np.testing.assert_array_equal(net.params[key], twin.params[key])
    assert net.loss(x, t) < start


def test_mlp_builds_the_seed_style_names_and_shapes():
    mlp = nn.MLP([784, 100, 100, 10], rng=0)
    assert list(mlp.layers) == ["Affine1", "Relu1", "Affine2", "Relu2", "Affine3"]
    assert [(key, mlp.params[key].shape) for key in mlp.params] == [
        ("W1", (784, 100)), ("b1", (100,)), ("W2", (100, 100)), ("b2", (100,)), ("W3", (100, 10)), ("b3", (10,))]
    assert abs(mlp.params["W1"].std() - np.sqrt(2 / 784)) < 2e-3  # He by default for ReLU
    tanh = nn.MLP([5, 3, 2], activation="tanh", rng=0)
    assert list(tanh.layers) == ["Affine1", "Tanh1", "Affine2"]
    assert tanh.predict(np.ones((7, 5))).shape == (7, 2)


def test_mlp_refuses_bad_sizes_and_activations():
    with pytest.raises(ValueError, match=r"sizes must be at least two positive widths, got \[5\]"):
        nn.MLP([5])
    with pytest.raises(ValueError, match="activation 'gelu' is not one of"):
        nn.MLP([5, 2], activation="gelu")


def test_two_layer_net_without_rng_draws_the_books_weights_from_numpys_global_generator():
    np.random.seed(0)
    net = nn.TwoLayerNet(784, 50, 10)
    np.random.seed(0)  # the book's TwoLayerNet.__init__, in its order: W1, b1, W2, b2
    book = {"W1": 0.01 * np.random.randn(784, 50), "b1": np.zeros(50),
            "W2": 0.01 * np.random.randn(50, 10), "b2": np.zeros(10)}
    for key in KEYS:
        np.testing.assert_array_equal(net.params[key], book[key])
    after_net = np.random.rand()
    np.random.seed(0)
    np.random.randn(784 * 50 + 50 * 10)
    assert np.random.rand() == after_net  # the global generator advanced by exactly the book's draws


def test_seeded_networks_ignore_numpys_global_generator():
    np.random.seed(1)
    first = nn.TwoLayerNet(6, 4, 3, rng=5)
    np.random.seed(2)
    second = nn.TwoLayerNet(6, 4, 3, rng=np.random.default_rng(5))
    for key in KEYS:
        np.testing.assert_array_equal(first.params[key], second.params[key])
