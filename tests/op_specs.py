"""The op-spec table: for every op in `autograd.ops.ALL_OPS`, how to call it, its input domain, the
parameters to try, whether it broadcasts, a NumPy reference forward, and its rows of the op test matrix.

The generic tests in ``test_ops.py``, ``test_op_gradients.py`` and ``test_op_matrix.py`` are driven by
`SPECS`; a test fails when an op of the table has no spec (or no matrix rows) here, so adding an op means
adding one `OpSpec`. Known engine bugs are listed once, in `KNOWN_BUGS` at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import warnings
import zlib

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd
from autograd import ops
from autograd.testing import (array_shapes, axes, broadcastable_shapes, indices, matmul_shapes, reduction_params,
                              transpose_axes, well_conditioned)

# Input domains: where central differences are valid and the op is defined.
ANY = "any"
POSITIVE = "positive"  # log, pow with a fractional exponent
NEGATIVE = "negative"  # mean_squared_error's targets, kept apart from its positive predictions
AWAY_FROM_ZERO = "away from 0"  # relu's kink, division's pole, negative exponents
DISTINCT = "distinct"  # max: a unique maximum, well separated from the runner-up

# Distance kept from kinks and poles, and the spacing of DISTINCT values: far above any finite-difference step.
MARGIN = 0.2
DISTINCT_SPACING = 0.4


@dataclass(frozen=True)
class Case:
    """One way to call an op: a shape for each differentiable input, and the op's parameters."""

    shapes: tuple
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """How to test one op.

    Attributes:
        name: the op's name in `autograd.ops.ALL_OPS`, or of a public composition (``mean``).
        call: ``call(*tensors, **params) -> Tensor`` through the public API (operator or function form).
        reference: ``reference(*arrays, **params) -> ndarray``, the forward written with NumPy only.
        case_strategy: ``case_strategy(max_side, min_side=1)`` is a strategy of `Case` with sides from
            ``min_side`` to ``max_side``; use `cases`, which keeps out the rows of known bugs.
        examples: fixed cases every unit test runs.
        domain: the domain of each input, or a function of the params giving them.
        broadcasts: the op follows NumPy broadcasting between its inputs.
        composite: the op is a composition of table ops (it has no row of its own in ``ALL_OPS``).
        keeps_dtype: the output has the inputs' float dtype (false for ``cast``, whose params choose it).
        matrix: the cases of the op test matrix (``test_op_matrix.py``): negative and tuple axes,
            keepdims, 0-d, empty and one-element shapes, broadcasting pairs, index kinds, and cases
            NumPy refuses (the op must refuse them too). `samples` adds magnitudes and NaN/inf.
        magnitudes: scales of the values besides 1 (tiny and large), kept where the op stays finite.
        nonfinite_grads: where a NaN or inf input may make a gradient non-finite: ``NOWHERE`` (the
            gradient does not depend on the input's values, or picks finite entries, as max does),
            ``SAME_POSITION`` (elementwise ops: only where some input is non-finite), None (not checked:
            a NaN legitimately spreads, as in matmul or softmax).
        derivative_from_out: the VJP computes the derivative from the output (sigmoid's out·(1 − out),
            tanh's 1 − out²), so where the output saturates the gradient is exact only to eps in absolute
            terms, not relative to its (tiny) size.
        log_sum_exp: the forward subtracts the maximum and adds a log-sum-exp, so its values are exact
            only to about eps · max|x| in absolute terms (a loss of 1e-32 next to logits of 30 is 0).
    """

    name: str
    call: Callable
    reference: Callable
    case_strategy: Callable
    examples: tuple
    domain: object = (ANY,)
    broadcasts: bool = False
    composite: bool = False
    keeps_dtype: bool = True
    matrix: tuple = ()
    magnitudes: tuple = (1e-8, 1e8)
    nonfinite_grads: str | None = None
    derivative_from_out: bool = False
    log_sum_exp: bool = False

    @property
    def arity(self) -> int:
        return len(self.examples[0].shapes)

    def domains(self, params: dict) -> tuple:
        return self.domain(params) if callable(self.domain) else self.domain

    def values(self, case: Case):
        """A strategy of float64 input arrays for ``case``, each inside its domain."""
        return st.tuples(*(values(shape, d) for shape, d in zip(case.shapes, self.domains(case.params))))

    def example_inputs(self, case: Case, seed: int = 0) -> list:
        """Deterministic float64 inputs for ``case`` (for unit tests that do not use hypothesis)."""
        rng = np.random.default_rng(seed)
        return [example_values(shape, d, rng) for shape, d in zip(case.shapes, self.domains(case.params))]

    def cases(self, max_side: int, min_side: int = 1):
        """A strategy of `Case`: negative and tuple axes, index kinds, ``min_side=0`` for empty shapes.

        Cases a `KNOWN_BUGS` entry selects are drawn around (the matrix rows mark them
        xfail), so property tests stay meaningful until the fix lands and the entry is deleted.
        """
        return self.case_strategy(max_side, min_side).filter(lambda case: not self.has_known_bug(case))

    def has_known_bug(self, case: Case) -> bool:
        sample = Sample(self, case)
        return any(xfail_reason(sample, check) for check in CHECKS)

    def samples(self) -> list:
        """The matrix rows: every `matrix` case at scale 1, the first few at each magnitude, and each
        non-empty case again with NaN and ±inf entries (forward and gradient shapes only)."""
        rows = [Sample(self, case) for case in self.matrix]
        sized = [case for case in self.matrix if all(int(np.prod(s)) > 0 for s in case.shapes)]
        rows += [Sample(self, case, scale=m) for m in self.magnitudes for case in sized[:3]]
        rows += [Sample(self, case, special=True) for case in sized]
        return [row for row in rows if row.refused is None or not (row.special or row.scale != 1.0)]

    def __repr__(self) -> str:  # pytest ids and hypothesis reports
        return f"OpSpec({self.name})"


# --- rows of the op test matrix -------------------------------------------------------------------------
NOWHERE = "nowhere"
SAME_POSITION = "same position"


class Sample:
    """One row of the op test matrix: an op's `Case`, the magnitude of its values, NaN/inf or not.

    Attributes:
        spec, case: the op and how it is called.
        scale: the values are the domain's example values times ``scale`` (1e-8 tiny, 1e8 large).
        special: some entries are replaced by NaN, inf and -inf (forward, shapes and finiteness only).
        refused: the built-in exception types NumPy's reference raises on this case (the op must raise
            one of them), or None.
        warns: NumPy warns on this case (an empty mean, an overflow): forward and shapes only.
        differentiable: central differences are valid here (no NaN/inf, no warning, not a cast to float32).
        seed: with the label, seeds the values (hypothesis draws it; the fixed rows use 0).
    """

    def __init__(self, spec, case: Case, *, scale: float = 1.0, special: bool = False, seed: int = 0):
        self.spec, self.case, self.scale, self.special, self.seed = spec, case, scale, special, seed
        self.refused = None
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
            warnings.simplefilter("always")
            try:
                spec.reference(*self.arrays(), **case.params)
            except (ValueError, IndexError, TypeError) as exc:
                # NumPy's AxisError is a ValueError and an IndexError: the op may raise either.
                self.refused = tuple(kind for kind in (ValueError, IndexError, TypeError) if isinstance(exc, kind))
        self.warns = any(issubclass(w.category, RuntimeWarning) for w in caught)
        self.differentiable = (not special and self.refused is None and not self.warns
                               and case.params.get("dtype") != np.float32)

    @property
    def params(self) -> dict:
        return self.case.params

    @property
    def label(self) -> str:
        parts = [" ".join(str(s) for s in self.case.shapes)]
        parts += [f"{key}={_short(value)}" for key, value in self.case.params.items()]
        if self.scale != 1.0:
            parts.append(f"x{self.scale:g}")
        if self.special:
            parts.append("nan-inf")
        return ",".join(parts)

    def arrays(self, dtype=np.float64) -> list:
        """The inputs, deterministic for the row (seeded by its label), of ``dtype`` (or one per input)."""
        rng = np.random.default_rng([zlib.crc32(self.label.encode()), self.seed])
        domains = self.spec.domains(self.case.params)
        arrays = [example_values(shape, d, rng) * self.scale for shape, d in zip(self.case.shapes, domains)]
        if self.special:
            arrays = [_with_non_finite(a, d) for a, d in zip(arrays, domains)]
        dtypes = dtype if isinstance(dtype, tuple) else (dtype,) * len(arrays)
        return [a.astype(d) for a, d in zip(arrays, dtypes)]

    def __repr__(self) -> str:
        return f"{self.spec.name}[{self.label}]"


