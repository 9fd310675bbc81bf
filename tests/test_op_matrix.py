"""The op test matrix, in the spirit of PyTorch's OpInfo: every op of `autograd.ops.ALL_OPS` (and every
composition in the spec table) on the rows `OpSpec.samples` builds from ``tests/op_specs.py``.

Each row is checked for (a) its forward against NumPy's own function (shape, dtype, values, NaN positions,
and the same error where NumPy refuses), in float64 and float32; (b) its VJP against central differences
in float64 (element by element for small inputs, in random directions for larger ones); (c) its second
derivative through ``grad(..., create_graph=True)`` against central differences of the first gradient;
(d) every gradient's shape and dtype (first and second order; float64, float32 and mixed pairs); and
(e) where a NaN or inf input may make a gradient non-finite. Steps are relative to the row's magnitude, so
tiny and large values are checked too. Binary ops are also called with one Tensor as both inputs,
(f) hypothesis draws further rows from `OpSpec.cases` (empty shapes, in-between magnitudes, NaN, dtypes), and
(g) every differentiable row runs again on inputs in each memory layout of `autograd.testing.LAYOUTS`.

Rows of known bugs are xfail(strict=True), chosen in one place: `op_specs.KNOWN_BUGS`.
Issue 8's reproducers, as reported, close the file.

    .venv/bin/python -m pytest -q tests/test_op_matrix.py                    # about 10 s
    GRAPHGRAD_MATRIX_EXAMPLES=1500 .venv/bin/python -m pytest -q tests/test_op_matrix.py -k hypothesis
"""

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import autograd
from autograd import Tensor, grad, no_grad, ops
from autograd.testing import LAYOUTS, float_dtypes, lay_out
from op_specs import CHECKS, SPECS, SPECS_BY_NAME, SAME_POSITION, Case, Sample, quietly, xfail_reason

ROWS = [sample for spec in SPECS for sample in spec.samples()]
ELEMENTWISE_LIMIT = 24  # inputs with at most this many elements in all are checked element by element
EPS = 1e-6  # central-difference step, relative to the row's magnitude
RTOL = 1e-5
HYPOTHESIS_ROWS = int(os.environ.get("GRAPHGRAD_MATRIX_EXAMPLES", 20))  # per op; raise it for a longer hunt


def rows(check, select=lambda sample: True, dtypes=(None,)):
    """pytest params for the rows ``select`` keeps, each xfail(strict) where a known bug applies."""
    params = []
    for sample in ROWS:
        if not select(sample):
            continue
        reason = xfail_reason(sample, check)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        for dtype in dtypes:
            if dtype is MIXED and sample.spec.arity != 2:
                continue
            label = f"{sample!r}" + (f"-{_dtype_label(dtype)}" if dtype else "")
            values = (sample, dtype) if dtype else (sample,)
            params.append(pytest.param(*values, marks=marks, id=label))
    return params


MIXED = (np.float32, np.float64)  # one input of each: NumPy promotes, each gradient keeps its input's dtype
DTYPES = (np.float64, np.float32, MIXED)


def _dtype_label(dtype):
    return "mixed" if dtype is MIXED else np.dtype(dtype).name


def call(sample, tensors):
    if isinstance(sample, Aliased):
        tensors = [tensors[0], tensors[0]]
    return sample.spec.call(*tensors, **sample.params)


def leaves(arrays):
    return [Tensor(a.copy()) for a in arrays]


# --- the table covers the op table ---------------------------------------------------------------------
def test_every_op_in_the_op_table_has_matrix_rows():
    missing = sorted(op.name for op in ops.ALL_OPS if op.name not in SPECS_BY_NAME or not SPECS_BY_NAME[op.name].matrix)
    assert not missing, f"ops without matrix rows (OpSpec.matrix) in tests/op_specs.py: {missing}"


