"""The engine's fast paths give the results of its plain ones.

Gradients are pruned where nothing needs them; 0-d values run as NumPy scalars inside the engine; plain
backward runs the VJP rules on bare arrays while ``create_graph=True`` runs the same rules on Tensors.
Each shortcut must change nothing a user can see.
"""

import gc
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd
import nn
from autograd import Tensor, ops
from nn.optim import SGD
from tests.test_op_gradients import programs

SCALAR_OPS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / (y * y + 1.0),
    "exp": lambda x, y: (x * 0.1).exp(),
    "tanh": lambda x, y: x.tanh(),
    "sigmoid": lambda x, y: x.sigmoid(),
    "relu": lambda x, y: x.relu() + x * 0.5,
    "square": lambda x, y: x ** 2,
    "log": lambda x, y: (x * x + 1.0).log(),
}


@st.composite
def scalar_programs(draw):
    """A random chain of 3-12 scalar ops over 2-3 inputs (each op reads the newest value and any other)."""
    inputs = draw(st.lists(st.floats(-2, 2, allow_nan=False, width=64), min_size=2, max_size=3))
    steps = [(draw(st.sampled_from(sorted(SCALAR_OPS))), draw(st.integers(0, 10)))
             for _ in range(draw(st.integers(3, 12)))]
    return inputs, steps


def run_scalar_program(leaves, steps):
    values = list(leaves)
    for name, pick in steps:
        values.append(SCALAR_OPS[name](values[-1], values[pick % len(values)]))
    return values[-1]


@given(scalar_programs())
def test_numpy_scalar_path_matches_the_0d_array_path_exactly(program):
    numbers, steps = program
    as_scalars = [Tensor(v) for v in numbers]              # kept as NumPy scalars inside
    as_arrays = [Tensor(np.array(v)) for v in numbers]     # 0-d arrays the caller shares
    out_scalars = run_scalar_program(as_scalars, steps)
    out_arrays = run_scalar_program(as_arrays, steps)
    out_scalars.backward()
    out_arrays.backward()
    assert out_scalars.data.tobytes() == out_arrays.data.tobytes()
    for a, b in zip(as_scalars, as_arrays):
        if a.grad is None:  # an input the program never read
            assert b.grad is None
            continue
        assert type(a.grad) is np.ndarray and a.grad.shape == () and a.grad.dtype == np.float64
        assert a.grad.tobytes() == b.grad.tobytes()


@given(programs())
def test_plain_backward_matches_the_recorded_create_graph_rules(program_and_inputs):
    program, arrays = program_and_inputs
    leaves = [Tensor(a) for a in arrays]
    out = program(*leaves)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    plain = autograd.grad(out, leaves, grad_outputs=weights, allow_unused=True, retain_graph=True)
    recorded = autograd.grad(out, leaves, grad_outputs=weights, create_graph=True, allow_unused=True)
    for p, r in zip(plain, recorded):
        assert (p is None) == (r is None)
        if p is not None:
            np.testing.assert_allclose(p.data, r.data, rtol=1e-12, atol=1e-12)


def test_vjps_of_inputs_that_need_no_gradient_never_run():
    calls = []
    tracked = ops.Op("tracked_mul", forward=lambda x, y: x * y,
                     vjp=(lambda g, out, x, y: calls.append("x") or g * y,
                          lambda g, out, x, y: calls.append("y") or g * x))
    w = Tensor(np.ones(3))
    data = np.arange(3.0)
    autograd.apply(tracked, data, w).sum().backward()
    assert calls == ["y"]
    assert w.grad.tolist() == [0.0, 1.0, 2.0]


