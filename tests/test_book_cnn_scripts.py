"""The book's networks of chapters 6 to 8 on graphgrad's `nn.compat` layers equal the same networks on the book's
hand-written layers: SimpleConvNet trained on real MNIST batches step for step, MultiLayerNetExtend's gradients
with batch normalization, dropout and weight decay, DeepConvNet's gradient and predict.

Each network is a script of the book's kind that imports ``from common.layers import *``; `load_network` runs it
twice, once with ``common.layers`` = `nn.compat` (the shims in ``tests/seed_scripts/common``) and once with the
hand-written layers of ``tests/_book_reference.py``, so the two differ in their layers only. The scripts:

- "restated": ``tests/seed_scripts/book_networks.py``, the three networks in our words with the book's interface;
- "book": the book's own ``ch07/simple_convnet.py``, ``common/multi_layer_net_extend.py`` and
  ``ch08/deep_convnet.py``, unchanged, where they are present: in ``tests/seed_scripts/`` (the book's layout) or
  in a checkout of the book named by ``$GRAPHGRAD_BOOK_DIR``. Otherwise those cases are skipped, saying so.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nn
from _book_reference import hand_written_layers

SCRIPTS = Path(__file__).resolve().parent / "seed_scripts"
BOOK_FILES = {"SimpleConvNet": "ch07/simple_convnet.py", "MultiLayerNetExtend": "common/multi_layer_net_extend.py",
              "DeepConvNet": "ch08/deep_convnet.py"}
SOURCES = ("restated", "book")
TOLERANCE = dict(rtol=0, atol=1e-10)


def _import_file(name: str, path: Path, package_dir: Path | None = None):
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=None if package_dir is None else [str(package_dir)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def script_path(source: str, class_name: str) -> Path:
    """The file defining ``class_name``: our restatement, or the book's own file (skipping if it is absent)."""
    if source == "restated":
        return SCRIPTS / "book_networks.py"
    relative = BOOK_FILES[class_name]
    for root in (SCRIPTS, os.environ.get("GRAPHGRAD_BOOK_DIR")):
        if root and (Path(root) / relative).is_file():
            return Path(root) / relative
    pytest.skip(f"the book's {relative} is not here: copy it from oreilly-japan/deep-learning-from-scratch into "
                f"tests/seed_scripts/{relative}, or set GRAPHGRAD_BOOK_DIR to a checkout of the book")


def load_network(source: str, class_name: str, layers: str) -> type:
    """``class_name`` from its script, run with ``common.layers`` = nn.compat (``layers="graphgrad"``) or the
    hand-written layers (``layers="hand-written"``); sys.modules and sys.path are restored afterwards."""
    path = script_path(source, class_name)
    names = ("common", "common.layers", "common.gradient")
    saved_modules, saved_path = {name: sys.modules.get(name) for name in names}, list(sys.path)
    try:
        for name in names:
            sys.modules.pop(name, None)
        _import_file("common", SCRIPTS / "common" / "__init__.py", SCRIPTS / "common")
        importlib.import_module("common.gradient")
        if layers == "graphgrad":
            importlib.import_module("common.layers")
        else:
            sys.modules["common.layers"] = hand_written_layers()
        module = _import_file(f"_book_{path.stem}_{source}_{layers.replace('-', '_')}", path)
        return getattr(module, class_name)
    finally:
        sys.path[:] = saved_path  # the scripts append os.pardir
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def twin_networks(source: str, class_name: str, *args, seed: int = 0, **kwargs):
    """The network on graphgrad's layers and on the hand-written ones, from the same draws of np.random."""
    nets = []
    for layers in ("graphgrad", "hand-written"):
        np.random.seed(seed)
        nets.append(load_network(source, class_name, layers)(*args, **kwargs))
    ours, theirs = nets
    assert list(ours.params) == list(theirs.params)
    for key in ours.params:
        np.testing.assert_array_equal(ours.params[key], theirs.params[key])
    return ours, theirs


def assert_same_gradients(ours: dict, theirs: dict, step: int):
    assert list(ours) == list(theirs)
    for key in theirs:
        assert type(ours[key]) is np.ndarray and ours[key].shape == theirs[key].shape, key
        np.testing.assert_allclose(ours[key], theirs[key], **TOLERANCE, err_msg=f"step {step}, {key}")


