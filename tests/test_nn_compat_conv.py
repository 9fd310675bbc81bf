"""nn.compat's `Convolution` and `Pooling` equal the book's hand-written im2col layers (`_book_conv`), forward,
backward and attributes, to 1e-10; each backward is read from the recorded graph."""

import re

import numpy as np
import pytest

import autograd
from benchmarks import seed_layers
from nn import compat
import _book_conv as book

# The book's hand-written layers: its im2col Convolution and Pooling, and its chapter-5 Relu, Affine, loss.
BOOK = {"Convolution": book.Convolution, "Pooling": book.Pooling, "Relu": seed_layers.Relu,
        "Affine": seed_layers.Affine, "SoftmaxWithLoss": seed_layers.SoftmaxWithLoss}
OURS = {name: getattr(compat, name) for name in BOOK}

CONV_GEOMETRIES = [  # (x shape, W shape, stride, pad): strides 1 and 2, padding 0 and 1, odd sizes
    ((2, 1, 28, 28), (30, 1, 5, 5), 1, 0),  # the book's SimpleConvNet
    ((3, 3, 9, 7), (4, 3, 3, 3), 2, 1),
    ((2, 16, 8, 8), (8, 16, 3, 3), 1, 1),  # DeepConvNet's kind
    ((1, 2, 5, 5), (3, 2, 2, 2), 2, 0),
]


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_GEOMETRIES)
def test_convolution_equals_the_books_forward_backward_and_attributes(x_shape, w_shape, stride, pad):
    x, W, b = _data(x_shape, 0), _data(w_shape, 1) * 0.1, _data(w_shape[:1], 2)
    ours, theirs = compat.Convolution(W, b, stride, pad), book.Convolution(W, b, stride, pad)
    out = ours.forward(x)
    want = theirs.forward(x)
    assert type(out) is np.ndarray and out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(ours.col, theirs.col)
    np.testing.assert_array_equal(ours.col_W, theirs.col_W)
    assert ours.x is x and ours.W is W and ours.b is b and (ours.stride, ours.pad) == (stride, pad)
    dout = _data(out.shape, 3)
    dx = ours.backward(dout)
    want_dx = theirs.backward(dout)
    for got, expected in ((dx, want_dx), (ours.dW, theirs.dW), (ours.db, theirs.db)):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("x_shape, pool, stride, pad", [
    ((2, 30, 24, 24), 2, 2, 0),  # the book's SimpleConvNet
    ((2, 3, 7, 7), 3, 2, 0),
    ((2, 3, 6, 5), 2, 1, 0),  # overlapping windows: several gradients reach one pixel
    ((1, 2, 5, 5), 2, 3, 1),  # padded, where the book's own output size agrees with its im2col
])
def test_pooling_after_relu_equals_the_books_forward_backward_and_argmax_at_ties(x_shape, pool, stride, pad):
    x = np.maximum(_data(x_shape, 4), 0.0)  # half zeros: ties in many windows
    ours, theirs = compat.Pooling(pool, pool, stride, pad), book.Pooling(pool, pool, stride, pad)
    out = ours.forward(x)
    np.testing.assert_array_equal(out, theirs.forward(x))
    np.testing.assert_array_equal(ours.arg_max, theirs.arg_max)
    dout = _data(out.shape, 5)
    np.testing.assert_allclose(ours.backward(dout), theirs.backward(dout), rtol=1e-10, atol=1e-10)


def test_pooling_defaults_to_the_books_stride_of_one():
    layer = compat.Pooling(2, 2)
    assert (layer.stride, layer.pad) == (1, 0)
    assert layer.forward(np.ones((1, 1, 3, 3))).shape == (1, 1, 2, 2)


def test_convolution_backward_uses_the_weights_its_forward_saw_though_the_caller_changes_them_in_place():
    x, W, b = _data((2, 2, 5, 5), 0), _data((3, 2, 3, 3), 1), np.zeros(3)
    ours, theirs = compat.Convolution(W, b, 1, 1), book.Convolution(W.copy(), b.copy(), 1, 1)
    dout = _data(ours.forward(x).shape, 2)
    theirs.forward(x)
    W += 1.0  # the book's numerical_gradient and optimizers write into W between calls
    assert W.flags.writeable
    ours.backward(dout)
    theirs.backward(dout)
    np.testing.assert_allclose(ours.dW, theirs.dW, rtol=1e-10)
    assert ours.forward(x) is not None and ours.col_W[0, 0] == W[0, 0, 0, 0]  # the next forward reads W anew