def test_an_identity_vjp_hands_g_on_uncalled_and_its_gradient_is_still_summed_to_shape_and_recorded():
    # `ops.passes_g` is recognised by the engine, which passes g on without calling it; the gradient must still
    # be summed back over broadcast axes, cast to the input's dtype, and recorded under create_graph.
    shift = ops.Op("shift", broadcasting=True, reads=(), forward=lambda x, y: x + 2 * y,
                   vjp=(ops.passes_g, lambda g, out, x, y: 2 * g))
    x, b = Tensor(np.ones((2, 3), dtype=np.float32)), Tensor(np.arange(3.0))
    out = autograd.apply(shift, b, x)  # b (3,) broadcast over x (2, 3): its gradient is summed over axis 0
    (out * out).sum().backward()
    np.testing.assert_array_equal(b.grad, (2 * out.data).sum(axis=0))
    assert b.grad.dtype == np.float64 and x.grad.dtype == np.float32
    s = Tensor(1.5)
    (ds,) = autograd.grad(autograd.apply(shift, s * s, 1.0), [s], create_graph=True)
    assert ds.item() == 3.0 and ds.requires_grad  # recorded: the chain's other factor, 2s, is a graph
    assert autograd.grad(ds, s).item() == 2.0


def test_first_layer_input_gets_no_gradient_and_constants_stay_none():
    net = nn.TwoLayerNet(6, 4, 3, rng=0)
    x = Tensor(np.ones((2, 6)), requires_grad=False)
    net.loss_tensor(x, np.array([0, 2])).backward()
    assert x.grad is None
    assert all(p.grad is not None for p in net.parameters())


def test_float32_scalar_chain_stays_float32_in_values_and_gradients():
    a, c, y = Tensor(np.float32(1.5)), Tensor(np.float32(0.25)), Tensor(np.float32(0.5))
    for _ in range(5):
        y = (y * a + c).tanh() * 2 + 1
    y.backward()
    assert y.dtype == np.float32 and y.data.dtype == np.float32
    for t in (a, c):
        assert t.grad.dtype == np.float32


def test_reading_data_pins_an_array_that_later_ops_and_in_place_edits_see():
    x = Tensor(2.0)
    y = x * 3
    view = y.data                      # the engine's NumPy scalar becomes a 0-d array the caller holds
    assert isinstance(view, np.ndarray) and y.data is view
    view[...] = 10.0                   # an in-place edit sticks, as for any Tensor's data
    assert (y * 1).item() == 10.0


def test_a_training_step_leaves_no_reference_cycles():
    net = nn.TwoLayerNet(8, 5, 3, rng=0)
    optimizer = SGD(net.parameters(), lr=0.1)
    x = np.random.default_rng(0).random((4, 8))
    t = np.array([0, 1, 2, 1])
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            loss = net.loss_tensor(x, t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        del loss
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
    assert math.isfinite(net.loss(x, t))


def test_scalar_operators_fast_path_records_what_apply_records():
    x, y = Tensor(3.0, name="x"), Tensor(2.0, requires_grad=False)
    for name, symbol_op in [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                            ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b)]:
        with autograd.module_scope("Layer"):
            fast = symbol_op(x, y)
            plain = autograd.apply(getattr(ops, name.upper()), x, y)
        assert fast.item() == plain.item() and fast.requires_grad and plain.requires_grad
        assert (fast.node.op, fast.node.inputs, fast.node.params, fast.node.module) == \
               (plain.node.op, plain.node.inputs, plain.node.params, plain.node.module) == \
               (getattr(ops, name.upper()), (x, y), None, "Layer")
        with autograd.no_grad():
            assert symbol_op(x, y).node is None and not symbol_op(x, y).requires_grad
        assert symbol_op(y, y).node is None  # constants only: nothing recorded


def test_scalar_operators_fast_path_checks_anomalies_and_names_errors():
    with autograd.detect_anomaly():
        try:
            Tensor(1.0) / Tensor(0.0)
        except FloatingPointError as exc:
            assert str(exc).startswith("div: forward produced 1 non-finite value (inf)")
        else:
            raise AssertionError("detect_anomaly let 1 / 0 through")


def test_in_place_data_update_of_a_scalar_keeps_values_and_gradients_right():
    x = Tensor(2.0)
    old = x * x
    old.backward()
    x.data -= 0.5 * x.grad             # the optimizer's step on a scalar: 2 - 0.5 * 4
    assert x.item() == 0.0 and type(x.data) is np.ndarray and x.data.shape == ()
    x.grad = None
    (x * 3.0 + x).backward()
    assert x.grad.item() == 4.0
    assert old.item() == 4.0           # the old graph keeps the value it saw


