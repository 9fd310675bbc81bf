"""nn layers and init: shapes, parameters, values against NumPy, gradients from the graph, dtypes, seeding."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
import nn
from nn import init


def test_linear_has_weight_in_by_out_and_bias_out_and_computes_x_w_plus_b():
    layer = nn.Linear(4, 3, rng=0)
    assert [(name, p.shape) for name, p in layer.named_parameters()] == [("weight", (4, 3)), ("bias", (3,))]
    x = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(layer(x).data, x @ layer.weight.data + layer.bias.data)
    assert nn.Affine is nn.Linear


def test_layers_have_no_backward_of_their_own():
    for layer in (nn.Linear, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Sequential, nn.SoftmaxWithLoss, nn.Dropout, nn.Flatten,
                  nn.BatchNorm1d, nn.BatchNorm2d):
        assert not hasattr(layer, "backward")


def test_linear_gradients_from_the_graph_are_the_seed_affine_formulas():
    layer = nn.Linear(2, 3, rng=0)
    x = autograd.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    dY = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    layer(x).backward(dY)
    np.testing.assert_array_equal(layer.bias.grad, [5.0, 7.0, 9.0])
    np.testing.assert_allclose(layer.weight.grad, x.data.T @ dY, rtol=0, atol=1e-15)
    np.testing.assert_allclose(x.grad, dY @ layer.weight.data.T, rtol=0, atol=1e-15)


def test_linear_passes_gradcheck():
    layer = nn.Linear(3, 2, rng=0)
    assert autograd.gradcheck(lambda x: layer(x), np.random.default_rng(1).standard_normal((4, 3)))


def test_linear_names_itself_and_the_shapes_when_the_input_does_not_fit():
    with pytest.raises(ValueError, match=r"Affine1: expected inputs with 4 features in the last dimension, got shape \(2, 3\)"):
        nn.Linear(4, 2, name="Affine1")(np.ones((2, 3)))


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_linear_refuses_sizes_that_are_not_positive_ints(size):
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(size, 2)


def test_float32_layers_stay_float32_forward_and_backward():
    layer = nn.Linear(3, 2, rng=0, dtype=np.float32)
    x = autograd.Tensor(np.ones((4, 3), np.float32))
    out = nn.Sigmoid()(nn.Tanh()(nn.ReLU()(layer(x))))
    assert out.dtype == np.float32
    out.sum().backward()
    assert {layer.weight.grad.dtype, layer.bias.grad.dtype, x.grad.dtype} == {np.dtype(np.float32)}


def test_uint8_inputs_take_the_layer_dtype():
    layer = nn.Linear(3, 2, rng=0, dtype=np.float32)
    assert layer(np.ones((1, 3), np.uint8)).dtype == np.float32


@pytest.mark.parametrize("layer, reference", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
])
def test_activations_match_numpy(layer, reference):
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(layer(x).data, reference(x), rtol=1e-15, atol=1e-15)


def test_relu_gradient_is_the_seed_mask_zero_at_zero():
    x = autograd.Tensor(np.array([[1.0, -0.5], [0.0, 3.0]]))
    nn.ReLU()(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0], [0.0, 1.0]])


def test_sigmoid_gradient_is_y_times_one_minus_y():
    x = autograd.Tensor(np.array([-2.0, 0.0, 1.5]))
    y = nn.Sigmoid()(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, y.data * (1 - y.data), rtol=1e-15)


def test_softmax_with_loss_gradient_is_y_minus_t_over_n_for_labels_and_one_hot():
    logits = np.array([[0.3, -1.2, 2.0], [1.0, 1.0, 0.5]])
    labels = np.array([2, 0])
    one_hot = np.eye(3)[labels]
    y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for target in (labels, one_hot):
        x = autograd.Tensor(logits)
        loss = nn.SoftmaxWithLoss()(x, target)
        np.testing.assert_allclose(loss.item(), -np.mean(np.log(y[[0, 1], labels])), rtol=1e-14)
        loss.backward()
        np.testing.assert_allclose(x.grad, (y - one_hot) / 2, rtol=1e-14, atol=1e-16)
        assert loss.node.module == "SoftmaxWithLoss"


def test_sequential_names_layers_by_class_and_count_and_acts_as_an_ordered_mapping():
    seq = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1), nn.ReLU())
    assert list(seq) == list(seq.keys()) == ["Linear1", "ReLU1", "Linear2", "ReLU2"]
    assert seq[2] is seq["Linear2"] is list(seq.values())[2] and seq[-1] is seq["ReLU2"]
    assert len(seq) == 4 and "ReLU1" in seq
    assert [name for name, _ in seq.named_parameters()] == [
        "Linear1.weight", "Linear1.bias", "Linear2.weight", "Linear2.bias"]
    x = np.ones((5, 3))
    expected = np.maximum(np.maximum(x @ seq[0].weight.data, 0) @ seq[2].weight.data, 0)
    np.testing.assert_allclose(seq(x).data, expected)


def test_sequential_from_a_mapping_keeps_its_names():
    seq = nn.Sequential({"Affine1": nn.Linear(2, 2, rng=0), "Relu1": nn.ReLU()})
    assert list(seq) == ["Affine1", "Relu1"]
    assert {node.module for node in autograd.toposort(seq(np.ones((1, 2))))} == {"Affine1", "Relu1"}


def test_sequential_errors_name_the_layer():
    with pytest.raises(TypeError, match="Sequential: layer 'ndarray1' is a ndarray, not an nn.Module"):
        nn.Sequential(np.zeros(2))
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(KeyError, match=r"Sequential has no layer 'Relu1'; its layers are \['ReLU1'\]"):
        seq["Relu1"]
    with pytest.raises(IndexError, match="index 3 is out of range for 1 layers"):
        seq[3]


def test_init_draws_from_the_given_seed_and_never_from_numpy_global_state():
    state = np.random.get_state()[1].copy()
    a = nn.Linear(30, 20, rng=7).weight.data
    b = nn.Linear(30, 20, rng=np.random.default_rng(7)).weight.data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Linear(30, 20, rng=8).weight.data)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_fixed_he_and_xavier_stds():
    rng = np.random.default_rng(0)
    assert abs(init.normal((400, 300), 0.01, rng).std() - 0.01) < 3e-4
    assert abs(init.normal((400, 300), "he", rng).std() - np.sqrt(2 / 400)) < 2e-3
    assert abs(init.normal((400, 300), "xavier", rng).std() - np.sqrt(1 / 400)) < 2e-3
    assert nn.Linear(5, 2).bias.data.tolist() == [0.0, 0.0]


def test_init_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="a std must be a finite number >= 0, got -1"):
        init.std_for(-1, 3)
    with pytest.raises(TypeError, match="weight_init must be a number or a name, got list"):
        init.std_for([0.1], 3)
    with pytest.raises(TypeError, match="rng must be None, an int seed or a numpy.random.Generator, got float"):
        init.make_rng(1.5)