def test_every_spec_has_matrix_rows_with_0d_or_empty_shapes_and_a_gradient_check():
    for spec in SPECS:
        samples = spec.samples()
        shapes = [s for sample in samples for s in sample.case.shapes]
        assert any(s == () or 0 in s for s in shapes), spec
        assert any(sample.differentiable for sample in samples), spec
        assert any(sample.special for sample in samples), spec


# --- (a) forward against NumPy -------------------------------------------------------------------------
def _tolerances(dtype):
    return (1e-5, 1e-6) if np.float32 in (dtype if isinstance(dtype, tuple) else (dtype,)) else (1e-12, 1e-300)


@pytest.mark.parametrize("sample, dtype", rows("forward", dtypes=DTYPES))
def test_forward_equals_numpy_in_shape_dtype_values_and_nan_positions(sample, dtype):
    check_forward(sample, dtype)


def check_forward(sample, dtype):
    arrays = sample.arrays(dtype)
    if sample.refused is not None:
        with pytest.raises(sample.refused):
            quietly(call, sample, leaves(arrays))
        return
    out = quietly(call, sample, leaves(arrays))
    expected = np.asarray(quietly(sample.spec.reference, *arrays, **sample.params))
    assert isinstance(out, Tensor)
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(np.isnan(out.data), np.isnan(expected))
    rtol, atol = _tolerances(dtype)
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]), initial=0.0))
    # An output that sums cancelling terms (matmul, conv2d) is exact only to a few ulps of the largest.
    ulps = 4 * np.finfo(out.dtype).eps
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol + max(rtol * 1e-3, ulps) * scale)


# --- (b) VJPs against central differences --------------------------------------------------------------
def _directional_difference(f, arrays, directions, step):
    """(φ(x + step·v) - φ(x - step·v)) / 2step for a scalar function φ of the inputs."""
    with no_grad():
        plus = f([a + step * v for a, v in zip(arrays, directions)])
        minus = f([a - step * v for a, v in zip(arrays, directions)])
    return (plus - minus) / (2 * step)


def _rounding(magnitude, step):
    """The rounding noise of a central difference of a sum of terms of ``magnitude`` in absolute value."""
    return 64 * np.finfo(np.float64).eps * magnitude / (2 * step)


def _assert_close(analytic, numeric, noise, terms, what):
    """``analytic`` (a sum of ``terms`` contributions) agrees with ``numeric`` up to noise and rtol."""
    tolerance = RTOL * (abs(numeric) + terms) + noise
    assert abs(analytic - numeric) <= tolerance, (
        f"{what}: backprop {analytic!r} vs central differences {numeric!r} (tolerance {tolerance:.3g})"
    )


def _directions(sample, arrays, rng):
    """The directions to check: unit vectors for small inputs, three random directions otherwise."""
    sizes = [a.size for a in arrays]
    if sum(sizes) <= ELEMENTWISE_LIMIT:
        for k, a in enumerate(arrays):
            for i in range(a.size):
                basis = [np.zeros(b.shape) for b in arrays]
                basis[k].reshape(-1)[i] = 1.0
                yield f"input {k}, element {np.unravel_index(i, a.shape)}", basis
    else:
        for j in range(3):
            yield f"random direction {j}", [rng.standard_normal(a.shape) for a in arrays]


def _rng(sample):
    return np.random.default_rng([len(sample.label), sample.seed])


def _grads(outputs, inputs, u, **options):
    results = grad(outputs, inputs, grad_outputs=u, allow_unused=True, **options)
    return [np.zeros(t.shape, dtype=t.dtype) if g is None else g for t, g in zip(inputs, results)]


@pytest.mark.parametrize("sample", rows("vjp", lambda s: s.differentiable))
def test_vjp_matches_central_differences_in_float64(sample):
    check_vjp(sample)