def quietly(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with NumPy's floating-point and empty-slice warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def _short(value) -> str:
    """A short, stable text for a parameter value (pytest ids)."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype.kind}{value.tolist()}".replace(" ", "")[:40]
    if isinstance(value, tuple):
        return "(" + ",".join(_short(v) for v in value) + ")"
    if isinstance(value, slice):
        return f"{value.start}:{value.stop}:{value.step}".replace("None", "")
    if isinstance(value, np.dtype) or value in (np.float32, np.float64):
        return np.dtype(value).name
    if value is Ellipsis:
        return "..."
    return repr(value).replace(" ", "")


def _with_non_finite(a: np.ndarray, domain: str) -> np.ndarray:
    """``a`` with its first entry NaN, its middle one inf and (where negatives belong) its last -inf."""
    a = a.copy()
    flat = a.reshape(-1)
    if flat.size:
        flat[0] = np.nan
    if flat.size > 2:
        flat[flat.size // 2] = np.inf
        if domain != POSITIVE:
            flat[-1] = -np.inf
    return flat.reshape(a.shape)


def _valid_axes(ndim: int, axes_choices) -> list:
    """The choices that are valid, distinct axes (or None) for an ``ndim``-d input."""
    valid = []
    for choice in axes_choices:
        if choice is None:
            valid.append(choice)
            continue
        as_tuple = (choice,) if isinstance(choice, int) else choice
        if all(-ndim <= a < ndim for a in as_tuple) and len({a % ndim for a in as_tuple}) == len(as_tuple):
            valid.append(choice)
    return valid


UNARY_SHAPES = ((), (1,), (0,), (5,), (2, 3), (1, 1, 1), (2, 0, 3), (3, 4, 5))
BROADCAST_PAIRS = (((), ()), ((3,), ()), ((), (2, 3)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 4)),
                   ((2, 1, 4), (3, 1)), ((1,), (0,)), ((0, 3), (1, 3)), ((4, 5, 6), (5, 1)), ((2, 3), (2,)))
REDUCTION_SHAPES = ((), (4,), (2, 3), (2, 3, 4), (0, 3), (1, 1))
REDUCTION_AXES = (None, (), 0, -1, (-1,), (0, -1), (-1, -2), (-3, 1), 3)


def _unary_matrix(shapes=UNARY_SHAPES, **params) -> tuple:
    return tuple(Case((shape,), dict(params)) for shape in shapes)


def _broadcast_matrix() -> tuple:
    return tuple(Case(pair) for pair in BROADCAST_PAIRS)


def _reduction_matrix() -> tuple:
    cases = []
    for shape in REDUCTION_SHAPES:
        for i, axis in enumerate(_valid_axes(len(shape), REDUCTION_AXES)):
            cases.append(Case((shape,), {"axis": axis, "keepdims": bool(i % 2)}))
            if i < 2:
                cases.append(Case((shape,), {"axis": axis, "keepdims": not i % 2}))
    cases.append(Case(((2, 3),), {"axis": 2, "keepdims": False}))  # out of range: refused
    return tuple(cases)


def _pow_matrix() -> tuple:
    return tuple(Case((shape,), {"exponent": e}) for shape in ((), (0,), (2, 3), (3, 4, 5)) for e in POW_EXPONENTS)


MATMUL_PAIRS = (((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((1, 1), (1, 1)), ((0, 3), (3, 2)),
                ((3, 0), (0, 2)), ((0,), (0,)), ((12, 20), (20, 7)), ((2, 3), (4, 2)), ((3,), (4,)))

BROADCAST_TO = ((((),), ()), (((),), (2, 3)), (((3,),), (2, 3)), (((2, 1),), (4, 2, 3)), (((1,),), (0,)),
                (((1, 3),), (0, 3)), (((2, 3),), (2, 3)), (((3,),), (3, 1)), (((1, 1),), (5,)))

RESHAPES = (((2, 3), (3, 2)), ((2, 3), (-1,)), ((6,), (1, 2, 3)), ((), (1, 1)), ((1,), ()), ((0, 3), (3, 0)),
            ((0, 3), (-1,)), ((2, 3, 4), (4, -1)), ((2, 3), (4, 2)), ((3, 4, 5), (5, -1, 2)))

TRANSPOSES = (((2, 3), None), ((2, 3), (1, 0)), ((3, 3), (-1, 0)), ((2, 3), (0, -1)), ((3, 4, 5, 6), (-2, -1, 1, 0)),
              ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (-1, -3, -2)), ((2, 3, 4), (-3, 1, 2)), ((), ()), ((), None),
              ((5,), (-1,)), ((2, 0, 3), (2, -3, 1)), ((1, 1, 1), (-1, 1, 0)), ((2, 3), (0, 0)), ((3, 4, 5), None))


def _array_index(values, dtype=np.intp):
    return np.array(values, dtype=dtype)


# (shape, index): basic, integer (negative, repeated, broadcast), boolean, empty and out-of-range indices.
INDEXINGS = (
    ((4, 3), 0), ((4, 3), -1), ((4, 3), slice(1, 3)), ((4, 3), slice(None, None, -1)), ((4, 3), (slice(None), -1)),
    ((4, 3), (Ellipsis, None, slice(None, None, -2))), ((4, 3), _array_index([0, 0, 3, 0])),
    ((4, 3), _array_index([-1, -1, 0])), ((4, 3), _array_index([[0, 1], [1, 3]])),
    ((4, 3), (_array_index([1, 1]), _array_index([2, 2]))),
    ((4, 3), (_array_index([[0], [3]]), _array_index([0, 2, -1]))),
    ((4, 3), (slice(None), _array_index([2, 2, 0]))), ((4, 3), _array_index(2)),
    ((4, 3), np.array([True, False, True, True])), ((4, 3), np.ones((4, 3), dtype=bool)),
    ((4, 3), np.zeros(4, dtype=bool)), ((4, 3), [True, False, False, True]), ((4, 3), [0, -1, 0]),
    ((4, 3), _array_index([])), ((4, 3), []), ((4, 3), (_array_index([0, 3]), slice(None), None)),
    ((4, 3), 4), ((4, 3), _array_index([0, 4])), ((4, 3), (0, 1, 2)),
    ((5,), -5), ((5,), _array_index([-5, 4, -5])), ((5,), slice(3, 1)), ((5,), np.array([True] * 5)),
    ((), ()), ((), Ellipsis), ((), None), ((2, 0, 3), (slice(None), 0)),
    ((4, 3), np.True_), ((4, 3), (0, np.False_)), ((4, 3), np.array([3, 3, 0], dtype=np.uint8)),
    ((4, 3), [[0, 1], [1, 1]]), ((4, 3), ([0, 1], [1, 1])), ((4, 3), range(1, 3)), ((4, 3), np.array(True)),
)


def _getitem_matrix() -> tuple:
    return tuple(Case((shape,), {"index": index}) for shape, index in INDEXINGS)


def _scatter_add_matrix() -> tuple:
    cases = []
    for shape, index in INDEXINGS:
        try:
            picked = np.empty(shape)[np.asarray(index) if isinstance(index, list) else index].shape
        except IndexError:
            continue
        index = np.asarray(index) if isinstance(index, list) else index
        if isinstance(index, np.ndarray) and index.dtype.kind == "f":
            continue  # np.asarray([]) is a float array: not an index NumPy's add.at takes
        cases.append(Case((picked,), {"shape": shape, "index": index}))
    return tuple(cases)


def _softmax_matrix() -> tuple:
    shapes = ((4,), (1,), (1, 1), (2, 3), (2, 3, 4), (0, 3))
    axes = (None, 0, -1, 1, (0, -1), (-1, -2))
    return tuple(Case((shape,), {"axis": axis}) for shape in shapes for axis in _valid_axes(len(shape), axes))


def _cross_entropy_matrix() -> tuple:
    rng = np.random.default_rng(5)
    labels = np.array([0, 3, 1])
    soft = rng.dirichlet(np.ones(4), size=3)
    return (
        Case(((3, 4),), {"t": labels}), Case(((3, 4),), {"t": labels.astype(np.int32)}),
        Case(((3, 4),), {"t": np.eye(4)[labels]}), Case(((3, 4),), {"t": np.eye(4, dtype=bool)[labels]}),
        Case(((4,),), {"t": 2}), Case(((4,),), {"t": np.eye(4)[2]}), Case(((1, 1),), {"t": np.array([0])}),
        Case(((3, 4),), {"t": soft}),  # soft targets, rows summing to 1
        Case(((3, 4),), {"t": soft * np.array([[0.5], [2.0], [1.0]])}),  # rows summing to 0.5, 2 and 1
        Case(((3, 4),), {"t": np.zeros((3, 4))}),  # no target at all: the loss is 0
        Case(((12, 10),), {"t": rng.integers(0, 10, 12)}),
        Case(((0, 4),), {"t": np.zeros(0, dtype=np.int64)}),  # an empty batch: the mean is NaN, as NumPy's
    )


def values(shape, domain: str, *, low: float = -3.0, high: float = 3.0):
    """Float64 arrays of ``shape`` whose entries lie in ``domain`` (see the module constants)."""
    if domain == ANY:
        return well_conditioned(shape, low=low, high=high, away_from=())
    if domain == POSITIVE:
        return well_conditioned(shape, low=MARGIN, high=high, away_from=())
    if domain == NEGATIVE:
        return well_conditioned(shape, low=low, high=-MARGIN, away_from=())
    if domain == AWAY_FROM_ZERO:
        return well_conditioned(shape, low=low, high=high, away_from=(0.0,), margin=MARGIN)
    if domain == AWAY_FROM_UNITS:
        return _unit_margin_values(shape)
    if domain == DISTINCT:
        size = int(np.prod(shape))
        return st.tuples(st.permutations(range(size)), st.floats(-1.0, 1.0)).map(
            lambda drawn: (np.array(drawn[0], dtype=np.float64) * DISTINCT_SPACING + drawn[1]
                           - size * DISTINCT_SPACING / 2).reshape(shape)
        )
    raise ValueError(f"unknown domain {domain!r}")


def example_values(shape, domain: str, rng) -> np.ndarray:
    """One deterministic array of ``shape`` in ``domain``."""
    if domain == ANY:
        return rng.uniform(-2.0, 2.0, shape)
    if domain == POSITIVE:
        return rng.uniform(0.5, 2.0, shape)
    if domain == NEGATIVE:
        return -rng.uniform(0.5, 2.0, shape)
    if domain == AWAY_FROM_ZERO:
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == AWAY_FROM_UNITS:
        return _unit_margin_example(shape, rng)
    if domain == DISTINCT:
        size = int(np.prod(shape))
        return (rng.permutation(size) * DISTINCT_SPACING - size * DISTINCT_SPACING / 2).reshape(shape)
    raise ValueError(f"unknown domain {domain!r}")


# --- case strategies: cases(max_side, min_side) -------------------------------------------------------
# min_side=0 adds empty shapes (the op matrix's hypothesis tests); the default 1 keeps every side non-empty.
def _unary_cases(max_side: int, min_side: int = 1):
    return array_shapes(min_side=min_side, max_side=max_side).map(lambda shape: Case((shape,)))


def _broadcast_cases(max_side: int, min_side: int = 1):
    return broadcastable_shapes(2, min_side=min_side, max_side=max_side).map(lambda shapes: Case(tuple(shapes)))


def _matmul_cases(max_side: int, min_side: int = 1):
    return matmul_shapes(max_side=max_side, min_side=min_side).map(lambda shapes: Case(tuple(shapes)))


@st.composite
def _reduction_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    return Case((shape,), draw(reduction_params(len(shape))))


POW_EXPONENTS = (2, 3, 0.5, 1.5, -1, -2, 1, 0, 2.5)


@st.composite
def _pow_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    return Case((shape,), {"exponent": draw(st.sampled_from(POW_EXPONENTS))})


def _pow_domain(params: dict) -> tuple:
    exponent = params["exponent"]
    if exponent != int(exponent):
        return (POSITIVE,)
    return (AWAY_FROM_ZERO,) if exponent < 0 else (ANY,)


def _reshape_targets(shape: tuple) -> list:
    size = int(np.prod(shape))
    targets = [(size,), tuple(reversed(shape)), (1,) + tuple(shape), (size, 1), ()]
    if size:  # -1 is ambiguous for an empty array with another side of 0
        targets += [(-1,), (-1, shape[-1])] if shape else [(-1,)]
    return [t for t in targets if t != () or size == 1]


@st.composite
def _reshape_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    return Case((shape,), {"shape": draw(st.sampled_from(_reshape_targets(shape)))})


def _cast_cases(max_side: int, min_side: int = 1):
    # Gradients are checked in float64 by central differences, which a float32 round trip would
    # quantise; the examples (unit tests) and the matrix rows cover the float32 casts.
    return array_shapes(min_side=min_side, max_side=max_side).map(lambda shape: Case((shape,), {"dtype": np.float64}))


@st.composite
def _transpose_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    axes = draw(st.one_of(st.none(), transpose_axes(len(shape))))
    return Case((shape,), {"axes": axes})


@st.composite
def _broadcast_to_cases(draw, max_side: int, min_side: int = 1):
    target = draw(array_shapes(min_side=min_side, max_side=max_side))
    kept = draw(st.integers(0, len(target)))
    shape = tuple(n if draw(st.booleans()) else 1 for n in target[len(target) - kept:])
    return Case((shape,), {"shape": target})


@st.composite
def _getitem_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_dims=1, min_side=min_side, max_side=max_side))
    return Case((shape,), {"index": draw(indices(shape))})


@st.composite
def _scatter_add_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_dims=1, min_side=min_side, max_side=max_side))
    index = draw(indices(shape))
    return Case((np.empty(shape)[index].shape,), {"shape": shape, "index": index})


@st.composite
def _softmax_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_dims=1, min_side=min_side, max_side=max_side))
    return Case((shape,), {"axis": draw(axes(len(shape)))})


@st.composite
def _cross_entropy_cases(draw, max_side: int, min_side: int = 1):
    n, c = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    form = draw(st.sampled_from(["labels", "one-hot", "one sample", "soft"]))
    if form == "one sample":
        return Case(((c,),), {"t": labels[0]})
    if form == "soft":  # rows of non-negative weights; rows need not sum to 1
        weights = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0.0, 1.0)))
        if draw(st.booleans()):
            weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
        return Case(((n, c),), {"t": weights})
    return Case(((n, c),), {"t": labels if form == "labels" else np.eye(c)[labels]})


# --- NumPy references ----------------------------------------------------------------------------------
def _softmax_reference(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _cross_entropy_reference(logits, t):
    # -sum(t * log softmax) / N for target rows (one-hot or soft), -mean(log softmax[label]) for labels.
    log_probs = np.atleast_2d(_log_softmax_reference(logits, axis=-1))
    t = np.asarray(t)
    if t.ndim == 2 or (np.ndim(logits) == 1 and t.ndim == 1):
        loss = -np.sum(t.reshape(log_probs.shape) * log_probs) / log_probs.shape[0]
    else:
        labels = t.reshape(-1)
        loss = -np.mean(log_probs[np.arange(len(labels)), labels])
    return np.asarray(loss, dtype=np.result_type(logits.dtype, np.float32))


def _log_softmax_reference(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _scatter_add_reference(g, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def _getitem(x, index):
    return x[index]


def _scatter_add(g, shape, index):
    return autograd.apply(ops.SCATTER_ADD, g, shape=shape, index=index)


SPECS = (
    OpSpec("add", lambda x, y: x + y, np.add, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((2, 3), (3,))), Case(((3, 1), (1, 4))), Case(((), (2,)))),
           domain=(ANY, ANY), broadcasts=True, matrix=_broadcast_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("sub", lambda x, y: x - y, np.subtract, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((4, 1), (3,)))), domain=(ANY, ANY), broadcasts=True,
           matrix=_broadcast_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("mul", lambda x, y: x * y, np.multiply, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((2, 3), (2, 1))), Case(((), (3, 2)))), domain=(ANY, ANY),
           broadcasts=True, matrix=_broadcast_matrix(), nonfinite_grads=SAME_POSITION),
    OpSpec("div", lambda x, y: x / y, np.divide, _broadcast_cases,
           (Case(((2, 3), (2, 3))), Case(((2, 3), (3,)))), domain=(ANY, AWAY_FROM_ZERO), broadcasts=True,
           matrix=_broadcast_matrix(), nonfinite_grads=SAME_POSITION),
    OpSpec("neg", lambda x: -x, np.negative, _unary_cases, (Case(((2, 3),)), Case(((),))),
           matrix=_unary_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("pow", lambda x, exponent: x ** exponent, lambda x, exponent: np.power(x, float(exponent)),
           _pow_cases, tuple(Case(((2, 3),), {"exponent": e}) for e in POW_EXPONENTS), domain=_pow_domain,
           matrix=_pow_matrix(), nonfinite_grads=SAME_POSITION),
    OpSpec("matmul", lambda x, y: x @ y, np.dot, _matmul_cases,
           (Case(((2, 3), (3, 4))), Case(((3,), (3,))), Case(((2, 3), (3,))), Case(((3,), (3, 2)))),
           domain=(ANY, ANY), matrix=tuple(Case(pair) for pair in MATMUL_PAIRS)),
    OpSpec("exp", autograd.exp, np.exp, _unary_cases, (Case(((2, 3),)), Case(((),))),
           matrix=_unary_matrix(), magnitudes=(1e-8, 300.0), nonfinite_grads=SAME_POSITION),
    OpSpec("log", autograd.log, np.log, _unary_cases, (Case(((2, 3),)),), domain=(POSITIVE,),
           matrix=_unary_matrix(), nonfinite_grads=SAME_POSITION),
    OpSpec("tanh", autograd.tanh, np.tanh, _unary_cases, (Case(((2, 3),)),),
           matrix=_unary_matrix(), magnitudes=(1e-8, 1e3), nonfinite_grads=SAME_POSITION,
           derivative_from_out=True),
    OpSpec("relu", autograd.relu, lambda x: np.maximum(x, 0.0), _unary_cases, (Case(((2, 3),)),),
           domain=(AWAY_FROM_ZERO,), matrix=_unary_matrix(), nonfinite_grads=SAME_POSITION),
    OpSpec("sigmoid", autograd.sigmoid, lambda x: 1 / (1 + np.exp(-x)), _unary_cases, (Case(((2, 3),)),),
           matrix=_unary_matrix(), magnitudes=(1e-8, 1e3), nonfinite_grads=SAME_POSITION,
           derivative_from_out=True),
    OpSpec("sum", autograd.sum, np.sum, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 0, "keepdims": True}),
            Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": False}),
            Case(((2, 3),), {"axis": -1, "keepdims": False})),
           matrix=_reduction_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("mean", autograd.mean, np.mean, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 1, "keepdims": True}),
            Case(((2, 3, 4),), {"axis": (0, 1), "keepdims": False})), composite=True,
           matrix=_reduction_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("max", autograd.max, np.max, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 1, "keepdims": False}),
            Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": True})), domain=(DISTINCT,),
           matrix=_reduction_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("broadcast_to", autograd.broadcast_to, np.broadcast_to, _broadcast_to_cases,
           (Case(((3,),), {"shape": (2, 3)}), Case(((2, 1),), {"shape": (4, 2, 3)}), Case(((),), {"shape": (2,)})),
           matrix=tuple(Case(shapes, {"shape": target}) for shapes, target in BROADCAST_TO), nonfinite_grads=NOWHERE),
    OpSpec("cast", autograd.astype, lambda x, dtype: x.astype(dtype), _cast_cases,
           (Case(((2, 3),), {"dtype": np.float32}), Case(((2, 3),), {"dtype": np.float64}),
            Case(((),), {"dtype": np.dtype("float32")})), keeps_dtype=False,
           matrix=_unary_matrix(dtype=np.float64) + _unary_matrix(dtype=np.float32), nonfinite_grads=NOWHERE),
    OpSpec("reshape", autograd.reshape, np.reshape, _reshape_cases,
           (Case(((2, 3),), {"shape": (3, 2)}), Case(((2, 3),), {"shape": (-1,)}),
            Case(((6,),), {"shape": (1, 2, 3)})),
           matrix=tuple(Case((shape,), {"shape": target}) for shape, target in RESHAPES), nonfinite_grads=NOWHERE),
    OpSpec("transpose", autograd.transpose, np.transpose, _transpose_cases,
           (Case(((2, 3),), {"axes": None}), Case(((2, 3, 4),), {"axes": (1, 2, 0)}),
            Case(((2, 3, 4),), {"axes": (0, 2, 1)})),
           matrix=tuple(Case((shape,), {"axes": axes}) for shape, axes in TRANSPOSES), nonfinite_grads=NOWHERE),
    OpSpec("getitem", lambda x, index: x[index], _getitem, _getitem_cases,
           (Case(((4, 3),), {"index": (slice(1, 3), 0)}), Case(((4, 3),), {"index": np.array([0, 0, 3, 0])}),
            Case(((4, 3),), {"index": (np.array([1, 1]), np.array([2, 2]))}),
            Case(((4, 3),), {"index": (Ellipsis, None, slice(None, None, -1))}),
            Case(((4,),), {"index": np.array([True, False, True, True])})),
           matrix=_getitem_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("scatter_add", _scatter_add, _scatter_add_reference, _scatter_add_cases,
           (Case(((4,),), {"shape": (3,), "index": np.array([0, 0, 2, 0])}),
            Case(((2, 3),), {"shape": (4, 3), "index": slice(1, 3)})),
           matrix=_scatter_add_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("softmax", autograd.softmax, _softmax_reference, _softmax_cases,
           (Case(((2, 3),), {"axis": -1}), Case(((2, 3),), {"axis": 0}), Case(((4,),), {"axis": 0})),
           matrix=_softmax_matrix(), magnitudes=(1e-8, 1e3), log_sum_exp=True),
    OpSpec("log_softmax", autograd.log_softmax, _log_softmax_reference,
           _softmax_cases, (Case(((2, 3),), {"axis": -1}), Case(((2, 3, 2),), {"axis": 1})),
           matrix=_softmax_matrix(), magnitudes=(1e-8, 1e3), log_sum_exp=True),
    OpSpec("softmax_cross_entropy", autograd.softmax_cross_entropy, _cross_entropy_reference,
           _cross_entropy_cases,
           (Case(((3, 4),), {"t": np.array([0, 3, 1])}), Case(((3, 4),), {"t": np.eye(4)[[2, 2, 0]]}),
            Case(((4,),), {"t": 2})),
           matrix=_cross_entropy_matrix(), magnitudes=(1e-8, 1e3), log_sum_exp=True),
)

SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


# --- bugs the matrix finds, until they are fixed ------------------------------------------------------------
# Each entry: (reason, predicate(sample, check) -> bool). The matrix marks a (row, check) pair that a
# predicate selects as xfail(strict=True), and `OpSpec.cases` (hypothesis) draws around them, so deleting
# an entry here, once the fix is merged, turns both back into plain tests. Checks: "forward", "vjp",
# "second_order", "grad_shape_dtype", "nonfinite", "layout".
CHECKS = ("forward", "vjp", "second_order", "grad_shape_dtype", "nonfinite", "layout")
GRADIENT_CHECKS = ("vjp", "second_order")


KNOWN_BUGS = {}
"""reason -> predicate(sample, check): failures the matrix has found and main has not fixed yet (none now).

Issue 8's (transpose with negative axes, unnormalised soft targets, max of NaN) and the matrix's own finds
(``x[[]]``, seeds under ``create_graph``, None seeds) are fixed; their rows and reproducers are plain tests.
"""


def xfail_reason(sample, check: str):
    """The reason a (matrix row, check) pair is expected to fail, or None."""
    for reason, applies in KNOWN_BUGS.items():
        if applies(sample, check):
            return f"known bug: {reason}"
    return None
# --- images, trigonometry, clip, leaky ReLU, min (issue 9) ----------------------------------------------
# These rows are appended to `SPECS` below; the strategies and NumPy references (loops over the output
# positions, written independently of the im2col layout) come first.
AWAY_FROM_UNITS = "away from -1, 0, 1"  # clip's bounds in the cases below


def _unit_margin_values(shape):
    return well_conditioned(shape, low=-2.0, high=2.0, away_from=(-1.0, 0.0, 1.0), margin=MARGIN)


def _unit_margin_example(shape, rng):
    magnitude = rng.uniform(MARGIN, 1 - MARGIN, shape) + rng.integers(0, 2, shape)  # (0.2, 0.8) or (1.2, 1.8)
    return magnitude * rng.choice([-1.0, 1.0], shape)


def _pairs(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _padded(x, pad, value=0.0):
    ph, pw = _pairs(pad)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _positions(padded_shape, kernel, stride):
    """Yield (i, j, rows, cols): each output position and the slices of its window in the padded image."""
    (kh, kw), (sh, sw) = _pairs(kernel), _pairs(stride)
    out_h, out_w = (padded_shape[2] - kh) // sh + 1, (padded_shape[3] - kw) // sw + 1
    for i in range(out_h):
        for j in range(out_w):
            yield i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)


def _conv2d_reference(x, W, b, stride=1, pad=0):
    xp = _padded(x, pad)
    positions = list(_positions(xp.shape, W.shape[2:], stride))
    out = np.zeros((x.shape[0], W.shape[0], positions[-1][0] + 1, positions[-1][1] + 1),
                   dtype=np.result_type(x, W, b))
    for i, j, rows, cols in positions:
        for n in range(x.shape[0]):
            for f in range(W.shape[0]):
                out[n, f, i, j] = np.sum(xp[n, :, rows, cols] * W[f]) + b[f]
    return out


def _pool_reference(reduce, pad_value):
    def pool(x, kernel, stride=None, pad=0):
        stride = kernel if stride is None else stride
        xp = _padded(x, pad, pad_value)
        positions = list(_positions(xp.shape, kernel, stride))
        out = np.zeros(x.shape[:2] + (positions[-1][0] + 1, positions[-1][1] + 1), dtype=x.dtype)
        for i, j, rows, cols in positions:
            out[:, :, i, j] = reduce(xp[:, :, rows, cols], axis=(2, 3))
        return out
    return pool


def _im2col_reference(x, kernel, stride, pad):
    # Row (n, i, j) holds the window of output position (i, j) of image n, flattened as (channel, row, column).
    xp = _padded(x, pad)
    positions = list(_positions(xp.shape, kernel, stride))
    (kh, kw) = _pairs(kernel)
    windows = [xp[n, :, rows, cols].reshape(-1) for n in range(x.shape[0]) for _, _, rows, cols in positions]
    return np.array(windows, dtype=x.dtype).reshape(-1, x.shape[1] * kh * kw)  # (0, C·kh·kw) for an empty batch


def _col2im_reference(col, shape, kernel, stride, pad):
    ph, pw = _pairs(pad)
    img = np.zeros((shape[0], shape[1], shape[2] + 2 * ph, shape[3] + 2 * pw), dtype=col.dtype)
    positions = list(_positions(img.shape, kernel, stride))
    for r, (n, (_, _, rows, cols)) in enumerate((n, p) for n in range(shape[0]) for p in positions):
        img[n, :, rows, cols] += col[r].reshape(shape[1], rows.stop - rows.start, cols.stop - cols.start)
    return img[:, :, ph:ph + shape[2], pw:pw + shape[3]]


@st.composite
def _window_setup(draw, max_side: int, min_side: int = 1, *, max_pad_is_half_kernel: bool = False):
    """An image shape (N, C, H, W) with kernel, stride and pad pairs that fit it (odd sizes included).

    ``min_side=0`` allows an empty batch (N = 0); the other sides stay non-empty: a window needs pixels."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = tuple(draw(st.integers(0, k // 2 if max_pad_is_half_kernel else 1)) for k in kernel)
    sides = tuple(draw(st.integers(max(1, k - 2 * p), max(k, min(max_side, 7))))
                  for k, p in zip(kernel, pad))
    shape = (draw(st.integers(min(min_side, 1), 2)), draw(st.integers(1, 2))) + sides
    return shape, kernel, stride, pad


@st.composite
def _conv2d_cases(draw, max_side: int, min_side: int = 1):
    shape, kernel, stride, pad = draw(_window_setup(max_side, min_side))
    num_filters = draw(st.integers(1, 3))
    stride = draw(st.sampled_from([stride, stride[0]]))  # a pair, or one int for both sides
    return Case((shape, (num_filters, shape[1]) + kernel, (num_filters,)), {"stride": stride, "pad": pad})


@st.composite
def _pool_cases(draw, max_side: int, min_side: int = 1):
    shape, kernel, stride, pad = draw(_window_setup(max_side, min_side, max_pad_is_half_kernel=True))
    return Case((shape,), {"kernel": kernel, "stride": draw(st.sampled_from([None, stride])), "pad": pad})


@st.composite
def _im2col_cases(draw, max_side: int, min_side: int = 1):
    shape, kernel, stride, pad = draw(_window_setup(max_side, min_side))
    return Case((shape,), {"kernel": kernel, "stride": stride, "pad": pad})


def _col_shape(shape, kernel, stride, pad):
    return _im2col_reference(np.zeros(shape), kernel, stride, pad).shape


@st.composite
def _col2im_cases(draw, max_side: int, min_side: int = 1):
    shape, kernel, stride, pad = draw(_window_setup(max_side, min_side))
    return Case((_col_shape(shape, kernel, stride, pad),), {"shape": shape, "kernel": kernel, "stride": stride, "pad": pad})


CLIP_BOUNDS = ((-1.0, 1.0), (None, 1.0), (-1.0, None), (0.0, 1.0), (-1.0, 0.0))


@st.composite
def _clip_cases(draw, max_side: int, min_side: int = 1):
    low, high = draw(st.sampled_from(CLIP_BOUNDS))
    return Case((draw(array_shapes(min_side=min_side, max_side=max_side)),), {"low": low, "high": high})


LEAKY_SLOPES = (0.01, 0.2, 1.5, -0.3)


@st.composite
def _leaky_relu_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    return Case((shape,), {"negative_slope": draw(st.sampled_from(LEAKY_SLOPES))})


def _im2col(x, kernel, stride, pad):
    return autograd.apply(ops.IM2COL, x, kernel=kernel, stride=stride, pad=pad)


def _col2im(col, shape, kernel, stride, pad):
    return autograd.apply(ops.COL2IM, col, shape=shape, kernel=kernel, stride=stride, pad=pad)


_WINDOW_EXAMPLES = (  # (shape, kernel, stride, pad): strides 1 and 2, padding 0 and 1, odd sizes
    ((2, 3, 5, 5), (3, 3), (1, 1), (0, 0)),
    ((1, 2, 5, 7), (3, 2), (2, 2), (1, 1)),
    ((2, 1, 4, 4), (2, 2), (2, 2), (0, 0)),
    ((1, 2, 6, 5), (3, 3), (2, 1), (1, 0)),
)

# The matrix adds an empty batch and a window wider than its stride on a 1x1 channel image.
_WINDOW_MATRIX = _WINDOW_EXAMPLES + (((0, 2, 5, 5), (3, 3), (1, 1), (1, 1)), ((1, 1, 3, 3), (3, 3), (1, 1), (0, 0)))

SPECS += (
    OpSpec("sin", autograd.sin, np.sin, _unary_cases, (Case(((2, 3),)), Case(((),))),
           matrix=_unary_matrix(), magnitudes=(1e-8,), nonfinite_grads=SAME_POSITION),
    OpSpec("cos", autograd.cos, np.cos, _unary_cases, (Case(((2, 3),)), Case(((),))),
           matrix=_unary_matrix(), magnitudes=(1e-8,), nonfinite_grads=SAME_POSITION),
    OpSpec("clip", autograd.clip, lambda x, low, high: np.clip(x, low, high), _clip_cases,
           tuple(Case(((3, 4),), {"low": low, "high": high}) for low, high in CLIP_BOUNDS),
           domain=(AWAY_FROM_UNITS,), nonfinite_grads=NOWHERE,
           matrix=_unary_matrix(low=-1.0, high=1.0) + tuple(Case(((3, 4),), {"low": low, "high": high})
                                                             for low, high in CLIP_BOUNDS[1:])),
    OpSpec("leaky_relu", autograd.leaky_relu, lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           _leaky_relu_cases, tuple(Case(((2, 3),), {"negative_slope": s}) for s in LEAKY_SLOPES),
           domain=(AWAY_FROM_ZERO,), nonfinite_grads=SAME_POSITION,
           matrix=_unary_matrix(negative_slope=0.01) + tuple(Case(((2, 3),), {"negative_slope": s})
                                                             for s in LEAKY_SLOPES[1:])),
    OpSpec("min", autograd.min, np.min, _reduction_cases,
           (Case(((2, 3),), {"axis": None, "keepdims": False}), Case(((2, 3),), {"axis": 1, "keepdims": True}),
            Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": False})), domain=(DISTINCT,), composite=True,
           matrix=_reduction_matrix(), nonfinite_grads=NOWHERE),
    OpSpec("im2col", _im2col, _im2col_reference, _im2col_cases,
           tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES),
           matrix=tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_MATRIX),
           nonfinite_grads=NOWHERE),
    OpSpec("col2im", _col2im, _col2im_reference, _col2im_cases,
           tuple(Case((_col_shape(shape, k, s, p),), {"shape": shape, "kernel": k, "stride": s, "pad": p})
                 for shape, k, s, p in _WINDOW_EXAMPLES),
           matrix=tuple(Case((_col_shape(shape, k, s, p),), {"shape": shape, "kernel": k, "stride": s, "pad": p})
                        for shape, k, s, p in _WINDOW_MATRIX),
           nonfinite_grads=NOWHERE),
    OpSpec("conv2d", autograd.conv2d, _conv2d_reference, _conv2d_cases,
           tuple(Case((shape, (3, shape[1]) + k, (3,)), {"stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)
           + (Case(((1, 1, 5, 5), (2, 1, 3, 3), (2,)), {"stride": 2, "pad": 1}),),
           domain=(ANY, ANY, ANY),
           matrix=tuple(Case((shape, (2, shape[1]) + k, (2,)), {"stride": s, "pad": p})
                        for shape, k, s, p in _WINDOW_MATRIX)
           + (Case(((1, 1, 5, 5), (2, 1, 3, 3), (2,)), {"stride": 2, "pad": 1}),)),
    OpSpec("max_pool2d", autograd.max_pool2d, _pool_reference(np.max, -np.inf), _pool_cases,
           tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)
           + (Case(((1, 2, 5, 5),), {"kernel": 2, "stride": None, "pad": 1}),),
           domain=(DISTINCT,), nonfinite_grads=NOWHERE,
           matrix=tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_MATRIX)
           + (Case(((1, 2, 5, 5),), {"kernel": 2, "stride": None, "pad": 1}),)),
    OpSpec("avg_pool2d", autograd.avg_pool2d, _pool_reference(np.mean, 0.0), _pool_cases,
           tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_EXAMPLES)
           + (Case(((1, 2, 5, 5),), {"kernel": 3, "stride": None, "pad": 1}),),
           composite=True, nonfinite_grads=NOWHERE,
           matrix=tuple(Case((shape,), {"kernel": k, "stride": s, "pad": p}) for shape, k, s, p in _WINDOW_MATRIX)
           + (Case(((1, 2, 5, 5),), {"kernel": 3, "stride": None, "pad": 1}),)),
)
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


