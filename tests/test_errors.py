"""Bad input gives a clear error naming what went wrong, never a wrong number (issue 2, section 5)."""

import re

import numpy as np
import pytest

import autograd
from autograd import Tensor


def ones(*shape):
    return Tensor(np.ones(shape))


# --- shape mismatches name the op and both shapes ------------------------------------------------------
@pytest.mark.parametrize("name, op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
])
def test_broadcast_mismatch_names_the_op_and_both_shapes(name, op):
    with pytest.raises(ValueError, match=re.escape(f"{name}: shapes (2, 3) and (4,) cannot be broadcast")):
        op(ones(2, 3), ones(4))


def test_broadcast_mismatch_with_an_array_constant_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("mul: shapes (2, 3) and (2,)")):
        ones(2, 3) * np.ones(2)


def test_matmul_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (3, 4) and (5, 2) are not aligned")):
        ones(3, 4) @ ones(5, 2)


def test_vector_dot_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (3,) and (4,) are not aligned")):
        autograd.dot(ones(3), ones(4))


def test_matmul_of_batches_that_do_not_broadcast_names_the_batch_dimensions():
    with pytest.raises(ValueError, match=re.escape(
            "matmul: the batch dimensions (2,) and (3,) of shapes (2, 3, 4) and (3, 4, 5) cannot be broadcast together")):
        ones(2, 3, 4) @ ones(3, 4, 5)


def test_batched_matmul_mismatch_names_the_dimensions_that_meet():
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (2, 3, 4) and (2, 5, 2) are not aligned: 4 (dim 2) != 5 (dim 1)")):
        ones(2, 3, 4) @ ones(2, 5, 2)


def test_matmul_of_a_zero_dimensional_operand_is_refused():
    with pytest.raises(ValueError, match=re.escape("matmul: operands must have at least 1 dimension, got shapes () and (3,)")):
        autograd.matmul(ones(), ones(3))


def test_reshape_to_the_wrong_size_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"reshape: .*\(4,\).*\(2, 3\)"):
        ones(2, 3).reshape(4)


def test_broadcast_to_an_incompatible_shape_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: .*\(2, 3\).*\(2, 4\)"):
        autograd.broadcast_to(ones(2, 3), (2, 4))


def test_transpose_with_axes_that_are_not_a_permutation():
    with pytest.raises(ValueError, match=re.escape("transpose: axes (0, 0) are not a permutation of the 2 axes")):
        ones(2, 3).transpose(0, 0)


@pytest.mark.parametrize("index", [5, np.array([0, 7]), (0, 9)], ids=["int", "array", "tuple"])
def test_index_out_of_range_is_an_index_error(index):
    with pytest.raises(IndexError, match="out of bounds"):
        ones(2, 3)[index]


@pytest.mark.parametrize("dtype", [np.int64, bool, np.complex128], ids=str)
def test_a_cast_to_a_non_float_dtype_is_a_type_error(dtype):
    with pytest.raises(TypeError, match=f"cast: only float dtypes carry gradients, got {np.dtype(dtype)}"):
        ones(2).astype(dtype)


# --- bad axis ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, call", [
    ("sum", lambda x: x.sum(axis=2)), ("max", lambda x: x.max(axis=-3)), ("softmax", lambda x: x.softmax(axis=2)),
    ("log_softmax", lambda x: x.log_softmax(axis=5)), ("sum", lambda x: autograd.sum(x, axis=(0, 2))),
])
def test_an_axis_out_of_range_names_the_op_and_the_dimensions(name, call):
    with pytest.raises(ValueError, match=rf"{name}: axis -?\d is out of range for an input of 2 dimensions"):
        call(ones(2, 3))


def test_a_bad_axis_in_mean_names_mean():
    with pytest.raises(ValueError, match=r"mean: axis 5 is out of range for an input of 2 dimensions"):
        ones(2, 3).mean(axis=5)


def test_a_repeated_axis_is_a_value_error_naming_the_op():
    with pytest.raises(ValueError, match=r"sum: .*axis"):
        ones(2, 3).sum(axis=(0, 0))


# --- non-numeric and object data ---------------------------------------------------------------------
@pytest.mark.parametrize("data", ["abc", ["a", "b"], np.array([object()]), [1 + 2j], None, {"a": 1}],
                         ids=["str", "str list", "object array", "complex", "None", "dict"])
