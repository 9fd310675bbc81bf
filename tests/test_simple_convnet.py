"""nn.SimpleConvNet: the book's chapter 7 network on the graph (shapes, gradients, initial weights, files, modes)."""

import numpy as np
import pytest

import autograd
import nn
from nn import SimpleConvNet
from nn.optim import Adam

TINY = {"input_dim": (1, 7, 7), "conv_param": {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        "hidden_size": 5, "output_size": 4}


def tiny_net(**options):
    return SimpleConvNet(**{**TINY, "rng": 0, **options})


def tiny_batch(n=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 7, 7)), rng.integers(0, 4, n)


def test_book_defaults_give_the_book_shapes_names_and_layers():
    net = SimpleConvNet(rng=0)
    assert {key: value.shape for key, value in net.params.items()} == {
        "W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10), "b3": (10,)}
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert [name for name, _ in net.named_parameters()] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert isinstance(net.layers["Conv1"], nn.Conv2d) and isinstance(net.layers["Pool1"], nn.MaxPool2d)
    assert net.layers["Pool1"].kernel_size == net.layers["Pool1"].stride == (2, 2)
    assert net.layers[0] is net.layers["Conv1"]  # the book indexes its layer list: layers[0], [3], [5]
    # params writes through to the arrays the layers compute with
    assert net.params["W1"] is net.layers["Conv1"].weight.data
    assert net.params["W2"] is net.layers["Affine1"].weight.data


def test_predict_loss_and_gradient_have_the_books_shapes_and_types():
    net = tiny_net()
    x, t = tiny_batch()
    assert net.predict(x).shape == (3, 4)
    assert isinstance(net.loss(x, t), float)
    grads = net.gradient(x, t)
    assert list(grads) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for key, grad in grads.items():
        assert grad.shape == net.params[key].shape and grad.dtype == np.float64


def test_padding_and_stride_follow_conv_param():
    net = SimpleConvNet(input_dim=(2, 9, 9), conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 2},
                        hidden_size=6, output_size=3, rng=0)
    # conv: (9 + 2 - 3) // 2 + 1 = 5, pool: 5 // 2 = 2, so W2 has 4 * 2 * 2 rows
    assert net.params["W1"].shape == (4, 2, 3, 3) and net.params["W2"].shape == (16, 6)
    assert net.predict(np.ones((2, 2, 9, 9))).shape == (2, 3)


def test_gradient_matches_numerical_gradient_on_a_tiny_input():
    net = tiny_net(weight_init_std=0.5)
    x, t = tiny_batch()
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    for key in net.params:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-8, err_msg=key)


def test_one_hot_labels_give_the_same_gradient_as_indices():
    net = tiny_net(weight_init_std=0.5)
    x, t = tiny_batch()
    by_index, by_one_hot = net.gradient(x, t), net.gradient(x, np.eye(4)[t])
    for key in by_index:
        np.testing.assert_allclose(by_index[key], by_one_hot[key], rtol=0, atol=1e-15)


def test_rows_are_reshaped_to_images_and_other_shapes_are_refused():
    net = tiny_net()
    x, _ = tiny_batch()
    np.testing.assert_array_equal(net.predict(x.reshape(3, 49)), net.predict(x))
    with pytest.raises(ValueError, match=r"SimpleConvNet: expected images \(N, 1, 7, 7\) or rows \(N, 49\), "
                                         r"got shape \(3, 1, 8, 8\)"):
        net.predict(np.ones((3, 1, 8, 8)))


def test_global_seed_reproduces_the_books_initial_weights():
    np.random.seed(0)
    book = {"W1": 0.01 * np.random.randn(30, 1, 5, 5), "b1": np.zeros(30),
            "W2": 0.01 * np.random.randn(4320, 100), "b2": np.zeros(100),
            "W3": 0.01 * np.random.randn(100, 10), "b3": np.zeros(10)}
    np.random.seed(0)
    net = SimpleConvNet()
    for key, value in book.items():
        np.testing.assert_array_equal(net.params[key], value, err_msg=key)


def test_seeded_networks_start_alike_whatever_the_global_state():
    np.random.seed(1)
    first = tiny_net()
    np.random.seed(2)
    second = tiny_net()
    for key in first.params:
        np.testing.assert_array_equal(first.params[key], second.params[key])
    assert not np.array_equal(tiny_net(rng=1).params["W1"], first.params["W1"])


