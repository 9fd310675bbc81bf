"""Convolution, pooling, im2col/col2im, batched matmul and the small elementwise ops of issue 9: values against NumPy loops and
the book's im2col formulas, gradients against central differences (float64 and float32), second order,
the tie rule of max pooling, and every error. The op-table properties run from `op_specs`."""

import re

import numpy as np
import pytest

import autograd
from autograd import Tensor, grad, numerical_gradient
from autograd import ops
import _book_conv as book
from _second_order import assert_hessian_times_direction_matches
from op_specs import SPECS_BY_NAME

# (input shape, filter count, kernel, stride, pad): strides 1 and 2, padding 0 and 1, odd sizes
GEOMETRIES = [
    ((2, 3, 7, 7), 4, (3, 3), 1, 0),
    ((2, 3, 7, 5), 2, (3, 3), 2, 1),
    ((1, 2, 5, 5), 3, (2, 2), 2, 0),
    ((3, 1, 9, 8), 2, (5, 5), 1, 1),
    ((1, 2, 6, 6), 2, (1, 1), 1, 0),
]
IDS = [f"{s}-k{k[0]}x{k[1]}-s{st}-p{p}" for s, _, k, st, p in GEOMETRIES]


def _data(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --- im2col / col2im against the book's formulas -------------------------------------------------------------
@pytest.mark.parametrize("shape, _, kernel, stride, pad", GEOMETRIES, ids=IDS)
def test_im2col_and_col2im_equal_the_books_layout_exactly(shape, _, kernel, stride, pad):
    x = _data(shape)
    col = autograd.apply(ops.IM2COL, x, kernel=kernel, stride=(stride, stride), pad=(pad, pad))
    np.testing.assert_array_equal(col.data, book.im2col(x, *kernel, stride, pad))
    dcol = _data(col.shape, seed=1)
    back = autograd.apply(ops.COL2IM, dcol, shape=shape, kernel=kernel, stride=(stride, stride), pad=(pad, pad))
    np.testing.assert_allclose(back.data, book.col2im(dcol, shape, *kernel, stride, pad), rtol=0, atol=1e-13)


def test_im2col_of_a_transposed_view_reads_the_views_values():
    x = _data((3, 2, 5, 4)).transpose(1, 0, 2, 3)  # (2, 3, 5, 4), not contiguous
    col = autograd.apply(ops.IM2COL, x, kernel=(2, 2), stride=(1, 1), pad=(1, 1))
    np.testing.assert_array_equal(col.data, book.im2col(np.ascontiguousarray(x), 2, 2, 1, 1))
    assert col.data.flags.writeable and not np.shares_memory(col.data, x)


# --- conv2d ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, filters, kernel, stride, pad", GEOMETRIES, ids=IDS)
def test_conv2d_equals_a_loop_reference_and_the_books_convolution(shape, filters, kernel, stride, pad, dtype):
    x, W, b = _data(shape, 0, dtype), _data((filters, shape[1]) + kernel, 1, dtype), _data((filters,), 2, dtype)
    out = autograd.conv2d(Tensor(x), Tensor(W), Tensor(b), stride=stride, pad=pad)
    assert out.dtype == dtype
    reference = SPECS_BY_NAME["conv2d"].reference(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64),
                                                  stride, pad)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.data, reference, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(out.data, book.Convolution(W, b, stride, pad).forward(x), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("shape, filters, kernel, stride, pad", GEOMETRIES[:4], ids=IDS[:4])
def test_conv2d_gradients_match_central_differences_in_float64(shape, filters, kernel, stride, pad, with_bias):
    shape = (1,) + shape[1:]  # one image keeps the element-by-element check quick
    inputs = [_data(shape, 0), _data((filters, shape[1]) + kernel, 1)] + ([_data((filters,), 2)] if with_bias else [])
    assert autograd.gradcheck(lambda x, W, *b: autograd.conv2d(x, W, *b, stride=stride, pad=pad), *inputs)


@pytest.mark.parametrize("shape, filters, kernel, stride, pad", GEOMETRIES[:3], ids=IDS[:3])
def test_conv2d_float32_gradients_match_float64_central_differences(shape, filters, kernel, stride, pad):
    x64, W64, b64 = _data(shape, 0), _data((filters, shape[1]) + kernel, 1), _data((filters,), 2)
    weights = _data((shape[0], filters) + autograd.conv2d(x64, W64, b64, stride, pad).shape[2:], 3)

    def loss64(x, W, b):
        return float(np.sum(SPECS_BY_NAME["conv2d"].reference(x, W, b, stride, pad) * weights))

    leaves = [Tensor(a.astype(np.float32)) for a in (x64, W64, b64)]
    (autograd.conv2d(*leaves, stride=stride, pad=pad) * weights.astype(np.float32)).sum().backward()
    for i, leaf in enumerate(leaves):
        assert leaf.grad.dtype == np.float32
        arrays = [x64, W64, b64]

        def f(a, i=i):
            return loss64(*(a if j == i else arrays[j] for j in range(3)))

        np.testing.assert_allclose(leaf.grad, numerical_gradient(f, arrays[i].copy()), rtol=2e-4, atol=2e-4)


def test_conv2d_backward_equals_the_books_convolution_backward():
    x, W, b = _data((4, 3, 9, 9)), _data((5, 3, 3, 3), 1), _data((5,), 2)
    layer = book.Convolution(W, b, stride=2, pad=1)
    dout = _data(layer.forward(x).shape, 3)
    leaves = [Tensor(x), Tensor(W), Tensor(b)]
    autograd.conv2d(*leaves, stride=2, pad=1).backward(dout)
    dx = layer.backward(dout)
    for got, want in zip((leaf.grad for leaf in leaves), (dx, layer.dW, layer.db)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_conv2d_of_a_first_layer_never_computes_the_input_gradient(monkeypatch):
    calls = []
    original = ops.COL2IM.forward
    monkeypatch.setattr(ops.COL2IM, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    W = Tensor(_data((2, 1, 3, 3)))
    autograd.conv2d(_data((2, 1, 5, 5)), W).sum().backward()
    assert W.grad is not None and calls == []


def test_conv2d_accepts_pairs_for_stride_and_pad():
    x, W = _data((1, 2, 7, 6)), _data((3, 2, 3, 2), 1)
    out = autograd.conv2d(x, W, stride=(2, 1), pad=(1, 0))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    assert out.shape == (1, 3, 4, 5)
    np.testing.assert_allclose(out.data[0, :, 1, 2], np.tensordot(W, xp[0, :, 2:5, 2:4], axes=3), rtol=1e-12)


# --- pooling -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, _, kernel, stride, pad", GEOMETRIES, ids=IDS)
def test_max_and_avg_pooling_equal_loop_references(shape, _, kernel, stride, pad, dtype):
    pad = min(pad, kernel[0] // 2)
    x = _data(shape, 0, dtype)
    for name in ("max_pool2d", "avg_pool2d"):
        out = getattr(autograd, name)(Tensor(x), kernel, stride, pad)
        assert out.dtype == dtype
        want = SPECS_BY_NAME[name].reference(x.astype(np.float64), kernel, stride, pad)
        np.testing.assert_allclose(out.data, want, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("kernel, stride, pad, side", [(2, 2, 0, 5), (3, 2, 1, 7), (3, 1, 1, 5), (2, 1, 1, 4)],
                         ids=["k2-s2-p0-odd", "k3-s2-p1", "k3-s1-p1-overlapping", "k2-s1-p1"])
def test_pooling_gradients_match_central_differences_in_float64(name, kernel, stride, pad, side):
    x = (np.random.default_rng(4).permutation(2 * side * side) * 0.4 - side * side * 0.4).reshape(1, 2, side, side)
    assert autograd.gradcheck(lambda t: getattr(autograd, name)(t, kernel, stride, pad), x)


def test_max_pooling_sends_each_windows_gradient_to_its_first_maximum_as_the_book_does():
    # After a ReLU most windows are all zeros: ties everywhere. The book's argmax picks the first.
    x = np.maximum(_data((3, 2, 6, 6)), 0.0)
    x[0, 0, :2, :2] = 1.5  # a window of four equal maxima
    layer = book.Pooling(2, 2, stride=2)
    dout = _data(layer.forward(x).shape, 1)
    leaf = Tensor(x)
    autograd.max_pool2d(leaf, 2).backward(dout)
    np.testing.assert_array_equal(leaf.grad, layer.backward(dout))
    assert leaf.grad[0, 0, 0, 0] == dout[0, 0, 0, 0] and (leaf.grad[0, 0, :2, :2] != 0).sum() == 1


def test_max_pooling_padding_never_wins_even_over_negative_inputs():
    x = -1.0 - np.arange(25.0).reshape(1, 1, 5, 5)
    leaf = Tensor(x)
    out = autograd.max_pool2d(leaf, 3, stride=2, pad=1)
    np.testing.assert_array_equal(out.data[0, 0], [[-1, -2, -4], [-6, -7, -9], [-16, -17, -19]])
    out.sum().backward()
    assert leaf.grad.sum() == 9


def test_max_pooling_takes_a_nan_as_the_maximum_and_gives_it_the_gradient():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    leaf = Tensor(x)
    out = autograd.max_pool2d(leaf, 2)
    assert np.isnan(out.data).all()
    out.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(leaf.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_avg_pooling_counts_padding_zeros_in_the_mean():
    out = autograd.avg_pool2d(np.ones((1, 1, 3, 3)), 3, stride=1, pad=1)
    np.testing.assert_allclose(out.data[0, 0], np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9)


# --- second order ------------------------------------------------------------------------------------------
SECOND_ORDER = {
    "conv2d in x and W": (lambda x: (autograd.conv2d(x, x[:2, :2, :2, :2] * 1.0, stride=2, pad=1) ** 2).sum(),
                          (2, 2, 5, 5)),
    "conv2d then sin": (lambda x: autograd.sin(autograd.conv2d(x, np.ones((2, 2, 3, 3)) * 0.3)).sum(), (1, 2, 5, 4)),
    "max_pool2d": (lambda x: (autograd.max_pool2d(x, 2, 1, 1) ** 3).sum(), (1, 2, 4, 5)),
    "avg_pool2d": (lambda x: (autograd.avg_pool2d(x, 3, 2, 1) ** 3).sum(), (1, 2, 5, 5)),
    "batched matmul": (lambda x: ((x @ x[0]) ** 2).sum() + (x @ np.ones(3)).sum() ** 2, (2, 3, 3)),
    "sin, cos": (lambda x: (autograd.sin(x) * autograd.cos(x * x)).sum(), (5,)),
    "clip, leaky_relu, min": (lambda x: (autograd.clip(x, -1, 1) ** 3).sum() + (autograd.leaky_relu(x, 0.2) ** 2).sum()
                              + autograd.min(x) ** 3, (6,)),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_match_numerical_differentiation_of_the_first(name):
    f, shape = SECOND_ORDER[name]
    rng = np.random.default_rng(5)
    data = (rng.permutation(int(np.prod(shape))) * 0.37 - np.prod(shape) * 0.185).reshape(shape) / 3 + 0.05  # no 0: a kink
    data[np.abs(np.abs(data) - 1) < 0.05] += 0.1  # away from clip's bounds
    direction = rng.standard_normal(shape)

    assert_hessian_times_direction_matches(f, data, direction, atol=1e-7)


# --- elementwise ops at their kinks ------------------------------------------------------------------------------
def test_clip_passes_the_gradient_at_its_bounds_and_not_outside():
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    autograd.clip(x, -1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])


def test_clip_with_one_bound():
    np.testing.assert_array_equal(autograd.clip(Tensor([-2.0, 3.0]), high=1).data, [-2.0, 1.0])
    np.testing.assert_array_equal(autograd.clip(Tensor([-2.0, 3.0]), low=0).data, [0.0, 3.0])


def test_leaky_relu_slope_at_zero_is_the_negative_slope():
    x = Tensor([-1.0, 0.0, 1.0])
    autograd.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad, [0.1, 0.1, 1.0])


def test_min_splits_the_gradient_between_ties_and_keeps_float32():
    x = Tensor(np.array([[3.0, 1.0, 1.0], [0.0, 2.0, 5.0]], dtype=np.float32))
    out = autograd.min(x, axis=1)
    np.testing.assert_array_equal(out.data, [1.0, 0.0])
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])


# --- errors -----------------------------------------------------------------------------------------------------
ERRORS = [
    (lambda: autograd.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 1, 3, 3))), ValueError,
     "conv2d: the input has 2 channels (shape (1, 2, 5, 5)) but the filters expect 1 (shape (3, 1, 3, 3))"),
    (lambda: autograd.conv2d(np.ones((2, 5, 5)), np.ones((3, 2, 3, 3))), ValueError,
     "conv2d: the input must have shape (N, C, H, W), got (2, 5, 5)"),
    (lambda: autograd.conv2d(np.ones((1, 1, 5, 5)), np.ones((3, 3, 3))), ValueError,
     "conv2d: the filters must have shape (FN, C, FH, FW), got (3, 3, 3)"),
    (lambda: autograd.conv2d(np.ones((1, 1, 2, 5)), np.ones((1, 1, 3, 3))), ValueError,
     "conv2d: the kernel (3, 3) is larger than the padded input (2, 5) of the input shape (1, 1, 2, 5) with pad (0, 0)"),
    (lambda: autograd.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)), ValueError,
     "conv2d: the bias must have shape (2,) for 2 filters, got (3,)"),
    (lambda: autograd.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), stride=0), ValueError,
     "conv2d: stride must be >= 1, got 0"),
    (lambda: autograd.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), pad=-1), ValueError,
     "conv2d: pad must be >= 0, got -1"),
    (lambda: autograd.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), stride=1.5), TypeError,
     "conv2d: stride must be an int or a pair of ints, got 1.5"),
    (lambda: autograd.max_pool2d(np.ones((1, 1, 4, 4)), 2, pad=2), ValueError,
     "max_pool2d: pad (2, 2) must be at most half the kernel (2, 2)"),
    (lambda: autograd.avg_pool2d(np.ones((1, 1, 2, 2)), 3), ValueError,
     "avg_pool2d: the kernel (3, 3) is larger than the padded input (2, 2) of the input shape (1, 1, 2, 2) with pad (0, 0)"),
    (lambda: autograd.max_pool2d(np.ones((4, 4)), 2), ValueError,
     "max_pool2d: the input must have shape (N, C, H, W), got (4, 4)"),
    (lambda: autograd.max_pool2d(np.ones((1, 1, 4, 4)), (2, 2, 2)), TypeError,
     "max_pool2d: kernel must be an int or a pair of ints, got (2, 2, 2)"),
    (lambda: autograd.clip(Tensor([1.0]), 2, 1), ValueError, "clip: low 2 is above high 1"),
    (lambda: autograd.clip(Tensor([1.0])), ValueError, "clip: give low, high or both"),
    (lambda: autograd.clip(Tensor([1.0]), "0"), TypeError, "clip: low must be a number or None, got str"),
    (lambda: autograd.leaky_relu(Tensor([1.0]), None), TypeError, "leaky_relu: negative_slope must be a number, got NoneType"),
    (lambda: autograd.min(Tensor([1.0, 2.0]), axis=1), ValueError,
     "min: axis 1 is out of range for an input of 1 dimensions"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m.split(":")[0] + f"-{i}" for i, (_, _, m) in enumerate(ERRORS)])
