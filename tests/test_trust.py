"""Issue 8, section 1: no silently wrong gradient and no silently lost recording.

Each case of the issue is pinned here with the behaviour that replaced it: backward right, or a clear
error at the change or at backward. In-place protection is `autograd.inplace`; grad modes `autograd.mode`.
"""

import asyncio
import copy
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import autograd
import nn
from autograd import Tensor, exp, grad, no_grad, detect_anomaly, module_scope
from nn.optim import OPTIMIZERS

READ_ONLY = "read-only"


# --- in-place edits of data a live graph saved ------------------------------------------------------------
def test_writing_into_saved_data_is_refused_at_the_change_and_backward_stays_right():
    x = Tensor(np.array([2.0]))
    y = x * x
    with pytest.raises(ValueError, match=READ_ONLY):
        x.data[...] = 100
    with pytest.raises(ValueError, match=READ_ONLY):
        x.data += 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0])


def test_a_callers_shared_array_is_read_only_until_backward_then_writeable_again():
    a = np.array([2.0, 3.0])
    x = Tensor(a)  # shared, not copied
    y = (x * x).sum()
    with pytest.raises(ValueError, match=READ_ONLY):
        a[0] = 5
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 6.0])
    a[0] = 5  # given back by backward
    assert a[0] == 5


def test_an_output_a_vjp_reads_cannot_be_changed_in_place():
    x = Tensor(np.array([0.0, 1.0]))
    y = exp(x)
    with pytest.raises(ValueError, match=READ_ONLY):
        y.data[...] = 5
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp([0.0, 1.0]))


def _a_graph_made_and_freed_without_backward_lets_go_of_its_array():
    a = np.ones(3)
    y = Tensor(a) * 2.0
    assert not a.flags.writeable
    del y
    assert a.flags.writeable


def test_a_freed_graph_gives_its_arrays_back_without_backward():
    _a_graph_made_and_freed_without_backward_lets_go_of_its_array()


def test_an_array_held_by_two_graphs_stays_read_only_until_both_let_go():
    a = np.ones(3)
    x = Tensor(a)
    first, second = (x * x).sum(), (x * 3.0).sum()
    first.backward()
    assert not a.flags.writeable  # `second` still needs it
    second.backward()
    assert a.flags.writeable


def test_a_backward_pass_that_fails_midway_gives_back_the_arrays_of_the_nodes_it_reached():
    # A pass gives its Nodes' arrays back together when it ends (`inplace.give_back`): also when a VJP raises.
    # A Node is released when the pass reaches it, before its VJPs run, so the failing one is released too.
    def refuse(g, out, x):
        raise ArithmeticError("no gradient here")

    failing = autograd.ops.Op("failing", forward=lambda x: x * 1.0, vjp=refuse, reads=("x",))
    a = np.ones(3)
    x = Tensor(a)
    y = exp(autograd.engine.apply(failing, x))  # exp holds its output; backward runs it before `failing`
    out_array = y.data
    with pytest.raises(ArithmeticError, match="no gradient here"):
        y.sum().backward()
    assert out_array.flags.writeable and a.flags.writeable
    assert not autograd.inplace._deferred
    with pytest.raises(RuntimeError, match="already backpropagated"):
        y.sum().backward()


def test_a_training_loop_reuses_the_holds_a_backward_pass_emptied(monkeypatch):
    # Emptied Holds are kept for the next forward pass instead of being freed (no finalizer call per op),
    # the last Node's too (the pass's own variable once kept it from the list's sole hold).
    monkeypatch.setattr(autograd.inplace, "_spare", [])
    layer = nn.Linear(3, 2, rng=0)
    x = np.ones((4, 3))
    (layer(Tensor(x, requires_grad=False)) ** 2).sum().backward()  # holds: matmul's (x, W), pow's
    spare = list(map(id, autograd.inplace._spare))
    assert len(spare) == 2 and all(hold.arrays == () for hold in autograd.inplace._spare)
    y = (layer(Tensor(x, requires_grad=False)) ** 2).sum()
    assert not x.flags.writeable and not autograd.inplace._spare  # both taken from the spare ones
    y.backward()
    assert x.flags.writeable and layer.weight.data.flags.writeable
    assert sorted(map(id, autograd.inplace._spare)) == sorted(spare)


def test_a_copy_of_a_recorded_tensor_keeps_its_arrays_held_until_both_let_go():
    # Found by a hunt for regressions in the batched give-back: copy.copy shares the Node's Hold; backward
    # through the original emptied it and handed it to the next graph, whose array the copy's backward then
    # gave back early (a write accepted, w.grad 10 instead of 2). A Hold is now reused only from its last holder.
    a, b = np.ones(3), np.ones(3)
    y = Tensor(a) * Tensor(a)
    twin = copy.copy(y)
    assert twin._held is not y._held and twin.node.op is y.node.op and twin.data is y.data
    y.sum().backward()
    assert not a.flags.writeable  # the copy can still be backpropagated: its values stay guarded
    w = Tensor(b)
    z = w * w
    twin.sum().backward()
    assert a.flags.writeable
    with pytest.raises(ValueError, match=READ_ONLY):
        b[:] = 5.0
    z.sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])


def test_copying_a_leaf_or_a_parameter_shares_its_data_and_keeps_its_type():
    weight = nn.Parameter(np.ones(2))
    twin = copy.copy(weight)
    assert type(twin) is nn.Parameter and twin.data is weight.data and twin.requires_grad
    leaf = Tensor(np.ones(2), name="x")
    assert copy.copy(leaf).name == "x" and copy.copy(leaf).node is None


