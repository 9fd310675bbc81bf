"""The networks of the book's chapters 6 to 8, restated in our words with the book's interface, as a script of the
book's kind: it takes its layers from ``common.layers``, so the same class runs on graphgrad's `nn.compat`
layers or on the hand-written ones of the tests (``tests/_book_reference.py``), whichever the loader provides.

- `SimpleConvNet`: ``ch07/simple_convnet.py``, conv - relu - pool - affine - relu - affine - softmax;
- `MultiLayerNetExtend`: ``common/multi_layer_net_extend.py``, affine - [batchnorm] - activation - [dropout]
  per hidden layer, with weight decay;
- `DeepConvNet`: ``ch08/deep_convnet.py``, three (conv - relu - conv - relu - pool) blocks, then
  affine - relu - dropout - affine - dropout - softmax.

Each computes what the book's class computes: the same weights drawn from NumPy's global generator in the same
order, the same layers in the same order, the same attribute names (``params``, ``layers``, ``last_layer``) and
the same keys in ``gradient``. Where the book's own files are present, ``tests/test_book_cnn_scripts.py`` runs
them too, unchanged, on the same layers.
"""

import pickle
from collections import OrderedDict

import numpy as np

from common.gradient import numerical_gradient
from common.layers import *  # noqa: F403  (the book's way: the layers are whatever common.layers holds)


def _gradients_by_backprop(net, layers):
    """The book's backward pass: the loss layer's backward from 1, then each layer's in reverse order."""
    dout = net.last_layer.backward(1)
    for layer in reversed(layers):
        dout = layer.backward(dout)


