"""Text for viz: number formatting, array summaries, generated tensor names and HTML escaping; no graph walking, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Arrays with at most this many entries are shown in full; larger ones by their statistics.
MAX_LISTED_ENTRIES = 6
# Text is cut with an ellipsis, so no name or title can blow up a figure or break `dot`, which refuses a label
# text over 16,384 characters. Escaping lengthens text at most tenfold ("\U000e0001"), so cut text stays far below.
MAX_NAME_LENGTH = 40  # tensor names, module names (each dotted part), op symbols
MAX_TITLE_LENGTH = 500  # the caption above a figure (an animation frame's step line), op parameters
SIGNIFICANT_DIGITS = 6


def format_number(value, uncertainty: float = 0.0) -> str:
    """Format one number compactly with six significant digits (integers and booleans exactly).

    ``uncertainty`` is the rounding error the number may carry (say, of a mean computed in floating point):
    a number within it of zero prints as 0, and no more significant digits are shown than it leaves.

    >>> format_number(220.00000000000003), format_number(2.2), format_number(1e-9), format_number(7)
    ('220', '2.2', '1e-09', '7')
    >>> format_number(float("nan")), format_number(-float("inf"))
    ('nan', '-inf')
    >>> format_number(5.78e-20, uncertainty=1e-17), format_number(1.23456e-13, uncertainty=1e-15)
    ('0', '1.2e-13')
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (complex, np.complexfloating)):
        return f"{complex(value):.{SIGNIFICANT_DIGITS}g}"
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    digits = SIGNIFICANT_DIGITS
    if 0 < uncertainty < math.inf:
        if abs(number) <= uncertainty:
            return "0"
        digits = min(digits, max(1, math.floor(math.log10(abs(number) / uncertainty))))
    text = f"{number:.{digits}g}"
    return "0" if text == "-0" else text


def format_shape(shape: tuple) -> str:
    """Format a shape the way NumPy prints it, with ``()`` for a scalar.

    >>> format_shape(()), format_shape((3,)), format_shape((2, 3))
    ('()', '(3,)', '(2, 3)')
    """
    return str(tuple(int(n) for n in shape))


@dataclass(frozen=True)
class ArraySummary:
    """Statistics of an array; min, mean, max and norm are over its finite entries (None if it has none).

    ``mean_uncertainty`` bounds the rounding error in ``mean``: entries that cancel (a softmax gradient's rows
    sum to 0) leave a mean of noise such as 5.8e-20, which `format_statistics` prints as 0.
    """

    shape: tuple
    dtype: str
    size: int
    minimum: float | None
    mean: float | None
    maximum: float | None
    norm: float | None
    nan_count: int
    inf_count: int
    mean_uncertainty: float = 0.0

    @property
    def has_nonfinite(self) -> bool:
        """True when the array holds at least one NaN or infinity."""
        return self.nan_count > 0 or self.inf_count > 0


def summarize_array(array) -> ArraySummary:
    """Summarise an array by shape, dtype, min/mean/max, L2 norm and counts of NaN and inf.

    Statistics skip non-finite entries, so a single NaN does not hide the rest of the array.

    >>> s = summarize_array(np.array([1.0, 3.0, np.nan, np.inf]))
    >>> s.minimum, s.mean, s.maximum, s.nan_count, s.inf_count, s.has_nonfinite
    (1.0, 2.0, 3.0, 1, 1, True)
    """
    array = np.asarray(array)
    nan_count = inf_count = 0
    values = array
    if array.dtype.kind in "fc":
        nan_count = int(np.count_nonzero(np.isnan(array)))
        inf_count = int(np.count_nonzero(np.isinf(array)))
        if nan_count or inf_count:
            values = array[np.isfinite(array)]
    if values.size == 0 or array.dtype.kind not in "biuf":
        return ArraySummary(array.shape, str(array.dtype), int(array.size), None, None, None, None,
                            nan_count, inf_count)
    as_float = values.astype(np.float64, copy=False)
    # Each entry carries about one rounding error of its own dtype (from the op that made it) and pairwise
    # summation adds about log2(n) more, all relative to the entries' magnitudes; four times that is the noise floor.
    eps = float(np.finfo(array.dtype).eps) if array.dtype.kind == "f" else 0.0
    # Huge finite entries can overflow the mean or the squared norm; report inf rather than warn.
    with np.errstate(all="ignore"):
        mean_uncertainty = 4 * eps * (1 + math.log2(values.size)) * float(np.abs(as_float).mean()) if eps else 0.0
        return ArraySummary(
            shape=array.shape,
            dtype=str(array.dtype),
            size=int(array.size),
            minimum=float(as_float.min()),
            mean=float(as_float.mean()),
            maximum=float(as_float.max()),
            norm=float(np.linalg.norm(as_float.ravel())),
            nan_count=nan_count,
            inf_count=inf_count,
            mean_uncertainty=mean_uncertainty,
        )


