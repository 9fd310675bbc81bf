"""Tests of `viz.draw_graph`: DOT structure, the seed's values and gradients in labels, clusters, determinism, limits."""

import gc
import re
import time
import weakref

import numpy as np
import pytest

import demos.apple
import demos.apple_orange
from autograd import Tensor, module_scope, softmax_cross_entropy
from viz import draw_graph
from viz.dot import ALERT_COLOR, ALERT_FILL, GRAD_COLOR, MAX_MODULE_DEPTH, collect_graph
from viz.labels import MAX_NAME_LENGTH, MAX_TITLE_LENGTH

NODE_STATEMENT = re.compile(r"^\t*(\w+) \[label=(<.*>)(?: [^\n]*)?\]$", re.MULTILINE)
EDGE_STATEMENT = re.compile(r"^\t*(\w+) -> (\w+)(?: \[.*\])?$", re.MULTILINE)


def node_labels(source: str) -> dict:
    return {node_id: label for node_id, label in NODE_STATEMENT.findall(source)}


def edges(source: str) -> list:
    return EDGE_STATEMENT.findall(source)


def label_text(label: str) -> str:
    """The visible text of an HTML-like label: tags dropped, entities decoded, rows separated by '|'."""
    text = re.sub(r"</TR>|<HR/>", "|", label[1:-1])
    text = re.sub(r"<[^>]*>", "", text)
    for entity, character in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&")):
        text = text.replace(entity, character)
    return text


def id_of_value(source: str, name: str) -> str:
    matches = [node_id for node_id, label in node_labels(source).items() if label_text(label).startswith(name + " ")]
    assert len(matches) == 1, f"{name!r} labels {matches}"
    return matches[0]


def apple_bill():
    return demos.apple.apple_bill(backward=False)["price"]


def apple_and_orange_bill():
    return demos.apple_orange.apple_orange_bill(backward=False)["price"]


def small_network():
    rng = np.random.default_rng(0)
    X = Tensor(rng.standard_normal((2, 4)), requires_grad=False, name="X")
    W1, b1 = Tensor(rng.standard_normal((4, 3)), name="W1"), Tensor(np.zeros(3), name="b1")
    W2, b2 = Tensor(rng.standard_normal((3, 3)), name="W2"), Tensor(np.zeros(3), name="b2")
    with module_scope("Affine1"):
        hidden = X @ W1 + b1
    with module_scope("Relu1"):
        activated = hidden.relu()
    with module_scope("Affine2"):
        scores = activated @ W2 + b2
    with module_scope("SoftmaxWithLoss"):
        loss = softmax_cross_entropy(scores, np.array([0, 2]))
    loss.name = "loss"
    return loss


def test_apple_graph_has_two_mul_ops_five_values_and_six_edges():
    price = apple_bill()
    source = draw_graph(price).source
    labels = node_labels(source)
    ops = {node_id: label_text(label) for node_id, label in labels.items() if node_id.startswith("op")}
    values = {node_id for node_id in labels if node_id.startswith("v")}
    assert sorted(ops.values()) == ["×", "×"]
    assert len(values) == 5
    apple, apple_num, tax, apple_price, price_id = (
        id_of_value(source, name) for name in ("apple", "apple_num", "tax", "apple_price", "price"))
    first_mul = [head for tail, head in edges(source) if tail == apple][0]
    second_mul = [head for tail, head in edges(source) if tail == tax][0]
    assert sorted(edges(source)) == sorted([
        (apple, first_mul), (apple_num, first_mul), (first_mul, apple_price),
        (apple_price, second_mul), (tax, second_mul), (second_mul, price_id)])


def test_apple_labels_carry_seed_values_above_and_gradients_below():
    price = apple_bill()
    price.backward()
    source = draw_graph(price).source
    expected = {"apple": ("100", "2.2"), "apple_num": ("2", "110"), "tax": ("1.1", "200"),
                "apple_price": ("200", "1.1"), "price": ("220", "1")}
    for name, (value, gradient) in expected.items():
        label = node_labels(source)[id_of_value(source, name)]
        header, value_row, rule, gradient_row, _ = label_text(label).split("|")
        assert header == f"{name} () float64"
        assert (value_row, rule, gradient_row) == (value, "", f"grad {gradient}")
        assert f'<FONT COLOR="{GRAD_COLOR}">grad {gradient}</FONT>' in label


def test_labels_show_no_gradient_row_before_backward_or_with_show_grad_false():
    price = apple_bill()
    assert ">grad " not in draw_graph(price).source
    price.backward()
    assert ">grad " not in draw_graph(price, show_grad=False).source
    without_data = draw_graph(price, show_data=False).source
    assert label_text(node_labels(without_data)[id_of_value(without_data, "price")]) == "price () float64||grad 1|"


