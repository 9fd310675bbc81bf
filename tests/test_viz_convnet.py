"""viz draws nn.SimpleConvNet's graph with one cluster per layer (Conv1, Relu1, Pool1, Affine1, Relu2, Affine2)."""

import re

import numpy as np

from autograd import Tensor
from nn import SimpleConvNet
from viz import draw_graph

LAYERS = ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2", "SoftmaxWithLoss"]
NODE = re.compile(r"^\t*(\w+) \[label=(<.*>)(?: [^\n]*)?\]$")


def small_convnet_loss():
    rng = np.random.default_rng(0)
    x = Tensor(rng.random((2, 1, 8, 8)), requires_grad=False, name="x")
    net = SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3}, hidden_size=5,
                        output_size=3, rng=0)
    loss = net.loss_tensor(x, np.array([0, 2]))
    loss.name = "loss"
    loss.backward()
    return loss


def clusters_of(source: str) -> dict:
    """Each cluster's label -> the visible first words of the node labels declared inside it."""
    members, stack = {}, []
    for line in source.splitlines():
        if re.match(r"\s*subgraph cluster_\w+ \{", line):
            stack.append([None, []])
        elif stack and (label := re.search(r"label=<<B>(.*?)</B>>", line)) and "subgraph" not in line \
                and stack[-1][0] is None and "color=" in line:
            stack[-1][0] = label.group(1)
        elif line.strip() == "}" and stack:
            name, nodes = stack.pop()
            members[name] = nodes
        elif stack and (node := NODE.match(line)):
            text = re.sub(r"<[^>]*>", " ", node.group(2)[1:-1]).split()  # inside the outer <...>
            stack[-1][1].append(text[0])
    return members


def test_simple_convnet_is_drawn_with_one_cluster_per_layer_in_the_books_order():
    source = draw_graph(small_convnet_loss()).source
    clusters = clusters_of(source)
    assert sorted(clusters) == sorted(LAYERS)
    assert source.count("subgraph cluster_") == len(LAYERS)
    assert {"conv2d", "W1", "b1"} <= set(clusters["Conv1"])
    assert "max_pool2d" in clusters["Pool1"] and "ReLU" in clusters["Relu1"] and "ReLU" in clusters["Relu2"]
    assert {"reshape", "dot", "W2", "b2"} <= set(clusters["Affine1"])  # the book's Affine flattens the images
    assert {"dot", "W3", "b3"} <= set(clusters["Affine2"])
    assert "loss" in clusters["SoftmaxWithLoss"]
    assert "x" not in {word for words in clusters.values() for word in words}  # the images stay outside the layers


def test_collapsed_simple_convnet_is_one_box_per_layer():
    source = draw_graph(small_convnet_loss(), collapse_modules=True).source
    boxes = [re.sub(r"<[^>]*>", " ", label[1:-1]).split()[0]
             for node_id, label in (NODE.match(line).groups() for line in source.splitlines() if NODE.match(line))
             if node_id.startswith("m")]
    assert boxes == LAYERS
    assert "subgraph cluster_" not in source
