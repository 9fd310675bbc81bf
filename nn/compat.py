"""The book's layers (`MulLayer`, `AddLayer`, `Relu`, `Sigmoid`, `Affine`, `Convolution`, `Pooling`,
`SoftmaxWithLoss`) with its forward/backward(dout) interface.

Each ``forward`` records its computation on the graph and returns plain NumPy values, as the book's
layers do; each ``backward(dout)`` asks the recorded graph for the gradient
(``autograd.grad(out, inputs, grad_outputs=dout)``). No formula here is written by hand.
The graph-native layers are in `nn.layers`.

The book's chapter 6 layers, `BatchNormalization` and `Dropout`, take its ``forward(x, train_flg)``.
"""

from __future__ import annotations

import numpy as np

import autograd
from autograd import Tensor

__all__ = ["MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "Convolution", "Pooling", "SoftmaxWithLoss"]


def _leaf(value) -> Tensor:
    """A leaf holding a snapshot of ``value``: the layer's backward uses what its forward saw.

    The book's code perturbs and updates its arrays in place between calls (its numerical_gradient
    writes into W after each forward, with no backward), so a compat graph never holds the caller's
    arrays read-only (`autograd.inplace`): it keeps a copy, which is also what makes its backward exact.
    """
    return Tensor(np.array(value) if isinstance(value, np.ndarray) else value)


def _value(t: Tensor):
    """The book's kind of value: a Python float for a 0-d result (as for the book's numbers), else the array."""
    return t.data if t.data.ndim else t.data.item()


class _GraphLayer:
    """Keeps the output and the input leaves of the last forward, and differentiates through them."""

    def _record(self, out: Tensor, *inputs: Tensor):
        self._out, self._inputs = out, inputs
        return _value(out)

    def _backward(self, dout):
        if getattr(self, "_out", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first")
        # Retained, as the book's layers can run backward again after one forward: the graph reads private
        # snapshots (`_leaf`) only, so nothing can have changed them in place; the next forward drops it.
        grads = autograd.grad(self._out, list(self._inputs), grad_outputs=dout, retain_graph=True)
        return tuple(_value(g) for g in grads)


class MulLayer(_GraphLayer):
    """``x * y``; backward gives ``(dout * y, dout * x)``, from the graph.

    >>> layer = MulLayer()
    >>> layer.forward(100, 2)
    200.0
    >>> layer.backward(1)
    (2.0, 100.0)
    """

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        x, y = _leaf(x), _leaf(y)
        return self._record(x * y, x, y)

    def backward(self, dout):
        return self._backward(dout)


class AddLayer(_GraphLayer):
    """``x + y``; backward gives ``(dout, dout)``, from the graph.

    >>> layer = AddLayer()
    >>> layer.forward(200, 450)
    650.0
    >>> layer.backward(1.1)
    (1.1, 1.1)
    """

    def forward(self, x, y):
        x, y = _leaf(x), _leaf(y)
        return self._record(x + y, x, y)

    def backward(self, dout):
        return self._backward(dout)


class Relu(_GraphLayer):
    """``max(x, 0)``, keeping the book's ``mask`` (``x <= 0``); backward zeroes ``dout`` where the mask is set.

    Unlike the book's, ``backward`` leaves ``dout`` unchanged.

    >>> layer = Relu()
    >>> layer.forward(np.array([[1.0, -0.5], [-2.0, 3.0]]))
    array([[1., 0.],
           [0., 3.]])
    >>> layer.mask
    array([[False,  True],
           [ True, False]])
    >>> layer.backward(np.ones((2, 2)))
    array([[1., 0.],
           [0., 1.]])
    """

    def __init__(self):
        self.mask = None

    def forward(self, x):
        x = _leaf(x)
        self.mask = x.data <= 0
        return self._record(autograd.relu(x), x)

    def backward(self, dout):
        return self._backward(dout)[0]


class Sigmoid(_GraphLayer):
    """``1 / (1 + exp(-x))``, keeping the output as ``out``; backward gives ``dout * out * (1 - out)``.

    >>> layer = Sigmoid()
    >>> layer.forward(np.array([0.0]))
    array([0.5])
    >>> layer.backward(np.array([1.0]))
    array([0.25])
    """

    def __init__(self):
        self.out = None

    def forward(self, x):
        x = _leaf(x)
        out = autograd.sigmoid(x)
        self.out = out.data
        return self._record(out, x)

    def backward(self, dout):
        return self._backward(dout)[0]


class Affine(_GraphLayer):
    """``x @ W + b`` on the arrays ``W`` and ``b`` it is given (held, not copied, as in the book).

    ``backward(dout)`` returns ``dx`` and stores ``dW`` and ``db``, all read from the graph. An input
    of more than two dimensions (an image batch) is reshaped to (N, -1) first, as the book's Affine
    does (keeping ``original_x_shape``); ``dx`` comes back in the input's shape.

    >>> layer = Affine(np.ones((2, 3)), np.zeros(3))
    >>> layer.forward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[3., 3., 3.],
           [7., 7., 7.]])
    >>> dx = layer.backward(np.array([[1, 2, 3], [4, 5, 6]]))
    >>> layer.db
    array([5., 7., 9.])
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = np.shape(x)
        self.x = np.reshape(x, (len(x), -1)) if np.ndim(x) > 2 else x
        # Read anew on each call, so the layer always computes with the arrays self.W and self.b hold.
        x, W, b = _leaf(x), _leaf(self.W), _leaf(self.b)
        rows = autograd.reshape(x, (x.shape[0], -1)) if x.ndim > 2 else x
        return self._record(autograd.matmul(rows, W) + b, x, W, b)

    def backward(self, dout):
        dx, self.dW, self.db = self._backward(dout)
        return dx


def _side(who: str, size: int, kernel: int, stride: int, pad: int) -> int:
    """The book's output side ``(size + 2 pad - kernel) // stride + 1``, refusing a kernel larger than the input,
    an empty kernel (it would give zeros larger than the input) and a stride below 1."""
    if kernel < 1 or stride < 1:
        raise ValueError(f"{who}: the window ({kernel}) and the stride ({stride}) must be at least 1")
    if size + 2 * pad < kernel:
        raise ValueError(f"{who}: a window of {kernel} does not fit an input side of {size} with pad {pad}")
    return (size + 2 * pad - kernel) // stride + 1


class Convolution(_GraphLayer):
    """The book's im2col convolution of images (N, C, H, W) with filters ``W`` (FN, C, FH, FW) and biases ``b`` (FN,).

    ``forward`` computes the book's ``col = im2col(x)``, ``col @ col_W + b``, reshaped to (N, FN, out_h,
    out_w), as one recorded `autograd.conv2d` op, and keeps its ``x``, ``col`` and ``col_W``.
    ``backward(dout)`` returns ``dx`` and stores ``dW`` and ``db``, all read from the graph. ``W`` and ``b``
    are held, not copied.

    >>> layer = Convolution(np.ones((1, 1, 2, 2)), np.zeros(1), stride=2)
    >>> layer.forward(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[10., 18.],
             [42., 50.]]]])
    >>> layer.col.shape, layer.col_W.shape
    ((4, 4), (4, 1))
    >>> dx = layer.backward(np.ones((1, 1, 2, 2)))
    >>> layer.dW, layer.db
    (array([[[[20., 24.],
             [36., 40.]]]]), array([4.]))
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = np.shape(self.W)
        _, x_channels, H, W_ = np.shape(x)
        if x_channels != C:
            raise ValueError(f"Convolution: the input has {x_channels} channels (shape {np.shape(x)}) but W "
                             f"expects {C} (shape {np.shape(self.W)})")
        _side("Convolution", H, FH, self.stride, self.pad)
        _side("Convolution", W_, FW, self.stride, self.pad)
        self.x = x
        x, W, b = _leaf(x), _leaf(self.W), _leaf(self.b)
        params = dict(stride=(self.stride,) * 2, pad=(self.pad,) * 2)
        out = autograd.apply(autograd.ops.CONV2D, x, W, b, **params)
        # The col the op saved for its VJP (recomputed when nothing was recorded, under no_grad).
        self.col = out.node.saved if out.node is not None else autograd.ops.CONV2D.forward(x.data, W.data, b.data, **params)[1]
        self.col_W = W.data.reshape(FN, -1).T
        return self._record(out, x, W, b)

    def backward(self, dout):
        dx, self.dW, self.db = self._backward(dout)
        return dx