def test_a_small_convnet_of_compat_layers_equals_the_books_hand_written_layers_through_a_loss():
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((4, 1, 10, 10)), np.array([0, 2, 1, 2])
    W1, b1 = 0.1 * rng.standard_normal((5, 1, 3, 3)), np.zeros(5)
    W2, b2 = 0.1 * rng.standard_normal((5 * 4 * 4, 3)), np.zeros(3)
    grads = {}
    for name, make in (("ours", OURS), ("book", BOOK)):
        conv, pool = make["Convolution"](W1, b1, 1, 0), make["Pooling"](2, 2, stride=2)
        relu, affine, loss = make["Relu"](), make["Affine"](W2, b2), make["SoftmaxWithLoss"]()
        h = pool.forward(relu.forward(conv.forward(x)))
        loss.forward(affine.forward(h.reshape(4, -1)), t)
        dh = affine.backward(loss.backward()).reshape(h.shape)
        conv.backward(relu.backward(pool.backward(dh)))
        grads[name] = (conv.dW, conv.db, affine.dW)
    for got, want in zip(grads["ours"], grads["book"]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_compat_backward_is_read_from_the_graph(monkeypatch):
    calls = []
    real_grad = autograd.grad
    monkeypatch.setattr(compat.autograd, "grad", lambda *a, **k: calls.append(1) or real_grad(*a, **k))
    conv, pool = compat.Convolution(np.ones((1, 1, 2, 2)), np.zeros(1)), compat.Pooling(2, 2, 2)
    pool.backward(np.ones(pool.forward(conv.forward(np.ones((1, 1, 5, 5)))).shape))
    conv.backward(np.ones((1, 1, 4, 4)))
    assert len(calls) == 2


def test_pooling_under_no_grad_still_keeps_arg_max():
    with autograd.no_grad():
        layer = compat.Pooling(2, 2, 2)
        layer.forward(np.array([[[[0.0, 3.0], [3.0, 1.0]]]]))
    np.testing.assert_array_equal(layer.arg_max, [1])


@pytest.mark.parametrize("call, message", [
    (lambda: compat.Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)).forward(np.ones((1, 1, 5, 5))),
     "Convolution: the input has 1 channels (shape (1, 1, 5, 5)) but W expects 3 (shape (2, 3, 3, 3))"),
    (lambda: compat.Convolution(np.ones((2, 1, 3, 3)), np.zeros(2)).forward(np.ones((1, 1, 2, 5))),
     "Convolution: a window of 3 does not fit an input side of 2 with pad 0"),
    (lambda: compat.Pooling(3, 3).forward(np.ones((1, 1, 2, 2))),
     "Pooling: a window of 3 does not fit an input side of 2 with pad 0"),
])
def test_shapes_that_do_not_fit_are_refused_naming_the_layer(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_thirty_sgd_steps_of_a_compat_convnet_equal_the_books_layers_step_for_step():
    rng = np.random.default_rng(10)
    x, t = rng.random((8, 1, 12, 12)), rng.integers(0, 4, 8)
    start = {"W1": 0.1 * rng.standard_normal((6, 1, 3, 3)), "b1": np.zeros(6),
             "W2": 0.1 * rng.standard_normal((6 * 5 * 5, 4)), "b2": np.zeros(4)}
    runs = {}
    for name, make in (("ours", OURS), ("book", BOOK)):
        params = {key: value.copy() for key, value in start.items()}
        conv, pool = make["Convolution"](params["W1"], params["b1"], 1, 0), make["Pooling"](2, 2, stride=2)
        relu, affine, loss = make["Relu"](), make["Affine"](params["W2"], params["b2"]), make["SoftmaxWithLoss"]()
        losses = []
        for _ in range(30):
            h = pool.forward(relu.forward(conv.forward(x)))
            losses.append(loss.forward(affine.forward(h.reshape(len(x), -1)), t))
            dh = affine.backward(loss.backward()).reshape(h.shape)
            conv.backward(relu.backward(pool.backward(dh)))
            for key, grad in (("W1", conv.dW), ("b1", conv.db), ("W2", affine.dW), ("b2", affine.db)):
                params[key] -= 0.1 * grad  # the book's update, in place
        runs[name] = (losses, params)
    np.testing.assert_allclose(runs["ours"][0], runs["book"][0], rtol=1e-6)  # the book's loss adds 1e-7 in its log
    assert runs["ours"][0][-1] < runs["ours"][0][0]
    for key in start:
        np.testing.assert_allclose(runs["ours"][1][key], runs["book"][1][key], rtol=1e-10, atol=1e-12)


def test_convolution_under_no_grad_still_keeps_col():
    x, W = _data((1, 2, 5, 5), 0), _data((3, 2, 3, 3), 1)
    with autograd.no_grad():
        layer = compat.Convolution(W, np.zeros(3), 1, 1)
        layer.forward(x)
    np.testing.assert_array_equal(layer.col, book.im2col(x, 3, 3, 1, 1))