def check_vjp(sample):
    arrays = sample.arrays()
    rng = _rng(sample)
    inputs = leaves(arrays)
    out = call(sample, inputs)
    u = rng.standard_normal(out.shape)
    grads = [g.data if isinstance(g, Tensor) else g for g in _grads(out, inputs, u)]
    for t, g in zip(inputs, grads):
        assert g.shape == t.shape, f"gradient of shape {g.shape} for an input of shape {t.shape}"

    def projected(xs):
        return float(np.sum(u * call(sample, [Tensor(x) for x in xs]).data))

    step = EPS * sample.scale
    magnitude = float(np.sum(np.abs(u * out.data)))
    if sample.spec.log_sum_exp:
        magnitude += float(np.sum(np.abs(u))) * max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    noise = _rounding(magnitude, step)
    for what, directions in _directions(sample, arrays, rng):
        numeric = _directional_difference(projected, arrays, directions, step)
        contributions = [float(np.sum(v * g)) for v, g in zip(directions, grads)]
        _assert_close(sum(contributions), numeric, noise, float(np.sum(np.abs(contributions))), what)


# --- (c) second order through create_graph ---------------------------------------------------------------
def _second_order_function(sample, arrays, out_data, rng):
    """s(x) = Σ u·(k·out) + ½ c·(k·out)², whose gradient runs every VJP on a g that depends on x.

    ``k`` scales the output to about 1, so neither term swamps the other at any magnitude."""
    u = rng.standard_normal(out_data.shape)
    c = rng.standard_normal(out_data.shape)
    largest = float(np.max(np.abs(out_data), initial=0.0))
    if sample.spec.log_sum_exp:  # its values are exact to eps · max|x| only: scale by that, not by out
        largest = max([largest] + [float(np.max(np.abs(a), initial=0.0)) for a in arrays])
    k = 1.0 / largest if largest > 0 else 1.0

    def s(tensors):
        scaled = call(sample, tensors) * k
        return (scaled * u).sum() + (scaled * scaled * (0.5 * c)).sum()

    return s


@pytest.mark.parametrize("sample", rows("second_order", lambda s: s.differentiable))
def test_second_order_through_create_graph_matches_central_differences_of_the_first_gradient(sample):
    check_second_order(sample)


def check_second_order(sample):
    arrays = sample.arrays()
    rng = _rng(sample)
    with no_grad():
        out_data = call(sample, [Tensor(a) for a in arrays]).data
    s = _second_order_function(sample, arrays, out_data, rng)
    w = [rng.standard_normal(a.shape) for a in arrays]

    def first_gradient_along_w(xs):
        inputs = [Tensor(x) for x in xs]
        with autograd.enable_grad():
            firsts = _grads(s(inputs), inputs, None)
        return float(sum(np.sum(wi * (f.data if isinstance(f, Tensor) else f)) for wi, f in zip(w, firsts)))

    inputs = leaves(arrays)
    firsts = _grads(s(inputs), inputs, None, create_graph=True)
    for t, f in zip(inputs, firsts):
        assert f.shape == t.shape
    along_w = sum((f * wi).sum() for f, wi in zip(firsts, w) if isinstance(f, Tensor) and f.requires_grad)
    if isinstance(along_w, Tensor):
        seconds = [g.data if isinstance(g, Tensor) else g for g in _grads(along_w, inputs, None)]
    else:  # the first gradient does not depend on the inputs: the op is linear and s is too
        seconds = [np.zeros(a.shape) for a in arrays]
    for t, g in zip(inputs, seconds):
        assert g.shape == t.shape
    step = EPS * sample.scale
    # s is about 1 in size and x about `scale`: the first gradient's rounding is about eps / scale per
    # entry, whatever cancels inside the op (a saturated softmax loses its tiny entries to 1 - out); an op
    # whose derivative comes from its output (sigmoid's 1 - out at x = 21) adds eps in absolute terms.
    per_entry = 1.0 / sample.scale + (1.0 if sample.spec.derivative_from_out else 0.0)
    noise = _rounding(4.0 * sum(float(np.sum(np.abs(wi))) for wi in w) * per_entry, step)
    for j in range(2):
        directions = [rng.standard_normal(a.shape) for a in arrays]
        numeric = _directional_difference(first_gradient_along_w, arrays, directions, step)
        contributions = [float(np.sum(v * g)) for v, g in zip(directions, seconds)]
        _assert_close(sum(contributions), numeric, noise, float(np.sum(np.abs(contributions))),
                      f"random direction {j}")