def test_apple_and_orange_graph_structure_and_seed_gradients():
    price = apple_and_orange_bill()
    price.backward()
    source = draw_graph(price).source
    labels = node_labels(source)
    assert sorted(label_text(label) for node_id, label in labels.items() if node_id.startswith("op")) == [
        "+", "×", "×", "×"]
    assert len(edges(source)) == 4 * 2 + 4
    expected = {"apple_num": ("2", "110"), "apple": ("100", "2.2"), "orange": ("150", "3.3"),
                "orange_num": ("3", "165"), "tax": ("1.1", "650"), "all_price": ("650", "1.1"),
                "price": ("715", "1")}
    for name, (value, gradient) in expected.items():
        rows = label_text(labels[id_of_value(source, name)]).split("|")
        assert rows[1:4] == [value, "", f"grad {gradient}"]
    add_id = next(node_id for node_id, label in labels.items() if label_text(label) == "+")
    into_add = sorted(tail for tail, head in edges(source) if head == add_id)
    assert into_add == sorted([id_of_value(source, "apple_price"), id_of_value(source, "orange_price")])


def test_array_values_show_entries_when_small_and_statistics_when_large():
    x = Tensor(np.arange(12.0).reshape(3, 4), name="x")
    b = Tensor(np.array([1.0, 2.0, 3.0]), name="b")
    y = (x.sum(axis=0)[:3] * b).sum()
    y.backward()
    source = draw_graph(y).source
    x_rows = label_text(node_labels(source)[id_of_value(source, "x")]).split("|")
    assert x_rows[0] == "x (3, 4) float64"
    assert x_rows[1] == "min 0  mean 5.5  max 11  ‖·‖ 22.4944"
    assert x_rows[3].startswith("grad min 0  mean 1.5")
    b_rows = label_text(node_labels(source)[id_of_value(source, "b")]).split("|")
    assert b_rows[1:4] == ["[1 2 3]", "", "grad [12 15 18]"]
    assert "axis=0" in source


def test_unnamed_tensors_get_generated_names_from_graph_order():
    x = Tensor(3.0, name="x")
    y = x * x + 1.0
    source = draw_graph(y).source
    assert collect_graph(y).names == ["x", "t1", "t2", "t3"]
    for name in ("t1", "t2", "t3"):
        assert id_of_value(source, name) == f"v{name[1:]}"


def test_same_computation_drawn_twice_gives_identical_dot():
    first, second = apple_and_orange_bill(), apple_and_orange_bill()
    first.backward()
    second.backward()
    assert draw_graph(first).source == draw_graph(second).source
    assert draw_graph(small_network(), collapse_modules=True).source == draw_graph(
        small_network(), collapse_modules=True).source
    assert "0x" not in draw_graph(first).source  # no memory addresses


def cluster_members(source: str) -> dict:
    """Map each cluster's label text to the node ids declared inside it (nested clusters included)."""
    members, stack = {}, []
    for line in source.splitlines():
        opened = re.match(r"\s*subgraph (cluster_\w+) \{", line)
        if opened:
            stack.append([opened.group(1), None, set()])
            continue
        label = re.match(r"\s*color=.* label=(<<B>.*?</B>>)", line)
        if label and stack:
            stack[-1][1] = label_text(label.group(1))
            continue
        if line.strip() == "}" and stack:
            name, text, ids = stack.pop()
            members[text] = ids
            if stack:
                stack[-1][2] |= ids
            continue
        statement = NODE_STATEMENT.match(line)
        if statement and stack:
            stack[-1][2].add(statement.group(1))
    return members


def test_modules_are_drawn_as_labelled_clusters_holding_their_ops_and_parameters():
    loss = small_network()
    loss.backward()
    source = draw_graph(loss).source
    assert source.count("subgraph cluster_") == 4
    clusters = cluster_members(source)
    assert sorted(clusters) == ["Affine1", "Affine2", "Relu1", "SoftmaxWithLoss"]
    labels = node_labels(source)
    affine1_ops = sorted(label_text(labels[node_id]) for node_id in clusters["Affine1"] if node_id.startswith("op"))
    assert affine1_ops == ["+", "dot"]
    assert {id_of_value(source, "W1"), id_of_value(source, "b1")} <= clusters["Affine1"]
    assert id_of_value(source, "X") not in set().union(*clusters.values())  # data stays outside the layers
    assert id_of_value(source, "loss") in clusters["SoftmaxWithLoss"]


