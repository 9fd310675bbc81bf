"""Tests of the backward pass: fan-out, intermediates, repeated backward, deep and wide graphs, freeing
graphs without the garbage collector, backward_steps and explicit output gradients."""

import gc
import weakref

import numpy as np
import pytest

import autograd
from autograd import Node, Tensor
from op_specs import SPECS


# --- fan-out ------------------------------------------------------------------------------------------
def test_fan_out_x_times_x_sums_both_uses():
    x = Tensor([3.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, -4.0])


def test_fan_out_x_plus_x_sums_both_uses():
    x = Tensor([3.0, -2.0])
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_a_tensor_feeding_two_branches_gets_the_sum_of_both():
    x = Tensor(2.0)
    h = x * 3.0  # used by both branches
    out = autograd.exp(h) + h ** 2
    out.backward()
    np.testing.assert_allclose(h.grad, np.exp(6.0) + 12.0)
    np.testing.assert_allclose(x.grad, 3.0 * (np.exp(6.0) + 12.0))


# --- intermediates -----------------------------------------------------------------------------------
def test_gradients_land_on_intermediates_too():
    x = Tensor([1.0, 2.0])
    h = x * 2.0
    s = autograd.sum(h * h)
    s.backward()
    assert s.grad.item() == 1.0  # the seed's dout = 1
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    np.testing.assert_array_equal(x.grad, 2 * 2 * h.data)