@pytest.fixture(scope="module")
def mnist():
    """MNIST as the book's ch07 loads it, (N, 1, 28, 28) float32 in [0, 1] with digit labels; the full set where
    GRAPHGRAD_DATA points to it (`make test`), else the shipped subset. Never downloads."""
    return nn.datasets.load_mnist(normalize=True, flatten=False, download=False, progress=False)


# --- (a) SimpleConvNet, trained ---------------------------------------------------------------------------------------
OPTIMIZERS = {"SGD": lambda: nn.optim.SGD(lr=0.1), "Adam": lambda: nn.optim.Adam(lr=0.001)}  # the book's rates


@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
@pytest.mark.parametrize("source", SOURCES)
def test_simple_convnet_trained_on_mnist_batches_equals_the_hand_written_layers_step_for_step(
        source, optimizer_name, mnist):
    (x_train, t_train), (x_test, t_test) = mnist
    ours, theirs = twin_networks(source, "SimpleConvNet", input_dim=(1, 28, 28), hidden_size=100, output_size=10,
                                 weight_init_std=0.01)  # the book's ch07 recipe, smaller batches
    optimizers = OPTIMIZERS[optimizer_name](), OPTIMIZERS[optimizer_name]()
    batches = np.random.default_rng(1)
    probe = x_train[:20], t_train[:20]
    first_loss = ours.loss(*probe)
    for step in range(30):
        mask = batches.choice(len(x_train), 20)
        x, t = x_train[mask], t_train[mask]
        grads = ours.gradient(x, t), theirs.gradient(x, t)
        assert_same_gradients(*grads, step)
        for net, grad, opt in zip((ours, theirs), grads, optimizers):
            opt.update(net.params, grad)  # in place: the layers hold these arrays, as in the book's trainer
    for key in theirs.params:
        np.testing.assert_allclose(ours.params[key], theirs.params[key], **TOLERANCE, err_msg=key)
    if optimizer_name == "Adam":  # from the book's 0.01-scaled weights, 30 SGD steps barely move the loss (2.303 -> 2.297)
        assert ours.loss(*probe) < 0.85 * first_loss  # 2.303 -> 1.60 on the full set, 1.76 on the shipped subset
    assert ours.accuracy(x_test[:200], t_test[:200]) == theirs.accuracy(x_test[:200], t_test[:200])


@pytest.mark.parametrize("source", SOURCES)
def test_simple_convnet_saves_and_loads_its_params_and_checks_against_its_numerical_gradient(source, tmp_path):
    ConvNet = load_network(source, "SimpleConvNet", "graphgrad")
    np.random.seed(2)
    small = dict(input_dim=(1, 10, 10), conv_param={'filter_num': 2, 'filter_size': 3, 'pad': 1, 'stride': 1},
                 hidden_size=4, output_size=10, weight_init_std=0.3)
    net = ConvNet(**small)
    # Random pixels, not MNIST's: its blank borders make conv outputs of exactly 0 (b1 starts at 0), ReLU's kink.
    x, t = np.random.rand(3, 1, 10, 10), np.array([1, 7, 3])
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)  # common.gradient is autograd's
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-7, err_msg=key)
    net.save_params(str(tmp_path / "params.pkl"))
    other = ConvNet(**small)
    assert not np.array_equal(other.predict(x), net.predict(x))
    other.load_params(str(tmp_path / "params.pkl"))
    np.testing.assert_array_equal(other.predict(x), net.predict(x))


# --- (b) MultiLayerNetExtend: batch normalization, dropout, weight decay ----------------------------------------------
@pytest.mark.parametrize("use_batchnorm, use_dropout, weight_decay_lambda", [
    (True, True, 0.1), (True, False, 0.0), (False, True, 0.05)], ids=["bn+dropout+decay", "bn", "dropout+decay"])
