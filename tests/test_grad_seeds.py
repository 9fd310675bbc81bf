"""The seed gradients `grad` and `backward` start from (``grad_outputs``, ``backward(grad)``): never silently
wrong, and recorded when they are Tensors that require grad under ``create_graph=True``.

Found while building the op matrix (issue 8, section 3); xfail(strict=True) until the engine is fixed.
"""

import numpy as np
import pytest

from autograd import Tensor, grad


def found(reason):
    return pytest.mark.xfail(strict=True, reason=f"found by the op matrix: {reason}")


@found("grad(..., grad_outputs=v, create_graph=True) copies v's data, so the result does not depend on v")
def test_grad_outputs_that_require_grad_are_recorded_under_create_graph():
    # The double-VJP trick for Jacobian-vector products: d/dv <J^T v, w> = J w.
    x, v = Tensor([1.0, 2.0]), Tensor([1.0, 1.0])
    vjp = grad(x * x, x, grad_outputs=v, create_graph=True)
    np.testing.assert_array_equal(grad(vjp.sum(), v).data, [2.0, 4.0])


@found("grad_outputs=[None] for a one-element output becomes a NaN seed")
def test_a_none_seed_for_a_single_output_is_implied_ones_or_refused():
    x = Tensor([1.0])
    try:
        g = grad(x * 3.0, x, grad_outputs=[None])
    except (TypeError, ValueError):
        return
    np.testing.assert_array_equal(g.data, [3.0])


@found("backward([None, 1.0]) turns None into NaN and backpropagates it")
def test_a_seed_holding_none_is_refused():
    x = Tensor([1.0, 2.0])
    with pytest.raises((TypeError, ValueError), match="backward"):
        (x * 3.0).backward([None, 1.0])
