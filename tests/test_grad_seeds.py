"""The seed gradients `grad` and `backward` start from (``grad_outputs``, ``backward(grad)``): never silently
wrong, and recorded when they are Tensors that require grad under ``create_graph=True``.

Found while building the op matrix (issue 8, section 3); each test failed before its fix.
"""

import numpy as np
import pytest

from autograd import Tensor, grad


def test_grad_outputs_that_require_grad_are_recorded_under_create_graph():
    # The double-VJP trick for Jacobian-vector products: d/dv <J^T v, w> = J w.
    x, v = Tensor([1.0, 2.0]), Tensor([1.0, 1.0])
    vjp = grad(x * x, x, grad_outputs=v, create_graph=True)
    np.testing.assert_array_equal(grad(vjp.sum(), v).data, [2.0, 4.0])


def test_a_none_seed_for_a_single_output_is_implied_ones_or_refused():
    x = Tensor([1.0])
    try:
        g = grad(x * 3.0, x, grad_outputs=[None])
    except (TypeError, ValueError):
        return
    np.testing.assert_array_equal(g.data, [3.0])


def test_a_seed_holding_none_is_refused():
    x = Tensor([1.0, 2.0])
    with pytest.raises((TypeError, ValueError), match="backward"):
        (x * 3.0).backward([None, 1.0])


@pytest.mark.parametrize("seed", ["ab", [1j, 2.0], np.array([None, 1.0])], ids=["text", "complex", "object"])
def test_a_seed_that_is_not_real_numbers_is_refused_naming_the_call(seed):
    x = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"backward: grad must hold real numbers"):
        (x * 3.0).backward(seed)
    with pytest.raises(TypeError, match=r"grad: grad must hold real numbers"):
        grad(x * 3.0, x, grad_outputs=seed)


def test_a_recorded_seed_of_another_dtype_is_cast_on_the_graph():
    x, v = Tensor(np.array([1.0, 2.0], dtype=np.float32)), Tensor([1.0, 1.0])
    vjp = grad(x * x, x, grad_outputs=v, create_graph=True)
    assert vjp.dtype == np.float32
    np.testing.assert_array_equal(grad(vjp.sum(), v).data, [2.0, 4.0])


def test_a_recorded_seed_of_the_wrong_shape_is_refused():
    x, v = Tensor([1.0, 2.0]), Tensor([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"grad: grad has shape \(3,\) but the output has shape \(2,\)"):
        grad(x * x, x, grad_outputs=v, create_graph=True)