def test_nested_module_scopes_give_nested_clusters():
    x = Tensor(np.ones(3), name="x")
    with module_scope("Net"):
        with module_scope("Affine1"):
            y = (x * 2.0).sum()
    source = draw_graph(y).source
    clusters = cluster_members(source)
    assert clusters["Affine1"] <= clusters["Net"]
    assert clusters["Affine1"] == {"v0", "op0", "v2", "op1", "v3"}  # the constant 2.0 stays outside
    assert re.search(r"subgraph cluster_\d+ \{\n.*label=<<B>Net</B>>.*\n\s*subgraph cluster_\d+ \{\n.*<<B>Affine1", source)


def test_collapse_modules_draws_one_box_per_module_and_hides_its_internals():
    loss = small_network()
    loss.backward()
    source = draw_graph(loss, collapse_modules=True).source
    labels = node_labels(source)
    boxes = {node_id: label_text(label) for node_id, label in labels.items() if node_id.startswith("m")}
    assert [text.split("|")[0] for text in boxes.values()] == ["Affine1", "Relu1", "Affine2", "SoftmaxWithLoss"]
    assert "W1 (4, 3)" in boxes["m0"] and "ops: dot, +" in boxes["m0"]
    assert not any(node_id.startswith("op") for node_id in labels)
    assert all("box3d" in line for line in source.splitlines() if re.match(r"\s*m\d+ \[", line))
    x_id = id_of_value(source, "X")
    assert (x_id, "m0") in edges(source)
    assert ("m3", id_of_value(source, "loss")) in edges(source)
    assert "subgraph cluster_" not in source


def test_graph_over_max_nodes_becomes_a_summary_node():
    price = apple_bill()
    assert len(node_labels(draw_graph(price, max_nodes=7).source)) == 7
    summary = draw_graph(price, max_nodes=6).source
    assert list(node_labels(summary)) == ["summary"]
    assert "Graph too large to draw: 2 ops and 5 values" in summary
    assert "max_nodes=6" in summary and "× (mul): 2" in summary


def test_fifty_thousand_op_chain_returns_a_summary_quickly():
    x = Tensor(1.0, name="x")
    chain = x
    for _ in range(50_000):
        chain = chain * 1.0
    start = time.perf_counter()
    source = draw_graph(chain).source
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"draw_graph took {elapsed:.1f} s"
    assert len(source) < 2_000
    assert "50,000 ops" in source and "× (mul): 50,000" in source


def test_summary_of_twenty_thousand_roots_lists_only_the_first_few():
    roots = [Tensor(float(k), name=f"r{k}") * 2.0 for k in range(20_000)]
    source = draw_graph(roots).source
    assert len(source) < 5_000
    assert source.count("<B>root ") == 8 and "<B>root t2</B> (): 0" in source
    assert "… and 19,992 more roots" in source


def test_nan_or_inf_in_value_or_gradient_is_drawn_red():
    clean = Tensor(np.array([1.0, 2.0]), name="clean")
    poisoned = Tensor(np.array([1.0, np.nan]), name="poisoned")
    big = Tensor(np.array([1.0] * 9 + [np.inf]), name="big")
    healthy = Tensor(np.array([3.0, 4.0]), name="healthy")
    y = (clean * poisoned).sum() + big.sum() + healthy.sum()
    clean.grad = np.array([0.0, np.inf])
    source = draw_graph(y).source
    lines = {node_id: line for line in source.splitlines()
             for node_id in [line.strip().split(" ")[0]] if "[label=" in line}
    assert f"fillcolor=\"{ALERT_FILL}\"" in lines[id_of_value(source, "poisoned")]
    assert f"fillcolor=\"{ALERT_FILL}\"" in lines[id_of_value(source, "clean")]  # its gradient holds inf
    big_line = lines[id_of_value(source, "big")]
    assert f"color=\"{ALERT_COLOR}\"" in big_line and "1 inf" in big_line
    assert ALERT_FILL not in lines[id_of_value(source, "healthy")]


HOSTILE_NAMES = ['quote"] evil [color=red', "<B>bold</B>", "brace{a|b}", "amp&amp;", "back\\slash\\",
                 "new\nline", "> label=<x", "]; v0 -> v0; [", "'single'"]


