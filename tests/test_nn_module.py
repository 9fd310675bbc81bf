"""nn.Module: registration on assignment, names and node labels, state dicts, and the pickle-free .npz files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import autograd
import nn
from nn.module import Module, Parameter
from nn.serialization import METADATA_KEY


class Block(Module):
    """A custom module interleaving parameters and submodules, to pin the order of assignment."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4, rng=0)
        self.scale = Parameter(np.ones(4))
        self.second = nn.Linear(4, 2, rng=1)

    def forward(self, x):
        return self.second(self.first(x) * self.scale)


def modules_of(tensor) -> set:
    return {node.module for node in autograd.toposort(tensor)}


def test_named_parameters_follow_the_order_of_assignment_with_dotted_names():
    block = Block()
    assert [name for name, _ in block.named_parameters()] == [
        "first.weight", "first.bias", "scale", "second.weight", "second.bias"]
    assert [p.shape for p in block.parameters()] == [(3, 4), (4,), (4,), (4, 2), (2,)]


def test_a_shared_parameter_is_listed_once_under_its_first_name():
    block = Block()
    block.tied = block.first.weight
    names = [name for name, _ in block.named_parameters()]
    assert names.count("first.weight") == 1 and "tied" not in names


def test_assigning_none_or_deleting_unregisters_a_parameter_or_module():
    block = Block()
    block.scale = None
    assert "scale" not in dict(block.named_parameters())
    del block.second
    assert [name for name, _ in block.named_parameters()] == ["first.weight", "first.bias"]


def test_assigning_a_parameter_before_module_init_names_the_fix():
    class Broken(Module):
        def __init__(self):
            self.w = Parameter(np.zeros(2))

    with pytest.raises(RuntimeError, match=r"Broken: assigning 'w' before Module.__init__\(\) ran"):
        Broken()


def test_register_refuses_dotted_keys_and_non_members():
    module = Module()
    with pytest.raises(ValueError, match=r"'a.b' cannot name a member"):
        module.register("a.b", Parameter(np.zeros(1)))
    with pytest.raises(TypeError, match="can register a Parameter or a Module, got ndarray"):
        module.register("w", np.zeros(1))


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        Module()(1.0)


def test_nodes_are_labelled_with_the_attribute_name_nested_under_the_root():
    out = Block()(np.ones((2, 3)))
    assert modules_of(out) == {"Block", "Block.first", "Block.second"}


def test_a_root_layer_labels_its_nodes_with_its_class_name_or_its_given_name():
    assert modules_of(nn.Linear(3, 2, rng=0)(np.ones((1, 3)))) == {"Linear"}
    assert modules_of(nn.Linear(3, 2, rng=0, name="fc")(np.ones((1, 3)))) == {"fc"}


def test_a_root_sequential_adds_no_level_but_a_registered_one_does():
    seq = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    assert modules_of(seq(np.ones((2, 3)))) == {"Linear1", "ReLU1", "Linear2"}

    class Outer(Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 2, rng=0))

        def forward(self, x):
            return self.encoder(x)

    assert modules_of(Outer()(np.ones((1, 3)))) == {"Outer.encoder.Linear1"}


def test_module_call_restores_the_scope_even_when_forward_raises():
    with pytest.raises(ValueError, match="expected inputs with 3 features"):
        nn.Linear(3, 2, rng=0)(np.ones((1, 5)))
    assert autograd.mode.current_module() is None


def test_zero_grad_forgets_every_parameter_gradient():
    block = Block()
    block(np.ones((2, 3))).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_state_dict_holds_copies_in_parameter_order():
    block = Block()
    state = block.state_dict()
    assert list(state) == [name for name, _ in block.named_parameters()]
    state["scale"][:] = 7.0
    assert np.all(block.scale.data == 1.0)


def test_load_state_dict_copies_in_place_and_keeps_the_parameter_dtype():
    layer = nn.Linear(3, 2, rng=0, dtype=np.float32)
    weight_array = layer.weight.data
    layer.load_state_dict({"weight": np.full((3, 2), 0.5), "bias": np.array([1, 2])})
    assert layer.weight.data is weight_array and weight_array.dtype == np.float32
    assert np.all(weight_array == 0.5) and layer.bias.data.tolist() == [1.0, 2.0]


