"""Tests that viz's figures stay readable: networks stack top to bottom, rounding noise prints as 0, no invented digits."""

import re
import shutil

import numpy as np
import pytest

from autograd import Tensor, softmax_cross_entropy
from demos.apple import apple_bill
from demos.render_graphs import two_layer_net
from viz import draw_graph, explain
from viz.labels import format_array, format_number, summarize_array
from viz.render import pipe


def test_graphs_of_nn_modules_default_to_top_to_bottom_and_bills_to_left_to_right():
    assert "rankdir=TB" in draw_graph(two_layer_net()).source
    assert "rankdir=LR" in draw_graph(apple_bill()["price"]).source
    assert "rankdir=LR" in draw_graph(two_layer_net(), rankdir="LR").source


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot to lay the figure out")
def test_two_layer_net_figure_is_no_longer_a_strip_by_default():
    # Left to right it is one strip (3424 x 300 pt; 5231 x 493 px in the README's PNG), unreadable once scaled.
    def aspect(**options):
        svg = pipe(draw_graph(two_layer_net(), **options), "svg").decode()
        width, height = (float(n) for n in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
        return width / height

    assert aspect(rankdir="LR") > 5
    assert aspect() < 2


def test_mean_of_cancelling_entries_prints_as_zero_in_the_two_layer_net_figure():
    source = draw_graph(two_layer_net()).source
    means = re.findall(r"mean (\S+)", source)
    assert means and not any(re.fullmatch(r"-?[\d.]+e-(1[5-9]|[2-9]\d)", mean) for mean in means), means


def test_softmax_cross_entropy_gradient_mean_is_zero_not_noise():
    logits = Tensor(np.random.default_rng(0).standard_normal((4, 3)), name="a")
    softmax_cross_entropy(logits, np.array([0, 2, 1, 1])).backward()
    assert abs(logits.grad.mean()) < 1e-16  # the noise the figure used to show
    assert "  mean 0  " in format_array(logits.grad)
    assert "e-" not in explain(softmax_cross_entropy(Tensor(logits.data), np.array([0, 2, 1, 1])))


def test_mean_keeps_only_the_digits_its_rounding_error_leaves():
    entries = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0 + 1e-12])
    summary = summarize_array(entries)
    assert 1e-13 < summary.mean < 2e-13 and summary.mean_uncertainty < 1e-14
    assert format_number(summary.mean, summary.mean_uncertainty) in ("1e-13", "1.2e-13", "1.25e-13")
    assert format_number(0.5, uncertainty=0.0) == "0.5"
    assert format_number(3.14159265, uncertainty=1e-3) == "3.14"
    assert format_number(1e-20, uncertainty=1e-17) == "0"


def test_float32_means_use_float32_rounding_and_large_means_are_kept():
    noisy = np.array([0.1, 0.2, -0.3, 0.3, -0.2, -0.1, 0.7], dtype=np.float32) - np.float32(0.1)
    assert summarize_array(noisy).mean_uncertainty > 1e-8
    assert format_array(np.full(10, 1e300)).startswith("min 1e+300  mean 1e+300")
    assert format_array(np.arange(12.0)) == "min 0  mean 5.5  max 11  ‖·‖ 22.4944"