def test_non_numeric_data_is_a_type_error(data):
    with pytest.raises(TypeError, match=r"Tensor: data of dtype \S+ is not numeric"):
        Tensor(data)


@pytest.mark.parametrize("other, dtype", [("a", "<U1"), (None, "object"), ([object()], "object")])
def test_a_non_numeric_operand_is_a_type_error_naming_the_op(other, dtype):
    with pytest.raises(TypeError, match=re.escape(f"mul: data of dtype {dtype} is not numeric")):
        ones(2) * other


def test_ragged_nested_lists_are_a_value_error():
    with pytest.raises(ValueError, match="Tensor: cannot make an array from list"):
        Tensor([[1.0, 2.0], [3.0]])


# --- backward misuse -------------------------------------------------------------------------------------
def test_backward_from_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(1.0, requires_grad=False).backward()
    with autograd.no_grad():
        y = ones(2) * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_backward_from_a_non_scalar_output_without_grad_names_its_shape():
    with pytest.raises(RuntimeError, match=re.escape("one-element output; this output has shape (2, 3)")):
        (ones(2, 3) * 2).backward()


@pytest.mark.parametrize("grad", [np.ones(3), np.ones((3, 2)), np.ones((1, 2, 3))], ids=str)
def test_backward_with_a_grad_of_the_wrong_shape_names_both_shapes(grad):
    with pytest.raises(ValueError, match=re.escape(f"grad has shape {grad.shape} but the output has shape (2, 3)")):
        (ones(2, 3) * 2).backward(grad)


def test_grad_of_an_unused_input_is_an_error_unless_allowed():
    x, unused = ones(2), Tensor(1.0, name="bias")
    with pytest.raises(RuntimeError, match=re.escape("grad: input 1 'bias' of shape () is not used")):
        autograd.grad(x.sum(), [x, unused])


def test_grad_with_a_wrong_number_of_output_gradients():
    x = ones(2)
    with pytest.raises(ValueError, match="grad: got 2 gradients for 1 outputs"):
        autograd.grad([x.sum()], x, grad_outputs=[np.ones(()), np.ones(())])
    with pytest.raises(ValueError, match=re.escape("grad: grad has shape (2,) but the output has shape ()")):
        autograd.grad(x.sum(), x, grad_outputs=[1.0, 1.0])


def test_grad_with_non_tensor_inputs_is_a_type_error():
    with pytest.raises(TypeError, match="grad: expected Tensors, got ndarray"):
        autograd.grad(ones(2).sum(), [np.ones(2)])


# --- softmax_cross_entropy targets -----------------------------------------------------------------------
@pytest.mark.parametrize("labels, bad", [([0, 3], 3), ([-1, 0], -1), ([0, 100], 100)])
def test_softmax_cross_entropy_labels_out_of_range(labels, bad):
    with pytest.raises(ValueError, match=re.escape(f"label {bad} is out of range for 3 classes (0..2)")):
        autograd.softmax_cross_entropy(ones(2, 3), np.array(labels))


@pytest.mark.parametrize("labels", [np.array([0.0, 1.0]), np.array([0.5, 1.0]), np.array([True, False])],
                         ids=["float integral", "float", "bool"])
def test_softmax_cross_entropy_non_integer_labels_are_a_type_error(labels):
    with pytest.raises(TypeError, match=f"class labels must be integers, got dtype {labels.dtype}"):
        autograd.softmax_cross_entropy(ones(2, 3), labels)


@pytest.mark.parametrize("target_shape", [(3,), (2, 4), (3, 3), (2, 3, 1), ()], ids=str)
def test_softmax_cross_entropy_targets_fitting_neither_form(target_shape):
    target = np.zeros(target_shape, dtype=np.int64)
    with pytest.raises(ValueError, match=re.escape(f"targets of shape {target_shape} fit neither labels (2,) "
                                                    "nor one-hot rows (2, 3)")):
        autograd.softmax_cross_entropy(ones(2, 3), target)


def test_softmax_cross_entropy_logits_of_three_dimensions():
    with pytest.raises(ValueError, match=re.escape("logits must have shape (N, C) or (C,), got (2, 3, 1)")):
        autograd.softmax_cross_entropy(ones(2, 3, 1), np.array([0, 1]))


def test_softmax_cross_entropy_non_numeric_one_hot_targets():
    with pytest.raises(TypeError, match="one-hot targets must be numeric, got dtype object"):
        autograd.softmax_cross_entropy(ones(2, 3), np.zeros((2, 3), dtype=object))


