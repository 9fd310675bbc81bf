"""Buffers: module state that is saved but not trained (BatchNorm's running averages).

Before buffers, `Module.save` wrote the parameters only, so a BatchNorm network saved after training and
loaded again normalized with the initial running averages in evaluation mode: wrong outputs, no error.
"""

import json
import warnings
import zipfile

import numpy as np
import pytest

import nn
from nn.module import METADATA_KEY, Module


def _trained_bn_net(rng=0):
    net = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2, rng=rng + 1))
    data = np.random.default_rng(rng).normal(2.0, 3.0, size=(5, 16, 3))
    for batch in data:  # training-mode forwards move the running averages away from (0, 1)
        net(batch)
    return net.eval()


def test_a_saved_batchnorm_network_loads_with_its_running_averages_and_predicts_the_same(tmp_path):
    net = _trained_bn_net()
    x = np.random.default_rng(7).normal(size=(6, 3))
    expected = net(x).data
    net.save(tmp_path / "bn.npz")
    fresh = _trained_bn_net(rng=3)  # other weights, other running averages
    fresh.load(tmp_path / "bn.npz")
    np.testing.assert_array_equal(fresh[1].running_mean, net[1].running_mean)
    np.testing.assert_array_equal(fresh[1].running_var, net[1].running_var)
    np.testing.assert_array_equal(fresh(x).data, expected)


def test_state_dict_carries_buffers_after_parameters_and_load_state_dict_restores_them_in_their_dtype():
    net = _trained_bn_net()
    state = net.state_dict()
    assert list(state)[-2:] == ["BatchNorm1d1.running_mean", "BatchNorm1d1.running_var"]
    assert state["BatchNorm1d1.running_mean"] is not net[1].running_mean  # a copy
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, dtype=np.float32), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(state)
    assert other[1].running_var.dtype == np.float32
    np.testing.assert_allclose(other[1].running_var, net[1].running_var, rtol=1e-6)


def test_load_state_dict_names_a_missing_or_misshapen_buffer_and_changes_nothing():
    net = _trained_bn_net()
    state = net.state_dict()
    before = net[1].running_mean.copy()
    del state["BatchNorm1d1.running_var"]
    state["BatchNorm1d1.running_mean"] = np.zeros(5)
    with pytest.raises(ValueError) as caught:
        net.load_state_dict({**state, "0.weight": np.zeros((3, 4))})
    message = str(caught.value)
    assert "missing entries ['BatchNorm1d1.running_var']" in message
    assert "BatchNorm1d1.running_mean (5,) (the buffer is (4,))" in message
    np.testing.assert_array_equal(net[1].running_mean, before)


def test_register_buffer_refuses_what_cannot_be_a_buffer_and_a_buffer_stays_one_when_reassigned():
    class Stats(Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", np.zeros(2))

    stats = Stats()
    with pytest.raises(TypeError, match=r"Stats.count: a buffer must be a float ndarray, got list"):
        stats.count = [1.0, 2.0]
    with pytest.raises(TypeError, match=r"got an array of dtype int64"):
        stats.register_buffer("steps", np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"'a.b' cannot name a buffer"):
        stats.register_buffer("a.b", np.zeros(1))
    stats.lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"'lin' already names a registered Linear"):
        stats.register_buffer("lin", np.zeros(1))
    with pytest.raises(ValueError, match=r"'count' names a buffer"):
        stats.count = nn.Parameter(np.zeros(2))
    stats.count = np.ones(2)
    assert [name for name, _ in stats.named_buffers()] == ["count"]
    np.testing.assert_array_equal(stats.state_dict()["count"], [1.0, 1.0])
    del stats.count
    assert stats.named_buffers() == [] and "count" not in stats.state_dict()


def test_named_buffers_walks_nested_modules_once_each_with_dotted_names():
    bn = nn.BatchNorm2d(2)
    net = nn.Sequential(bn, nn.Sequential(nn.BatchNorm1d(3)), bn)  # bn shared: listed once, first name
    assert [name for name, _ in net.named_buffers()] == [
        "BatchNorm2d1.running_mean", "BatchNorm2d1.running_var",
        "Sequential1.BatchNorm1d1.running_mean", "Sequential1.BatchNorm1d1.running_var"]
    assert [name for name, _ in net.named_buffers("net")][0] == "net.BatchNorm2d1.running_mean"


def test_the_file_lists_buffers_apart_from_parameters(tmp_path):
    _trained_bn_net().save(tmp_path / "bn.npz")
    with zipfile.ZipFile(tmp_path / "bn.npz") as archive:
        metadata = json.loads(np.frombuffer(archive.read(METADATA_KEY + ".npy")[128:], np.uint8).tobytes())
    assert metadata["version"] == 2
    assert [name for name, _, _ in metadata["buffers"]] == ["BatchNorm1d1.running_mean", "BatchNorm1d1.running_var"]
    assert "BatchNorm1d1.running_mean" not in [name for name, _, _ in metadata["parameters"]]


def _as_version_1(path, out):
    """The file as graphgrad wrote it before buffers: parameters only, metadata version 1."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    metadata = json.loads(arrays.pop(METADATA_KEY).tobytes())
    for name, _, _ in metadata.pop("buffers"):
        del arrays[name]
    metadata["version"] = 1
    np.savez(out, **arrays, **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})


def test_a_version_1_file_still_loads_its_parameters_and_warns_that_the_buffers_are_kept(tmp_path):
    net = _trained_bn_net()
    net.save(tmp_path / "v2.npz")
    _as_version_1(tmp_path / "v2.npz", tmp_path / "v1.npz")
    fresh = _trained_bn_net(rng=3)
    kept = fresh[1].running_mean.copy()
    kept_names = r"BatchNorm1d1\.running_mean, BatchNorm1d1\.running_var keep their current values"
    with pytest.warns(UserWarning, match=r"version 1 file.*: " + kept_names):
        fresh.load(tmp_path / "v1.npz")
    np.testing.assert_array_equal(fresh[0].weight.data, net[0].weight.data)
    np.testing.assert_array_equal(fresh[1].running_mean, kept)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a module without buffers loads a version 1 file silently
        nn.Linear(3, 4).load(_linear_v1(tmp_path))


def _linear_v1(tmp_path):
    nn.Linear(3, 4, rng=0).save(tmp_path / "lin.npz")
    _as_version_1(tmp_path / "lin.npz", tmp_path / "lin1.npz")
    return tmp_path / "lin1.npz"


def test_a_version_2_file_missing_a_buffer_is_refused(tmp_path):
    net = _trained_bn_net()
    net.save(tmp_path / "v2.npz")
    with np.load(tmp_path / "v2.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    metadata = json.loads(arrays.pop(METADATA_KEY).tobytes())
    metadata["buffers"] = metadata["buffers"][:1]
    del arrays["BatchNorm1d1.running_var"]
    np.savez(tmp_path / "cut.npz", **arrays, **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})
    with pytest.raises(ValueError, match=r"missing entries \['BatchNorm1d1.running_var'\]"):
        net.load(tmp_path / "cut.npz")