@st.composite
def _batched_matmul_cases(draw, max_side: int, min_side: int = 1):
    """Operands of which at least one is 3-d or more: batch dimensions that broadcast (sides of 1, missing
    leading ones), and 1-d operands that matmul promotes."""
    side = st.integers(min_side, min(max_side, 4))
    m, n, k = draw(side), draw(side), draw(side)
    batch = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))

    def operand_batch():
        kept = draw(st.integers(0, len(batch)))
        return tuple(b if draw(st.booleans()) else 1 for b in batch[len(batch) - kept:])

    batched = batch if draw(st.booleans()) else tuple(1 for _ in batch[:-1]) + batch[-1:]
    x_shape, y_shape = batched + (m, n), draw(st.sampled_from([operand_batch() + (n, k), (n,)]))
    if draw(st.booleans()):  # the batched operand on the right
        x_shape, y_shape = draw(st.sampled_from([operand_batch() + (m, n), (n,)])), batched + (n, k)
    return Case((x_shape, y_shape))


# The MATMUL row on 3-d and more (NumPy's matmul rules); a row of its own, so the matmul row stays as it is.
SPECS += (
    OpSpec("batched_matmul", lambda x, y: x @ y, np.matmul, _batched_matmul_cases,
           (Case(((2, 3, 4), (4, 5))), Case(((2, 1, 3, 4), (5, 4, 2))), Case(((3,), (2, 3, 4))),
            Case(((2, 3, 4), (4,))), Case(((3, 2, 3), (3, 3, 2)))),
           domain=(ANY, ANY), composite=True,
           matrix=(Case(((2, 3, 4), (4, 5))), Case(((2, 1, 3, 4), (5, 4, 2))), Case(((3,), (2, 3, 4))),
                   Case(((2, 3, 4), (4,))), Case(((3, 2, 3), (3, 3, 2))), Case(((0, 2, 3), (3, 4))),
                   Case(((2, 2, 0), (0, 3))), Case(((2, 3, 4), (2, 5, 4))))),
)
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