def format_entries(array) -> str:
    """Format a small array's entries on one line, nested like NumPy but with six significant digits.

    >>> format_entries(np.array([[1.0, 2.5], [3.0, -4.0]]))
    '[[1 2.5] [3 -4]]'
    >>> format_entries(np.float64(2.2))
    '2.2'
    """
    array = np.asarray(array)
    if array.ndim == 0:
        return format_number(array.item())
    return "[" + " ".join(format_entries(row) for row in array) + "]"


def format_array(array) -> str:
    """Format a value or gradient on one line: in full when small, else statistics and NaN/inf counts.

    >>> format_array(np.array(110.00000000000001))
    '110'
    >>> format_array(np.array([5.0, 7.0, 9.0]))
    '[5 7 9]'
    >>> format_array(np.arange(12.0).reshape(3, 4))
    'min 0  mean 5.5  max 11  ‖·‖ 22.4944'
    >>> format_array(np.array([1.0, np.nan]))
    '[1 nan]'
    >>> format_array(np.array([np.inf] + [1.0] * 9))
    'min 1  mean 1  max 1  ‖·‖ 3  (1 inf)'
    """
    array = np.asarray(array)
    if array.size <= MAX_LISTED_ENTRIES:
        return format_entries(array)
    summary = summarize_array(array)
    text = format_statistics(summary)
    if summary.has_nonfinite:
        text += f"  ({format_nonfinite(summary)})"
    return text


def format_statistics(summary: ArraySummary) -> str:
    """Format min, mean, max and norm of a summary, or say that no finite entry exists.

    >>> format_statistics(summarize_array(np.array([np.nan, np.nan])))
    'no finite entries'
    >>> g = np.array([[0.1, 0.2, -0.3], [0.7, -0.9, 0.2], [-0.5, 0.25, 0.25]]) / 3  # rows sum to 0
    >>> format_statistics(summarize_array(g))
    'min -0.3  mean 0  max 0.233333  ‖·‖ 0.453995'
    """
    if summary.mean is None:
        return "no finite entries" if summary.size else "empty"
    return (f"min {format_number(summary.minimum)}  mean {format_number(summary.mean, summary.mean_uncertainty)}  "
            f"max {format_number(summary.maximum)}  ‖·‖ {format_number(summary.norm)}")


def format_nonfinite(summary: ArraySummary) -> str:
    """Format the NaN and inf counts of a summary, leaving out a zero count.

    >>> format_nonfinite(summarize_array(np.array([np.nan, np.inf, -np.inf])))
    '1 NaN, 2 inf'
    """
    parts = []
    if summary.nan_count:
        parts.append(f"{summary.nan_count} NaN")
    if summary.inf_count:
        parts.append(f"{summary.inf_count} inf")
    return ", ".join(parts)


def display_name(name, index: int) -> str:
    """Return a tensor's name for display, or the generated name ``t<index>`` when it has none.

    Control characters are shown as escapes and long names are shortened, so a name always fits on one line.

    >>> display_name("apple", 0), display_name(None, 3), display_name("a\\nb", 1)
    ('apple', 't3', 'a\\\\nb')
    """
    if name is None or str(name) == "":
        return f"t{index}"
    return shorten(name, MAX_NAME_LENGTH)


def shorten(text, limit: int) -> str:
    """Show control characters as escapes, then cut to at most ``limit`` characters, the last an ellipsis.

    Cut before `escape_html`, never after, so an entity such as ``&amp;`` is never split.

    >>> shorten("backpropagation", 8), shorten("relu", 8), shorten("a\\tb", 8)
    ('backpro…', 'relu', 'a\\\\tb')
    """
    text = str(text)
    # Escapes only lengthen text, so the first ``limit`` characters decide the result, however long the rest.
    head = _printable(text[:limit])
    if len(text) > limit or len(head) > limit:
        return head[: limit - 1] + "…"
    return head


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def escape_html(text) -> str:
    """Escape text for a Graphviz HTML-like label so it is shown literally and cannot end the label.

    Graphviz parses HTML-like labels as XML, so besides ``& < > "`` the control characters XML forbids are
    shown as escapes. ``{ | \\`` carry no meaning inside HTML-like labels and pass through unchanged.

    >>> escape_html('a<b> & "c" {d|e}')
    'a&lt;b&gt; &amp; &quot;c&quot; {d|e}'
    """
    text = _printable(str(text))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def format_params(params) -> str:
    """Format an op's non-differentiable parameters as ``key=value`` pairs in key order.

    Parameters that are None or False (the "not set" defaults such as ``axis=None``, ``keepdims=False``) are
    left out, so a plain sum reads ``Σ`` rather than ``Σ axis=None, keepdims=False``.

    >>> format_params({"axis": 1, "keepdims": False}), format_params({"axis": None}), format_params(None)
    ('axis=1', '', '')
    """
    if not params:
        return ""
    return ", ".join(f"{key}={_format_param(value)}" for key, value in sorted(params.items())
                     if value is not None and value is not False)


def _format_param(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{format_shape(value.shape)}" if value.size > MAX_LISTED_ENTRIES else format_entries(value)
    if isinstance(value, (float, np.floating)):
        return format_number(value)
    return shorten(repr(value), MAX_NAME_LENGTH)