def _batched_accuracy(predict, x, t, batch_size):
    """The book's accuracy over whole batches only (a last partial batch is not counted, as in the book)."""
    labels = np.argmax(t, axis=1) if t.ndim != 1 else t
    hits = 0.0
    for start in range(0, (x.shape[0] // batch_size) * batch_size, batch_size):
        scores = predict(x[start:start + batch_size])
        hits += np.sum(np.argmax(scores, axis=1) == labels[start:start + batch_size])
    return hits / x.shape[0]


class SimpleConvNet:
    """conv - relu - pool - affine - relu - affine - softmax, weights ``weight_init_std * randn``."""

    def __init__(self, input_dim=(1, 28, 28), conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
                 hidden_size=100, output_size=10, weight_init_std=0.01):
        filters, size = conv_param['filter_num'], conv_param['filter_size']
        conv_side = (input_dim[1] - size + 2 * conv_param['pad']) / conv_param['stride'] + 1
        pooled = int(filters * (conv_side / 2) * (conv_side / 2))
        draw = np.random.randn
        self.params = {}
        self.params['W1'] = weight_init_std * draw(filters, input_dim[0], size, size)
        self.params['b1'] = np.zeros(filters)
        self.params['W2'] = weight_init_std * draw(pooled, hidden_size)
        self.params['b2'] = np.zeros(hidden_size)
        self.params['W3'] = weight_init_std * draw(hidden_size, output_size)
        self.params['b3'] = np.zeros(output_size)
        self.layers = OrderedDict([
            ('Conv1', Convolution(self.params['W1'], self.params['b1'], conv_param['stride'], conv_param['pad'])),
            ('Relu1', Relu()),
            ('Pool1', Pooling(pool_h=2, pool_w=2, stride=2)),
            ('Affine1', Affine(self.params['W2'], self.params['b2'])),
            ('Relu2', Relu()),
            ('Affine2', Affine(self.params['W3'], self.params['b3'])),
        ])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x, t, batch_size=100):
        return _batched_accuracy(self.predict, x, t, batch_size)

    def numerical_gradient(self, x, t):
        loss = lambda _: self.loss(x, t)
        return {key: numerical_gradient(loss, self.params[key]) for key in ('W1', 'b1', 'W2', 'b2', 'W3', 'b3')}

    def gradient(self, x, t):
        self.loss(x, t)
        _gradients_by_backprop(self, list(self.layers.values()))
        grads = {}
        for number, name in enumerate(('Conv1', 'Affine1', 'Affine2'), start=1):
            grads['W' + str(number)], grads['b' + str(number)] = self.layers[name].dW, self.layers[name].db
        return grads

    def save_params(self, file_name="params.pkl"):
        with open(file_name, 'wb') as f:
            pickle.dump(dict(self.params), f)

    def load_params(self, file_name="params.pkl"):
        with open(file_name, 'rb') as f:
            self.params.update(pickle.load(f))
        for number, name in enumerate(('Conv1', 'Affine1', 'Affine2'), start=1):
            self.layers[name].W, self.layers[name].b = self.params['W' + str(number)], self.params['b' + str(number)]


class MultiLayerNetExtend:
    """Fully connected layers with the book's options: batch normalization, dropout and weight decay."""

    def __init__(self, input_size, hidden_size_list, output_size, activation='relu', weight_init_std='relu',
                 weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False):
        self.input_size, self.output_size = input_size, output_size
        self.hidden_size_list, self.hidden_layer_num = hidden_size_list, len(hidden_size_list)
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        sizes = [input_size] + list(hidden_size_list) + [output_size]
        for index in range(1, len(sizes)):
            scale = weight_init_std
            if str(weight_init_std).lower() in ('relu', 'he'):
                scale = np.sqrt(2.0 / sizes[index - 1])
            elif str(weight_init_std).lower() in ('sigmoid', 'xavier'):
                scale = np.sqrt(1.0 / sizes[index - 1])
            self.params['W' + str(index)] = scale * np.random.randn(sizes[index - 1], sizes[index])
            self.params['b' + str(index)] = np.zeros(sizes[index])
        activations = {'sigmoid': Sigmoid, 'relu': Relu}
        self.layers = OrderedDict()
        for index in range(1, self.hidden_layer_num + 1):
            key = str(index)
            self.layers['Affine' + key] = Affine(self.params['W' + key], self.params['b' + key])
            if use_batchnorm:
                self.params['gamma' + key] = np.ones(hidden_size_list[index - 1])
                self.params['beta' + key] = np.zeros(hidden_size_list[index - 1])
                self.layers['BatchNorm' + key] = BatchNormalization(self.params['gamma' + key], self.params['beta' + key])
            self.layers['Activation_function' + key] = activations[activation]()
            if use_dropout:
                self.layers['Dropout' + key] = Dropout(dropout_ration)
        last = str(self.hidden_layer_num + 1)
        self.layers['Affine' + last] = Affine(self.params['W' + last], self.params['b' + last])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for key, layer in self.layers.items():
            x = layer.forward(x, train_flg) if ('Dropout' in key or 'BatchNorm' in key) else layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        y = self.predict(x, train_flg)
        decay = 0
        for index in range(1, self.hidden_layer_num + 2):
            decay += 0.5 * self.weight_decay_lambda * np.sum(self.params['W' + str(index)] ** 2)
        return self.last_layer.forward(y, t) + decay

    def accuracy(self, X, T):
        labels = np.argmax(T, axis=1) if T.ndim != 1 else T
        return np.sum(np.argmax(self.predict(X, train_flg=False), axis=1) == labels) / float(X.shape[0])

    def _keys(self):
        for index in range(1, self.hidden_layer_num + 2):
            yield index, ('W', 'b') + (('gamma', 'beta') if self.use_batchnorm and index <= self.hidden_layer_num else ())

    def numerical_gradient(self, X, T):
        loss = lambda _: self.loss(X, T, train_flg=True)
        return {name + str(index): numerical_gradient(loss, self.params[name + str(index)])
                for index, names in self._keys() for name in names}

    def gradient(self, x, t):
        self.loss(x, t, train_flg=True)
        _gradients_by_backprop(self, list(self.layers.values()))
        grads = {}
        for index, names in self._keys():
            key = str(index)
            affine = self.layers['Affine' + key]
            grads['W' + key] = affine.dW + self.weight_decay_lambda * self.params['W' + key]
            grads['b' + key] = affine.db
            if 'gamma' in names:
                grads['gamma' + key] = self.layers['BatchNorm' + key].dgamma
                grads['beta' + key] = self.layers['BatchNorm' + key].dbeta
        return grads


DEEP_CONV_PARAMS = (  # (filters, size, pad, stride) of the six convolutions; a pool follows the 2nd, 4th and 6th
    (16, 3, 1, 1), (16, 3, 1, 1), (32, 3, 1, 1), (32, 3, 2, 1), (64, 3, 1, 1), (64, 3, 1, 1))


class DeepConvNet:
    """Six 3x3 convolutions (He initialisation) in three pooled blocks, then two affine layers with dropout."""

    def __init__(self, input_dim=(1, 28, 28), hidden_size=50, output_size=10):
        fan_ins = np.array([1 * 3 * 3, 16 * 3 * 3, 16 * 3 * 3, 32 * 3 * 3, 32 * 3 * 3, 64 * 3 * 3, 64 * 4 * 4,
                            hidden_size])
        scales = np.sqrt(2.0 / fan_ins)
        self.params = {}
        channels = input_dim[0]
        for index, (filters, size, _, _) in enumerate(DEEP_CONV_PARAMS):
            self.params['W' + str(index + 1)] = scales[index] * np.random.randn(filters, channels, size, size)
            self.params['b' + str(index + 1)] = np.zeros(filters)
            channels = filters
        self.params['W7'] = scales[6] * np.random.randn(64 * 4 * 4, hidden_size)
        self.params['b7'] = np.zeros(hidden_size)
        self.params['W8'] = scales[7] * np.random.randn(hidden_size, output_size)
        self.params['b8'] = np.zeros(output_size)
        self.layers = []
        self.weighted = []  # the positions in `layers` of the layers holding W1..W8
        for index, (_, _, pad, stride) in enumerate(DEEP_CONV_PARAMS):
            self.weighted.append(len(self.layers))
            key = str(index + 1)
            self.layers += [Convolution(self.params['W' + key], self.params['b' + key], stride, pad), Relu()]
            if index % 2:
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
        self.weighted.append(len(self.layers))
        self.layers += [Affine(self.params['W7'], self.params['b7']), Relu(), Dropout(0.5)]
        self.weighted.append(len(self.layers))
        self.layers += [Affine(self.params['W8'], self.params['b8']), Dropout(0.5)]
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x, train_flg=False):
        for layer in self.layers:
            x = layer.forward(x, train_flg) if isinstance(layer, Dropout) else layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x, train_flg=True), t)

    def accuracy(self, x, t, batch_size=100):
        return _batched_accuracy(lambda batch: self.predict(batch, train_flg=False), x, t, batch_size)

    def gradient(self, x, t):
        self.loss(x, t)
        _gradients_by_backprop(self, self.layers)
        grads = {}
        for number, position in enumerate(self.weighted, start=1):
            grads['W' + str(number)], grads['b' + str(number)] = self.layers[position].dW, self.layers[position].db
        return grads