# --- sum_to, flatten, linear, mean_squared_error, labels held in a Tensor (issue 9) --------------------------------
# Compositions of table ops (reshape and sum; matmul and add; sub, mul and sum or mean), each with rows of its
# own. The references are written without the engine's helpers: sum_to scatters with np.add.at.
def _sum_to_reference(x, shape):
    targets = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), x.shape)  # refuses what sum_to refuses
    out = np.zeros(int(np.prod(shape)), dtype=x.dtype)
    np.add.at(out, targets.reshape(-1), x.reshape(-1))
    return out.reshape(shape)


SUM_TO_CASES = (((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 3), ()), ((2, 3), (1, 1)), ((4, 5, 6), (5, 1)),
                ((2, 3), (2, 3)), ((), ()), ((3,), (1,)), ((0, 3), (3,)), ((0, 3), (1, 3)), ((2, 1, 4), (1, 4)),
                ((2, 3), (2,)), ((3,), (2, 3)), ((2, 3), (4, 3)))  # the last three are refused


@st.composite
def _sum_to_cases(draw, max_side: int, min_side: int = 1):
    broadcast = draw(_broadcast_to_cases(max_side, min_side))
    return Case((broadcast.params["shape"],), {"shape": broadcast.shapes[0]})


def _flatten_reference(x, start_dim=1, end_dim=-1):
    shape = x.shape or (1,)
    dims = []
    for dim in (start_dim, end_dim):
        if not -len(shape) <= dim < len(shape):
            raise ValueError(f"dim {dim} out of range")
        dims.append(dim % len(shape))
    start, end = dims
    if start > end:
        raise ValueError("start_dim after end_dim")
    return x.reshape(shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])


