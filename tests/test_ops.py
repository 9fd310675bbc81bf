"""Unit tests of every op's forward value, shape and dtype against NumPy, and of the op-level edge cases."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import autograd
from autograd import Tensor, ops
from op_specs import SPECS, SPECS_BY_NAME

EXAMPLES = [(spec, case) for spec in SPECS for case in spec.examples]
EXAMPLE_IDS = [f"{spec.name}-{i}" for spec in SPECS for i in range(len(spec.examples))]


def leaves(arrays, dtype=None):
    return [Tensor(np.array(a, dtype=dtype)) for a in arrays]


# --- the spec table covers the op table ----------------------------------------------------------------
def test_every_op_in_the_op_table_has_a_spec():
    missing = sorted(op.name for op in ops.ALL_OPS if op.name not in SPECS_BY_NAME)
    assert not missing, f"ops without a spec in tests/op_specs.py: {missing}"


def test_every_spec_names_an_op_of_the_table_or_a_declared_composition():
    table = {op.name for op in ops.ALL_OPS}
    for spec in SPECS:
        assert (spec.name in table) != spec.composite, spec
    assert len(SPECS_BY_NAME) == len(SPECS)


def test_spec_arity_and_broadcasting_agree_with_the_op_table():
    for op in ops.ALL_OPS:
        spec = SPECS_BY_NAME[op.name]
        assert spec.arity == op.arity, op
        assert spec.broadcasts == op.broadcasting, op


# --- values and shapes against NumPy --------------------------------------------------------------------
@pytest.mark.parametrize("spec, case", EXAMPLES, ids=EXAMPLE_IDS)
def test_forward_value_and_shape_equal_numpy(spec, case):
    arrays = spec.example_inputs(case)
    out = spec.call(*leaves(arrays), **case.params)
    expected = spec.reference(*arrays, **case.params)
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert out.requires_grad and out.node is not None and out.node.output is out


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_forward_equals_numpy_on_random_shapes_and_parameters(spec, data):
    case = data.draw(spec.cases(4), label="case")
    arrays = data.draw(spec.values(case), label="inputs")
    out = spec.call(*leaves(arrays), **case.params)
    expected = spec.reference(*arrays, **case.params)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec, case", EXAMPLES, ids=EXAMPLE_IDS)
def test_no_op_mutates_its_inputs_forward_or_backward(spec, case):
    arrays = spec.example_inputs(case)
    originals = [a.copy() for a in arrays]
    inputs = [Tensor(a) for a in arrays]  # shares memory with `arrays`
    out = spec.call(*inputs, **case.params)
    out.backward(np.ones(out.shape))
    for a, original, t in zip(arrays, originals, inputs):
        np.testing.assert_array_equal(a, original)
        assert t.grad.shape == a.shape


@pytest.mark.parametrize("spec, case", EXAMPLES, ids=EXAMPLE_IDS)
def test_float32_stays_float32_through_every_op_and_its_gradient(spec, case):
    inputs = leaves(spec.example_inputs(case), dtype=np.float32)
    out = spec.call(*inputs, **case.params)
    assert out.dtype == (np.float32 if spec.keeps_dtype else case.params["dtype"])
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.grad.dtype == out.dtype
    for t in inputs:
        assert t.grad.dtype == np.float32, t


# --- method forms and function forms agree --------------------------------------------------------------
def test_method_forms_equal_function_forms():
    x = np.random.default_rng(1).uniform(0.5, 2.0, (3, 4))
    t = Tensor(x)
    pairs = [
        (t.relu(), autograd.relu(t)), (t.sigmoid(), autograd.sigmoid(t)), (t.tanh(), autograd.tanh(t)),
        (t.exp(), autograd.exp(t)), (t.log(), autograd.log(t)), (t.softmax(0), autograd.softmax(t, 0)),
        (t.log_softmax(), autograd.log_softmax(t)), (t.sum(1, keepdims=True), autograd.sum(t, 1, True)),
        (t.mean(0), autograd.mean(t, 0)), (t.max(1), autograd.max(t, 1)), (t.reshape(2, 6), autograd.reshape(t, (2, 6))),
        (t.reshape((12,)), autograd.reshape(t, 12)), (t.T, autograd.transpose(t)),
        (t.transpose(1, 0), autograd.transpose(t, (1, 0))), (t.dot(t.T), autograd.dot(t, t.T)),
        (t @ t.T, autograd.matmul(t, t.T)), (t ** 2, autograd.power(t, 2)),
        (t.broadcast_to((2, 3, 4)), autograd.broadcast_to(t, (2, 3, 4))),
    ]
    for method, function in pairs:
        assert method.node.op is function.node.op
        np.testing.assert_array_equal(method.data, function.data)


@pytest.mark.parametrize("source, target", [(np.float64, np.float32), (np.float32, np.float64), (np.float32, np.float32)])
def test_cast_converts_the_value_and_casts_the_gradient_back(source, target):
    x = Tensor(np.array([1.0, 2.5, -3.0], dtype=source))
    y = x.astype(target)
    assert y.dtype == target and y.node.op.name == "cast"
    np.testing.assert_array_equal(y.data, np.array([1.0, 2.5, -3.0], dtype=target))
    (y * np.array([1.0, 2.0, 3.0], dtype=target)).sum().backward()
    assert y.grad.dtype == target and x.grad.dtype == source
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_dot_and_matmul_are_the_same_function():
    assert autograd.dot is autograd.matmul


# --- dtype rules --------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [[1, 2, 3], np.array([1, 2], dtype=np.int32), [True, False], 7, np.uint8(3)])
def test_integer_and_bool_data_becomes_float64(data):
    assert Tensor(data).dtype == np.float64


def test_float32_data_stays_float32_and_float_arrays_are_not_copied():
    a = np.ones(3, dtype=np.float32)
    t = Tensor(a)
    assert t.dtype == np.float32 and t.data is a


@pytest.mark.parametrize("expression", [
    lambda x: x * 2, lambda x: 2 * x, lambda x: 2 - x, lambda x: x - 2, lambda x: x / 3, lambda x: 3 / x,
    lambda x: x + 1.5, lambda x: x ** 2, lambda x: -x, lambda x: x * np.array([1, 2, 3]),
    lambda x: x + np.float64(0.5), lambda x: (x * 2.0).sum(), lambda x: x.mean(), lambda x: 2 ** x,
], ids=["x*2", "2*x", "2-x", "x-2", "x/3", "3/x", "x+1.5", "x**2", "-x", "x*int_array", "x+np.float64",
        "sum", "mean", "2**x"])
def test_float32_tensor_with_python_scalars_stays_float32_in_value_and_gradient(expression):
    x32 = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    out = expression(x32)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape))
    assert x32.grad.dtype == np.float32


@pytest.mark.parametrize("op", [np.add, np.multiply, np.subtract, np.divide, np.dot])
def test_mixed_float32_and_float64_follow_numpy(op):
    a32 = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    b64 = np.array([[0.5, 1.5], [2.5, 3.5]], dtype=np.float64)
    x32, y64 = Tensor(a32), Tensor(b64)
    call = {np.add: lambda p, q: p + q, np.multiply: lambda p, q: p * q, np.subtract: lambda p, q: p - q,
            np.divide: lambda p, q: p / q, np.dot: lambda p, q: p @ q}[op]
    for left, right, l_arr, r_arr in [(x32, y64, a32, b64), (y64, x32, b64, a32)]:
        out = call(left, right)
        assert out.dtype == op(l_arr, r_arr).dtype
        np.testing.assert_allclose(out.data, op(l_arr, r_arr))
    # Each leaf's gradient keeps the leaf's own dtype.
    out = call(x32, y64)
    out.backward(np.ones(out.shape))
    assert x32.grad.dtype == np.float32 and y64.grad.dtype == np.float64


def test_float32_tensor_with_float64_array_constant_follows_numpy():
    x32 = Tensor(np.ones(2, dtype=np.float32))
    assert (x32 + np.ones(2)).dtype == np.float64
    assert (x32 + np.ones(2, dtype=np.float32)).dtype == np.float32


# --- reflected operators with scalars and arrays ------------------------------------------------------
REFLECTED = [
    ("2 * x", lambda x, A, arr: 2 * x, "mul", lambda x: 2 * x, lambda x: np.full(3, 2.0)),
    ("1 - x", lambda x, A, arr: 1 - x, "sub", lambda x: 1 - x, lambda x: np.full(3, -1.0)),
    ("x / 3", lambda x, A, arr: x / 3, "div", lambda x: x / 3, lambda x: np.full(3, 1 / 3)),
    ("3 / x", lambda x, A, arr: 3 / x, "div", lambda x: 3 / x, lambda x: -3 / x ** 2),
    ("-x", lambda x, A, arr: -x, "neg", lambda x: -x, lambda x: np.full(3, -1.0)),
    ("x ** 2", lambda x, A, arr: x ** 2, "pow", lambda x: x ** 2, lambda x: 2 * x),
    ("A @ x", lambda x, A, arr: A @ x, "matmul", lambda x: np.array([[1.0, 2, 3], [4, 5, 6]]) @ x,
     lambda x: np.array([5.0, 7.0, 9.0])),
    ("arr + x", lambda x, A, arr: arr + x, "add", lambda x: np.array([10.0, 20, 30]) + x, lambda x: np.ones(3)),
    ("arr * x", lambda x, A, arr: arr * x, "mul", lambda x: np.array([10.0, 20, 30]) * x,
     lambda x: np.array([10.0, 20, 30])),
    ("arr - x", lambda x, A, arr: arr - x, "sub", lambda x: np.array([10.0, 20, 30]) - x, lambda x: -np.ones(3)),
    ("arr / x", lambda x, A, arr: arr / x, "div", lambda x: np.array([10.0, 20, 30]) / x,
     lambda x: -np.array([10.0, 20, 30]) / x ** 2),
]


@pytest.mark.parametrize("label, expression, op_name, value, gradient", REFLECTED, ids=[r[0] for r in REFLECTED])
def test_reflected_operators_give_recorded_tensors(label, expression, op_name, value, gradient):
    data = np.array([1.0, 2.0, 4.0])
    x = Tensor(data.copy())
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    arr = np.array([10.0, 20.0, 30.0])
    out = expression(x, A, arr)
    assert isinstance(out, Tensor), type(out)
    assert out.node is not None and out.node.op.name == op_name
    assert any(t is x for t in out.node.inputs)
    np.testing.assert_allclose(out.data, value(data))
    out.sum().backward()
    np.testing.assert_allclose(x.grad, gradient(data))


def test_scalar_and_array_operands_become_constants_in_the_graph():
    x = Tensor([1.0, 2.0])
    out = np.array([3.0, 4.0]) * x + 2
    constants = [t for t in out.node.inputs + out.node.inputs[0].node.inputs if t is not x and t.node is None]
    assert len(constants) == 2 and all(not t.requires_grad for t in constants)


# --- augmented assignment -----------------------------------------------------------------------------
def test_augmented_add_records_like_the_plain_form_and_leaves_data_alone():
    x = Tensor([1.0, 2.0])
    c = x * 1.0
    old_c, old_data = c, c.data.copy()
    c += c + 1
    assert c is not old_c and c.node.op.name == "add" and c.node.inputs[0] is old_c
    np.testing.assert_array_equal(old_c.data, old_data)
    np.testing.assert_array_equal(c.data, [3.0, 5.0])
    c.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_augmented_ops_on_a_leaf_never_mutate_its_data():
    data = np.array([1.0, 2.0, 3.0])
    x = Tensor(data)
    y = x
    y += 1
    y *= 2
    y -= 1
    y /= 4
    y **= 2
    assert y is not x
    np.testing.assert_array_equal(data, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(y.data, ((data + 1) * 2 - 1) ** 2 / 16)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * ((data + 1) * 2 - 1) / 4 * 2 / 4)


def test_loss_accumulated_with_plus_equals_in_a_loop_gets_every_term():
    w = Tensor([1.0, -2.0, 0.5])
    loss = 0
    for k in range(1, 5):
        loss += (w * k).sum()
    assert isinstance(loss, Tensor)
    np.testing.assert_allclose(loss.item(), (1 + 2 + 3 + 4) * (1.0 - 2.0 + 0.5))
    loss.backward()
    np.testing.assert_array_equal(w.grad, [10.0, 10.0, 10.0])


def test_array_plus_equals_tensor_is_refused_and_leaves_the_array_alone():
    # NumPy cannot hand an in-place ufunc to a Tensor (__array_ufunc__ = None): a TypeError, never a
    # silently mutated array holding an unrecorded result.
    arr = np.array([1.0, 2.0])
    with pytest.raises(TypeError):
        arr += Tensor([10.0, 20.0])
    np.testing.assert_array_equal(arr, [1.0, 2.0])


# --- numerical stability ------------------------------------------------------------------------------
BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])


def test_sigmoid_is_finite_and_exact_at_plus_minus_1000():
    x = Tensor([-1000.0, 0.0, 1000.0])
    y = autograd.sigmoid(x)
    np.testing.assert_array_equal(y.data, [0.0, 0.5, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])


def test_sigmoid_keeps_precision_for_large_negative_inputs():
    y = autograd.sigmoid(Tensor([-40.0, -700.0]))
    np.testing.assert_allclose(y.data, np.exp([-40.0, -700.0]), rtol=1e-12)


def test_tanh_at_plus_minus_1000_is_finite():
    x = Tensor([-1000.0, 1000.0])
    y = autograd.tanh(x)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [-1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_softmax_is_finite_and_correct_at_plus_minus_1000():
    x = Tensor(BIG)
    y = autograd.softmax(x, axis=1)
    np.testing.assert_allclose(y.data, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (y * weights).sum().backward()
    # d/dx of sum(w * softmax) = s * (w - <w, s>): zero where s is one-hot.
    np.testing.assert_allclose(x.grad, np.zeros((2, 3)), atol=0)
    assert np.isfinite(x.grad).all()


def test_log_softmax_is_finite_and_correct_at_plus_minus_1000():
    x = Tensor(BIG)
    y = autograd.log_softmax(x, axis=1)
    np.testing.assert_allclose(y.data, [[0.0, -2000.0, -1000.0], [-2000.0, -2000.0, 0.0]])
    y.sum().backward()
    # d/dx of sum(log_softmax) = 1 - C * softmax
    np.testing.assert_allclose(x.grad, [[-2.0, 1.0, 1.0], [1.0, 1.0, -2.0]])


def test_softmax_cross_entropy_is_finite_and_correct_at_plus_minus_1000():
    logits = Tensor(BIG)
    loss = autograd.softmax_cross_entropy(logits, np.array([1, 2]))
    np.testing.assert_allclose(loss.item(), (2000.0 + 0.0) / 2)
    loss.backward()
    np.testing.assert_allclose(logits.grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]])
    assert np.isfinite(logits.grad).all()


def test_softmax_cross_entropy_with_one_hot_is_finite_at_plus_minus_1000():
    logits = Tensor(BIG)
    loss = autograd.softmax_cross_entropy(logits, np.eye(3)[[1, 2]])
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1000.0)
    np.testing.assert_allclose(logits.grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]])


# --- kinks, ties, repeats ------------------------------------------------------------------------------
def test_relu_derivative_at_exactly_zero_is_zero():
    x = Tensor([-1.0, 0.0, 2.0, -0.0])
    autograd.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("data, axis, keepdims, expected", [
    ([1.0, 3.0, 3.0], None, False, [0.0, 0.5, 0.5]),
    ([4.0, 4.0, 4.0, 4.0], None, False, [0.25] * 4),
    ([[2.0, 2.0], [1.0, 3.0]], 1, False, [[0.5, 0.5], [0.0, 1.0]]),
    ([[2.0, 2.0], [1.0, 3.0]], 0, True, [[1.0, 0.0], [0.0, 1.0]]),
    ([[5.0, 1.0, 5.0], [5.0, 0.0, 5.0]], None, False, [[0.25, 0.0, 0.25], [0.25, 0.0, 0.25]]),
])
def test_max_splits_the_gradient_evenly_between_ties(data, axis, keepdims, expected):
    x = Tensor(data)
    autograd.max(x, axis=axis, keepdims=keepdims).sum().backward()
    np.testing.assert_array_equal(x.grad, expected)


def test_max_tie_split_scales_the_upstream_gradient():
    x = Tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    autograd.max(x, axis=1).backward(np.array([4.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0, 0.0], [0.0, 5.0, 5.0]])


@pytest.mark.parametrize("index, expected", [
    ([0, 0, 2], [2.0, 0.0, 1.0, 0.0]),
    (np.array([3, 3, 3]), [0.0, 0.0, 0.0, 3.0]),
    (np.array([[1, 1], [1, 0]]), [1.0, 3.0, 0.0, 0.0]),
    (np.array([-1, 3]), [0.0, 0.0, 0.0, 2.0]),
])
def test_getitem_with_repeated_indices_accumulates_the_gradient(index, expected):
    x = Tensor([1.0, 2.0, 3.0, 4.0])
    y = x[index]
    np.testing.assert_array_equal(y.data, np.array([1.0, 2.0, 3.0, 4.0])[index])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, expected)


def test_getitem_with_repeated_index_pairs_in_two_dimensions_accumulates():
    x = Tensor(np.zeros((2, 3)))
    x[np.array([0, 0, 1]), np.array([2, 2, 0])].backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 11.0], [100.0, 0.0, 0.0]])


@pytest.mark.parametrize("index", [np.array([True, True, False, False]), np.array([1.7]), np.array([2.0, 2.0])])
def test_getitem_refuses_a_tensor_index_whose_floats_could_mean_positions_or_a_mask(index):
    # Tensor(mask) holds 1.0/0.0, once read as positions [1, 1, 0, 0]; Tensor([1.7]) was truncated to 1.
    x = Tensor([10.0, 20.0, 30.0, 40.0])
    with pytest.raises(TypeError, match=r"getitem: a Tensor \(dtype float64, shape \(\d,\)\) cannot be an index"):
        x[Tensor(index, requires_grad=False)]
    with pytest.raises(TypeError, match="cannot be an index"):
        x[(Tensor(index),)]  # inside a tuple index too


def test_getitem_with_a_boolean_mask_array_selects_and_scatters_back():
    x = Tensor([10.0, 20.0, 30.0, 40.0])
    y = x[np.array([True, True, False, False])]
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [10.0, 20.0])
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0, 0.0])


def test_getitem_slices_and_integers_scatter_back_to_place():
    x = Tensor(np.arange(12.0).reshape(3, 4))
    y = x[1:, ::2]
    np.testing.assert_array_equal(y.data, np.arange(12.0).reshape(3, 4)[1:, ::2])
    y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad, [[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]])


# --- softmax_cross_entropy: labels and one-hot ----------------------------------------------------------
def test_softmax_cross_entropy_labels_and_one_hot_give_the_same_loss_and_gradient():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 3, 1, 2])
    onehot = np.eye(4)[labels]
    a, b = Tensor(data.copy()), Tensor(data.copy())
    loss_a = autograd.softmax_cross_entropy(a, labels)
    loss_b = autograd.softmax_cross_entropy(b, onehot)
    assert loss_a.shape == () and loss_b.shape == ()
    np.testing.assert_allclose(loss_a.item(), loss_b.item(), rtol=1e-14)
    loss_a.backward()
    loss_b.backward()
    softmax = np.exp(data) / np.exp(data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(a.grad, (softmax - onehot) / 5, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.grad, (softmax - onehot) / 5, rtol=1e-12, atol=1e-15)
    expected_loss = -np.mean(np.log(softmax[np.arange(5), labels]))
    np.testing.assert_allclose(loss_a.item(), expected_loss, rtol=1e-12)


def test_softmax_cross_entropy_accepts_a_tensor_target_and_gives_it_no_gradient():
    logits = Tensor([[1.0, 2.0], [0.5, -0.5]])
    target = Tensor([[0.0, 1.0], [1.0, 0.0]])
    loss = autograd.softmax_cross_entropy(logits, target)
    loss.backward()
    assert target.grad is None and logits.grad is not None


def test_softmax_cross_entropy_of_one_sample_equals_a_batch_of_one():
    x = np.array([0.3, -1.2, 2.0])
    single, batch = Tensor(x.copy()), Tensor(x.reshape(1, 3).copy())
    a, b = autograd.softmax_cross_entropy(single, 2), autograd.softmax_cross_entropy(batch, [2])
    a.backward()
    b.backward()
    assert a.item() == b.item()
    np.testing.assert_array_equal(single.grad, batch.grad[0])


# --- matmul with 1-d operands -----------------------------------------------------------------------
def test_vector_dot_vector_is_a_scalar_with_each_other_as_gradient():
    v, w = Tensor([1.0, 2.0, 3.0]), Tensor([4.0, -5.0, 6.0])
    out = v @ w
    assert out.shape == ()
    assert out.item() == np.dot([1.0, 2.0, 3.0], [4.0, -5.0, 6.0])
    out.backward()
    np.testing.assert_array_equal(v.grad, w.data)
    np.testing.assert_array_equal(w.grad, v.data)


def test_matrix_dot_vector_and_its_gradients():
    M, v = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), Tensor([1.0, 0.0, -1.0])
    out = M.dot(v)
    np.testing.assert_array_equal(out.data, [-2.0, -2.0])
    g = np.array([1.0, 10.0])
    out.backward(g)
    np.testing.assert_array_equal(M.grad, np.outer(g, v.data))
    np.testing.assert_array_equal(v.grad, M.data.T @ g)


def test_vector_dot_matrix_and_its_gradients():
    v, M = Tensor([1.0, -1.0]), Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = autograd.dot(v, M)
    np.testing.assert_array_equal(out.data, [-3.0, -3.0, -3.0])
    g = np.array([1.0, 2.0, 3.0])
    out.backward(g)
    np.testing.assert_array_equal(v.grad, M.data @ g)
    np.testing.assert_array_equal(M.grad, np.outer(v.data, g))


@pytest.mark.parametrize("left, right", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4))])
def test_matmul_of_one_and_two_dimensional_operands_passes_gradcheck(left, right):
    rng = np.random.default_rng(0)
    assert autograd.gradcheck(lambda a, b: a @ b, rng.standard_normal(left), rng.standard_normal(right))


def test_bias_gradient_is_the_upstream_summed_over_the_batch():
    b = Tensor([0.0, 0.0, 0.0])
    (Tensor(np.zeros((2, 3)), requires_grad=False) + b).backward(np.array([[1.0, 2, 3], [4, 5, 6]]))
    np.testing.assert_array_equal(b.grad, [5.0, 7.0, 9.0])


# --- mean and reductions ------------------------------------------------------------------------------
def test_mean_gradient_is_one_over_the_count():
    x = Tensor(np.ones((2, 5)))
    autograd.mean(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 5), 0.2))


def test_reductions_over_empty_axis_tuple_are_the_identity():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    for reduce in (autograd.sum, autograd.max):
        out = reduce(x, axis=())
        np.testing.assert_array_equal(out.data, x.data)


def test_pow_with_zero_exponent_has_zero_gradient_even_at_zero():
    x = Tensor([0.0, 2.0, -3.0])
    y = x ** 0
    np.testing.assert_array_equal(y.data, [1.0, 1.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_pow_with_exponent_one_and_two_at_zero_has_the_right_gradient():
    x = Tensor([0.0, 0.0])
    (x ** 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    x.zero_grad()
    (x ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
