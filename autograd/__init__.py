"""graphgrad's automatic-differentiation engine: Tensors, the op table, and backward over the graph.

>>> from autograd import Tensor
>>> apple, apple_num, tax = Tensor(100.0, name="apple"), Tensor(2.0), Tensor(1.1)
>>> price = apple * apple_num * tax
>>> price.backward()
>>> round(price.item(), 9), round(apple.grad.item(), 9), round(apple_num.grad.item(), 9), tax.grad.item()
(220.0, 2.2, 110.0, 200.0)
"""

from .tensor import Tensor  # first: the modules below import it (it imports none of them; see _bind)

from . import ops
from .engine import apply
from .functional import (
    astype, avg_pool2d, batch_norm, broadcast_to, clip, conv2d, cos, dot, exp, flatten, leaky_relu, linear, log,
    log_softmax, matmul, max, max_pool2d, mean, mean_squared_error, min, power, relu, reshape, sigmoid, sin, softmax,
    softmax_cross_entropy, sum, sum_to, tanh, transpose,
)
from .gradcheck import GradcheckError, gradcheck, numerical_gradient
from .graph import backward_steps, grad, toposort
from .mode import detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, module_scope, no_grad
from .node import Node
from . import engine as _engine, functional as _functional, graph as _graph, tensor as _tensor

_tensor._bind(_functional, ops, _engine, _graph)  # Tensor's operators, now that the layers above it are loaded

__all__ = [
    "Tensor", "Node", "apply", "ops", "grad", "toposort", "backward_steps",
    "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "module_scope",
    "numerical_gradient", "gradcheck", "GradcheckError",
    "relu", "sigmoid", "tanh", "exp", "log", "softmax", "log_softmax", "softmax_cross_entropy",
    "dot", "matmul", "sum", "mean", "max", "reshape", "transpose", "broadcast_to", "power", "astype",
    "sin", "cos", "clip", "leaky_relu", "min", "conv2d", "max_pool2d", "avg_pool2d",
    "sum_to", "flatten", "linear", "mean_squared_error", "batch_norm",
]