def test_copying_a_tensor_subclass_keeps_its_private_slots():
    # Found by a third hunt: __copy__ copied slots by their written names, so a private slot (stored as
    # _Tagged__tag) was dropped. It now copies as copy.copy does by default, then gives a Hold of its own.
    class Tagged(Tensor):
        __slots__ = ("__tag",)

    t = Tagged(np.ones(2))
    t._Tagged__tag = "train"
    twin = copy.copy(t)
    assert type(twin) is Tagged and twin._Tagged__tag == "train"
    y = t * 2.0
    twin_y = copy.copy(y)
    assert twin_y.node.op is y.node.op and twin_y._held is not y._held


@pytest.mark.skipif(sys.version_info < (3, 11), reason="object.__getstate__ is new in Python 3.11")
def test_copying_a_tensor_subclass_honours_its_getstate():
    class Cached(Tensor):  # the same hunt: a subclass's __getstate__ was bypassed
        __slots__ = ("cache",)

        def __getstate__(self):
            state = super().__getstate__()
            state[1].pop("cache", None)
            return state

    t = Cached(np.ones(2))
    t.cache = "big"
    assert not hasattr(copy.copy(t), "cache")


def test_two_threads_backpropagating_one_graph_at_once_give_one_gradient_and_one_error():
    # Found by the same hunt: Nodes were marked released only when a pass ended, so a second pass through
    # the same graph in another thread ran too and doubled x.grad; each Node is marked as it runs again.
    arrived = threading.Barrier(2)

    def wait_then_square_vjp(g, out, x):
        try:
            arrived.wait(timeout=1.0)
        except threading.BrokenBarrierError:
            pass
        return g * 2.0 * x

    square = autograd.ops.Op("square_sync", forward=lambda x: x * x, vjp=wait_then_square_vjp, reads=("x",))
    data = np.array([1.0, 2.0, 3.0])
    x = Tensor(data)
    y = exp(autograd.engine.apply(square, x)).sum()  # the pass runs sum, exp, then square_sync
    errors = []

    def run():
        try:
            y.backward()
        except RuntimeError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1 and "already backpropagated" in errors[0], errors
    np.testing.assert_allclose(x.grad, 2 * data * np.exp(data ** 2))
    assert data.flags.writeable and y.node.inputs[0].data.flags.writeable  # x, and exp's output


def test_two_threads_racing_through_a_matmul_graph_never_both_backpropagate_it():
    # Found by a second hunt: a Node was marked released after its VJPs ran, and a product that lets go of
    # the GIL gave the other thread time to pass the check too (42 of 60 trials doubled x.grad). It is
    # claimed when the pass reaches it now.
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, W = Tensor(rng.standard_normal((200, 200))), Tensor(rng.standard_normal((200, 200)))
        y = autograd.tanh(x @ W).sum()
        start, errors = threading.Barrier(2), []

        def run():
            start.wait(timeout=30)
            try:
                y.backward()
            except RuntimeError as error:
                errors.append(error)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        expected = (1 - np.tanh(x.data @ W.data) ** 2) @ W.data.T
        assert len(errors) == 1 and "already backpropagated" in str(errors[0])
        np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_threads_backpropagating_into_shared_weights_lose_no_gradient():
    # Found by a third hunt: `t._grad = current + g` read and wrote .grad around a NumPy sum that lets go of
    # the GIL, so threads training one model's weights lost each other's gradients (9 of 10 rounds here).
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((300, 300)))
    xs = [rng.standard_normal((2, 300)) for _ in range(8)]
    expected = sum(x.T @ np.ones((2, 300)) for x in xs)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(10):
            W.grad = None
            start = threading.Barrier(len(xs))

            def work(x):
                start.wait(timeout=30)
                (Tensor(x, requires_grad=False) @ W).sum().backward()

            threads = [threading.Thread(target=work, args=(x,)) for x in xs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            np.testing.assert_allclose(W.grad, expected, rtol=1e-12)
    finally:
        sys.setswitchinterval(interval)


def test_relu_keeps_its_mask_and_holds_nothing_read_only():
    # The book's Relu keeps its mask from forward; so does the op, so the guard need hold nothing for it.
    a = np.array([-1.0, 0.0, 2.0, 3.0])
    x = Tensor(a)
    y = autograd.relu(x)
    assert a.flags.writeable and y.data.flags.writeable
    y.data[...] = 7.0  # nothing reads them: the mask is the forward's
    a[...] = -1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0, 1.0])
    z = autograd.relu(x) @ Tensor(np.ones(4))  # what reads ReLU's output holds it, as any op's
    with pytest.raises(ValueError, match=READ_ONLY):
        z.node.inputs[0].data[0] = 1.0


def test_softmax_cross_entropy_create_graph_through_nan_logits_neither_warns_nor_refuses():
    # Found by the same hunt: the check's tolerance was NaN when a saved row was, and NumPy warned.
    logits = np.random.default_rng(1).standard_normal((4, 3))
    logits[1, 1] = np.nan
    x = Tensor(logits)
    loss = autograd.softmax_cross_entropy(x, [0, 1, 2, 0])
    x.data[0] += 5.0  # a shift of a row: accepted, as without NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = grad(loss, [x], create_graph=True)
    assert np.isnan(g.data[1]).all() and np.isfinite(g.data[[0, 2, 3]]).all()


