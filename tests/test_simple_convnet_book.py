"""nn.SimpleConvNet against the book's hand-written im2col layers (`benchmarks.book_conv_layers`)."""

import doctest

import numpy as np
import pytest

import _book_conv
import nn
from autograd import ops
from benchmarks import book_conv_layers, convnet
from benchmarks.book_conv_layers import BookSimpleConvNet, col2im, im2col
from nn.optim import SGD


@pytest.mark.parametrize("shape, kernel, stride, pad", [
    ((2, 1, 28, 28), 5, 1, 0), ((3, 2, 7, 9), 3, 2, 1), ((1, 3, 6, 6), 2, 2, 0), ((2, 2, 5, 5), 3, 1, 2)])
def test_book_im2col_and_col2im_equal_graphgrads_and_the_test_reference(shape, kernel, stride, pad):
    x = np.random.default_rng(0).standard_normal(shape)
    col = im2col(x, kernel, kernel, stride, pad)
    np.testing.assert_array_equal(col, ops._im2col_forward(x, (kernel, kernel), (stride, stride), (pad, pad)))
    np.testing.assert_array_equal(col, _book_conv.im2col(x, kernel, kernel, stride, pad))
    g = np.random.default_rng(1).standard_normal(col.shape)
    back = col2im(g, shape, kernel, kernel, stride, pad)
    np.testing.assert_allclose(back, ops._col2im_forward(g, shape, (kernel, kernel), (stride, stride), (pad, pad)),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(back, _book_conv.col2im(g, shape, kernel, kernel, stride, pad), rtol=0, atol=1e-12)


@pytest.mark.parametrize("options", [
    {},  # the book's network: 30 filters 5x5 on 28x28, hidden 100
    {"input_dim": (2, 9, 9), "conv_param": {"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 2},
     "hidden_size": 6, "output_size": 3},
])
def test_book_layers_give_simple_convnets_gradients_to_1e10(options):
    assert convnet.check_baseline(np.float64, batch_size=20, **options) <= 1e-10


def test_book_layers_float32_agree_to_float32_rounding():
    assert convnet.check_baseline(np.float32, batch_size=20) <= 1e-5


def test_book_layers_gradient_matches_their_own_numerical_gradient():
    conv_param = {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}
    book = BookSimpleConvNet((1, 6, 6), conv_param, hidden_size=4, output_size=3, weight_init_std=0.5, rng=2)
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((3, 1, 6, 6)), rng.integers(0, 3, 3)
    analytic = book.gradient(x, t)
    numeric = book.numerical_gradient(x, t)
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-4, atol=1e-8, err_msg=key)


def test_training_steps_match_the_book_layers_step_for_step():
    rng = np.random.default_rng(4)
    network = nn.SimpleConvNet(rng=rng)
    book = BookSimpleConvNet.from_params(network.params)
    x_train, t_train = convnet.synthetic_images(200, np.float64, rng)
    optimizer = SGD(network.parameters(), lr=0.1)
    for _ in range(8):
        mask = rng.choice(200, 50)
        loss = network.loss_tensor(x_train[mask], t_train[mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        grads = book.gradient(x_train[mask], t_train[mask])
        for key in book.params:
            book.params[key] -= 0.1 * grads[key]
        for key in book.params:
            np.testing.assert_allclose(network.params[key], book.params[key], rtol=0, atol=1e-10, err_msg=key)
    assert network.accuracy(x_train, t_train) == book.accuracy(x_train, t_train)


def test_from_params_copies_and_names_what_is_missing():
    network = nn.SimpleConvNet(rng=0)
    book = BookSimpleConvNet.from_params(network.params)
    assert book.params["W1"] is not network.params["W1"] and book.layers["Conv1"].W is book.params["W1"]
    with pytest.raises(ValueError, match=r"BookSimpleConvNet.from_params: missing \['b3'\]"):
        BookSimpleConvNet.from_params({key: network.params[key] for key in ("W1", "b1", "W2", "b2", "W3")})


@pytest.mark.parametrize("module", [book_conv_layers, convnet])
def test_doctests_of_the_convnet_benchmark_modules_pass(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