class Pooling(_GraphLayer):
    """The book's max pooling over ``pool_h`` x ``pool_w`` windows (stride 1 by default, as in the book).

    Keeps ``x`` and ``arg_max`` (each window's first maximum, the book's ``np.argmax``); ``backward(dout)``
    sends each window's gradient there, from the graph. Padding holds zeros, as the book's im2col pads.

    >>> layer = Pooling(2, 2, stride=2)
    >>> layer.forward(np.array([[[[1.0, 2.0], [2.0, 0.0]]]]))
    array([[[[2.]]]])
    >>> layer.arg_max
    array([1])
    >>> layer.backward(np.ones((1, 1, 1, 1)))
    array([[[[0., 1.],
             [0., 0.]]]])
    """

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self.arg_max = None

    def forward(self, x):
        _, _, H, W = np.shape(x)
        _side("Pooling", H, self.pool_h, self.stride, self.pad)
        _side("Pooling", W, self.pool_w, self.stride, self.pad)
        self.x = x
        x = _leaf(x)
        params = dict(kernel=(self.pool_h, self.pool_w), stride=(self.stride,) * 2, pad=(self.pad,) * 2, pad_value=0.0)
        out = autograd.apply(autograd.ops.MAX_POOL2D, x, **params)
        # The winners the op saved for its VJP (recomputed when nothing was recorded, under no_grad).
        self.arg_max = out.node.saved if out.node is not None else autograd.ops.MAX_POOL2D.forward(x.data, **params)[1]
        return self._record(out, x)

    def backward(self, dout):
        return self._backward(dout)[0]

