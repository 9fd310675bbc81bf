"""nn.utils: clip_grad_norm_ (the joint norm, the scaling rule, skipped parameters, errors) and blas_threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autograd import Tensor
from nn.utils import blas_threads, clip_grad_norm_


def _with_grad(grad):
    tensor = Tensor(np.zeros(np.shape(grad)))
    tensor.grad = np.array(grad, dtype=float)
    return tensor


def test_clip_scales_all_gradients_together_to_max_norm_and_returns_the_norm_before():
    a, b, none = _with_grad([3.0, 0.0]), _with_grad([[0.0], [4.0]]), Tensor([1.0])
    assert clip_grad_norm_([a, b, none], max_norm=2.5) == 5.0
    np.testing.assert_allclose(a.grad, [1.5, 0.0], rtol=1e-6)
    np.testing.assert_allclose(b.grad, [[0.0], [2.0]], rtol=1e-6)
    assert none.grad is None
    assert math.isclose(math.hypot(a.grad[0], b.grad[1, 0]), 2.5, rel_tol=1e-6)


def test_clip_leaves_small_gradients_alone_and_takes_a_single_tensor():
    a = _with_grad([0.3, 0.4])
    shared = a.grad
    assert clip_grad_norm_(a, max_norm=1.0) == pytest.approx(0.5)
    assert a.grad is shared
    assert clip_grad_norm_([Tensor([1.0])], max_norm=1.0) == 0.0


def test_clip_with_the_infinity_norm_and_float32_gradients():
    a = Tensor(np.zeros(2, dtype=np.float32))
    a.grad = np.array([-6.0, 2.0], dtype=np.float32)
    assert clip_grad_norm_([a], max_norm=3.0, norm_type=math.inf) == 6.0
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad, [-3.0, 1.0], rtol=1e-6)


def test_clip_errors_name_the_argument_and_value():
    with pytest.raises(ValueError, match=r"clip_grad_norm_: max_norm must be > 0, got 0"):
        clip_grad_norm_([], 0)
    with pytest.raises(TypeError, match=r"clip_grad_norm_: max_norm must be a real number, got str '1'"):
        clip_grad_norm_([], "1")
    with pytest.raises(ValueError, match=r"clip_grad_norm_: norm_type must be 2.0 or math.inf, got 1"):
        clip_grad_norm_([], 1.0, norm_type=1)
    with pytest.raises(TypeError, match=r"clip_grad_norm_: parameters\[1\] is a ndarray, not a Tensor"):
        clip_grad_norm_([Tensor([1.0]), np.ones(2)], 1.0)


def _blas_threads() -> set:
    import threadpoolctl
    return {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}


def test_blas_threads_limits_the_pool_for_its_block_only():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=2):
        with blas_threads(1):
            assert _blas_threads() == {1}
            np.testing.assert_array_equal(np.ones((3, 4)) @ np.ones((4, 2)), np.full((3, 2), 4.0))
        assert _blas_threads() == {2}
        with blas_threads(None):  # no limit: the pool stays as it is
            assert _blas_threads() == {2}


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "1"])
def test_blas_threads_refuses_what_is_not_a_thread_count(threads):
    with pytest.raises(ValueError, match="blas_threads: threads must be a whole number >= 1 or None"):
        blas_threads(threads)


@pytest.mark.parametrize("dtype, big", [(np.float32, 1e20), (np.float64, 1e200)])
def test_clip_takes_the_true_norm_of_huge_gradients_instead_of_zeroing_them(dtype, big):
    # Found this session (adversarial hunt): the squares overflowed to inf, the norm came back inf and the
    # coefficient max_norm / inf = 0 set every gradient to zero: a silent zero step when clipping mattered.
    w = Tensor(np.zeros(2, dtype))
    w.grad = np.array([big, big], dtype)
    norm = clip_grad_norm_([w], max_norm=1.0)
    assert norm == pytest.approx(big * np.sqrt(2.0), rel=1e-6)
    np.testing.assert_allclose(w.grad, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-5)
    assert w.grad.dtype == dtype


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_refuses_a_nan_or_inf_gradient_by_default_and_leaves_it_alone_when_asked(bad):
    a, b = Tensor(np.zeros(2), name="a"), Tensor(np.zeros(2), name="b")
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([bad, 1.0])
    with pytest.raises(ValueError, match=r"gradient of parameter 1 'b' \(shape \(2,\)\) holds NaN or inf"):
        clip_grad_norm_([a, b], max_norm=1.0)
    norm = clip_grad_norm_([a, b], max_norm=1.0, error_if_nonfinite=False)
    assert np.isnan(norm) if np.isnan(bad) else norm == np.inf
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_clip_with_the_infinity_norm_refuses_a_nan_gradient_too():
    a, b = Tensor(np.zeros(2), name="a"), Tensor(np.zeros(2), name="b")
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([np.nan, 1.0])
    with pytest.raises(ValueError, match=r"parameter 1 'b'"):
        clip_grad_norm_([a, b], max_norm=1.0, norm_type=math.inf)