def test_hostile_names_stay_inside_their_labels():
    tensors = [Tensor(float(k), name=name) for k, name in enumerate(HOSTILE_NAMES)]
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    total.name = '"'
    with module_scope('Mod"ule<|>'):
        result = total * 2.0
    source = draw_graph(result).source
    labels = node_labels(source)
    assert len(labels) == len(HOSTILE_NAMES) + 2 * (len(HOSTILE_NAMES) - 1) + 3
    assert len(edges(source)) == 3 * (len(HOSTILE_NAMES) - 1) + 3
    for raw in ('quote"]', "<B>bold", "> label=<x", "]; v0 -> v0; [", "'single'", "new\nline"):
        assert raw not in source
    assert "amp&amp;amp;" in source and "back\\slash\\" in source  # shown literally, not decoded
    visible = {label_text(label).split(" (")[0] for label in labels.values()}
    for name in HOSTILE_NAMES:
        assert name.replace("\n", "\\n") in {text.rsplit(" ()", 1)[0] for text in visible} | visible
    assert "Mod&quot;ule&lt;|&gt;" in source


@pytest.mark.parametrize("collapse_modules", [False, True])
def test_twenty_thousand_character_title_module_and_name_are_cut_with_an_ellipsis(collapse_modules):
    x = Tensor(2.0, name="n" * 20_000)
    with module_scope("M" * 20_000):
        y = x * 3.0
    source = draw_graph(y, title="T" * 20_000, collapse_modules=collapse_modules).source
    assert len(source) < 5_000
    assert f"label=<<B>{'T' * (MAX_TITLE_LENGTH - 1)}…</B>>" in source
    assert f"<B>{'M' * (MAX_NAME_LENGTH - 1)}…</B>" in source
    assert f"{'n' * (MAX_NAME_LENGTH - 1)}…" in source


def test_module_path_deeper_than_max_module_depth_is_joined_into_its_last_cluster():
    x = Tensor(2.0, name="x")
    with module_scope(".".join(f"m{k}" for k in range(10_000))):
        y = x * 3.0
    source = draw_graph(y).source
    assert source.count("subgraph cluster_") == MAX_MODULE_DEPTH
    assert f"<<B>m{MAX_MODULE_DEPTH - 1}.m{MAX_MODULE_DEPTH}.m" in source


def test_bad_options_raise_value_or_type_errors_naming_them():
    price = apple_bill()
    with pytest.raises(ValueError, match="rankdir must be one of .* got 'XY'"):
        draw_graph(price, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes must be a positive integer, got 0"):
        draw_graph(price, max_nodes=0)
    with pytest.raises(ValueError, match=r"^draw_graph: max_nodes must be a positive integer, got 7\.0$"):
        draw_graph(price, max_nodes=7.0)
    for value in (True, "7", None):
        with pytest.raises(TypeError, match=rf"^draw_graph: max_nodes must be a positive integer, got {value!r} of"):
            draw_graph(price, max_nodes=value)


def test_rankdir_and_title_reach_the_graph_attributes():
    source = draw_graph(apple_bill(), rankdir="TB", title="bill <1>").source
    assert "rankdir=TB" in source and "label=<<B>bill &lt;1&gt;</B>>" in source


def test_leaf_root_without_node_is_drawn_alone():
    x = Tensor(2.0, name="x")
    source = draw_graph(x).source
    assert list(node_labels(source)) == ["v0"] and edges(source) == []


def test_names_shared_by_several_tensors_are_qualified_by_module_then_numbered():
    x = Tensor(np.ones((1, 2)), requires_grad=False, name="x")
    with module_scope("Affine1"):
        hidden = x @ Tensor(np.ones((2, 2)), name="W")
    with module_scope("Affine2"):
        out = hidden @ Tensor(np.ones((2, 1)), name="W")
    twin = Tensor(1.0, name="c") * Tensor(2.0, name="c")
    names = collect_graph([out.sum(), twin]).names
    assert "Affine1.W" in names and "Affine2.W" in names and "W" not in names
    assert names.count("c") == 1 and "c#2" in names


def test_draw_graph_leaves_no_reference_cycle_so_the_graph_is_freed_with_the_collector_off():
    gc.collect()
    gc.disable()
    try:
        loss = small_network()
        watched = [weakref.ref(loss), weakref.ref(loss.node)]
        watched += [weakref.ref(node.inputs[0]) for node in collect_graph(loss).nodes]
        # Control: dropped undrawn, the graph is freed by reference counting alone.
        del loss
        assert all(ref() is None for ref in watched), "autograd itself leaves a cycle; viz cannot be judged"
        loss = small_network()
        loss.backward()
        watched = [weakref.ref(loss), weakref.ref(loss.node)]
        watched += [weakref.ref(node.inputs[0]) for node in collect_graph(loss).nodes]
        digraph = draw_graph(loss)
        assert draw_graph(loss, collapse_modules=True).source
        del loss
        assert [ref() is None for ref in watched] == [True] * len(watched)  # the Digraph holds text only
        del digraph
        assert gc.collect() == 0
    finally:
        gc.enable()