@pytest.mark.parametrize("source", SOURCES)
def test_multi_layer_net_extend_gradients_equal_the_hand_written_layers(
        source, use_batchnorm, use_dropout, weight_decay_lambda, mnist):
    (x_train, t_train), _ = mnist
    images, labels = x_train[:64].reshape(64, -1), np.eye(10)[t_train[:64]]  # one-hot, as the book's ch06 scripts
    ours, theirs = twin_networks(source, "MultiLayerNetExtend", 784, [40, 30, 20], 10, weight_decay_lambda=weight_decay_lambda,
                                 use_dropout=use_dropout, dropout_ration=0.2, use_batchnorm=use_batchnorm)
    optimizers = nn.optim.SGD(lr=0.05), nn.optim.SGD(lr=0.05)
    for step in range(4):
        x, t = images[16 * step:16 * (step + 1)], labels[16 * step:16 * (step + 1)]
        grads = []
        for net in (ours, theirs):
            np.random.seed(10 + step)  # the same dropout masks for both
            grads.append(net.gradient(x, t))
        assert_same_gradients(*grads, step)
        for net, grad, opt in zip((ours, theirs), grads, optimizers):
            opt.update(net.params, grad)
    for key in theirs.params:
        np.testing.assert_allclose(ours.params[key], theirs.params[key], **TOLERANCE, err_msg=key)
    if use_batchnorm:
        for index in (1, 2, 3):
            for name in ("running_mean", "running_var"):
                np.testing.assert_allclose(getattr(ours.layers[f"BatchNorm{index}"], name),
                                           getattr(theirs.layers[f"BatchNorm{index}"], name), **TOLERANCE)
    np.testing.assert_allclose(ours.predict(images), theirs.predict(images), **TOLERANCE)  # eval: running statistics
    decay = sum(0.5 * weight_decay_lambda * np.sum(ours.params[f"W{i}"] ** 2) for i in (1, 2, 3, 4))
    plain = ours.last_layer.forward(ours.predict(images), labels)
    assert ours.loss(images, labels) == pytest.approx(plain + decay, rel=1e-14)  # the book's loss with its decay term
    assert ours.accuracy(images, labels) == theirs.accuracy(images, labels)


@pytest.mark.parametrize("source", SOURCES)
def test_multi_layer_net_extend_with_batchnorm_and_decay_matches_its_numerical_gradient(source):
    np.random.seed(3)
    net = load_network(source, "MultiLayerNetExtend", "graphgrad")(6, [5, 4], 3, activation='sigmoid',
                                                                  weight_init_std='xavier', weight_decay_lambda=0.2,
                                                                  use_batchnorm=True)
    x, t = np.random.randn(7, 6), np.eye(3)[np.random.randint(0, 3, 7)]
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    assert sorted(analytic) == sorted(numeric) and "gamma2" in analytic and "gamma3" not in analytic
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-7, err_msg=key)


# --- (c) DeepConvNet ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", SOURCES)
def test_deep_convnet_gradient_on_two_images_and_predict_in_both_modes_equal_the_hand_written_layers(source, mnist):
    (x_train, t_train), _ = mnist
    x, t = x_train[:2], t_train[:2]
    started = time.perf_counter()
    ours, theirs = twin_networks(source, "DeepConvNet")
    grads = []
    for net in (ours, theirs):
        np.random.seed(4)  # the dropout masks
        grads.append(net.gradient(x, t))
    assert_same_gradients(*grads, 0)
    assert sorted(grads[0]) == sorted(f"{p}{i}" for p in "Wb" for i in range(1, 9))
    assert all(np.abs(g).max() > 1e-3 for g in grads[0].values())  # every layer is reached: not zeros equal to zeros
    evaluated = ours.predict(x, train_flg=False)
    np.testing.assert_array_equal(ours.predict(x, train_flg=False), evaluated)  # no dropout: deterministic
    np.testing.assert_allclose(evaluated, theirs.predict(x, train_flg=False), **TOLERANCE)
    trained = []
    for net in (ours, theirs):
        np.random.seed(5)
        trained.append(net.predict(x, train_flg=True))
    np.testing.assert_allclose(trained[0], trained[1], **TOLERANCE)
    assert trained[0].shape == evaluated.shape == (2, 10) and not np.allclose(trained[0], evaluated)
    assert time.perf_counter() - started < 60  # about 0.5 s; a guard against a pathological slowdown only