class SoftmaxWithLoss(_GraphLayer):
    """Softmax and cross-entropy: ``forward(x, t)`` returns the mean loss; backward gives ``(y - t) / N``.

    Keeps ``loss``, ``y`` (the softmax output) and ``t`` (labels or one-hot rows), as the book does.
    The loss is the exact log-softmax form (the book adds ``1e-7`` inside its log).

    >>> layer = SoftmaxWithLoss()
    >>> round(float(layer.forward(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))), 4)
    0.6931
    >>> layer.backward()
    array([[-0.5,  0.5]])
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        x = _leaf(x)
        with autograd.no_grad():
            self.y = autograd.softmax(x, axis=-1).data
        loss = autograd.softmax_cross_entropy(x, t)
        self.loss = self._record(loss, x)
        return self.loss

    def backward(self, dout=1):
        return self._backward(dout)[0]


# --- the book's chapter 6 layers ------------------------------------------------------------------------

BOOK_EPS = 10e-7
"""The book's BatchNormalization adds ``10e-7`` (that is, 1e-6) to the variance."""


def _features(value: Tensor, features: int) -> Tensor:
    """gamma or beta as (D,): a scalar or (1,) is broadcast, so that its gradient is summed back."""
    return value if value.shape == (features,) else autograd.broadcast_to(value, (features,))