FLATTENS = (((2, 3, 4, 5), {}), ((2, 3, 4, 5), {"start_dim": 1, "end_dim": 2}), ((2, 3, 4), {"start_dim": 0}),
            ((2, 3, 4), {"start_dim": -2}), ((0, 3, 4), {}), ((3, 0, 2), {"start_dim": 0, "end_dim": 1}),
            ((), {"start_dim": 0}), ((5,), {"start_dim": -1}), ((2, 1, 1), {}), ((2, 3, 4), {"end_dim": -2}),
            ((2, 3), {"start_dim": 2}), ((2, 3, 4), {"start_dim": 2, "end_dim": 1}), ((), {}))  # the last 3 refused


@st.composite
def _flatten_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    ndim = max(len(shape), 1)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    return Case((shape,), {"start_dim": start - ndim * draw(st.booleans()), "end_dim": end - ndim * draw(st.booleans())})


def _linear_reference(x, W, b=None):
    out = np.matmul(x, W)
    return out if b is None else out + b


LINEARS = (((4, 3), (3, 2), (2,)), ((1, 3), (3, 1), (1,)), ((2, 5, 3), (3, 4), (4,)), ((0, 3), (3, 2), (2,)),
           ((3,), (3, 2), (2,)), ((4, 3), (3,), ()), ((4, 3), (3, 2), (1,)), ((4, 3), (3, 2), ()),
           ((4, 3), (4, 2), (2,)), ((4, 3), (3, 2), (3,)))  # the last two are refused


