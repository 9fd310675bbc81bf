"""graphgrad's neural-network package: modules and layers on the graph, the book's networks, optimizers and MNIST.

>>> import numpy as np
>>> import autograd, nn
>>> net = nn.TwoLayerNet(input_size=4, hidden_size=3, output_size=2, rng=0)
>>> loss = net.loss_tensor(np.ones((1, 4)), np.array([1]))
>>> sorted({node.module for node in autograd.toposort(loss)})
['Affine1', 'Affine2', 'Relu1', 'SoftmaxWithLoss']
"""

from . import compat, data, datasets, init, optim, serialization, utils
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .layers import Affine, Dropout, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh
from .normalization import BatchNorm1d, BatchNorm2d
from .losses import SoftmaxWithLoss
from .models import MLP, MultiLayerNetExtend, ParameterArrays, SimpleConvNet, TwoLayerNet
from .module import Module, Parameter

__all__ = [
    "Module", "Parameter", "Linear", "Affine", "ReLU", "Sigmoid", "Tanh", "Sequential", "SoftmaxWithLoss",
    "Dropout", "Flatten", "BatchNorm1d", "BatchNorm2d", "Conv2d", "MaxPool2d", "AvgPool2d", "utils",
    "MLP", "TwoLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "ParameterArrays", "init", "compat", "optim", "data", "datasets",
    "serialization",
]