class BatchNormalization(_GraphLayer):
    """The book's batch normalization: ``forward(x, train_flg=True)``, and ``backward(dout)`` from the graph.

    ``x`` is (N, D), or any (N, ...) reshaped to (N, -1) as the book does, so an image batch gets one
    mean and variance per value of the C·H·W (`nn.BatchNorm2d` takes one per channel instead).
    With ``train_flg`` the batch's mean ``mu`` and biased variance ``var`` normalize,
    ``xn = (x - mu) / sqrt(var + 10e-7)``, and the running averages move by the book's rule
    ``running = momentum * running + (1 - momentum) * batch`` (new arrays, as the book rebinds them;
    both start at zeros when None). Without it, the running averages normalize. The output is
    ``gamma * xn + beta``. The book's attributes are kept: ``input_shape``, ``batch_size``, ``xc``, ``xn``,
    ``std``, ``running_mean``, ``running_var``, and after ``backward(dout)``, ``dgamma`` and ``dbeta``.

    Raises:
        ValueError: ``gamma`` or ``beta`` does not fit the D features of ``x``.

    >>> layer = BatchNormalization(np.ones(2), np.zeros(2))
    >>> layer.forward(np.array([[1.0, 10.0], [3.0, 30.0]])).round(4)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> layer.running_mean
    array([0.2, 2. ])
    >>> dx = layer.backward(np.array([[1.0, 0.0], [0.0, 0.0]]))
    >>> layer.dbeta, layer.dgamma.round(4)
    (array([1., 0.]), array([-1.,  0.]))
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = np.shape(x)
        x, gamma, beta = _leaf(x), _leaf(self.gamma), _leaf(self.beta)
        rows = x if x.ndim == 2 else autograd.reshape(x, (x.shape[0], -1))
        features = rows.shape[1]
        for what, value in (("gamma", gamma), ("beta", beta)):
            try:
                fits = np.broadcast_shapes(value.shape, (features,)) == (features,)
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"BatchNormalization: {what} of shape {value.shape} does not fit an input of "
                                 f"shape {self.input_shape}, which has {features} features per sample")
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(features), np.zeros(features)
        if train_flg:
            # One op (autograd.batch_norm); gamma and beta broadcast to the D features first, as the book's would.
            out, mu, var = autograd.batch_norm(rows, _features(gamma, features), _features(beta, features),
                                               axes=(0,), eps=BOOK_EPS, statistics=True)
            # The book's attributes, for its readers: xc and xn as its forward computes them (to the last bit).
            self.batch_size, self.std = rows.shape[0], np.sqrt(var + BOOK_EPS)
            self.xc = rows.data - mu
            self.xn = self.xc / self.std
            # Outside the graph: the running averages are statistics, not part of what is differentiated.
            keep = self.momentum
            self.running_mean = keep * self.running_mean + (1 - keep) * mu
            self.running_var = keep * self.running_var + (1 - keep) * var
        else:
            out = gamma * ((rows - self.running_mean) / np.sqrt(self.running_var + BOOK_EPS)) + beta
        if x.ndim != 2:
            out = autograd.reshape(out, self.input_shape)
        return self._record(out, x, gamma, beta)

    def backward(self, dout):
        dx, self.dgamma, self.dbeta = self._backward(dout)
        return dx


class Dropout(_GraphLayer):
    """The book's dropout: ``forward(x, train_flg=True)``; backward passes ``dout`` where the mask kept ``x``.

    With ``train_flg`` it draws ``mask = np.random.rand(*x.shape) > dropout_ratio`` from NumPy's global
    generator (so ``np.random.seed`` reproduces the book's masks) and returns ``x * mask``; without, it
    returns ``x * (1.0 - dropout_ratio)``. The mask is a constant of the recorded graph.
    (`nn.Dropout` is the graph-native layer, inverted by default.)

    >>> np.random.seed(0)
    >>> layer = Dropout(0.6)
    >>> layer.forward(np.array([1.0, 2.0, 3.0, 4.0]))
    array([0., 2., 3., 0.])
    >>> layer.backward(np.ones(4))
    array([0., 1., 1., 0.])
    >>> layer.forward(np.array([1.0, 2.0]), train_flg=False)
    array([0.4, 0.8])
    """

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        x = _leaf(x)
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            # The mask in x's dtype: multiplying by it is exactly the book's x * mask, float32 included.
            out = x * self.mask.astype(x.dtype)
        else:
            out = x * (1.0 - self.dropout_ratio)
        return self._record(out, x)

    def backward(self, dout):
        return self._backward(dout)[0]


__all__ += ["BatchNormalization", "Dropout"]  # here, beside them, so other additions to the list above merge cleanly
