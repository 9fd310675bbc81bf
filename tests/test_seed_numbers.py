"""The seed's facts (the backprop chapter of "Deep Learning from Scratch"), reproduced on the engine."""

import numpy as np
import pytest

import autograd
from autograd import Tensor


def test_apple_bill_price_220_and_derivatives_2_2_110_200():
    apple, apple_num, tax = Tensor(100.0), Tensor(2.0), Tensor(1.1)
    apple_price = apple * apple_num
    price = apple_price * tax
    price.backward()
    assert price.item() == pytest.approx(220.0, rel=1e-12)
    assert apple.grad.item() == pytest.approx(2.2, rel=1e-12)
    assert apple_num.grad.item() == pytest.approx(110.0, rel=1e-12)
    assert tax.grad.item() == pytest.approx(200.0, rel=1e-12)
    assert apple_price.grad.item() == pytest.approx(1.1, rel=1e-12)  # the intermediate of the seed's figure


def test_apple_and_orange_bill_price_715_and_derivatives_110_2_2_3_3_165_650():
    apple, apple_num = Tensor(100.0), Tensor(2.0)
    orange, orange_num = Tensor(150.0), Tensor(3.0)
    tax = Tensor(1.1)
    apple_price = apple * apple_num
    orange_price = orange * orange_num
    all_price = apple_price + orange_price
    price = all_price * tax
    price.backward()
    assert price.item() == pytest.approx(715.0, rel=1e-12)
    assert apple_num.grad.item() == pytest.approx(110.0, rel=1e-12)
    assert apple.grad.item() == pytest.approx(2.2, rel=1e-12)
    assert orange.grad.item() == pytest.approx(3.3, rel=1e-12)
    assert orange_num.grad.item() == pytest.approx(165.0, rel=1e-12)
    assert tax.grad.item() == pytest.approx(650.0, rel=1e-12)
    assert all_price.grad.item() == pytest.approx(1.1, rel=1e-12)
    assert apple_price.grad.item() == orange_price.grad.item() == all_price.grad.item()


def test_relu_backward_is_the_seeds_mask_x_le_0():
    x = np.array([[1.0, -0.5], [-2.0, 3.0], [0.0, 0.25]])
    t = Tensor(x)
    dout = np.arange(1.0, 7.0).reshape(3, 2)
    autograd.relu(t).backward(dout)
    mask = x <= 0
    expected = dout.copy()
    expected[mask] = 0
    np.testing.assert_array_equal(t.grad, expected)
    np.testing.assert_array_equal(autograd.relu(t).data, np.where(mask, 0.0, x))


def test_sigmoid_backward_is_y_times_1_minus_y():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    t = Tensor(x)
    y = autograd.sigmoid(t)
    dout = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y.backward(dout)
    np.testing.assert_allclose(y.data, 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(t.grad, dout * y.data * (1.0 - y.data), rtol=1e-15)


def test_affine_backward_dx_is_dy_wt_dw_is_xt_dy_db_is_5_7_9():
    X = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    W = Tensor(np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]))
    b = Tensor(np.array([0.0, 0.0, 0.0]))
    Y = X @ W + b
    dY = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    Y.backward(dY)
    np.testing.assert_allclose(X.grad, dY @ W.data.T, rtol=1e-15)
    np.testing.assert_allclose(W.grad, X.data.T @ dY, rtol=1e-15)
    np.testing.assert_array_equal(b.grad, [5.0, 7.0, 9.0])


def test_softmax_with_loss_backward_is_y_minus_t_over_batch_size():
    logits = np.array([[0.3, 2.9, 4.0], [1.0, -1.0, 0.5], [0.0, 0.0, 0.0], [2.0, 1.0, 0.1]])
    t = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=np.float64)
    x = Tensor(logits)
    loss = autograd.softmax_cross_entropy(x, t)
    loss.backward()
    y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    batch_size = 4
    np.testing.assert_allclose(loss.item(), -np.sum(t * np.log(y)) / batch_size, rtol=1e-13)
    np.testing.assert_allclose(x.grad, (y - t) / batch_size, rtol=1e-13, atol=1e-16)


def test_softmax_of_the_books_example():
    # The book: softmax([0.3, 2.9, 4.0]) -> [0.01821127, 0.24519181, 0.73659691]
    np.testing.assert_allclose(autograd.softmax(Tensor([0.3, 2.9, 4.0])).data,
                               [0.01821127, 0.24519181, 0.73659691], atol=1e-8)