def test_bad_arguments_name_the_op_and_the_values(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# --- batched matmul ---------------------------------------------------------------------------------------
def test_batched_matmul_gradient_of_a_broadcast_operand_sums_over_the_batch():
    a, b = Tensor(_data((4, 2, 3))), Tensor(_data((3, 5), 1))
    (a @ b).backward(np.ones((4, 2, 5)))
    np.testing.assert_allclose(b.grad, np.einsum("bij,bik->jk", a.data, np.ones((4, 2, 5))), rtol=1e-12)
    np.testing.assert_allclose(a.grad, np.ones((4, 2, 5)) @ b.data.T, rtol=1e-12)


def test_batched_matmul_keeps_float32():
    a, b = Tensor(_data((2, 2, 3), 0, np.float32)), Tensor(_data((3,), 1, np.float32))
    out = a @ b
    assert out.shape == (2, 2) and out.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == b.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1)], ids=["k2-s2-p0", "k3-s2-p1", "k3-s1-p1"])
def test_pooling_float32_gradients_match_float64_central_differences(name, kernel, stride, pad):
    x64 = (np.random.default_rng(8).permutation(2 * 5 * 5) * 0.4 - 10.0).reshape(1, 2, 5, 5)
    reference = SPECS_BY_NAME[name].reference
    weights = _data(reference(x64, kernel, stride, pad).shape, 9)
    leaf = Tensor(x64.astype(np.float32))
    (getattr(autograd, name)(leaf, kernel, stride, pad) * weights.astype(np.float32)).sum().backward()
    assert leaf.grad.dtype == np.float32
    numerical = numerical_gradient(lambda a: float(np.sum(reference(a, kernel, stride, pad) * weights)), x64.copy())
    np.testing.assert_allclose(leaf.grad, numerical, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 3, 1)],
                         ids=["apart", "overlapping-padded", "stride-1", "gaps"])
