"""A check of second derivatives the op matrix's tests share: the Hessian times a direction, two ways."""

import numpy as np

from autograd import Tensor, enable_grad, grad, numerical_gradient


def assert_hessian_times_direction_matches(f, data, direction, rtol=1e-6, atol=1e-8):
    """grad(<grad(f(x)), direction>) by create_graph equals central differences of the first gradient."""
    def first_derivative(array):
        with enable_grad():  # numerical_gradient calls f under no_grad
            t = Tensor(array.copy())
            return grad(f(t), t).data

    x = Tensor(data.copy())
    first = grad(f(x), x, create_graph=True)
    hessian_times_direction = grad((first * direction).sum(), x).data
    numerical = numerical_gradient(lambda a: float(np.sum(first_derivative(a) * direction)), data.copy(), eps=1e-5)
    np.testing.assert_allclose(hessian_times_direction, numerical, rtol=rtol, atol=atol)
