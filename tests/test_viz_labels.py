"""Tests of `viz.labels`: number formatting, array summaries, generated names and escaping."""

import numpy as np
import pytest

from viz.labels import (
    MAX_NAME_LENGTH, display_name, escape_html, format_array, format_number, format_params, shorten, summarize_array,
)


@pytest.mark.parametrize("value, text", [
    (220.00000000000003, "220"), (110.00000000000001, "110"), (2.2, "2.2"), (-0.0, "0"), (1e-9, "1e-09"),
    (np.float32(3.3), "3.3"), (np.int64(5), "5"), (True, "True"), (float("nan"), "nan"), (float("inf"), "inf"),
])
def test_format_number_hides_float_noise_and_keeps_specials(value, text):
    assert format_number(value) == text


def test_summary_counts_nan_and_inf_and_skips_them_in_statistics():
    summary = summarize_array(np.array([[1.0, np.nan], [np.inf, -np.inf], [3.0, 5.0]]))
    assert (summary.shape, summary.dtype, summary.size) == ((3, 2), "float64", 6)
    assert (summary.minimum, summary.mean, summary.maximum) == (1.0, 3.0, 5.0)
    assert summary.norm == pytest.approx(np.sqrt(35.0))
    assert (summary.nan_count, summary.inf_count, summary.has_nonfinite) == (1, 2, True)


def test_summary_of_all_nan_and_of_huge_values_raises_no_warning():
    assert summarize_array(np.full(8, np.nan)).mean is None
    assert format_array(np.full(8, np.nan)) == "no finite entries  (8 NaN)"
    assert summarize_array(np.full(8, 1e308)).norm == np.inf
    assert summarize_array(np.array([1, 2, 3])).mean == 2.0
    assert summarize_array(np.zeros((0, 3))).mean is None


def test_display_name_generates_names_and_neutralises_control_characters_and_length():
    assert display_name(None, 7) == "t7" and display_name("", 2) == "t2"
    assert display_name("a\tb\x00", 0) == "a\\tb\\x00"
    long_name = display_name("n" * 100, 0)
    assert len(long_name) == MAX_NAME_LENGTH and long_name.endswith("…")


def test_shorten_cuts_with_an_ellipsis_after_showing_control_characters_and_before_escaping():
    assert shorten("x" * 20_000, 10) == "x" * 9 + "…"
    assert shorten("abc", 3) == "abc" and shorten("", 3) == ""
    assert shorten("\x00" * 5, 6) == "\\x00\\…"
    assert shorten("ab\x00", 3) == "ab…"  # the escape is what no longer fits
    assert escape_html(shorten("&" * 100, 4)) == "&amp;&amp;&amp;…"


def test_escape_html_escapes_markup_and_control_characters():
    assert escape_html('<TD>"&\'') == "&lt;TD&gt;&quot;&amp;&#39;"
    assert escape_html("a\nb\x07") == "a\\nb\\x07"
    assert escape_html("Σ ×") == "Σ ×"


def test_format_params_hides_unset_values_and_summarises_arrays():
    assert format_params({"exponent": 2.0}) == "exponent=2"
    assert format_params({"target": np.array([0, 2])}) == "target=[0 2]"
    assert format_params({"target": np.zeros((100, 10))}) == "target=array(100, 10)"
    assert format_params({"axis": None, "keepdims": False}) == ""