def test_a_recorded_op_adds_no_object_the_collector_keeps_tracking_for_its_saved_values():
    # Scalar graphs of ~60k ops stay alive through a forward pass; each object the cyclic collector tracks
    # is rescanned by every full collection (a list per op made micrograd's demo step 1.5x slower).
    a, c = Tensor(0.5), Tensor(0.25)
    y = Tensor(1.0)
    for _ in range(3):
        y = y * a + c
    m = Tensor(np.ones((2, 2))) @ Tensor(np.ones((2, 2)))
    # The values sit in the output Tensor's slots; a Node view builds their tuple when it is made.
    y_node, m_node = y.node, m.node
    gc.collect()
    assert not gc.is_tracked(y_node._values)
    assert not gc.is_tracked(m_node._values)
    assert not [r for r in gc.get_referents(y) if gc.is_tracked(r) and type(r) is tuple]


def _tensors_alive() -> int:
    return sum(type(o) is Tensor for o in gc.get_objects())


def test_a_recorded_scalar_op_leaves_one_object_the_collector_tracks():
    # The output Tensor holds the record: its inputs and their values sit in its slots.
    a, c, y = Tensor(0.5), Tensor(0.25), Tensor(1.0)
    gc.collect()
    before = _tensors_alive()
    gc.disable()
    try:
        allocations = gc.get_count()[0]  # tracked objects made and still alive since the last collection
        for _ in range(500):
            y = y * a + c
        allocations = gc.get_count()[0] - allocations
    finally:
        gc.enable()
    assert 1000 <= allocations <= 1005  # one per op (2,004 with a tuple of values per op): no more collections
    x = (y.relu() + a.tanh()) * 2.0  # one-input ops and a coerced constant (one Tensor more)
    gc.collect()
    # Counted by type, not all tracked objects: another thread of the test run may make objects meanwhile.
    assert _tensors_alive() - before == 1000 + 4 + 1
    # ... and what each record refers to that the collector tracks is only Tensors, the op and the class.
    shared = (Tensor, ops.Op, type)
    assert not [r for t in autograd.graph._recorded([x]) for r in gc.get_referents(t)
                if gc.is_tracked(r) and not isinstance(r, shared)]
    assert [t.item() for t in x.node.inputs[0].node.inputs] == [y.item(), math.tanh(0.5)]
    assert len(y.node.inputs) == 2 and len(x.node.inputs[0].node.inputs[0].node.inputs) == 1


def test_a_saving_ops_node_shows_its_params_and_what_it_saved_apart_and_backward_gets_both():
    # The record keeps `saved` among the params the VJPs take; the Node must not show it as a param.
    x = Tensor(np.random.default_rng(0).normal(size=(2, 3, 5, 5)))
    W, b = Tensor(np.ones((4, 3, 3, 3)) * 0.1), Tensor(np.zeros(4))
    out = autograd.conv2d(x, W, b, stride=2, pad=1)
    node = out.node
    assert node.params == {"stride": (2, 2), "pad": (1, 1)}
    assert isinstance(node.saved, np.ndarray) and node.saved.shape == (2 * 3 * 3, 3 * 3 * 3)  # the im2col rows
    out.sum().backward()
    assert W.grad.shape == W.shape and np.isfinite(W.grad).all()
    loss = autograd.softmax_cross_entropy(Tensor(np.zeros((2, 3))), np.eye(3)[[0, 2]])
    assert loss.node.params is not None and "saved" not in loss.node.params and loss.node.saved is not None


def _gradients_bits(leaves):
    return [None if t.grad is None else t.grad.tobytes() for t in leaves]


@given(programs())
def test_the_direct_two_input_path_gives_the_general_loops_gradients_bit_for_bit(program_and_inputs):
    # A plain backward runs ops of two inputs and no params through a direct path; under detect_anomaly every
    # op goes through the general loop. Both must send the same bits to every input.
    program, arrays = program_and_inputs
    direct, general = [Tensor(a) for a in arrays], [Tensor(a) for a in arrays]
    out = program(*direct)
    assume(np.all(np.isfinite(out.data)))
    weights = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(weights)
    assume(all(g is None or np.all(np.isfinite(g)) for g in (t.grad for t in direct)))
    with autograd.detect_anomaly():
        program(*general).backward(weights)
    assert _gradients_bits(direct) == _gradients_bits(general)