def test_he_init_scales_each_layer_by_its_fan_in():
    net = SimpleConvNet(weight_init_std="he", rng=0)
    stds = [net.params[key].std() for key in ("W1", "W2", "W3")]
    for std, fan_in in zip(stds, (25, 4320, 100)):
        assert std == pytest.approx(np.sqrt(2 / fan_in), rel=0.15)


def test_save_and_load_round_trip_keeps_weights_and_predictions(tmp_path):
    net = tiny_net()
    x, t = tiny_batch(8)
    optimizer = Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        loss = net.loss_tensor(x, t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.save(tmp_path / "convnet.npz")
    with np.load(tmp_path / "convnet.npz") as saved:
        assert {"W1", "b1", "W2", "b2", "W3", "b3"} <= set(saved.files)
    loaded = tiny_net(rng=5).load(tmp_path / "convnet.npz")
    for key in net.params:
        np.testing.assert_array_equal(loaded.params[key], net.params[key])
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    with pytest.raises(ValueError, match="W1"):
        SimpleConvNet(**{**TINY, "conv_param": {"filter_num": 2, "filter_size": 3, "pad": 1}}).load(
            tmp_path / "convnet.npz")


def test_book_save_params_and_load_params_round_trip(tmp_path):
    net, other = tiny_net(), tiny_net(rng=7)
    net.save_params(tmp_path / "params.npz")
    other.load_params(tmp_path / "params.npz")
    for key in net.params:
        np.testing.assert_array_equal(other.params[key], net.params[key])


def test_train_and_eval_switch_every_layer_and_compute_the_same():
    net = tiny_net()
    x, _ = tiny_batch()
    training = net(x).data
    assert net.eval() is net
    assert not any(module.training for module in net.modules())
    np.testing.assert_array_equal(net(x).data, training)
    np.testing.assert_array_equal(net.predict(x), training)
    net.train()
    assert all(module.training for module in net.modules())


def test_a_few_adam_steps_fit_a_small_batch():
    net = tiny_net(weight_init_std=0.3)
    x, t = tiny_batch(8)
    optimizer = Adam(net.parameters(), lr=0.01)
    first = net.loss(x, t)
    for _ in range(60):
        loss = net.loss_tensor(x, t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert net.loss(x, t) < 0.2 * first
    assert net.accuracy(x, t) == 1.0


def test_accuracy_in_batches_counts_every_image_including_a_partial_last_batch():
    net = tiny_net(weight_init_std=0.5)
    x, t = tiny_batch(10)
    hits = np.argmax(net.predict(x), axis=1) == t
    for batch_size in (1, 3, 10, 100):
        assert net.accuracy(x, t, batch_size=batch_size) == hits.mean()
    assert net.accuracy(x, np.eye(4)[t]) == hits.mean()
    with pytest.raises(ValueError, match="SimpleConvNet.accuracy: batch_size must be a positive int, got 0"):
        net.accuracy(x, t, batch_size=0)
    with pytest.raises(ValueError, match="SimpleConvNet.accuracy: 10 inputs but 9 labels"):
        net.accuracy(x, t[:9])


def test_float32_network_computes_in_float32():
    net = tiny_net(dtype=np.float32)
    x, t = tiny_batch()
    assert all(value.dtype == np.float32 for value in net.params.values())
    assert net.predict(x).dtype == np.float32
    assert all(grad.dtype == np.float32 for grad in net.gradient(x, t).values())


def test_graph_labels_one_module_per_layer():
    net = tiny_net()
    x, t = tiny_batch()
    modules = {node.module for node in autograd.toposort(net.loss_tensor(x, t))}
    assert modules == {"Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2", "SoftmaxWithLoss"}


@pytest.mark.parametrize("options, message", [
    ({"conv_param": {"filter_count": 3}}, r"conv_param has unknown keys \['filter_count'\]"),
    ({"input_dim": (7, 7)}, r"input_dim must be \(C, H, W\) of positive ints, got \(7, 7\)"),
    ({"input_dim": (1, 2, 2)}, r"the filter \(3\) is larger than the padded input side \(2 \+ 2 \* 0\)"),
    ({"input_dim": (1, 3, 3)}, r"the convolution's output \(1, 1\) is too small for the 2x2 pooling"),
])
def test_bad_constructor_arguments_are_named(options, message):
    conv_param = {"filter_num": 2, "filter_size": 3, **options.pop("conv_param", {})}
    with pytest.raises(ValueError, match="SimpleConvNet: " + message):
        SimpleConvNet(conv_param=conv_param, **options)


def test_float_dtype_is_required():
    with pytest.raises(TypeError, match="SimpleConvNet: dtype must be a float dtype, got int64"):
        SimpleConvNet(dtype=np.int64)
