"""Tests of `autograd.grad`: results as Tensors without touching ``.grad``, and higher derivatives
through ``create_graph=True`` checked against numerical differentiation of the first derivative."""

import numpy as np
import pytest

import autograd
from autograd import Tensor, enable_grad, grad, numerical_gradient
from _second_order import assert_hessian_times_direction_matches
from op_specs import SPECS


def test_grad_returns_tensors_and_leaves_every_grad_untouched():
    x, w = Tensor([1.0, 2.0]), Tensor([3.0, -1.0])
    h = x * w
    out = (h * h).sum()
    gx, gw = grad(out, [x, w])
    assert isinstance(gx, Tensor) and isinstance(gw, Tensor)
    np.testing.assert_array_equal(gx.data, 2 * h.data * w.data)
    np.testing.assert_array_equal(gw.data, 2 * h.data * x.data)
    assert x.grad is None and w.grad is None and h.grad is None and out.grad is None
    assert not gx.requires_grad and gx.node is None


def test_grad_of_a_single_input_returns_one_tensor_and_of_a_list_a_tuple():
    x = Tensor(3.0)
    assert isinstance(grad(x * x, x), Tensor)
    result = grad(x * x, [x])
    assert isinstance(result, tuple) and len(result) == 1


def test_grad_with_respect_to_an_intermediate():
    x = Tensor([1.0, 2.0])
    h = x * 3.0
    np.testing.assert_array_equal(grad((h * h).sum(), h).data, 2 * h.data)


def test_grad_with_grad_outputs_for_a_non_scalar_output():
    x = Tensor([1.0, 2.0, 3.0])
    g = grad(x * x, x, grad_outputs=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g.data, [2.0, 0.0, 12.0])


def test_grad_of_several_outputs_sums_their_contributions():
    x = Tensor(2.0)
    g = grad([x * x, x * 3.0], x)
    assert g.item() == 7.0


def test_second_derivative_of_x_cubed_at_2_is_12():
    x = Tensor(2.0)
    dy = grad(x ** 3, x, create_graph=True)
    assert dy.item() == 12.0 and dy.requires_grad and dy.node is not None
    d2y = grad(dy, x)
    assert d2y.item() == 12.0


def test_third_derivative_of_x_cubed_is_6_and_fourth_is_0():
    x = Tensor(2.0)
    d1 = grad(x ** 3, x, create_graph=True)
    d2 = grad(d1, x, create_graph=True)
    d3 = grad(d2, x, create_graph=True)
    assert (d1.item(), d2.item(), d3.item()) == (12.0, 12.0, 6.0)
    d4 = grad(d3, x, allow_unused=True)
    assert d4 is None or d4.item() == 0.0


def test_higher_derivatives_of_exp_are_exp():
    x = Tensor(0.7)
    d = x.exp()
    for _ in range(4):
        d = grad(d, x, create_graph=True)
        np.testing.assert_allclose(d.item(), np.exp(0.7), rtol=1e-15)


def test_backward_through_a_gradient_graph_stores_the_second_derivative():
    x = Tensor(2.0)
    dy = grad(x ** 3, x, create_graph=True)
    assert x.grad is None
    dy.backward()
    assert x.grad.item() == 12.0


def test_mixed_second_partial_derivatives():
    x, y = Tensor(1.5), Tensor(-2.0)
    f = x * x * y + y ** 3
    dfdx, dfdy = grad(f, [x, y], create_graph=True)
    d2f_dxdy = grad(dfdx, y)
    d2f_dydx, d2f_dy2 = grad(dfdy, [x, y])
    assert d2f_dxdy.item() == 2 * 1.5 == d2f_dydx.item()
    assert d2f_dy2.item() == 6 * -2.0


def test_allow_unused_returns_none_for_inputs_the_output_does_not_depend_on():
    x, unused = Tensor(2.0), Tensor(5.0)
    gx, gu = grad(x * x, [x, unused], allow_unused=True)
    assert gx.item() == 4.0 and gu is None
    with pytest.raises(RuntimeError, match="not used"):
        grad(x * x, [x, unused])


def test_newton_minimises_a_quartic_with_first_and_second_derivatives():
    def f(x):
        return x ** 4 - 3 * x ** 2 + x

    x = 2.0
    for _ in range(30):
        t = Tensor(x)
        d1 = grad(f(t), t, create_graph=True)
        d2 = grad(d1, t)
        step = d1.item() / d2.item()
        x -= step
        if abs(step) < 1e-15:
            break
    critical = np.roots([4.0, 0.0, -6.0, 1.0])
    expected = critical[np.argmin(np.abs(critical - 1.13))].real
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    assert 12 * x ** 2 - 6 > 0  # a minimum


