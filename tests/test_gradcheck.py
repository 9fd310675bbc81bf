"""Tests of `numerical_gradient` and `gradcheck`: exact restoration of inputs, known derivatives, and
precise reports on a deliberately wrong op."""

import re

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import autograd
from autograd import GradcheckError, Tensor, gradcheck, numerical_gradient
from autograd.ops import Op


# --- numerical_gradient ----------------------------------------------------------------------------------
any_floats = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
                        elements=st.floats(allow_nan=False, allow_infinity=False, width=64))


@given(any_floats)
def test_numerical_gradient_leaves_x_bitwise_unchanged(x):
    before = x.copy()
    numerical_gradient(lambda v: float(np.tanh(v).sum()), x)  # bounded: no overflow at 1e308
    assert x.tobytes() == before.tobytes()


@given(any_floats, st.integers(0, 40))
def test_numerical_gradient_leaves_x_bitwise_unchanged_when_f_raises(x, fail_after):
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) > fail_after:
            raise ArithmeticError("boom")
        return float(np.tanh(v).sum())

    try:
        numerical_gradient(f, x)
    except ArithmeticError:
        pass
    assert x.tobytes() == before.tobytes()


def test_numerical_gradient_restores_values_that_do_not_round_trip_through_plus_minus_eps():
    x = np.array([0.1, 1e-20, -0.0, 5e-324, 1e300])
    before = x.copy()
    assert (1e-20 + 1e-4) - 1e-4 != 1e-20  # so restoring by subtraction would be wrong
    numerical_gradient(lambda v: np.sum(v), x)
    assert x.tobytes() == before.tobytes()


def test_numerical_gradient_restores_a_tensor_and_shares_its_data():
    data = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = Tensor(data)
    g = numerical_gradient(lambda _: (t * t).sum(), t)  # f reads t through the closure, as in the seed
    np.testing.assert_allclose(g, 2 * data, rtol=1e-8)
    assert t.data is data and data.tobytes() == np.array([[1.0, 2.0], [3.0, 4.0]]).tobytes()
    assert t.grad is None


def test_numerical_gradient_matches_the_seeds_function_2():
    # The book: numerical_gradient(function_2, [3.0, 4.0]) -> [6., 8.]
    g = numerical_gradient(lambda x: x[0] ** 2 + x[1] ** 2, np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [6.0, 8.0], rtol=1e-10)


@pytest.mark.parametrize("f, derivative", [
    (lambda v: np.sum(np.sin(v)), np.cos),
    (lambda v: np.sum(np.exp(v)), np.exp),
    (lambda v: np.sum(v ** 3), lambda v: 3 * v ** 2),
    (lambda v: np.sum(np.log(v + 5)), lambda v: 1 / (v + 5)),
], ids=["sin", "exp", "cube", "log"])
def test_numerical_gradient_matches_known_derivatives(f, derivative):
    x = np.linspace(-2, 2, 7).reshape(7)
    np.testing.assert_allclose(numerical_gradient(f, x), derivative(x), rtol=1e-7, atol=1e-7)


def test_numerical_gradient_returns_the_shape_and_dtype_of_x():
    x = np.ones((2, 3), dtype=np.float32)
    g = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) * 2)), x, eps=1e-2)
    assert g.shape == (2, 3) and g.dtype == np.float32
    np.testing.assert_allclose(g, 2.0, rtol=1e-3)


def test_numerical_gradient_runs_f_without_recording():
    seen = []
    w = Tensor([1.0, 2.0])

    def f(_):
        seen.append(autograd.is_grad_enabled())
        return (w * w).sum()

    numerical_gradient(f, w)
    assert seen and not any(seen)
    assert autograd.is_grad_enabled()


def test_numerical_gradient_agrees_with_backprop_on_a_small_network():
    rng = np.random.default_rng(0)
    W, X, t = Tensor(rng.standard_normal((4, 3))), rng.standard_normal((5, 4)), np.array([0, 1, 2, 1, 0])
    loss = lambda _: autograd.softmax_cross_entropy(autograd.tanh(X @ W), t)
    loss(None).backward()
    np.testing.assert_allclose(numerical_gradient(loss, W), W.grad, rtol=1e-6, atol=1e-9)


# --- gradcheck ----------------------------------------------------------------------------------------
def test_gradcheck_returns_true_on_correct_functions():
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    assert gradcheck(lambda a: (a * a).sum(), rng.standard_normal(5)) is True
    assert gradcheck(lambda a, b: autograd.tanh(a @ b), A, b) is True
    assert gradcheck(lambda a: autograd.softmax(a, axis=0), A) is True  # non-scalar output


def test_gradcheck_passes_non_array_arguments_through():
    labels = np.array([1, 0, 2])
    assert gradcheck(lambda x, t, scale: autograd.softmax_cross_entropy(x * scale, t),
                     np.random.default_rng(1).standard_normal((3, 3)), labels, 2.0)