def test_constants_get_no_gradient():
    x = Tensor([1.0, 2.0])
    c = Tensor([5.0, 6.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None


# --- calling backward twice ----------------------------------------------------------------------------
def _fan_out_graph():
    x, w = Tensor([0.5, -1.5, 2.0], name="x"), Tensor([1.0, 2.0, -0.5], name="w")
    h = x * w
    g = autograd.tanh(h) + h * h
    out = autograd.sum(g * x)
    return [x, w], [h, g], out


def test_backward_twice_gives_every_leaf_and_intermediate_exactly_twice_the_gradient():
    leaves, intermediates, out = _fan_out_graph()
    out.backward(retain_graph=True)
    first = [t.grad.copy() for t in leaves + intermediates + [out]]
    out.backward()
    for t, once in zip(leaves + intermediates + [out], first):
        np.testing.assert_array_equal(t.grad, 2 * once)


def test_backward_from_an_intermediate_after_the_output_does_not_resend_stored_gradients():
    x = Tensor(3.0)
    h = x * x
    out = h * 2.0
    out.backward()
    assert h.grad.item() == 2.0 and x.grad.item() == 12.0
    h.backward()  # propagates only its own seed 1, never the 2 already stored on h
    assert h.grad.item() == 3.0 and x.grad.item() == 18.0


# --- deep and wide graphs -------------------------------------------------------------------------------
class _GCOff:
    """The garbage collector off for a block (collected first, restored after)."""

    def __enter__(self):
        self.was_enabled = gc.isenabled()
        gc.collect()
        gc.disable()

    def __exit__(self, *exc):
        if self.was_enabled:
            gc.enable()


def test_a_million_op_chain_backpropagates_without_recursion_error():
    # Python's cyclic GC rescans the growing heap while millions of objects are allocated (it doubles
    # the build time); the graph itself needs no GC (no cycles), so the big-graph tests switch it off.
    with _GCOff():
        x = Tensor(1.0)
        rate = Tensor(1.0000001, requires_grad=False)  # one constant shared by every op
        y = x
        for _ in range(1_000_000):
            y = y * rate
        y.backward()
        expected = 1.0000001 ** 1_000_000
        np.testing.assert_allclose(y.item(), expected, rtol=1e-9)
        np.testing.assert_allclose(x.grad.item(), expected, rtol=1e-9)
        assert len(autograd.toposort(y)) == 1_000_000
        del y  # freeing a million-deep chain must not overflow the C stack either


def test_a_chain_of_alternating_ops_ten_thousand_deep_matches_the_closed_form():
    x = Tensor(0.5)
    y = x
    for _ in range(5_000):
        y = (y + 1.0) * 0.5  # converges to 1; dy/dx = 0.5 ** 5000 underflows to a tiny number
    y.backward()
    np.testing.assert_allclose(y.item(), 1.0)
    assert x.grad.item() == pytest.approx(0.5 ** 5_000, abs=1e-300)


def test_one_tensor_feeding_100000_ops_gets_the_summed_gradient():
    with _GCOff():
        x = Tensor(2.0)
        coefficients = np.arange(100_000, dtype=np.float64)
        terms = [x * c for c in coefficients]  # 100,000 uses of x
        while len(terms) > 1:  # pairwise sums: a balanced tree, linear in the number of terms
            paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
            terms = paired + terms[len(paired) * 2:]
        total = terms[0]
        total.backward()
        assert x.grad.item() == coefficients.sum()
        assert total.item() == 2.0 * coefficients.sum()


def test_a_running_total_over_100000_terms_backpropagates():
    with _GCOff():
        x = Tensor([1.0, 2.0])
        total = 0
        for _ in range(100_000):
            total = total + x * 1.0
        total.sum().backward()
        np.testing.assert_array_equal(x.grad, [100_000.0, 100_000.0])


# --- no reference cycles -----------------------------------------------------------------------------
def _live_nodes() -> int:
    """The recorded ops alive: each lives in its output Tensor (a Node is only a view of it, made on access)."""
    return sum(1 for o in gc.get_objects() if isinstance(o, Tensor) and o._op is not None)


@pytest.mark.parametrize("run_backward", [False, True], ids=["forward only", "after backward"])
def test_intermediates_die_with_the_output_without_the_garbage_collector(run_backward):
    with _GCOff():
        before = _live_nodes()
        x = Tensor([1.0, 2.0])
        h = autograd.tanh(x * 3.0)
        out = autograd.sum(h * h)
        watched = weakref.ref(h), weakref.ref(out.node.inputs[0])
        if run_backward:
            out.backward()
        del h
        assert all(w() is not None for w in watched)  # the output keeps its graph alive
        assert _live_nodes() - before == 4
        del out
        assert all(w() is None for w in watched)
        assert _live_nodes() == before
        assert x.grad is None or x.grad.shape == (2,)


def test_nodes_support_weak_references_and_die_with_their_output():
    with _GCOff():
        x = Tensor([1.0, 2.0])
        h = x * 2.0
        out = (h * h).sum()
        node_ref = weakref.ref(h.node)
        del h
        assert node_ref() is not None
        del out
        assert node_ref() is None


@pytest.mark.parametrize("run_backward", [False, True], ids=["forward only", "after backward"])
def test_a_two_layer_net_graph_is_freed_by_reference_counting(run_backward):
    rng = np.random.default_rng(0)
    with _GCOff():
        before = _live_nodes()
        W1, b1 = Tensor(rng.standard_normal((4, 5)) * 0.1), Tensor(np.zeros(5))
        W2, b2 = Tensor(rng.standard_normal((5, 3)) * 0.1), Tensor(np.zeros(3))
        X, t = rng.standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2])
        hidden = autograd.relu(X @ W1 + b1)
        scores = hidden @ W2 + b2
        loss = autograd.softmax_cross_entropy(scores, t)
        watched = [weakref.ref(v) for v in (hidden, scores, hidden.node.inputs[0])]
        if run_backward:
            loss.backward()
            assert W1.grad.shape == (4, 5) and b2.grad.shape == (3,)
        del hidden, scores
        assert all(w() is not None for w in watched)
        del loss
        assert all(w() is None for w in watched)
        assert _live_nodes() == before


def test_grad_with_create_graph_leaves_no_cycles():
    with _GCOff():
        before = _live_nodes()
        x = Tensor(2.0)
        y = x ** 3
        dy = autograd.grad(y, x, create_graph=True)
        watched = weakref.ref(y), weakref.ref(dy)
        d2y = autograd.grad(dy, x)
        assert d2y.item() == 12.0
        del y, dy, d2y
        assert all(w() is None for w in watched)
        assert _live_nodes() == before