def test_newton_finds_the_cube_root_of_2():
    x = Tensor(1.0)
    for _ in range(20):
        y = x ** 3 - 2
        x = Tensor(x.item() - y.item() / grad(y, x).item())
    np.testing.assert_allclose(x.item(), 2 ** (1 / 3), rtol=1e-15)


# --- second derivatives against numerical differentiation of the first derivative ------------------------
LABELS = np.array([2, 0, 1])

SECOND_ORDER = {
    "sigmoid": (lambda x: autograd.sigmoid(x).sum(), (5,), 0),
    "tanh": (lambda x: autograd.tanh(x).sum(), (5,), 0),
    "exp": (lambda x: autograd.exp(x).sum(), (5,), 0),
    "log": (lambda x: autograd.log(x).sum(), (5,), 3),
    "softmax_cross_entropy": (lambda x: autograd.softmax_cross_entropy(x, LABELS), (3, 4), 0),
    "softmax_cross_entropy one-hot": (lambda x: autograd.softmax_cross_entropy(x, np.eye(4)[LABELS]), (3, 4), 0),
    "softmax": (lambda x: (autograd.softmax(x, axis=1) * np.arange(4.0)).sum(), (3, 4), 0),
    "log_softmax": (lambda x: (autograd.log_softmax(x, axis=0) * np.arange(4.0)).sum(), (3, 4), 0),
    "pow": (lambda x: (x ** 3).sum() + (x ** -1).sum(), (5,), 3),
    "div": (lambda x: (1.0 / x).sum(), (5,), 3),
    "matmul": (lambda x: ((np.arange(6.0).reshape(2, 3) @ x) ** 2).sum(), (3, 2), 0),
    "getitem, mean, max": (lambda x: (x[np.array([0, 0, 2])] ** 2).mean() + (x.max() ** 3), (4,), 0),
    "transpose, reshape, broadcast": (lambda x: ((x.T.reshape(-1) + x.reshape(1, -1)) ** 3).sum(), (2, 2), 0),
}


def _inputs(shape, shift):
    rng = np.random.default_rng(7)
    return rng.uniform(-1.5, 1.5, shape) + shift


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_match_numerical_differentiation_of_the_first(name):
    f, shape, shift = SECOND_ORDER[name]
    data = _inputs(shape, shift)
    direction = np.random.default_rng(11).standard_normal(shape)

    assert_hessian_times_direction_matches(f, data, direction, atol=1e-8)


def test_second_derivative_of_sigmoid_is_y_1_minus_y_1_minus_2y():
    x = Tensor(np.array([-2.0, 0.0, 0.5, 3.0]))
    y = 1 / (1 + np.exp(-x.data))
    d1 = grad(autograd.sigmoid(x).sum(), x, create_graph=True)
    d2 = grad(d1.sum(), x)
    np.testing.assert_allclose(d1.data, y * (1 - y), rtol=1e-14)
    np.testing.assert_allclose(d2.data, y * (1 - y) * (1 - 2 * y), rtol=1e-12, atol=1e-16)


def test_relu_second_derivative_is_zero():
    x = Tensor(np.array([-1.0, 2.0]))
    d1 = grad((autograd.relu(x) * x).sum(), x, create_graph=True)  # d/dx of x*relu(x) = 2 relu(x) where x > 0
    d2 = grad(d1.sum(), x)
    np.testing.assert_array_equal(d2.data, [0.0, 2.0])


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_grad_results_keep_each_inputs_dtype_with_mixed_precision(create_graph):
    x32, y64 = Tensor(np.ones(2, dtype=np.float32)), Tensor(np.full(2, 3.0))
    gx, gy = grad((x32 * y64).sum(), [x32, y64], create_graph=create_graph)
    assert gx.dtype == np.float32 and gy.dtype == np.float64
    np.testing.assert_array_equal(gx.data, [3.0, 3.0])


def test_float32_stays_float32_through_every_ops_gradient_graph():
    for spec in SPECS:
        for case in spec.examples:
            inputs = [Tensor(a.astype(np.float32)) for a in spec.example_inputs(case)]
            out = spec.call(*inputs, **case.params)
            grads = grad(out, inputs, grad_outputs=np.ones(out.shape, np.float32), create_graph=True)
            assert all(g.dtype == np.float32 for g in grads), (spec, case)