def test_gradcheck_checks_tensor_inputs_in_float64_without_touching_them():
    x32 = Tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32))
    constant = Tensor([1.0, 2.0, 3.0], requires_grad=False)
    seen = []

    def fn(x, c):
        seen.append(x.dtype)
        return (autograd.sigmoid(x) * c).sum()

    assert gradcheck(fn, x32, constant)
    assert set(seen) == {np.dtype(np.float64)}
    assert x32.grad is None and x32.dtype == np.float32
    np.testing.assert_array_equal(x32.data, np.array([0.5, -1.0, 2.0], dtype=np.float32))


NUMBER = r"(?:np\.float64\()?"  # NumPy 2 prints scalars as np.float64(...); the plain-number test pins that


def _wrong_op(wrong_flat_index=None, factor=1.5):
    """x² whose VJP is scaled by ``factor`` (everywhere, or at one flat element only)."""

    def vjp(g, out, x):
        right = g * 2 * x
        if wrong_flat_index is None:
            return right * factor
        scale = np.ones(x.shape)
        scale.reshape(-1)[wrong_flat_index] = factor
        return right * scale

    return Op("wrong_square", forward=lambda x: x * x, vjp=vjp)


def test_gradcheck_reports_a_wrong_vjp_with_input_element_values_and_tolerance():
    op = _wrong_op()
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: autograd.apply(op, x).sum(), np.array([1.0, 2.0, 3.0]))
    message = str(info.value)
    assert "input 0" in message and "element (0,)" in message
    assert re.search(rf"backprop {NUMBER}3\.0\)? vs numerical {NUMBER}2\.0000", message), message
    assert "atol 1e-05" in message and "rtol 0.0001" in message


def test_gradcheck_message_prints_plain_numbers_not_numpy_scalar_reprs():
    op = _wrong_op()
    with pytest.raises(GradcheckError, match=r"backprop 3\.0 vs numerical 2\.0000"):
        gradcheck(lambda x: autograd.apply(op, x).sum(), np.array([1.0, 2.0, 3.0]))


def test_gradcheck_names_the_right_input_and_element_of_a_matrix():
    op = _wrong_op(wrong_flat_index=4, factor=1.01)
    W = Tensor(np.arange(1.0, 7.0).reshape(2, 3), name="W")
    v = np.array([1.0, 1.0])
    with pytest.raises(GradcheckError, match=r"input 1 \('W'\) of shape \(2, 3\), element \(1, 1\): "
                                             rf"backprop {NUMBER}10\.1\)? vs numerical {NUMBER}10\.0+"):
        gradcheck(lambda v, W: (v @ autograd.apply(op, W)).sum(), v, W)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_gradcheck_honours_its_tolerances():
    op = _wrong_op(factor=1.001)
    fn = lambda x: autograd.apply(op, x).sum()
    x = np.array([1.0, 2.0])
    with pytest.raises(GradcheckError):
        gradcheck(fn, x)
    assert gradcheck(fn, x, rtol=1e-2)
    assert gradcheck(fn, x, atol=1e-2, rtol=0)


def test_gradcheck_catches_a_wrong_vjp_inside_a_larger_graph_and_on_non_scalar_outputs():
    op = _wrong_op(wrong_flat_index=2, factor=0.9)
    x = np.array([[0.3, -0.7], [1.1, 0.4]])
    with pytest.raises(GradcheckError, match=r"element \(1, 0\)"):
        gradcheck(lambda a: autograd.softmax(autograd.apply(op, a) + a, axis=1), x)


def test_gradcheck_treats_unused_inputs_as_zero_gradient():
    assert gradcheck(lambda a, b: (a * 2).sum(), np.ones(2), np.ones(3))


def test_gradcheck_fails_on_a_nan_gradient_or_a_nan_numerical_value():
    # Found this session (adversarial hunt): `difference > tolerance` is False for NaN, so gradcheck
    # returned True for a VJP that returned NaN, and for log near 0 where the numerical value is NaN.
    nan_vjp = Op("nan_vjp", forward=lambda x: 2.0 * x, vjp=lambda g, out, x: g * np.nan)
    with pytest.raises(GradcheckError, match=r"backprop nan vs numerical 2\.0.*a NaN or infinite value cannot be checked"):
        gradcheck(lambda x: autograd.apply(nan_vjp, x).sum(), np.array([1.0, 2.0]))
    with np.errstate(invalid="ignore"), pytest.raises(GradcheckError, match="numerical nan"):
        gradcheck(lambda x: autograd.log(x).sum(), np.array([1e-7]))
    with np.errstate(invalid="ignore"), pytest.raises(GradcheckError, match="backprop nan vs numerical nan"):
        gradcheck(lambda x: (x * np.nan).sum(), np.array([1.0]))