def test_max_pool_backward_recorded_for_create_graph_equals_the_plain_scatter(kernel, stride, pad):
    x = np.maximum(_data((2, 3, 7, 6)), 0.0)  # ties at 0
    weights = _data(autograd.max_pool2d(x, kernel, stride, pad).shape, 1)

    def f(t):
        return (autograd.max_pool2d(t, kernel, stride, pad) ** 2 * weights).sum()

    plain, recorded = Tensor(x), Tensor(x)
    f(plain).backward()
    (recorded_grad,) = grad(f(recorded), [recorded], create_graph=True)
    assert recorded_grad.requires_grad  # the max-pool VJP ran on Tensors: the one-hot rule
    np.testing.assert_allclose(recorded_grad.data, plain.grad, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name, call", [
    ("sin", autograd.sin), ("cos", autograd.cos), ("clip", lambda x: autograd.clip(x, -1, 1)),
    ("leaky_relu", lambda x: autograd.leaky_relu(x, 0.2)), ("min", lambda x: autograd.min(x, axis=1)),
])
def test_elementwise_float32_gradients_match_float64_central_differences(name, call):
    x64 = np.array([[-1.7, -0.6, 0.3, 0.55], [1.4, -0.35, 0.8, 2.1]])
    weights = np.arange(1.0, 1.0 + call(Tensor(x64)).size).reshape(call(Tensor(x64)).shape)
    leaf = Tensor(x64.astype(np.float32))
    (call(leaf) * weights.astype(np.float32)).sum().backward()
    assert leaf.grad.dtype == np.float32
    with autograd.no_grad():
        numerical = numerical_gradient(lambda a: float(np.sum(call(Tensor(a)).data * weights)), x64.copy())
    np.testing.assert_allclose(leaf.grad, numerical, rtol=1e-6, atol=1e-6)


