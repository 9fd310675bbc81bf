"""Property tests: every op's gradient, and gradients of random compositions of ops, against central
differences in float64 (element by element for small inputs, in a random direction for larger ones)."""

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import autograd
from autograd import Tensor, no_grad
from autograd.testing import well_conditioned
from op_specs import SPECS

SMALL_SIDE = 4  # element-by-element check: 2 forward passes per element
LARGE_SIDE = 12  # random-direction check: 2 forward passes in all


def random_direction_check(fn, arrays, rng, eps=1e-6):
    """Assert ⟨J·v, u⟩ ≈ ⟨v, Jᵀ·u⟩ for random v (inputs) and u (output), with J·v by central differences."""
    leaves = [Tensor(a) for a in arrays]
    out = fn(*leaves)
    u = rng.standard_normal(out.shape)
    directions = [rng.standard_normal(a.shape) for a in arrays]
    grads = autograd.grad(out, leaves, grad_outputs=u, allow_unused=True)
    backprop = builtin_sum(float(np.sum(v * g.data)) for v, g in zip(directions, grads) if g is not None)
    with no_grad():
        plus = fn(*[Tensor(a + eps * v) for a, v in zip(arrays, directions)]).data
        minus = fn(*[Tensor(a - eps * v) for a, v in zip(arrays, directions)]).data
    numerical = float(np.sum(u * (plus - minus))) / (2 * eps)
    scale = 1.0 + float(np.sqrt(np.sum(u * u) * np.sum(out.data ** 2)))
    assert abs(backprop - numerical) <= 1e-6 * scale, (backprop, numerical)


builtin_sum = sum


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_gradient_matches_central_differences_element_by_element(spec, data):
    case = data.draw(spec.cases(SMALL_SIDE), label="case")
    arrays = data.draw(spec.values(case), label="inputs")
    assert autograd.gradcheck(lambda *xs: spec.call(*xs, **case.params), *arrays)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_vjp_matches_central_differences_in_a_random_direction_on_larger_inputs(spec, data, seed):
    case = data.draw(spec.cases(LARGE_SIDE), label="case")
    arrays = data.draw(spec.values(case), label="inputs")
    random_direction_check(lambda *xs: spec.call(*xs, **case.params), arrays, np.random.default_rng(seed))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.broadcasts], ids=lambda s: s.name)
@given(data=st.data())
def test_broadcast_gradients_are_summed_back_to_each_input_shape(spec, data):
    case = data.draw(spec.cases(SMALL_SIDE), label="case")
    arrays = data.draw(spec.values(case), label="inputs")
    inputs = [Tensor(a) for a in arrays]
    out = spec.call(*inputs, **case.params)
    assert out.shape == np.broadcast_shapes(*case.shapes)
    out.backward(np.ones(out.shape))
    for t in inputs:
        assert t.grad.shape == t.shape


# --- the seed's numbers, pinned through gradcheck -----------------------------------------------------------
def test_seed_shopping_bills_pass_gradcheck_at_the_seed_values():
    assert autograd.gradcheck(lambda a, n, tax: a * n * tax,
                              np.array(100.0), np.array(2.0), np.array(1.1), rtol=1e-6)
    assert autograd.gradcheck(lambda a, an, o, on, tax: (a * an + o * on) * tax,
                              np.array(100.0), np.array(2.0), np.array(150.0), np.array(3.0), np.array(1.1),
                              rtol=1e-6)


def test_seed_affine_and_softmax_with_loss_pass_gradcheck():
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((2, 4)), rng.standard_normal((4, 3)), np.array([0.1, 0.2, 0.3])
    assert autograd.gradcheck(lambda X, W, b: X @ W + b, X, W, b)
    assert autograd.gradcheck(lambda X, W, b: autograd.softmax_cross_entropy(X @ W + b, np.array([2, 0])), X, W, b)
    assert autograd.gradcheck(lambda x: autograd.sigmoid(x), np.array([-2.0, 0.0, 1.0]))
    assert autograd.gradcheck(lambda x: autograd.relu(x), np.array([-2.0, 0.5, 1.0]))


def test_spec_examples_pass_gradcheck():
    for spec in SPECS:
        for case in spec.examples:
            if case.params.get("dtype") == np.float32:
                continue  # float32 rounding would swamp central differences; test_ops covers these casts
            assert autograd.gradcheck(lambda *xs: spec.call(*xs, **case.params), *spec.example_inputs(case)), (spec, case)


# --- randomly composed expressions ------------------------------------------------------------------------
class Program:
    """A random expression: a list of steps ``(op, operand indices, params)`` over a pool of values.

    The pool starts with the inputs; each step appends its result; the last result is the output.
    """

    def __init__(self, num_inputs, steps):
        self.num_inputs = num_inputs
        self.steps = steps

    def __call__(self, *inputs):
        pool = list(inputs)
        for name, operands, params in self.steps:
            pool.append(COMPOSABLE[name][1](*(pool[i] for i in operands), **params))
        return pool[-1]

    def values(self, *arrays):
        """Every value of the pool, without recording (to reject overflowing programs)."""
        pool = [Tensor(a, requires_grad=False) for a in arrays]
        with np.errstate(all="ignore"):
            for name, operands, params in self.steps:
                pool.append(COMPOSABLE[name][1](*(pool[i] for i in operands), **params))
        return [t.data for t in pool]

    def __repr__(self):
        parts = [f"v{self.num_inputs + k} = {name}({', '.join(f'v{i}' for i in operands)}"
                 + "".join(f", {key}={value!r}" for key, value in params.items()) + ")"
                 for k, (name, operands, params) in enumerate(self.steps)]
        return f"Program(inputs v0..v{self.num_inputs - 1}: " + "; ".join(parts) + ")"