@st.composite
def _linear_cases(draw, max_side: int, min_side: int = 1, *, bias: bool = True):
    side = st.integers(min_side, max(min_side, min(max_side, 4)))
    features, outputs = draw(st.integers(1, 4)), draw(side)
    x_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=min_side, max_side=3)) + (features,)
    w_shape = draw(st.sampled_from([(features, outputs), (features,)]))
    shapes = (x_shape, w_shape)
    if bias:
        shapes += (draw(st.sampled_from([w_shape[1:], (), (1,)] if len(w_shape) == 2 else [()])),)
    return Case(shapes)


def _mse_reference(y, t, reduction="mean"):
    if y.shape != t.shape:
        raise ValueError("shapes differ")
    squared = (y - t) ** 2
    reduce = {"mean": np.mean, "sum": np.sum, "half_sum": lambda a: 0.5 * np.sum(a), "none": lambda a: a}
    if reduction not in reduce:
        raise ValueError(f"unknown reduction {reduction!r}")
    return np.asarray(reduce[reduction](squared))


MSE_SHAPES = ((), (3,), (2, 3), (0, 3), (4, 5, 6))


def _mse_matrix() -> tuple:
    reductions = ("mean", "sum", "half_sum", "none")
    cases = [Case((shape, shape), {"reduction": r}) for shape in MSE_SHAPES for r in reductions]
    return tuple(cases) + (Case(((3, 1), (3,)), {"reduction": "mean"}), Case(((2,), (2,)), {"reduction": "max"}))


