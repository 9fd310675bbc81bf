"""The book's ``common/gradient.py`` for its scripts: `autograd`'s central differences, which perturb the array
in place one element at a time and call ``f(x)``, as the book's ``numerical_gradient`` does."""

from autograd import numerical_gradient  # noqa: F401

__all__ = ["numerical_gradient"]