# --- backward_steps --------------------------------------------------------------------------------------
def test_backward_steps_run_in_reverse_topological_order_with_complete_gradients():
    a, b, c = Tensor(2.0, name="a"), Tensor(3.0, name="b"), Tensor(4.0, name="c")
    h = a * b  # 6, used twice
    out = h * c + h
    steps = autograd.backward_steps(out)
    assert [s.node.op.name for s in steps] == ["add", "mul", "mul"]
    assert steps[0].node is out.node and steps[-1].node is h.node
    add_step, outer_mul, inner_mul = steps
    assert add_step.grad_output.item() == 1.0
    assert [g.item() for g in add_step.input_grads] == [1.0, 1.0]
    assert outer_mul.grad_output.item() == 1.0
    assert [g.item() for g in outer_mul.input_grads] == [4.0, 6.0]  # d/dh = c, d/dc = h
    assert inner_mul.grad_output.item() == 5.0  # the complete gradient of h: c + 1
    assert [g.item() for g in inner_mul.input_grads] == [15.0, 10.0]  # 5 b, 5 a
    assert a.grad is None and h.grad is None  # nothing stored


def test_backward_steps_mark_inputs_that_need_no_gradient_with_none():
    x = Tensor([1.0, 2.0])
    steps = autograd.backward_steps((x * 3.0).sum())
    mul_step = steps[-1]
    assert mul_step.input_grads[1] is None
    np.testing.assert_array_equal(mul_step.input_grads[0], [3.0, 3.0])


def test_backward_steps_agree_with_backward():
    leaves, intermediates, out = _fan_out_graph()
    steps = autograd.backward_steps(out)
    out.backward()
    x, w = leaves
    for step in steps:
        for t, g in zip(step.node.inputs, step.input_grads):
            assert (g is None) == (not t.requires_grad)
    per_leaf = {id(x): 0.0, id(w): 0.0}
    for step in steps:
        for t, g in zip(step.node.inputs, step.input_grads):
            if id(t) in per_leaf:
                per_leaf[id(t)] = per_leaf[id(t)] + g
    np.testing.assert_allclose(per_leaf[id(x)], x.grad)
    np.testing.assert_allclose(per_leaf[id(w)], w.grad)


# --- explicit output gradients ---------------------------------------------------------------------------
def test_backward_with_an_explicit_gradient_for_a_non_scalar_output():
    x = Tensor([1.0, 2.0, 3.0])
    y = x * x
    g = np.array([1.0, 10.0, 100.0])
    y.backward(grad=g)
    np.testing.assert_array_equal(x.grad, 2 * x.data * g)
    np.testing.assert_array_equal(y.grad, g)
    assert y.grad is not g  # never aliases the caller's array
    g[0] = -1.0
    assert y.grad[0] == 1.0


def test_backward_implies_the_gradient_one_for_a_one_element_non_scalar_output():
    x = Tensor([[2.0]])
    (x * 3.0).backward()
    assert x.grad.item() == 3.0


def test_backward_accepts_a_tensor_as_gradient():
    y = Tensor([1.0, 2.0])
    (y * 2.0).backward(Tensor([1.0, 0.5], requires_grad=False))
    np.testing.assert_array_equal(y.grad, [2.0, 1.0])


def test_backward_accepts_a_nested_list_as_gradient():
    y = Tensor([1.0, 2.0])
    (y * 2.0).backward([1.0, 0.5])
    np.testing.assert_array_equal(y.grad, [2.0, 1.0])


@pytest.mark.parametrize("seed", [np.float32(2.0), np.float64(2.0), 2, np.array(2.0)], ids=repr)
def test_backward_accepts_a_numpy_or_python_scalar_as_gradient_of_a_scalar(seed):
    y = Tensor(3.0)
    (y * 5.0).backward(seed)
    assert y.grad.item() == 10.0


# --- stored gradients are independent, writeable arrays ------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_stored_grads_are_writeable_and_share_memory_with_nothing(spec):
    case = spec.examples[0]
    arrays = spec.example_inputs(case)
    inputs = [Tensor(a) for a in arrays]
    middle = spec.call(*inputs, **case.params)
    out = middle * 1.0
    upstream = np.ones(out.shape)
    out.backward(upstream)
    tensors = inputs + [middle, out]
    others = [t.data for t in tensors] + [upstream]
    for i, t in enumerate(tensors):
        assert t.grad.flags.writeable, t
        for j, u in enumerate(tensors):
            if i != j:
                assert not np.shares_memory(t.grad, u.grad), (t, u)
        for other in others:
            assert not np.shares_memory(t.grad, other), t


def test_changing_one_grad_in_place_leaves_every_other_grad_alone():
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    s = a + b
    s.sum().backward()
    a.grad *= 10
    a.grad[0] = -5
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    np.testing.assert_array_equal(s.grad, [1.0, 1.0])