@st.composite
def _mse_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_side=min_side, max_side=max_side))
    return Case((shape, shape), {"reduction": draw(st.sampled_from(["mean", "sum", "half_sum", "none"]))})


def _tensor_labels(logits, t):
    return autograd.softmax_cross_entropy(logits, autograd.Tensor(t, requires_grad=False))


def _tensor_labels_reference(logits, t):
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t) & (t == np.round(t)) & (t >= 0) & (t < logits.shape[-1])):
        raise ValueError("labels must be whole numbers in range")
    return _cross_entropy_reference(logits, t.astype(np.int64))


def _tensor_labels_matrix() -> tuple:
    labels = np.random.default_rng(7).integers(0, 10, 12).astype(np.float64)
    return (Case(((3, 4),), {"t": np.array([0.0, 3.0, 1.0])}), Case(((4,),), {"t": np.array(2.0)}),
            Case(((1, 1),), {"t": np.array([0.0])}), Case(((12, 10),), {"t": labels}),
            Case(((0, 4),), {"t": np.zeros(0)}), Case(((3, 4),), {"t": np.array([0.0, 1.5, 1.0])}),
            Case(((3, 4),), {"t": np.array([0.0, 4.0, 1.0])}), Case(((3, 4),), {"t": np.array([0.0, -1.0, 1.0])}),
            Case(((3, 4),), {"t": np.array([np.nan, 0.0, 1.0])}), Case(((4,),), {"t": np.array(0.25)}))