# --- pow exponent -------------------------------------------------------------------------------------
@pytest.mark.parametrize("exponent", [[2, 3], np.array([2.0, 3.0]), np.ones((2, 3))], ids=["list", "array", "matrix"])
def test_a_non_scalar_exponent_in_pow(exponent):
    shape = np.shape(exponent)
    with pytest.raises(ValueError, match=re.escape(f"pow: the exponent must be a scalar number, got an array of shape {shape}")):
        ones(2, 3) ** exponent


def test_a_tensor_exponent_that_requires_grad_is_refused():
    with pytest.raises(TypeError, match="pow: the exponent is a Tensor that requires grad"):
        ones(2) ** Tensor(2.0)


@pytest.mark.parametrize("exponent", ["2", None, True], ids=repr)
def test_a_non_number_exponent_is_a_type_error(exponent):
    with pytest.raises(TypeError, match="pow: the exponent must be a scalar number, got"):
        ones(2) ** exponent


def test_zero_dimensional_and_constant_tensor_exponents_are_accepted():
    x = Tensor([2.0, 3.0])
    np.testing.assert_array_equal((x ** np.array(2.0)).data, [4.0, 9.0])
    np.testing.assert_array_equal((x ** Tensor(2.0, requires_grad=False)).data, [4.0, 9.0])


def test_a_tensor_exponent_of_a_number_needs_a_positive_base():
    with pytest.raises(ValueError, match="pow: a Tensor exponent needs a positive base, got -2"):
        (-2) ** ones(2)


# --- detect_anomaly --------------------------------------------------------------------------------------
def test_detect_anomaly_names_the_first_forward_op_producing_inf():
    x = Tensor([1.0, 0.0])
    with autograd.detect_anomaly():
        with pytest.raises(FloatingPointError,
                           match=re.escape("log: forward produced 1 non-finite value (-inf) from inputs of shape (2,)")):
            autograd.exp(autograd.log(x) * 2)


def test_detect_anomaly_names_a_forward_nan_from_zero_times_inf_and_both_shapes():
    with autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=re.escape("mul: forward produced 1 non-finite value (nan) "
                                                               "from inputs of shape (1,) and (2, 1)")):
            Tensor([0.0]) * Tensor([[np.inf], [1.0]])


def test_detect_anomaly_names_the_op_whose_backward_produces_inf():
    x = Tensor([0.0, 1.0, 4.0])
    with autograd.detect_anomaly():
        y = (x ** 0.5).sum()  # finite forward; d/dx sqrt(x) at 0 is inf
        with pytest.raises(FloatingPointError, match=r"pow: backward produced 1 non-finite value \(inf\) "
                                                     r"from inputs of shape \(3,\)"):
            y.backward()


def test_detect_anomaly_is_off_outside_its_block_and_restored_after_errors():
    assert not autograd.is_anomaly_enabled()
    with pytest.raises(FloatingPointError):
        with autograd.detect_anomaly():
            assert autograd.is_anomaly_enabled()
            autograd.log(Tensor([0.0]))
    assert not autograd.is_anomaly_enabled()


def test_detect_anomaly_passes_finite_graphs_untouched():
    x = Tensor([1.0, 2.0])
    with autograd.detect_anomaly():
        y = autograd.softmax_cross_entropy(x.reshape(1, 2) * 3, [1])
        y.backward()
    assert np.isfinite(x.grad).all()


# --- gradient checking misuse --------------------------------------------------------------------------
def test_numerical_gradient_refuses_integer_and_read_only_arrays():
    with pytest.raises(TypeError, match="numerical_gradient: x must be a float ndarray or Tensor"):
        autograd.numerical_gradient(lambda v: v.sum(), np.array([1, 2]))
    read_only = np.ones(2)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="numerical_gradient: x is read-only"):
        autograd.numerical_gradient(lambda v: v.sum(), read_only)


def test_numerical_gradient_of_a_non_scalar_function():
    with pytest.raises(ValueError, match=re.escape("numerical_gradient: f must return a scalar, got a value of shape (2,)")):
        autograd.numerical_gradient(lambda v: v * 2, np.ones(2))


def test_gradcheck_without_differentiable_inputs_or_tensor_output():
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        autograd.gradcheck(lambda k: Tensor(1.0) * k, 3)
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got float"):
        autograd.gradcheck(lambda x: 1.0, np.ones(2))
