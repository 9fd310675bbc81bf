"""The ``convnet-step`` workload: one training step of the book's SimpleConvNet, batch 100, float64 and float32.

Each implementation runs the same net (conv 30 filters 5x5 - relu - 2x2 max pool - affine 100 - relu -
affine 10 - softmax) from the same initial weights on the same batches: graphgrad (`nn.SimpleConvNet`,
``loss_tensor``, ``backward``, ``nn.optim.SGD``), the book's hand-written im2col layers
(`benchmarks.book_conv_layers`, trained with the book's loop ``params[key] -= lr * grad[key]``), and
PyTorch CPU eager when installed (``Conv2d``, ``MaxPool2d``, ``Linear`` with the weights copied in,
``F.cross_entropy`` on the one-hot targets, ``torch.optim.SGD``). A step is: gather the batch, forward,
backward, update. Before timing, each case checks that the implementations' gradients agree.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import nn

from .book_conv_layers import BookSimpleConvNet
from .harness import Outcome, Settings
from .training import _difference, checked_case

__all__ = ["LR", "synthetic_images", "check_baseline", "torch_model", "convnet_step"]

LR = 0.01  # plain SGD: small enough that the weights stay finite over the benchmark's thousand-odd steps
BATCH_SIZE = 100


def synthetic_images(n: int, dtype, rng: np.random.Generator, input_dim=(1, 28, 28), classes: int = 10):
    """``n`` random images in [0, 1) and one-hot labels: normalized MNIST's shapes (only the shapes matter here)."""
    x = rng.random((n, *input_dim)).astype(dtype)
    t = np.eye(classes, dtype=dtype)[rng.integers(0, classes, n)]
    return x, t


def check_baseline(dtype=np.float64, batch_size: int = 20, seed: int = 0, **net_options) -> float:
    """The largest gradient difference between `nn.SimpleConvNet` and the book's layers from the same weights.

    Absolute for float64, relative to the largest entry for float32.

    >>> check_baseline(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3}, hidden_size=5,
    ...                batch_size=4) < 1e-12
    True
    """
    rng = np.random.default_rng(seed)
    network = nn.SimpleConvNet(rng=rng, dtype=dtype, **net_options)
    baseline = BookSimpleConvNet.from_params(network.params, network.conv_param, dtype=dtype)
    x, t = synthetic_images(batch_size, dtype, rng, network.input_dim, network.output_size)
    return _difference(network.gradient(x, t), baseline.gradient(x, t), dtype)


def book_step(network, x_train, t_train):
    params = network.params

    def step(mask):  # the book's loop
        grads = network.gradient(x_train[mask], t_train[mask])
        for key in params:
            params[key] -= LR * grads[key]
    return step


def torch_model(torch, params: Mapping, dtype):
    """A torch ``nn.Sequential`` (Conv2d, ReLU, MaxPool2d, Flatten, Linear, ReLU, Linear) with copies of ``W1 … b3``.

    The Linear weights are stored transposed, (out, in), as ``nn.Linear`` keeps them; Flatten keeps the
    book's (C, H, W) order, so W2 needs no permutation.
    """
    torch_dtype = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]
    W1 = np.asarray(params["W1"])
    conv = torch.nn.Conv2d(W1.shape[1], W1.shape[0], W1.shape[2:], dtype=torch_dtype)
    hidden = torch.nn.Linear(*np.shape(params["W2"]), dtype=torch_dtype)
    scores = torch.nn.Linear(*np.shape(params["W3"]), dtype=torch_dtype)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(W1)))
        conv.bias.copy_(torch.from_numpy(np.asarray(params["b1"])))
        for layer, weight, bias in ((hidden, "W2", "b2"), (scores, "W3", "b3")):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(params[weight]).T)))
            layer.bias.copy_(torch.from_numpy(np.asarray(params[bias])))
    return torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2), torch.nn.Flatten(), hidden,
                               torch.nn.ReLU(), scores)


def torch_gradients(torch, model, x, t) -> dict:
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(t))
    dW1, db1, dW2, db2, dW3, db3 = (g.numpy() for g in torch.autograd.grad(loss, list(model.parameters())))
    return {"W1": dW1, "b1": db1, "W2": dW2.T, "b2": db2, "W3": dW3.T, "b3": db3}


def _case(dtype, settings: Settings) -> Outcome:
    """Time one training step of graphgrad, the book's layers and PyTorch on the same batches."""
    workload, case = "convnet-step", np.dtype(dtype).name.replace("float", "f")
    network = nn.SimpleConvNet(rng=0, dtype=dtype)
    baseline = BookSimpleConvNet.from_params(network.params, dtype=dtype)
    rng = np.random.default_rng(1)
    n_train = settings.size(2_000, 300)
    x_train, t_train = synthetic_images(n_train, dtype, rng)
    masks = [rng.choice(n_train, BATCH_SIZE) for _ in range(32)]
    return checked_case(workload, case, network, baseline, book_step, x_train, t_train, masks, dtype,
                        settings.size(5, 1), settings.rounds(15, 2), torch_model, torch_gradients, lr=LR)


def convnet_step(settings: Settings) -> Outcome:
    """The book's SimpleConvNet training step, batch 100, float64 and float32, against its hand-written layers."""
    outcome = Outcome([])
    for dtype in (np.float64, np.float32):
        case = _case(dtype, settings)
        outcome.rows += case.rows
        outcome.notes += case.notes
        outcome.profile_targets.update(case.profile_targets)
    outcome.notes.append("convnet-step: one step = batch gather + forward + backward + SGD update of the book's "
                         "SimpleConvNet (30 filters 5x5, pool 2x2, hidden 100); the images are synthetic (uniform "
                         "pixels, one-hot labels), as only their shapes matter; graphgrad and PyTorch skip the "
                         "images' gradient, which the book's Convolution computes (col2im) and throws away")
    return outcome