def test_max_pool_gives_a_window_of_minus_inf_pixels_its_first_pixel_not_the_padding():
    # Found this session (adversarial hunt): np.argmax's first maximum was a -inf padding cell when every
    # pixel of the window was -inf too, so that window's gradient reached no pixel.
    x = Tensor(np.array([[[[-np.inf, 5.0], [1.0, 2.0]]]]))
    out = autograd.max_pool2d(x, 2, stride=2, pad=1)
    assert out.data[0, 0, 0, 0] == -np.inf
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[1.0, 1.0], [1.0, 1.0]]]])


@pytest.mark.parametrize("filters", [(1, 1, 0, 2), (1, 1, 2, 0), (0, 1, 2, 2)], ids=["no rows", "no columns", "no filters"])
def test_an_empty_kernel_or_no_filters_is_refused_not_computed_as_zeros(filters):
    # Found this session (adversarial hunt): a (1, 1, 0, 2) kernel gave an all-zero output larger than the
    # input, with zero gradients; no filters gave a confusing reshape error.
    with pytest.raises(ValueError, match="at least one filter and a kernel of at least 1 x 1"):
        autograd.conv2d(Tensor(np.ones((1, 1, 3, 3))), Tensor(np.ones(filters)))


@pytest.mark.parametrize("W, stride", [(np.ones((1, 1, 0, 2)), 1), (np.ones((1, 1, 2, 2)), 0)], ids=["empty", "stride 0"])
def test_the_compat_convolution_refuses_an_empty_kernel_or_a_zero_stride(W, stride):
    from nn import compat
    with pytest.raises(ValueError, match="must be at least 1"):
        compat.Convolution(W, np.zeros(1), stride=stride).forward(np.ones((1, 1, 4, 4)))