def test_softmax_cross_entropy_does_not_hold_its_logits_and_create_graph_refuses_changed_ones():
    # Its first-order VJP reads only what forward saved, so the guard leaves the logits writeable (one op of
    # the seed's four it need not hold); create_graph reads the logits, so it checks them first.
    rng = np.random.default_rng(0)
    logits = Tensor(rng.standard_normal((4, 3)), name="scores")
    labels = [0, 1, 2, 0]
    (expected,) = grad(autograd.softmax_cross_entropy(logits, labels), [logits])
    loss = autograd.softmax_cross_entropy(logits, labels)
    assert logits.data.flags.writeable
    logits.data[0, 0] += 1.0
    with pytest.raises(RuntimeError, match=r"softmax_cross_entropy: the logits 'scores' \(shape \(4, 3\)\) no longer "
                                           r"give the gradient the forward pass saved"):
        grad(loss, [logits], create_graph=True)
    (got,) = grad(loss, [logits])  # first order: from what forward saved, right for the forward's logits
    np.testing.assert_array_equal(got.data, expected.data)
    loss = autograd.softmax_cross_entropy(logits, labels)
    logits.data[1] += 5.0  # a shift of a row leaves its softmax, and so every derivative, unchanged
    (g,) = grad(loss, [logits], create_graph=True)
    (gg,) = grad((g * g).sum(), [logits])
    assert gg.shape == (4, 3) and np.isfinite(gg.data).all()


@pytest.mark.parametrize("make_view, write", [
    (lambda W: W.T, lambda W: W.data.__setitem__(Ellipsis, 5.0)),  # transpose's output is a view of W.data
    (lambda W: W.reshape(3, 2), lambda W: W.data.__iadd__(1.0)),
    (lambda W: W[:, 1:], lambda W: W.data.__setitem__((0, 2), 9.0)),
], ids=["transpose", "reshape", "getitem"])
def test_writing_into_the_array_a_read_view_was_made_from_is_refused_and_backward_stays_right(make_view, write):
    # Found after the guard landed: only the view an op read was held read-only, so a write into the
    # viewed array (the Tensor's own .data) silently changed the values backward multiplied by.
    W = Tensor(np.arange(6.0).reshape(2, 3))
    view = make_view(W)
    other = Tensor(np.ones(view.shape))
    y = (view * other).sum()
    with pytest.raises(ValueError, match=READ_ONLY):
        write(W)
    y.backward()
    np.testing.assert_array_equal(other.grad, make_view(Tensor(np.arange(6.0).reshape(2, 3))).data)
    assert W.data.flags.writeable  # given back (the view stays read-only: see the test below)
    write(W)


def test_a_tensor_wrapping_a_view_guards_the_array_it_views():
    a = np.arange(6.0)
    x = Tensor(a[:4])
    y = (x * x).sum()
    with pytest.raises(ValueError, match=READ_ONLY):
        a[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * np.arange(4.0))
    assert a.flags.writeable and x.data.flags.writeable
    a[0] = 100.0


def test_an_array_viewed_by_two_graphs_is_given_back_when_both_let_go():
    W = Tensor(np.ones((2, 3)))
    first = (W.T * 2.0).sum()
    second = (W * W).sum()
    first.backward()
    assert not W.data.flags.writeable  # `second` still reads it
    second.backward()
    assert W.data.flags.writeable


def test_what_forward_saved_cannot_be_changed_through_the_node():
    # Found this session: node.saved handed out the array softmax-CE's backward multiplies by, writeable;
    # zeroing it made every gradient 0 without a word.
    logits = Tensor(np.array([[1.0, 2.0, 3.0]]))
    targets = np.array([[0.0, 0.0, 1.0]])
    y = autograd.softmax_cross_entropy(logits, targets)
    with pytest.raises(ValueError, match=READ_ONLY):
        y.node.saved[...] = 0.0
    y.backward()
    probabilities = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(logits.grad, [probabilities - [0.0, 0.0, 1.0]])


def test_saved_tuples_are_shown_read_only_too():
    x = Tensor(np.arange(8.0).reshape(2, 4))
    y = autograd.batch_norm(x, Tensor(np.ones(4)), Tensor(np.zeros(4)), axes=(0,), eps=1e-5)
    saved = y.node.saved
    assert isinstance(saved, tuple) and saved
    for array in saved:
        with pytest.raises(ValueError, match=READ_ONLY):
            array[...] = 0.0


@pytest.mark.parametrize("index, refilled", [(np.array([0, 1]), [3, 2]),
                                             (np.array([True, True, False, False]), [False, False, True, True])],
                         ids=["positions", "mask"])