# --- (d) gradients have their Tensor's shape and dtype ---------------------------------------------------
@pytest.mark.parametrize("sample, dtype", rows("grad_shape_dtype", lambda s: s.refused is None,
                                               dtypes=DTYPES))
def test_every_gradient_has_its_tensors_shape_and_dtype(sample, dtype):
    check_grad_shape_dtype(sample, dtype)


def check_grad_shape_dtype(sample, dtype):
    arrays = sample.arrays(dtype)
    inputs = leaves(arrays)
    with np.errstate(all="ignore"):
        out = call(sample, inputs)
        u = np.ones(out.shape, dtype=out.dtype)
        out.backward(u, retain_graph=True)
        firsts = grad(out, inputs, grad_outputs=u, create_graph=True, allow_unused=True)
    for t, first in zip(inputs, firsts):
        assert t.grad is not None
        assert (t.grad.shape, t.grad.dtype) == (t.shape, t.dtype)
        assert (first.shape, first.dtype) == (t.shape, t.dtype)
    assert (out.grad.shape, out.grad.dtype) == (out.shape, out.dtype)
    with np.errstate(all="ignore"):  # and the gradients of the gradients
        recorded = [f.sum() for f in firsts if f.requires_grad]
        seconds = grad(recorded, inputs, allow_unused=True) if recorded else ()
        for t, second in zip(inputs, seconds):
            assert second is None or (second.shape, second.dtype) == (t.shape, t.dtype)


# --- (e) NaN and inf stay where they belong ------------------------------------------------------------------
def _sum_to(mask, shape):
    return ops.sum_to(mask.astype(np.float64), shape) > 0


@pytest.mark.parametrize("sample", rows("nonfinite", lambda s: s.special and s.refused is None
                                        and s.spec.nonfinite_grads is not None))
def test_non_finite_inputs_make_non_finite_gradients_only_where_the_op_reads_them(sample):
    check_nonfinite(sample)


def check_nonfinite(sample):
    arrays = sample.arrays()
    inputs = leaves(arrays)
    with np.errstate(all="ignore"):
        out = call(sample, inputs)
        u = np.random.default_rng(3).uniform(0.5, 1.5, out.shape)
        grads = _grads(out, inputs, u)
    bad_anywhere = np.zeros(out.shape, dtype=bool)
    if sample.spec.nonfinite_grads == SAME_POSITION:
        for a in arrays:
            bad_anywhere = bad_anywhere | np.broadcast_to(~np.isfinite(a), out.shape)
    for k, (a, g) in enumerate(zip(arrays, grads)):
        allowed = _sum_to(bad_anywhere, a.shape) if sample.spec.nonfinite_grads == SAME_POSITION else False
        unexpected = ~np.isfinite(g.data) & ~allowed
        assert not unexpected.any(), f"input {k}: non-finite gradient at {np.argwhere(unexpected)[:3].tolist()}"


# --- (g) any memory layout: views, Fortran order, negative strides -----------------------------------------------
@pytest.mark.parametrize("layout", [layout for layout in LAYOUTS if layout != "C"])
@pytest.mark.parametrize("sample", rows("layout", lambda s: s.differentiable))
def test_inputs_in_any_memory_layout_give_the_same_values_and_gradients_and_are_given_back(sample, layout):
    check_layout(sample, layout)