def _smooth_div(x, y):
    return x / (1.0 + y * y)  # a division whose denominator stays away from 0


def _smooth_log(x):
    return autograd.log(1.0 + x * x)


def _not_scalar(*shapes):
    return all(len(s) >= 1 for s in shapes)


def _square_or_column(shape):
    return len(shape) == 2


# name: (arity, function(*tensors, **params), applicable(*shapes), params strategy given the shapes)
COMPOSABLE = {
    "add": (2, lambda x, y: x + y, lambda a, b: _broadcasts(a, b), None),
    "sub": (2, lambda x, y: x - y, lambda a, b: _broadcasts(a, b), None),
    "mul": (2, lambda x, y: x * y, lambda a, b: _broadcasts(a, b), None),
    "div": (2, _smooth_div, lambda a, b: _broadcasts(a, b), None),
    "matmul": (2, lambda x, y: x @ y, lambda a, b: len(a) in (1, 2) and len(b) in (1, 2) and a[-1] == b[0], None),
    "neg": (1, lambda x: -x, lambda a: True, None),
    "exp": (1, autograd.exp, lambda a: True, None),
    "log": (1, _smooth_log, lambda a: True, None),
    "tanh": (1, autograd.tanh, lambda a: True, None),
    "sigmoid": (1, autograd.sigmoid, lambda a: True, None),
    "pow": (1, lambda x, exponent: x ** exponent, lambda a: True,
            lambda a: st.fixed_dictionaries({"exponent": st.sampled_from([2, 3])})),
    "sum": (1, lambda x, axis, keepdims: x.sum(axis, keepdims), lambda a: True,
            lambda a: st.fixed_dictionaries({"axis": st.sampled_from([None] + list(range(len(a)))),
                                             "keepdims": st.booleans()})),
    "mean": (1, lambda x, axis: x.mean(axis, keepdims=True), lambda a: True,
             lambda a: st.fixed_dictionaries({"axis": st.sampled_from([None] + list(range(len(a))))})),
    "transpose": (1, lambda x: x.T, lambda a: True, None),
    "reshape": (1, lambda x: x.reshape(-1), lambda a: True, None),
    "getitem": (1, lambda x, index: x[index], _not_scalar,
                lambda a: st.fixed_dictionaries({"index": st.lists(st.integers(0, a[0] - 1), min_size=1,
                                                                    max_size=4).map(np.array)})),
    "softmax": (1, lambda x, axis: x.softmax(axis), _not_scalar,
                lambda a: st.fixed_dictionaries({"axis": st.integers(-len(a), len(a) - 1)})),
    "log_softmax": (1, lambda x, axis: x.log_softmax(axis), _not_scalar,
                    lambda a: st.fixed_dictionaries({"axis": st.integers(-len(a), len(a) - 1)})),
    "softmax_cross_entropy": (1, autograd.softmax_cross_entropy, _square_or_column,
                              lambda a: st.fixed_dictionaries({"t": st.lists(st.integers(0, a[1] - 1), min_size=a[0],
                                                                             max_size=a[0]).map(np.array)})),
}


def _broadcasts(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _result_shape(name, operand_shapes, params):
    arrays = [np.ones(s) for s in operand_shapes]
    with no_grad():
        return COMPOSABLE[name][1](*(Tensor(a) for a in arrays), **params).shape


@st.composite
def programs(draw, min_ops=3, max_ops=6):
    """A random expression tree (a DAG: values may be reused) of 3–6 ops over 1–3 inputs, with its inputs."""
    n = draw(st.integers(1, 3))
    input_shapes = [draw(st.sampled_from([(n, n), (n, 1), (1, n), (n,), ()])) for _ in range(draw(st.integers(1, 3)))]
    shapes = list(input_shapes)
    steps = []
    for _ in range(draw(st.integers(min_ops, max_ops))):
        name = draw(st.sampled_from(sorted(COMPOSABLE)))
        arity, _, applicable, params_for = COMPOSABLE[name]
        candidates = [combo for combo in _operand_choices(len(shapes), arity)
                      if applicable(*(shapes[i] for i in combo))]
        if not candidates:
            continue
        # Half the time the newest value is an operand, so the ops chain into one deep expression.
        newest = [combo for combo in candidates if len(shapes) - 1 in combo]
        if newest and draw(st.booleans()):
            candidates = newest
        operands = draw(st.sampled_from(candidates))
        params = draw(params_for(shapes[operands[0]])) if params_for else {}
        steps.append((name, operands, params))
        shapes.append(_result_shape(name, [shapes[i] for i in operands], params))
    assume(len(steps) >= min_ops)
    arrays = tuple(draw(well_conditioned(s, low=-2.0, high=2.0, away_from=())) for s in input_shapes)
    return Program(len(input_shapes), steps), arrays


def _operand_choices(pool_size, arity):
    if arity == 1:
        return [(i,) for i in range(pool_size)]
    return [(i, j) for i in range(pool_size) for j in range(pool_size)]


@given(programs())
def test_random_compositions_of_ops_pass_gradcheck(program_and_inputs):
    program, arrays = program_and_inputs
    values = program.values(*arrays)
    assume(all(np.isfinite(v).all() and np.abs(v).max(initial=0) < 1e3 for v in values))
    assert autograd.gradcheck(program, *arrays)


@given(programs(), st.integers(0, 2**32 - 1))
def test_random_compositions_agree_with_the_random_direction_check(program_and_inputs, seed):
    program, arrays = program_and_inputs
    values = program.values(*arrays)
    assume(all(np.isfinite(v).all() and np.abs(v).max(initial=0) < 1e3 for v in values))
    random_direction_check(program, list(arrays), np.random.default_rng(seed))