def test_an_index_array_changed_after_forward_cannot_move_the_gradient(index, refilled):
    # Found this session (adversarial hunt): getitem kept the caller's index array by reference among its
    # params, so refilling it in place (a reused label buffer) moved the gradient without a word.
    x = Tensor(np.arange(4.0))
    y = x[index]
    index[...] = refilled
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("targets", [np.array([0]), np.array([[1.0, 0.0, 0.0]])], ids=["labels", "one-hot"])
def test_targets_changed_after_forward_cannot_change_a_create_graph_gradient(targets):
    # Found this session (adversarial hunt): softmax-CE kept the caller's targets by reference; the plain
    # backward used what forward saved, but a create_graph backward read the targets again.
    logits = Tensor(np.array([[1.0, 2.0, 3.0]]))
    loss = autograd.softmax_cross_entropy(logits, targets)
    targets[...] = np.array([2]) if targets.ndim == 1 else [[0.0, 0.0, 1.0]]
    plain = grad(loss, logits, retain_graph=True).data
    recorded = grad(loss, logits, create_graph=True).data
    probabilities = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(plain, [probabilities - [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(recorded, plain)


class _Subclass(np.ndarray):
    pass


@pytest.mark.parametrize("kind", ["memmap", "subclass"])
def test_an_ndarray_subclass_wrapped_or_used_as_a_constant_is_guarded_too(kind, tmp_path):
    # Found this session (adversarial hunt): a Tensor of an np.memmap holds a plain view of it, and only
    # exact ndarrays were held read-only, so a write into the memmap reached the graph without a word.
    if kind == "memmap":
        a = np.memmap(tmp_path / "a.bin", dtype=np.float64, mode="w+", shape=(3,))
        a[:] = [1.0, 2.0, 3.0]
    else:  # one that owns its memory (a view made by .view(_Subclass) is another view of an array: not seen)
        a = _Subclass((3,))
        a[:] = [1.0, 2.0, 3.0]
    x = Tensor(a)
    y = (x * x).sum()
    constant = Tensor(np.ones(3)) * a
    with pytest.raises(ValueError, match=READ_ONLY):
        a[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    del constant
    assert a.flags.writeable
    a[0] = 100.0


@pytest.mark.parametrize("make", [
    lambda x: x + [x * 1.0, x * 2.0],
    lambda x: autograd.exp([x, x]),
    lambda x: Tensor([x * 2.0, 3.0]),
    lambda x: Tensor([[1.0, x]]),
    lambda x: Tensor(x * 2.0),
], ids=["operand list", "op argument", "Tensor of a list", "nested list", "Tensor of a Tensor"])
def test_a_tensor_requiring_grad_inside_a_list_or_tensor_call_is_refused_not_made_constant(make):
    # Found this session (adversarial hunt): NumPy turned such Tensors into their values through
    # __array__, so x + [x * 1, x * 2] gave x.grad 2 instead of 5, with no error.
    x = Tensor(2.0)
    with pytest.raises(TypeError, match="requires grad"):
        make(x)


def test_constants_inside_lists_and_tensor_calls_are_still_accepted():
    c = Tensor(3.0, requires_grad=False)
    assert Tensor([c, 1.0]).data.tolist() == [3.0, 1.0]
    assert Tensor(c).item() == 3.0
    x = Tensor(2.0)
    assert Tensor(x.detach()).item() == 2.0


@pytest.mark.parametrize("call, instead", [
    (lambda x, W: np.dot(x, W), "x @ W"),
    (lambda x, W: np.concatenate([x, x]), "graphgrad's ops"),
    (lambda x, W: np.where(x.data > 0, x, 0.0), "graphgrad's ops"),
    (lambda x, W: np.tensordot(x, W, 1), "graphgrad's ops"),
    (lambda x, W: np.clip(x, 0, 1), "autograd.clip"),
    (lambda x, W: np.linalg.norm(x), "graphgrad's ops"),
], ids=["dot", "concatenate", "where", "tensordot", "clip", "norm"])
def test_numpy_functions_given_a_tensor_raise_instead_of_dropping_the_graph(call, instead):
    # Found this session (adversarial hunt): the book's np.dot(x, W) on Tensors ran on the values through
    # __array__ and returned an ndarray, so loss.backward() left W.grad None without a word.
    x, W = Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"got a Tensor that requires grad: NumPy computes on its values") as error:
        call(x, W)
    assert instead in str(error.value)


def test_numpy_functions_that_give_no_float_result_or_get_constants_still_take_tensors(tmp_path):
    # A false-alarm hunt found the first version refusing these, which lose no gradient.
    x = Tensor(np.ones((2, 3)))
    assert (np.shape(x), np.ndim(x), np.size(x), np.size(x, 1)) == ((2, 3), 2, 6, 3)
    assert np.asarray(x) is x.data  # a conversion, not a computation: the values, as documented
    assert np.allclose(x, 1.0) and np.array_equal(x, x) and np.argmax(x, axis=1).tolist() == [0, 0]
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_allclose(x, 1.0)
    constant = Tensor(np.ones((2, 3)), requires_grad=False)
    np.testing.assert_array_equal(np.concatenate([constant, constant]), np.ones((4, 3)))
    assert np.round(constant, 1).shape == (2, 3)


@pytest.mark.parametrize("make_view", [
    lambda x: x.reshape(3), lambda x: x[:], lambda x: x[...], lambda x: x.T, lambda x: x.flatten(),
], ids=["reshape", "slice", "ellipsis", "T", "flatten"])
def test_a_view_an_op_returned_cannot_write_into_its_input(make_view):
    # Found this session (adversarial hunt): a view made before a graph read x, written through its
    # .data, changed x under that graph: (x * x).sum() backpropagated [200, 4, 6].
    x = Tensor(np.array([1.0, 2.0, 3.0]))
    view = make_view(x)
    y = (x * x).sum()
    with pytest.raises(ValueError, match=READ_ONLY):
        view.data[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    x.data[0] = 5.0  # the input itself is given back as usual
    assert not view.data.flags.writeable and view.data[0] == 5.0


def test_views_made_under_no_grad_or_of_constants_stay_writeable_and_detach_gives_a_writeable_copy():
    # A false-alarm hunt found the first version sealing these too: no recorded graph is involved.
    x = Tensor(np.arange(6.0))
    with autograd.no_grad():
        x.reshape(2, 3).data[0, 0] = 7.0  # writes into x's array, as NumPy views do
    assert x.data[0] == 7.0
    batch = Tensor(np.arange(10.0), requires_grad=False)[:5]
    batch.data -= batch.data.mean()
    W = Tensor(np.arange(12.0)).reshape(4, 3).detach()  # a PyTorch habit: a fresh leaf from a recorded view
    W.requires_grad = True
    (W * W).sum().backward()
    W.data -= 0.1 * W.grad
    assert W.data[0, 1] == pytest.approx(0.8)


def test_outputs_that_are_not_views_of_an_input_stay_writeable():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    for out in (x + 1.0, x.sum(axis=0), x[np.array([0, 1])], autograd.sum_to(x * 2.0, (3,))):
        out.data[...] = 0.0


def test_ops_that_read_no_values_leave_their_inputs_writeable():
    a = np.ones(3)
    y = (Tensor(a) + 1.0).sum()  # add's gradient does not depend on the values
    a[0] = 7.0
    y.backward()


def test_reassigning_data_cannot_change_an_old_graphs_gradient():
    x = Tensor(np.array([2.0]))
    y = (x * x).sum()
    x.data = np.array([100.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0])
    scalar = Tensor(2.0)
    z = scalar * scalar
    scalar.data = 100.0
    z.backward()
    assert scalar.grad.item() == 4.0


def test_writing_into_a_scalars_data_array_cannot_change_an_old_graphs_gradient():
    x = Tensor(2.0)
    y = x * x
    x.data[...] = 100.0  # .data hands out a 0-d array of the value; the graph kept the value itself
    y.backward()
    assert x.grad.item() == 4.0 and x.data.item() == 100.0


def test_backward_twice_through_a_released_graph_raises_and_retain_graph_allows_it():
    x = Tensor(np.array([1.0, 2.0]), name="x")
    y = (x * x).sum()
    y.backward()
    x.data[0] = 50.0  # allowed: the graph gave its arrays back
    with pytest.raises(RuntimeError, match=r"backward: the mul node \(inputs of shape \(2,\), \(2,\)\) was already "
                                           r"backpropagated .* retain_graph=True"):
        y.backward()
    x2 = Tensor(np.array([1.0, 2.0]))
    y2 = (x2 * x2).sum()
    y2.backward(retain_graph=True)
    with pytest.raises(ValueError, match=READ_ONLY):
        x2.data[0] = 50.0
    y2.backward()
    np.testing.assert_array_equal(x2.grad, [4.0, 8.0])


def test_create_graph_refuses_a_tensor_given_new_data_after_forward():
    x = Tensor(np.array([1.0, 2.0]), name="x")
    y = (x * x).sum()
    x.data = np.array([3.0, 4.0])
    with pytest.raises(RuntimeError, match=r"grad: the input 0 'x' of mul \(shape \(2,\)\) was given new data"):
        grad(y, x, create_graph=True)


def test_the_books_update_after_backward_then_the_next_step_raises_nothing():
    net = nn.TwoLayerNet(4, 5, 3, rng=0)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    for _ in range(3):
        grads = net.gradient(x, t)
        for key in net.params:
            net.params[key] -= 0.1 * grads[key]
    # and with the loss Tensor still alive, as in `loss = ...; loss.backward(); update`
    loss = net.loss_tensor(x, t)
    loss.backward()
    for key in net.params:
        net.params[key] -= 0.1 * net.params.tensor(key).grad
    next_loss = net.loss_tensor(x, t)
    next_loss.backward()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_steps_while_an_old_graph_is_alive_and_that_graph_stays_right(name):
    net = nn.TwoLayerNet(4, 5, 3, rng=0)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    optimizer = OPTIMIZERS[name](net.parameters())
    loss = net.loss_tensor(x, t)
    loss.backward()
    optimizer.step()  # released: in place
    pending = net.loss_tensor(x, t)  # recorded, not yet backpropagated: holds the weights read-only
    expected = {k: v.data.copy() for k, v in zip(net.params, autograd.grad(pending, net.parameters(), retain_graph=True))}
    before = [p.data.copy() for p in net.parameters()]
    optimizer.step()  # must not fail; the parameters move
    assert any(not np.array_equal(b, p.data) for b, p in zip(before, net.parameters()))
    got = autograd.grad(pending, net.parameters())
    for key, g in zip(net.params, got):
        np.testing.assert_array_equal(g.data, expected[key])


# --- grad mode: re-entrant, per thread, per task ---------------------------------------------------------------
def test_a_recursive_no_grad_function_restores_recording():
    @no_grad()
    def countdown(n):
        return 0 if n == 0 else countdown(n - 1)

    countdown(5)
    assert autograd.is_grad_enabled()
    assert (Tensor(1.0) * 2).requires_grad


def test_a_recursive_detect_anomaly_function_restores_the_flag():
    @detect_anomaly()
    def countdown(n):
        return 0 if n == 0 else countdown(n - 1)

    countdown(4)
    assert not autograd.is_anomaly_enabled()


def test_one_context_object_entered_twice_restores_each_level():
    context = no_grad()
    with context:
        with autograd.enable_grad():
            with context:
                assert not autograd.is_grad_enabled()
            assert autograd.is_grad_enabled()
        assert not autograd.is_grad_enabled()
    assert autograd.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    inside, recorded = threading.Event(), threading.Event()
    results = {}

    def silent():
        with no_grad():
            inside.set()
            recorded.wait(5)
            results["silent"] = (Tensor(1.0) * 2).requires_grad

    def recording():
        inside.wait(5)
        results["recording"] = (Tensor(1.0) * 2).requires_grad
        recorded.set()

    threads = [threading.Thread(target=silent), threading.Thread(target=recording)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {"silent": False, "recording": True}


def test_threads_entering_and_leaving_no_grad_never_leave_it_off():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    errors = []

    def churn():
        for _ in range(2000):
            with no_grad():
                if autograd.is_grad_enabled():
                    errors.append("recording inside no_grad")
            if not autograd.is_grad_enabled():
                errors.append("not recording outside no_grad")

    try:
        threads = [threading.Thread(target=churn) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert autograd.is_grad_enabled()


def _run_in_threads(target, names):
    threads = [threading.Thread(target=target, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def test_module_labels_of_concurrent_threads_do_not_mix():
    labels, barrier = {}, threading.Barrier(2)

    def label(name):
        with module_scope(name):
            barrier.wait(5)
            y = Tensor(1.0) * 2
            barrier.wait(5)
        labels[name] = y.node.module

    _run_in_threads(label, ("W2", "W3"))
    assert labels == {"W2": "W2", "W3": "W3"}


def test_module_calls_of_concurrent_threads_label_their_own_nodes():
    # nn.Module.__call__ enters its scope through mode.enter_module (a token, no context object)
    class Scale(nn.Module):
        def forward(self, x):
            barrier.wait(5)
            y = x * 2
            barrier.wait(5)
            return y

    labels, barrier = {}, threading.Barrier(2)

    def label(name):
        module = Scale()
        module.name = name
        labels[name] = module(Tensor(1.0, requires_grad=True)).node.module

    _run_in_threads(label, ("W2", "W3"))
    assert labels == {"W2": "W2", "W3": "W3"}
    assert autograd.mode.current_module() is None


def test_module_scope_names_made_on_the_fly_keep_their_labels_and_bounded_memory():
    root = autograd.mode.current()
    names = [f"layer{i}" for i in range(autograd.mode._INSIDE_LIMIT + 50)]
    for name in names:
        with module_scope("Net"), module_scope(name):
            assert (Tensor(1.0, requires_grad=True) * 2).node.module == f"Net.{name}"
    assert len(root.inside("Net")._inside) == autograd.mode._INSIDE_LIMIT
    assert root.inside("Net") is root.inside("Net")  # one mode serves every entry
    with no_grad(), module_scope("Net"):
        assert autograd.mode.current().module == "Net" and not autograd.is_grad_enabled()


def test_no_grad_blocks_reuse_their_modes_so_module_calls_inside_make_none():
    # Each `no_grad()` made a fresh mode, so the modes of the modules called inside (kept per mode) were
    # made again on every block: a network's predict made 5 small objects a call.
    net = nn.TwoLayerNet(4, 3, 2, rng=0)
    x = np.ones((2, 4))
    seen = []
    relu = net.layers["Relu1"]
    original = type(relu).forward

    def spy(self, value):
        seen.append(autograd.mode.current())
        return original(self, value)

    type(relu).forward = spy
    try:
        for _ in range(2):
            with no_grad():
                net.predict(x)
            with detect_anomaly(), no_grad():
                net.predict(x)
    finally:
        type(relu).forward = original
    assert seen[0] is seen[2] and seen[1] is seen[3] and seen[0] is not seen[1]
    assert (seen[0].grad_enabled, seen[0].anomaly, seen[0].module) == (False, False, "Relu1")
    assert (seen[1].grad_enabled, seen[1].anomaly) == (False, True)
    root = autograd.mode.current()
    assert root.switched(False, False) is root.switched(False, False) and root.switched(True, False) is root


def test_no_grad_in_one_asyncio_task_does_not_leak_into_another():
    async def silent(started, done):
        with no_grad():
            started.set()
            await done.wait()
            return (Tensor(1.0) * 2).requires_grad

    async def recording(started, done):
        await started.wait()
        result = (Tensor(1.0) * 2).requires_grad
        done.set()
        return result

    async def main():
        started, done = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(silent(started, done), recording(started, done))

    assert asyncio.run(main()) == [False, True]


# --- parameters stay registered, and stay leaves ----------------------------------------------------------------
def test_assigning_an_array_to_a_parameter_attribute_updates_it_in_place():
    lin = nn.Linear(3, 2, rng=0)
    weight, array = lin.weight, lin.weight.data
    lin.weight = np.zeros((3, 2))
    assert lin.weight is weight and lin.weight.data is array
    np.testing.assert_array_equal(array, 0.0)
    assert [name for name, _ in lin.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"Linear.weight: a new value of shape \(2, 3\) does not fit the "
                                         r"parameter's shape \(3, 2\)"):
        lin.weight = np.zeros((2, 3))
    with pytest.raises(TypeError, match=r"Linear.bias: a new value must be numeric, got dtype <U1"):
        lin.bias = np.array(["a", "b"])


def test_pytorch_style_in_place_update_keeps_the_parameter_a_leaf():
    lin = nn.Linear(3, 2, rng=0)
    weight = lin.weight
    lin(np.ones((1, 3))).sum().backward()
    expected = weight.data - 0.1 * weight.grad
    lin.weight -= 0.1 * lin.weight.grad
    assert lin.weight is weight and weight.node is None
    np.testing.assert_array_equal(weight.data, expected)
    lin.weight = lin.weight - 0.1 * lin.weight.grad  # a recorded Tensor: its values are copied in
    assert lin.weight is weight and weight.node is None
    assert "weight" in dict(lin.named_parameters())


# --- ops -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axes", [((3, 3), (-1, 0)), ((3, 4, 5, 6), (-2, -1, 1, 0)), ((2, 3, 4), (0, -1, 1))])
def test_transpose_with_negative_axes_sends_back_the_inverse_permutation(shape, axes):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(shape))
    w = rng.standard_normal(np.transpose(x.data, axes).shape)
    (x.transpose(axes) * w).sum().backward()
    np.testing.assert_array_equal(x.grad, np.transpose(w, np.argsort([a % len(shape) for a in axes])))


def test_a_gradient_of_another_shape_than_its_input_is_refused():
    bad = autograd.ops.Op("bad_transpose", forward=lambda x: x.T, vjp=lambda g, out, x: g)  # forgot to transpose back
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"bad_transpose: a VJP returned a gradient of shape \(3, 2\) for an "
                                           r"input of shape \(2, 3\)"):
        autograd.apply(bad, x).sum().backward()


def test_softmax_cross_entropy_with_soft_targets_not_summing_to_one_agrees_with_central_differences():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4))
    target = rng.uniform(0, 1, (3, 4))  # rows sum to anything
    autograd.gradcheck(lambda z: autograd.softmax_cross_entropy(z, target), logits)
    x = Tensor(logits)
    (g,) = grad(autograd.softmax_cross_entropy(x, target), [x], create_graph=True)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g.data, (p * target.sum(axis=1, keepdims=True) - target) / 3, rtol=1e-12)


@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint8])
def test_softmax_cross_entropy_with_bool_or_small_integer_targets_uses_their_true_row_sums(dtype):
    # Rows of 2 (bool) and 200 (int8/uint8 would wrap around in their own dtype) ones: the row sums the
    # gradient multiplies by must be computed in floats.
    width = 2 if dtype is bool else 200
    target = np.ones((2, width), dtype=dtype)
    logits = np.random.default_rng(1).standard_normal((2, width))
    for create_graph in (False, True):
        x = Tensor(logits)
        got = grad(autograd.softmax_cross_entropy(x, target), x, create_graph=create_graph)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(got.data, (p * width - 1) / 2, rtol=1e-12, atol=1e-15)


def test_max_of_an_input_holding_nan_sends_the_gradient_to_the_nan():
    x = Tensor(np.array([1.0, np.nan, 3.0]))
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    rows = Tensor(np.array([[1.0, np.nan], [4.0, 2.0]]))
    rows.max(axis=1).sum().backward()
    np.testing.assert_array_equal(rows.grad, [[0.0, 1.0], [1.0, 0.0]])


def test_grad_of_the_same_input_twice_returns_it_at_both_places():
    x = Tensor(np.array([1.0, 2.0]))
    first, second = grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(first.data, [2.0, 4.0])
    np.testing.assert_array_equal(second.data, [2.0, 4.0])


def test_grad_gives_each_input_an_array_of_its_own():
    # Found this session: add hands one gradient array to both inputs, and grad returned it twice, so
    # scaling one result in place (as an update rule may) scaled the other; a transpose's gradient came
    # back as a view. backward's .grad never shared; grad now gives the same guarantee.
    x, y = Tensor(np.ones(3)), Tensor(np.ones(3))
    gx, gy = grad((x + y).sum(), [x, y])
    gx.data *= 0.5
    np.testing.assert_array_equal(gy.data, np.ones(3))
    first, second = grad((x * x).sum(), [x, x])
    assert not np.shares_memory(first.data, second.data)
    W = Tensor(np.ones((2, 3)))
    gW = grad((W.T * 2.0).sum(), W)
    assert gW.data.base is None and gW.data.flags.writeable


def test_grad_with_respect_to_a_constant_says_it_does_not_require_grad():
    x, c = Tensor(2.0), Tensor(3.0, requires_grad=False, name="c")
    with pytest.raises(RuntimeError, match=r"grad: input 0 'c' of shape \(\) does not require grad"):
        grad(x * c, c)


# --- setters ---------------------------------------------------------------------------------------------------
def test_data_setter_checks_as_the_constructor_does():
    x = Tensor(np.zeros(2))
    with pytest.raises(TypeError, match=r"Tensor.data: data of dtype <U3 is not numeric"):
        x.data = "abc"
    x.data = np.array([1, 2])  # ints become float64, so gradients are floats
    assert x.dtype == np.float64
    (x * x).sum().backward()
    assert x.grad.dtype == np.float64
    with pytest.raises(ValueError, match=r"Tensor.data: new data of shape \(3,\) for a Tensor whose grad has shape \(2,\)"):
        x.data = np.zeros(3)


def test_grad_setter_refuses_another_shape_and_takes_the_data_dtype():
    x = Tensor(np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"Tensor.grad: a gradient of shape \(3, 2\) for a Tensor of shape \(2,\)"):
        x.grad = np.zeros((3, 2))
    x.grad = np.ones(2)
    assert x.grad.dtype == np.float32
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_the_books_in_place_perturbation_after_a_compat_forward_is_not_refused():
    # The book's common/gradient.py writes into W after each forward, with no backward and no no_grad.
    from nn.compat import Affine

    W, b = np.ones((2, 3)), np.zeros(3)
    layer = Affine(W, b)
    layer.forward(np.array([[1.0, 2.0]]))
    W[0, 0] = 1.5  # the layer's graph holds a snapshot, not W
    dx = layer.backward(np.ones((1, 3)))
    np.testing.assert_array_equal(dx, [[3.0, 3.0]])  # from the forward's W
    np.testing.assert_array_equal(layer.dW, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_errors_about_read_only_arrays_say_a_pending_graph_holds_them():
    a = np.ones(2)
    y = (Tensor(a) * 2.0).sum()
    with pytest.raises(ValueError, match=r"numerical_gradient: x is read-only \(a recorded graph that has not been "
                                         r"backpropagated holds it"):
        autograd.numerical_gradient(lambda v: v.sum(), a)
    with pytest.raises(ValueError, match=r"SGD.update: params\['W'\] is read-only: a recorded graph that has not "
                                         r"been backpropagated yet holds it"):
        nn.optim.SGD().update({"W": a}, {"W": np.ones(2)})
    y.backward()
    nn.optim.SGD().update({"W": a}, {"W": np.ones(2)})
    np.testing.assert_allclose(a, 0.99)


def test_a_view_released_while_another_graph_holds_its_base_is_given_back_with_the_base():
    # A false-alarm hunt found a caller's slice left read-only for good: graph A gave it back while graph B
    # still held the array it views, NumPy refused to make it writeable, and nothing tried again.
    X = np.random.default_rng(0).random((200, 5))
    xa = X[:100]
    W = Tensor(np.ones((5, 2)))
    first = (Tensor(xa, requires_grad=False) @ W).sum()
    second = (Tensor(X[100:], requires_grad=False) @ W).sum()
    first.backward()
    assert not xa.flags.writeable  # X, which xa views, is still held by `second`
    second.backward()
    assert xa.flags.writeable and X.flags.writeable
    xa[0, 0] = 1.0


def test_a_slice_of_a_memmap_guards_the_memmap_it_was_cut_from(tmp_path):
    # Found by the same hunt: NumPy's base chain of np.asarray(m[10:20]) stops at the memmap slice, so only
    # that temporary was held and m[10:20, 0] = 99 changed the graph's values without a word.
    m = np.memmap(tmp_path / "m.bin", dtype=np.float64, mode="w+", shape=(30, 2))
    m[:] = 1.0
    W = Tensor(np.ones((2, 1)))
    for x in (Tensor(m[10:20], requires_grad=False), Tensor(np.asarray(m)[10:20], requires_grad=False)):
        y = (x @ W).sum()
        with pytest.raises(ValueError, match=READ_ONLY):
            m[10:20, 0] = 99.0
        y.backward()
        np.testing.assert_array_equal(W.grad, [[10.0], [10.0]])
        W.grad = None
    m[10:20, 0] = 99.0


def test_a_collection_inside_the_guards_lock_gives_back_arrays_instead_of_waiting_for_the_lock():
    # Found this session (a hunt for regressions): giving arrays back allocates inside the guard's lock;
    # an allocation can start a collection, which freed a Hold of an unreachable graph in the same thread,
    # and that Hold waited forever for the lock its own thread held. Run apart: a hang must not stop the suite.
    script = textwrap.dedent("""
        import gc
        import numpy as np
        from autograd import Tensor, inplace
        gc.disable()
        X = np.ones(100)
        kept = Tensor(X) * Tensor(np.ones(100))
        first = Tensor(X[:10]) * Tensor(np.ones(10))
        class Cycle:
            pass
        for _ in range(50):
            c = Cycle(); c.self = c; c.t = Tensor(np.ones(5)) * Tensor(np.ones(5))
        del c
        gc.set_threshold(1, 1, 1); gc.enable()
        del first
        for _ in range(200):
            c = Cycle(); c.self = c; c.t = Tensor(np.ones(5)) * Tensor(np.ones(5))
            y = (Tensor(np.ones(3)) * Tensor(np.ones(3))).sum(); y.backward()
        del c, kept
        gc.collect()
        assert not inplace._holds and not inplace._deferred, (len(inplace._holds), inplace._deferred)
        assert X.flags.writeable
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(autograd.__file__).parents[1])})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_an_op_given_more_inputs_than_it_has_vjps_is_refused_not_left_without_a_gradient():
    # One VJP for two inputs: the second input's gradient was silently None.
    scale = autograd.ops.Op("scale", forward=lambda x, y: x * y, vjp=lambda g, out, x, y: g * y)
    a, b = Tensor(2.0), Tensor(3.0)
    with pytest.raises(TypeError, match=r"scale: 2 inputs but the op 'scale' has 1 VJP\(s\)"):
        autograd.apply(scale, a, b)
    with no_grad(), pytest.raises(TypeError, match=r"scale: 2 inputs"):
        autograd.apply(scale, a, b)


def test_a_backward_pass_that_raised_and_whose_traceback_is_kept_leaves_later_graphs_letting_go():
    # A VJP raised: the pass gave its Holds back to the pool, but its frame, kept by the exception (as a
    # notebook's sys.last_traceback keeps it), still listed them; the next graph that took one from the pool
    # never let go of its array, which stayed read-only after the graph was gone.
    failing = autograd.ops.Op("failing", forward=lambda x, w: x * w,
                              vjp=(lambda g, out, x, w: g * w, lambda g, out, x, w: 1 / 0))
    w = Tensor(np.ones(3))
    with pytest.raises(ZeroDivisionError) as kept:
        autograd.apply(failing, np.ones(3), w).sum().backward()
    assert kept.value.__traceback__ is not None
    for _ in range(3):
        _a_graph_made_and_freed_without_backward_lets_go_of_its_array()


def test_a_binary_operator_over_an_op_with_one_vjp_is_refused_where_it_is_made():
    # Its scalar path does not go through apply: two 0-d Tensors built a graph whose backward failed (or,
    # before the direct path, left the second operand's gradient None).
    one_vjp = autograd.ops.Op("one_vjp", forward=lambda x, y: x * y, vjp=lambda g, out, x, y: g * y)
    with pytest.raises(TypeError, match=r"binary_operator: 2 inputs but the op 'one_vjp' has 1 VJP\(s\)"):
        autograd.engine.binary_operator(one_vjp, "__mul__")