def test_load_state_dict_names_missing_unexpected_and_misshaped_entries_and_changes_nothing():
    block = Block()
    before = block.state_dict()
    state = dict(before)
    del state["scale"]
    state["extra"] = np.zeros(1)
    state["first.weight"] = np.zeros((4, 3))
    with pytest.raises(ValueError) as info:
        block.load_state_dict(state)
    message = str(info.value)
    assert "missing entries ['scale']" in message
    assert "unexpected entries ['extra']" in message
    assert "first.weight (4, 3) (the parameter is (3, 4))" in message
    assert all(np.array_equal(before[k], v) for k, v in block.state_dict().items())


def test_load_state_dict_refuses_non_numeric_entries():
    layer = nn.Linear(1, 1, rng=0)
    with pytest.raises(TypeError, match="entry 'weight' has dtype <U1"):
        layer.load_state_dict({"weight": np.array([["a"]]), "bias": np.zeros(1)})


def test_load_state_dict_of_none_is_a_type_error_saying_what_it_expects():
    with pytest.raises(TypeError, match=r"Linear.load_state_dict: expected a mapping from parameter name "
                                        r"to array, got NoneType"):
        nn.Linear(2, 3).load_state_dict(None)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip_is_exact(tmp_path, dtype):
    net = nn.TwoLayerNet(6, 5, 3, rng=0, dtype=dtype)
    path = tmp_path / "weights"  # no suffix: the file is written under exactly this name
    net.save(path)
    assert path.exists() and list(tmp_path.iterdir()) == [path]
    other = nn.TwoLayerNet(6, 5, 3, rng=1, dtype=dtype)
    assert other.load(path) is other
    for key in net.params:
        assert other.params[key].dtype == dtype
        assert np.array_equal(other.params[key], net.params[key])


def test_saved_metadata_is_json_bytes_naming_the_parameters(tmp_path):
    path = tmp_path / "w.npz"
    nn.TwoLayerNet(6, 5, 3, rng=0).save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert archive[METADATA_KEY].dtype == np.uint8
        metadata = json.loads(archive[METADATA_KEY].tobytes())
    assert metadata["format"] == "graphgrad.nn" and metadata["version"] == 2
    assert [(name, shape) for name, shape, _ in metadata["parameters"]] == [
        ("W1", [6, 5]), ("b1", [5]), ("W2", [5, 3]), ("b2", [3])]
    assert metadata["buffers"] == []