def check_layout(sample, layout):
    """Inputs sliced from a batch, transposed weights and reversed arrays reach ops as views with any strides:
    an op that assumed C order, or a guard that held the view but not its memory, would show here."""
    arrays = sample.arrays()
    contiguous = leaves(arrays)
    out = call(sample, contiguous)
    u = _rng(sample).standard_normal(out.shape)
    expected = _grads(out, contiguous, u)
    laid = [lay_out(a, layout) for a in arrays]
    inputs = [Tensor(a) for a in laid]
    got_out = call(sample, inputs)
    got = _grads(got_out, inputs, u)
    np.testing.assert_allclose(got_out.data, out.data, rtol=1e-12, atol=0, equal_nan=True)
    for g, want in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g.data if isinstance(g, Tensor) else g),
                                   np.asarray(want.data if isinstance(want, Tensor) else want),
                                   rtol=1e-12, atol=1e-300, equal_nan=True)
    del got_out
    for a in laid:  # the graph is backpropagated and dropped: every array, and the memory it views, is given back
        assert a.flags.writeable and (a.base is None or a.base.flags.writeable)


# --- one Tensor as both inputs of a binary op ---------------------------------------------------------------
class Aliased(Sample):
    """A binary op's row called as ``op(x, x)``: both VJPs add into one gradient."""

    def __init__(self, sample):
        super().__init__(sample.spec, sample.case, scale=sample.scale)

    def arrays(self, dtype=np.float64) -> list:
        return super().arrays(dtype)[1:]  # the second input's domain: away from 0 for div's denominator

    @property
    def label(self) -> str:
        return super().label + ",aliased"


ALIASED = [Aliased(s) for s in ROWS if s.spec.arity == 2 and s.differentiable and len(set(s.case.shapes)) == 1]


@pytest.mark.parametrize("sample", ALIASED, ids=repr)
def test_one_tensor_as_both_inputs_gets_the_sum_of_both_gradients(sample):
    check_vjp(sample)
    check_second_order(sample)
    check_grad_shape_dtype(sample, np.float32)


# --- (f) the same checks on rows hypothesis draws ------------------------------------------------------------
def _scales(spec):
    """1, the spec's tiny and large magnitudes, and their geometric midpoints."""
    return (1.0,) + tuple(spec.magnitudes) + tuple(float(np.sqrt(m)) for m in spec.magnitudes)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@settings(max_examples=HYPOTHESIS_ROWS)
@given(data=st.data())
def test_rows_drawn_by_hypothesis_pass_every_check_of_the_matrix(spec, data):
    case = data.draw(spec.cases(4, min_side=0), label="case")
    sample = Sample(spec, case, scale=data.draw(st.sampled_from(_scales(spec)), label="scale"),
                    special=data.draw(st.booleans(), label="NaN and inf"), seed=data.draw(st.integers(0, 2**16)))
    assume(not any(xfail_reason(sample, check) for check in CHECKS))  # rows of known bugs: see KNOWN_BUGS
    dtype = data.draw(st.sampled_from(DTYPES) if spec.arity == 2 else float_dtypes(), label="dtype")
    check_forward(sample, dtype)
    if sample.refused is not None:
        return
    check_grad_shape_dtype(sample, dtype)
    if sample.differentiable:
        check_vjp(sample)
        check_second_order(sample)
        check_layout(sample, data.draw(st.sampled_from(LAYOUTS), label="layout"))
    if sample.special and spec.nonfinite_grads is not None:
        check_nonfinite(sample)


# --- issue 8's reproducers, as they were reported (each failed before its fix) ---------------------------------------------------------
def test_transpose_with_axes_minus_1_0_gets_the_transposed_gradient():
    x = Tensor(np.zeros((3, 3)))
    w = np.arange(9.0).reshape(3, 3)
    (autograd.transpose(x, (-1, 0)) * w).sum().backward()
    np.testing.assert_array_equal(x.grad, w.T)