@given(scalar_programs())
def test_scalar_programs_take_the_same_gradients_through_both_paths(program):
    numbers, steps = program
    direct, general = [Tensor(v) for v in numbers], [Tensor(v) for v in numbers]
    run_scalar_program(direct, steps).backward()
    with autograd.detect_anomaly():
        run_scalar_program(general, steps).backward()
    assert _gradients_bits(direct) == _gradients_bits(general)


@given(programs(min_ops=4, max_ops=9))
def test_toposort_lists_every_node_once_after_the_nodes_of_its_inputs(program_and_inputs):
    program, arrays = program_and_inputs
    out = program(*[Tensor(a) for a in arrays])
    order = autograd.toposort(out)
    position = {id(node): i for i, node in enumerate(order)}
    assert len(position) == len(order)
    reachable, stack = set(), [out]
    while stack:  # the reference: every Node reachable from out, by a plain walk
        node = stack.pop().node
        if node is not None and id(node) not in reachable:
            reachable.add(id(node))
            stack.extend(node.inputs)
    assert set(position) == reachable
    for node in order:
        for t in node.inputs:
            if t.node is not None:
                assert position[id(t.node)] < position[id(node)]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_of_a_numpy_scalar_gives_what_np_maximum_gives_bit_for_bit(dtype):
    # relu's forward skips np.maximum's ufunc call for NumPy scalars; it must still give its value, sign and type.
    tiny = np.finfo(dtype).smallest_subnormal
    for number in (-0.0, 0.0, np.nan, -np.inf, np.inf, -2.5, 3.0, tiny, -tiny):
        x = dtype(number)
        expected = np.maximum(x, 0)
        value, mask = ops.RELU.forward(x)
        assert type(value) is type(expected) and value.tobytes() == expected.tobytes(), (x, value, expected)
        assert type(mask) is np.bool_ and mask == (x > 0)
        through_tensor = autograd.relu(Tensor(x)).data
        assert through_tensor.dtype == dtype and through_tensor.tobytes() == np.maximum(np.array(x), 0).tobytes()


def test_an_op_with_a_vjp_for_an_input_it_was_not_given_backpropagates_in_every_kind_of_pass():
    # Three VJPs, the third input optional: a plain pass (the direct path for two inputs) must give what the
    # general loop gives, not fail unpacking the VJPs.
    fma = ops.Op("fma", forward=lambda x, y, z=1.0: x * y * z,
                 vjp=(lambda g, out, x, y, z=1.0: g * y * z, lambda g, out, x, y, z=1.0: g * x * z,
                      lambda g, out, x, y, z=1.0: g * x * y), reads=("x", "y"))
    for make in (lambda: Tensor(np.arange(3.0)), lambda: Tensor(2.0)):
        a, b = make(), make() + 1
        b = Tensor(b.data)
        autograd.apply(fma, a, b).sum().backward()
        a2, b2 = Tensor(a.data), Tensor(b.data)
        with autograd.detect_anomaly():
            autograd.apply(fma, a2, b2).sum().backward()
        assert a.grad.tolist() == a2.grad.tolist() == b.data.tolist()
        assert b.grad.tolist() == b2.grad.tolist() == a.data.tolist()


def test_relu_called_on_values_the_engine_never_stores_gives_what_np_maximum_gives():
    # `ops.call(ops.RELU, v)` is public: Python numbers, NumPy bools and ints, array subclasses take np.maximum.
    class Sub(np.ndarray):
        pass

    values = [2.0, -3, np.True_, np.int64(-2), np.array(-2.0).view(Sub), np.array([1.0, -2.0, 3.0]).view(Sub)]
    for v in values:
        got, expected = ops.call(ops.RELU, v), np.maximum(v, 0)
        assert type(got) is type(expected) and np.shape(got) == np.shape(expected), (v, got, expected)
        assert np.asarray(got).tolist() == np.asarray(expected).tolist()
