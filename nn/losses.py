"""Loss modules: `SoftmaxWithLoss`, the book's softmax plus cross-entropy as one fused autograd op."""

from __future__ import annotations

import autograd

from .module import Module

__all__ = ["SoftmaxWithLoss"]


class SoftmaxWithLoss(Module):
    """The mean cross-entropy of ``softmax(x)`` against ``t`` (labels (N,) or one-hot (N, C)), as a 0-d Tensor.

    Its gradient with respect to ``x`` is the book's ``(y - t) / N``, from `autograd.softmax_cross_entropy`.
    Unlike the book's ``cross_entropy_error`` it adds no ``1e-7`` inside the log: the log-softmax is exact.

    >>> import numpy as np
    >>> from autograd import Tensor
    >>> logits = Tensor([[2.0, 1.0, 0.1]])
    >>> loss = SoftmaxWithLoss()(logits, np.array([0]))
    >>> round(loss.item(), 4), loss.node.module
    (0.417, 'SoftmaxWithLoss')
    """

    def forward(self, x, t):
        return autograd.softmax_cross_entropy(x, t)