def test_transpose_with_negative_axes_gets_a_gradient_of_the_inputs_shape():
    x = Tensor(np.zeros((3, 4, 5, 6)))
    autograd.transpose(x, (-2, -1, 1, 0)).sum().backward()
    assert x.grad.shape == (3, 4, 5, 6)


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_the_engine_refuses_a_vjp_whose_gradient_has_the_wrong_shape(create_graph):
    wrong = ops.Op("wrong_transpose", forward=lambda x: x.T.copy(), vjp=lambda g, out, x: g)  # forgets g.T
    x = Tensor(np.zeros((2, 3)))
    out = autograd.apply(wrong, x)
    with pytest.raises((RuntimeError, ValueError), match="wrong_transpose"):
        grad(out, x, grad_outputs=np.ones((3, 2)), create_graph=create_graph)


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_softmax_cross_entropy_gradient_is_the_general_rule_for_unnormalised_targets(create_graph):
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = np.array([[0.2, 0.3, 0.0], [1.0, 0.5, 0.5]])  # rows sum to 0.5 and 2
    x = Tensor(logits)
    g = grad(autograd.softmax_cross_entropy(x, t), x, create_graph=create_graph)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = (probs * t.sum(axis=1, keepdims=True) - t) / 2
    np.testing.assert_allclose(g.data, expected, rtol=1e-12)


@pytest.mark.parametrize("index", [
    Tensor(np.array([True, False, True, False])), Tensor([1.7]), Tensor([1.0, 2.0]),
    (slice(None), Tensor([0.0])),
], ids=["bool Tensor", "float Tensor", "integral float Tensor", "Tensor inside a tuple"])
def test_getitem_refuses_a_tensor_index_with_type_error(index):
    x = Tensor(np.array([[10.0, 20.0, 30.0, 40.0]] * 4))
    with pytest.raises(TypeError, match="getitem"):
        x[index]


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_max_gives_the_whole_gradient_to_the_nan_and_warns_nothing(axis):
    data = np.array([[3.0, np.nan, 1.0], [2.0, 5.0, np.nan]])
    x = Tensor(data)
    with np.errstate(all="raise"):
        out = autograd.max(x, axis=axis)
        out.backward(np.ones(out.shape))
    assert np.isnan(out.data).all() if axis in (1, -1) else np.isnan(out.data).any()
    # Each reduced slice's gradient goes to its NaN; column 0 holds none, so its maximum 3 gets it. Two
    # NaNs tie for the whole array's maximum and share its gradient, as equal maxima do.
    expected = np.zeros_like(data)
    if axis is None:
        expected[0, 1] = expected[1, 2] = 0.5
    elif axis == 0:
        expected[[0, 0, 1], [0, 1, 2]] = 1.0
    else:
        expected[[0, 1], [1, 2]] = 1.0
    np.testing.assert_array_equal(x.grad, expected)


def test_grad_with_an_input_listed_twice_returns_its_gradient_twice():
    x = Tensor([1.0, -2.0])
    gx, gx_again = grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(gx.data, [2.0, -4.0])
    np.testing.assert_array_equal(gx_again.data, [2.0, -4.0])


def test_grad_with_respect_to_a_constant_says_it_does_not_require_grad():
    x, c = Tensor([1.0, 2.0]), Tensor([3.0, 4.0], requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * c).sum(), c)


@pytest.mark.parametrize("index", [[], [[]]], ids=["[]", "[[]]"])
def test_an_empty_list_index_selects_nothing_as_numpy_does(index):  # was an IndexError (float64 positions)
    data = np.arange(6.0).reshape(2, 3)
    x = Tensor(data)
    out = x[index]
    assert out.shape == data[np.asarray(index, dtype=np.intp)].shape
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros_like(data))


def test_mean_squared_error_rows_keep_predictions_and_targets_apart_for_central_differences():
    # Drawn by hypothesis once: at scale 1e-8 y and t nearly met (y - t = 5e-13), and central differences of
    # the first derivative 2(y - t) were off by 7e-4 relative; the spec's domains now keep them apart.
    sample = Sample(SPECS_BY_NAME["mean_squared_error"], Case(((), ()), {"reduction": "none"}), scale=1e-8, seed=1272)
    y, t = sample.arrays()
    assert abs(y - t) >= 1e-8  # positive predictions, negative targets: at least 2 * 0.5 apart at scale 1
    check_second_order(sample)