class _Exploit:
    """Unpickling this would create a file: the test checks it never happens."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _write_npz(path, **arrays):
    np.savez(path, **arrays)


def test_an_npz_holding_an_object_array_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    net = nn.TwoLayerNet(2, 2, 2, rng=0)
    arrays = net.state_dict()
    arrays["W1"] = np.array([_Exploit(str(marker))], dtype=object)
    path = tmp_path / "evil.npz"
    _write_npz(path, **arrays)
    with pytest.raises(ValueError, match=r"evil.npz: entry 'W1' is an object array; refusing it"):
        net.load(path)
    assert not marker.exists()


def test_a_pickle_file_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ValueError, match=r"evil.npz is not a graphgrad .npz weights file"):
        nn.Linear(1, 1).load(path)
    assert not marker.exists()


def test_a_file_without_metadata_is_refused(tmp_path):
    path = tmp_path / "plain.npz"
    _write_npz(path, **nn.Linear(2, 2, rng=0).state_dict())
    with pytest.raises(ValueError, match=rf"plain.npz has no '{METADATA_KEY}' entry"):
        nn.Linear(2, 2).load(path)


def _rewrite(path, out, **changes):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays.update(changes)
    _write_npz(out, **arrays)


def test_a_file_whose_arrays_disagree_with_its_metadata_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    nn.Linear(2, 3, rng=0).save(path)
    _rewrite(path, tmp_path / "shape.npz", weight=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"disagrees with its metadata: weight is \(3, 2\) but the metadata says \(2, 3\)"):
        nn.Linear(2, 3).load(tmp_path / "shape.npz")
    _rewrite(path, tmp_path / "extra.npz", sneaky=np.zeros(1))
    with pytest.raises(ValueError, match=r"arrays not in the metadata \['sneaky'\]"):
        nn.Linear(2, 3).load(tmp_path / "extra.npz")


def test_a_file_of_another_format_version_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    layer = nn.Linear(2, 3, rng=0)
    layer.save(path)
    metadata = {"format": "graphgrad.nn", "version": 99, "parameters": []}
    _rewrite(path, tmp_path / "v99.npz",
             **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})
    with pytest.raises(ValueError, match="format version 99 is not supported"):
        layer.load(tmp_path / "v99.npz")


def test_weights_of_another_network_are_refused_naming_the_entries(tmp_path):
    path = tmp_path / "w.npz"
    nn.TwoLayerNet(6, 5, 3, rng=0).save(path)
    with pytest.raises(ValueError, match=r"W1 \(6, 5\) \(the parameter is \(6, 4\)\)"):
        nn.TwoLayerNet(6, 4, 3).load(path)


def test_a_damaged_archive_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    nn.Linear(2, 3, rng=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="w.npz"):
        nn.Linear(2, 3).load(path)


@pytest.mark.parametrize("holder", [
    lambda: [nn.Linear(2, 2, rng=0), nn.Linear(2, 2, rng=1)],
    lambda: (nn.Linear(2, 2, rng=0),),
    lambda: {"first": nn.Linear(2, 2, rng=0)},
    lambda: [nn.Parameter(np.zeros(2))],
], ids=["list", "tuple", "dict", "parameters"])
def test_modules_or_parameters_in_a_plain_container_attribute_are_refused_not_silently_unregistered(holder):
    # Found this session (adversarial hunt): self.blocks = [Linear(...), Linear(...)] ran forward, but its
    # parameters were missing from parameters(), state_dict(), save() and every optimizer: nothing trained.
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = holder()

    with pytest.raises(TypeError, match=r"Net\.blocks: a (list|tuple|dict) holding .* does not register them.*nn\.Sequential"):
        Net()


def test_a_sequential_holds_blocks_that_a_loop_calls_and_registers_them():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Linear(2, 2, rng=1))
            self.names = ["plain", "values"]  # containers of other things are left alone

        def forward(self, x):
            for index in range(len(self.blocks)):
                x = self.blocks[index](x)
            return x

    net = Net()
    assert net(np.ones((1, 2))).shape == (1, 2)
    assert len(net.parameters()) == 4 and len(net.state_dict()) == 4


def test_loading_a_float64_value_too_large_for_a_float32_parameter_is_refused_naming_the_entry(tmp_path):
    # Found this session (adversarial hunt): np.copyto(casting="unsafe") turned 1e300 into inf, with only
    # NumPy's RuntimeWarning; the loaded model then computed with an infinite weight.
    wide = nn.MLP([4, 5, 3], rng=0)
    W1 = dict(wide.named_parameters())["W1"]
    W1.data[0, 0] = 1e300
    path = tmp_path / "wide.npz"
    wide.save(path)
    narrow = nn.MLP([4, 5, 3], rng=0, dtype=np.float32)
    with pytest.raises(ValueError, match=r"W1.*the value 1e\+300 at index \(0, 0\) does not fit the parameter's dtype float32"):
        narrow.load(path)
    W1.data[0, 0] = 0.5  # an ordinary value only rounds
    wide.save(path)
    narrow.load(path)
    loaded = dict(narrow.named_parameters())["W1"].data
    assert loaded.dtype == np.float32 and loaded[0, 0] == np.float32(0.5)


def test_a_container_of_members_registered_elsewhere_in_the_tree_is_accepted():
    # A false-alarm hunt found the first version refusing these: nothing is lost, each is registered.
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8, rng=0), nn.Linear(8, 2, rng=1)
            self.hidden = [self.fc1, self.fc2]
            self.params = {"W1": self.fc1.weight, "b1": self.fc1.bias}

    net = Net()
    assert len(net.parameters()) == 4 and net.hidden[0] is net.fc1
