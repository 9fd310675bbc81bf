"""`nn.Conv2d`, `nn.MaxPool2d`, `nn.AvgPool2d`: what they compute, their parameters and labels, errors."""

import re

import numpy as np
import pytest

import autograd
import nn
from autograd import Tensor


def test_conv2d_layer_computes_autograd_conv2d_with_its_parameters():
    conv = nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    out = conv(x)
    want = autograd.conv2d(x, conv.weight.data, conv.bias.data, stride=2, pad=1)
    np.testing.assert_array_equal(out.data, want.data)
    assert out.node.module == "Conv2d"
    out.sum().backward()
    assert conv.weight.grad.shape == (4, 3, 3, 2) and conv.bias.grad.shape == (4,)
    np.testing.assert_allclose(conv.bias.grad, np.full(4, out.shape[0] * out.shape[2] * out.shape[3]))


@pytest.mark.parametrize("weight_init, std", [(0.01, 0.01), ("he", np.sqrt(2 / 75)), ("xavier", np.sqrt(1 / 75))])
def test_conv2d_weights_use_in_channels_times_kernel_area_as_fan_in(weight_init, std):
    conv = nn.Conv2d(3, 200, 5, weight_init=weight_init, rng=0)
    assert conv.weight.shape == (200, 3, 5, 5)
    assert abs(conv.weight.data.std() / std - 1) < 0.03
    np.testing.assert_array_equal(conv.bias.data, np.zeros(200))


def test_conv2d_with_the_same_seed_starts_from_the_same_weights_in_float32_and_float64():
    a, b = nn.Conv2d(1, 2, 3, rng=7), nn.Conv2d(1, 2, 3, rng=7, dtype=np.float32)
    assert b.weight.dtype == np.float32 and b(np.ones((1, 1, 4, 4), np.float32)).dtype == np.float32
    np.testing.assert_allclose(a.weight.data, b.weight.data, rtol=1e-6)


def test_pool_layers_compute_the_functional_forms_and_default_the_stride_to_the_kernel():
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 7))
    for layer, function in ((nn.MaxPool2d(3, padding=1), autograd.max_pool2d),
                            (nn.AvgPool2d((2, 3), stride=(1, 2)), autograd.avg_pool2d)):
        out = layer(Tensor(x))
        np.testing.assert_array_equal(out.data, function(x, layer.kernel_size, layer.stride, layer.padding).data)
        assert out.node.module == type(layer).__name__
    assert nn.MaxPool2d(2).stride == (2, 2)


def test_a_small_convnet_in_sequential_passes_gradcheck_and_labels_each_layer():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=0, weight_init=0.5), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(2, 2, 2, rng=1, weight_init=0.5), nn.AvgPool2d(2))
    x = np.random.default_rng(3).standard_normal((2, 1, 6, 6))
    out = net(x)
    assert out.shape == (2, 2, 1, 1)
    assert [key for key in net] == ["Conv2d1", "ReLU1", "MaxPool2d1", "Conv2d2", "AvgPool2d1"]
    assert {n.module for n in autograd.toposort(out)} == set(net)
    assert autograd.gradcheck(lambda t: net(t), x)


def test_conv_layers_save_and_load_their_parameters(tmp_path):
    conv = nn.Conv2d(2, 3, 3, rng=0)
    conv.save(tmp_path / "conv.npz")
    other = nn.Conv2d(2, 3, 3, rng=1)
    other.load(tmp_path / "conv.npz")
    np.testing.assert_array_equal(other.weight.data, conv.weight.data)


@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.Conv2d(0, 2, 3), ValueError, "Conv2d: in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2d(1, 2, 0), ValueError, "Conv2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), ValueError, "Conv2d: padding must be >= 0, got -1"),
    (lambda: nn.MaxPool2d(2.5), TypeError, "MaxPool2d: kernel_size must be an int or a pair of ints, got 2.5"),
    (lambda: nn.AvgPool2d(2, stride=(1, 2, 3)), TypeError, "AvgPool2d: stride must be an int or a pair of ints, got (1, 2, 3)"),
    (lambda: nn.Conv2d(3, 2, 3, rng=0)(np.ones((1, 1, 5, 5))), ValueError,
     "conv2d: the input has 1 channels (shape (1, 1, 5, 5)) but the filters expect 3 (shape (2, 3, 3, 3))"),
])
def test_bad_layer_arguments_are_refused_with_the_layers_name(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_repr_shows_the_geometry():
    assert repr(nn.Conv2d(1, 30, 5, rng=0)) == "Conv2d(1, 30, kernel_size=(5, 5), stride=(1, 1), padding=(0, 0), dtype=float64)"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
