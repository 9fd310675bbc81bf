"""Tests of `viz.explain`: one line per backward step in run order, and fan-out contributions with their sum."""

import sys

import numpy as np

import demos.apple
import demos.apple_orange
import viz
import viz.animate
from autograd import Tensor
from viz import draw_graph, explain


def apple_bill():
    bill = demos.apple.apple_bill(backward=False)
    return bill["price"], (bill["apple"], bill["apple_num"], bill["tax"])


def test_explain_apple_bill_gives_one_line_per_step_with_the_seed_gradients():
    price, _ = apple_bill()
    assert explain(price).splitlines() == [
        "backward from price () = 220, 2 steps",
        "step 1  × (mul)  price = apple_price × tax  grad 1  →  apple_price () ← 1.1,  tax () ← 200",
        "step 2  × (mul)  apple_price = apple × apple_num  grad 1.1  →  apple () ← 2.2,  apple_num () ← 110",
        "gradients:",
        "  apple () 2.2",
        "  apple_num () 110",
        "  apple_price () 1.1",
        "  tax () 200",
        "  price () 1  (seed)",
    ]


def test_explain_writes_nothing_into_grad():
    price, leaves = apple_bill()
    explain(price)
    assert all(leaf.grad is None for leaf in leaves) and price.grad is None


def test_explain_apple_and_orange_bill_shows_the_add_passing_its_gradient_to_both_inputs():
    apple, apple_num = Tensor(100.0, name="apple"), Tensor(2.0, name="apple_num")
    orange, orange_num = Tensor(150.0, name="orange"), Tensor(3.0, name="orange_num")
    tax = Tensor(1.1, name="tax")
    all_price = apple * apple_num + orange * orange_num
    all_price.name = "all_price"
    price = all_price * tax
    text = explain(price)
    assert "all_price = t2 + t5  grad 1.1  →  t2 () ← 1.1,  t5 () ← 1.1" in text
    for expected in ("apple_num () 110", "apple () 2.2", "orange () 3.3", "orange_num () 165", "tax () 650"):
        assert f"\n  {expected}\n" in text + "\n"


def test_explain_square_lists_both_contributions_and_their_sum():
    x = Tensor(3.0, name="x")
    y = x * x
    lines = explain(y).splitlines()
    assert lines[1] == "step 1  × (mul)  t1 = x × x  grad 1  →  x () ← 3,  x () ← 3"
    assert "  x () 6 = 3 + 3  (2 contributions: step 1 input 0, step 1 input 1)" in lines


def test_explain_tensor_used_by_two_branches_sums_contributions_from_different_steps():
    x = Tensor(1.0, name="x")
    doubled = x * 2.0
    shifted = x + 1.0
    y = doubled * shifted
    lines = explain(y).splitlines()
    assert lines[0] == "backward from t5 () = 4, 3 steps"
    assert lines[2] == "step 2  + (add)  t4 = x + t3  grad 2  →  x () ← 2,  t3 () no grad"
    assert lines[3] == "step 3  × (mul)  t2 = x × t1  grad 2  →  x () ← 4,  t1 () no grad"
    assert "  x () 6 = 2 + 4  (2 contributions: step 2 input 0, step 3 input 0)" in lines
    y.backward()
    assert x.grad == 6.0


def test_explain_generated_names_match_the_drawing():
    x = Tensor(np.array([1.0, 2.0]), name="x")
    y = (x * x).sum()
    text = explain(y)
    source = draw_graph(y).source
    assert "t1 = x × x" in text and "t2 = Σ(t1)" in text
    assert "<B>t1</B>" in source and "<B>t2</B>" in source
    assert "  x (2,) [2 4] = [1 2] + [1 2]" in text


def test_explain_array_gradients_are_summarised_with_shapes():
    W = Tensor(np.arange(12.0).reshape(3, 4), name="W")
    loss = (W * 2.0).sum(axis=1).sum()
    text = explain(loss)
    assert "Σ(t2, axis=1)" in text
    assert "W (3, 4) ← min 2  mean 2  max 2  ‖·‖ 6.9282" in text


def test_explain_lives_in_its_own_module_and_shares_its_step_lines_with_the_animation():
    explain_module = sys.modules["viz.explain"]
    assert viz.explain is explain is explain_module.explain and explain.__module__ == "viz.explain"
    assert not hasattr(viz.animate, "explain")
    assert viz.animate.describe_step is explain_module.describe_step  # the captions: one copy, not two