@st.composite
def _tensor_labels_cases(draw, max_side: int, min_side: int = 1):
    n, c = draw(st.integers(min_side, max_side)), draw(st.integers(1, max_side))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.float64)
    if draw(st.booleans()) and n:
        return Case(((c,),), {"t": labels[0].reshape(())})
    return Case(((n, c),), {"t": labels})


SPECS += (
    OpSpec("sum_to", autograd.sum_to, _sum_to_reference, _sum_to_cases,
           tuple(Case((x,), {"shape": s}) for x, s in SUM_TO_CASES[:5]), composite=True, nonfinite_grads=NOWHERE,
           matrix=tuple(Case((x,), {"shape": s}) for x, s in SUM_TO_CASES)),
    OpSpec("flatten", autograd.flatten, _flatten_reference, _flatten_cases,
           tuple(Case((shape,), params) for shape, params in FLATTENS[:4]), composite=True, nonfinite_grads=NOWHERE,
           matrix=tuple(Case((shape,), params) for shape, params in FLATTENS)),
    OpSpec("linear", autograd.linear, _linear_reference, _linear_cases,
           tuple(Case(shapes) for shapes in LINEARS[:3]), domain=(ANY, ANY, ANY), composite=True,
           matrix=tuple(Case(shapes) for shapes in LINEARS)),
    OpSpec("linear_without_bias", autograd.linear, _linear_reference,
           lambda max_side, min_side=1: _linear_cases(max_side, min_side, bias=False),
           tuple(Case(shapes[:2]) for shapes in LINEARS[:3]), domain=(ANY, ANY), composite=True,
           matrix=tuple(Case(shapes[:2]) for shapes in LINEARS[:-1])),
    OpSpec("mean_squared_error", autograd.mean_squared_error, _mse_reference, _mse_cases,
           tuple(Case(((2, 3), (2, 3)), {"reduction": r}) for r in ("mean", "sum", "half_sum", "none")),
           # y and t apart: where y - t is far below y's own rounding step (y ~ t at scale 1e-8), central
           # differences of the first derivative 2(y - t) lose their digits (a drawn row failed by 7e-4).
           domain=(POSITIVE, NEGATIVE), composite=True, matrix=_mse_matrix()),
    OpSpec("softmax_cross_entropy_tensor_labels", _tensor_labels, _tensor_labels_reference, _tensor_labels_cases,
           (Case(((3, 4),), {"t": np.array([0.0, 3.0, 1.0])}), Case(((4,),), {"t": np.array(2.0)})),
           composite=True, matrix=_tensor_labels_matrix(), magnitudes=(1e-8, 1e3), log_sum_exp=True),
)
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


# --- batch normalization (issue 9): one op, train mode ------------------------------------------------------
# x's values are DISTINCT (spaced 0.4 apart), so every batch of two or more has a variance of at least 0.04 times
# the row's magnitude squared: central differences stay valid at any scale, and eps only matters where it should.
def _batch_norm_reference(x, gamma, beta, axes, eps):
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    if not axes:
        raise ValueError("no axes")
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)  # refuse bad axes as NumPy does
    features = tuple(n for i, n in enumerate(x.shape) if i not in {a % x.ndim for a in axes})
    if gamma.shape != features or beta.shape != features:
        raise ValueError("gamma and beta must have x's shape without the axes")
    return gamma.reshape(mean.shape) * ((x - mean) / np.sqrt(var + eps)) + beta.reshape(mean.shape)


def _batch_norm_case(shape, axes, eps=1e-5, features=None):
    ndim = len(shape)
    kept = {a % ndim for a in ((axes,) if isinstance(axes, int) else axes)} if ndim else set()
    if features is None:
        features = tuple(n for i, n in enumerate(shape) if i not in kept)
    return Case((shape, features, features), {"axes": axes, "eps": eps})


BATCH_NORM_EXAMPLES = (
    _batch_norm_case((4, 3), (0,)),                    # BatchNorm1d
    _batch_norm_case((3, 2, 3, 2), (0, 2, 3)),         # BatchNorm2d
    _batch_norm_case((1, 3), 0),                       # N = 1: the variance is 0, eps keeps it finite
    _batch_norm_case((2, 3, 4), (0, -1), eps=0.1),
)

BATCH_NORM_MATRIX = BATCH_NORM_EXAMPLES + (
    _batch_norm_case((5,), 0),                         # gamma and beta 0-d
    _batch_norm_case((4, 3), (1,), eps=0.0),           # over the features instead; no eps
    _batch_norm_case((3, 2, 3, 2), (-1, -4, -2)),      # negative axes, in any order
    _batch_norm_case((6, 2), (0, 1)),                  # every axis: gamma and beta 0-d
    _batch_norm_case((3, 0), 0),                       # no features
    _batch_norm_case((0, 3), 0),                       # an empty batch: NaN statistics, as NumPy's mean warns
    _batch_norm_case((4, 3), ()),                      # refused: no axes
    _batch_norm_case((4, 3), 2, features=(4,)),        # refused: out of range
    _batch_norm_case((4, 3), (0, -2), features=(3,)),  # refused: repeated
    _batch_norm_case((4, 3), 0, features=(4,)),        # refused: gamma and beta of the wrong shape
)


@st.composite
def _batch_norm_cases(draw, max_side: int, min_side: int = 1):
    shape = draw(array_shapes(min_dims=1, min_side=min_side, max_side=max_side))
    ndim = len(shape)
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    axes = tuple(a - ndim * draw(st.booleans()) for a in chosen)
    return _batch_norm_case(shape, axes[0] if len(axes) == 1 and draw(st.booleans()) else axes,
                            eps=draw(st.sampled_from([1e-5, 1e-6, 0.1])))


SPECS += (
    OpSpec("batch_norm", autograd.batch_norm, _batch_norm_reference, _batch_norm_cases, BATCH_NORM_EXAMPLES,
           domain=(DISTINCT, ANY, ANY), matrix=BATCH_NORM_MATRIX),
)
SPECS_BY_NAME = {spec.name: spec for spec in SPECS}
