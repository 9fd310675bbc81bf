"""The book's ``common/layers.py`` for its scripts: graphgrad's `nn.compat` layers (Relu, Sigmoid, Affine,
SoftmaxWithLoss, Dropout, BatchNormalization, Convolution, Pooling), whose backward comes from the graph."""

from nn.compat import *  # noqa: F401,F403
from nn.compat import __all__  # noqa: F401
