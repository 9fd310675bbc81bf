"""Draw the book's computational graphs with their forward values and gradients, as SVG and PNG files.

Builds each graph with the engine, runs backward, and writes: the apple bill, the apple-and-orange bill, the
batch Affine layer, Softmax-with-Loss for 3 classes, a TwoLayerNet on a small batch (one cluster per layer),
a small SimpleConvNet (the book's chapter 7 layers Conv1, Relu1, Pool1, Affine1, Relu2, Affine2, one cluster
each), and a step-through HTML animation of the apple bill's backward pass. ``--readme-figures DIR`` also writes the
README's figure, DIR/apple_graph.svg and DIR/apple_graph.png.

    python -m demos.render_graphs --out out/graphs [--readme-figures docs]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from autograd import Tensor, module_scope, softmax_cross_entropy
from demos.apple import apple_bill
from demos.apple_orange import apple_orange_bill
from nn import SimpleConvNet, TwoLayerNet
from viz import DotNotFoundError, animate_backward, draw_graph, render
from viz.render import require_dot

FIGURE_FORMATS = (".svg", ".png")
PNG_DPI = 110


def affine_batch():
    """The book's batch Affine layer, N = 2: Y = X·W + b, backpropagated from dY = [[1, 2, 3], [4, 5, 6]]."""
    X = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), name="X")
    W = Tensor(np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), name="W")
    b = Tensor(np.array([0.1, 0.2, 0.3]), name="b")
    with module_scope("Affine"):
        XW = X @ W
        XW.name = "X·W"
        Y = XW + b
    Y.name = "Y"
    Y.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    print(f"affine: db = {b.grad}  (the book's [5 7 9])")
    return Y


def softmax_with_loss():
    """Softmax-with-Loss for 3 classes (the book's scores 0.3, 2.9, 4.0, true class 2): d loss / d a = y - t."""
    scores = Tensor(np.array([[0.3, 2.9, 4.0]]), name="a")
    with module_scope("SoftmaxWithLoss"):
        loss = softmax_cross_entropy(scores, np.array([2]))
    loss.name = "L"
    loss.backward()
    print(f"softmax-with-loss: L = {loss.item():.4f}, d L / d a = {np.round(scores.grad, 4)}  (y - t)")
    return loss


def two_layer_net(batch_size: int = 3, input_size: int = 4, hidden_size: int = 5, output_size: int = 3):
    """`nn.TwoLayerNet` (Affine1, Relu1, Affine2, SoftmaxWithLoss) on a small random batch, with its loss."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((batch_size, input_size)), requires_grad=False, name="x")
    t = rng.integers(0, output_size, size=batch_size)
    net = TwoLayerNet(input_size, hidden_size, output_size, rng=0)
    loss = net.loss_tensor(x, t)
    loss.name = "loss"
    loss.backward()
    print(f"two-layer net: loss = {loss.item():.4f} on a batch of {batch_size} (ln 3 = 1.0986 at the start)")
    return loss


def simple_conv_net(batch_size: int = 2, side: int = 8, filters: int = 3, hidden_size: int = 5, output_size: int = 3):
    """A small `nn.SimpleConvNet` (3x3 filters, 2x2 max pool) on a batch of random images, with its loss.

    Small, so that the figure stays readable: the layers and shapes are the book's, only the sizes shrink.
    """
    rng = np.random.default_rng(0)
    x = Tensor(rng.random((batch_size, 1, side, side)), requires_grad=False, name="x")
    t = rng.integers(0, output_size, size=batch_size)
    net = SimpleConvNet(input_dim=(1, side, side), conv_param={"filter_num": filters, "filter_size": 3},
                        hidden_size=hidden_size, output_size=output_size, weight_init_std="he", rng=0)
    loss = net.loss_tensor(x, t)
    loss.name = "loss"
    loss.backward()
    print(f"simple conv net: loss = {loss.item():.4f} on {batch_size} images of {side}x{side}, layers "
          f"{', '.join(net.layers)}")
    return loss


def write_figure(root, folder: Path, stem: str, *, formats=FIGURE_FORMATS, **options) -> list[Path]:
    """Write ``stem`` in each of ``formats`` into ``folder`` and return the paths."""
    digraph = draw_graph(root, **options)
    return [render(digraph, folder / f"{stem}{suffix}", dpi=PNG_DPI if suffix == ".png" else None)
            for suffix in formats]


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/graphs"), help="output folder (out/graphs)")
    parser.add_argument("--readme-figures", type=Path, default=None, metavar="DIR",
                        help="also write DIR/apple_graph.svg and .png, the README's figure (e.g. docs)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # Without Graphviz's `dot` the figures are still written, as .dot sources anyone can render later.
    try:
        require_dot()
        has_dot, formats = True, FIGURE_FORMATS
    except DotNotFoundError as missing:
        has_dot, formats = False, (".dot",)
        print(f"render_graphs: writing .dot sources only, and no animation: {missing}", file=sys.stderr)

    apple = apple_bill()
    print(f"apple: price = {apple['price'].item():g}; d/dapple {apple['apple'].grad.item():g}, "
          f"d/dapple_num {apple['apple_num'].grad.item():g}, d/dtax {apple['tax'].grad.item():g}")
    fruit = apple_orange_bill()
    print(f"apple and orange: price = {fruit['price'].item():g}; " + ", ".join(
        f"d/d{name} {fruit[name].grad.item():g}" for name in ("apple_num", "apple", "orange", "orange_num", "tax")))

    written = []
    written += write_figure(apple["price"], args.out, "apple", formats=formats, title="2 apples at 100, tax 1.1")
    written += write_figure(fruit["price"], args.out, "apple_orange", formats=formats,
                            title="2 apples at 100, 3 oranges at 150, tax 1.1")
    written += write_figure(affine_batch(), args.out, "affine_batch", formats=formats, title="batch Affine: Y = X·W + b, N = 2")
    written += write_figure(softmax_with_loss(), args.out, "softmax_with_loss", formats=formats, title="Softmax-with-Loss, 3 classes")
    net_loss = two_layer_net()
    written += write_figure(net_loss, args.out, "two_layer_net", formats=formats, title="TwoLayerNet, batch of 3")
    written += write_figure(net_loss, args.out, "two_layer_net_collapsed", formats=formats,
                            collapse_modules=True,
                            title="TwoLayerNet, one box per layer")
    conv_loss = simple_conv_net()
    written += write_figure(conv_loss, args.out, "simple_convnet", formats=formats,
                            rankdir="TB",  # left to right, the chain of seven layers is some 8,700 px wide
                            title="SimpleConvNet (the book's ch. 7 layers), 2 images of 8x8, 3 filters 3x3")
    written += write_figure(conv_loss, args.out, "simple_convnet_collapsed", formats=formats, collapse_modules=True,
                            title="SimpleConvNet, one box per layer")
    # The animation replays backward with autograd.graph.backward_steps; the .grad set above is not shown.
    if has_dot:  # its frames are SVG drawn by `dot`
        written.append(animate_backward(apple["price"], args.out / "apple_backward.html",
                                        title="Backward pass of the apple bill"))
    if args.readme_figures is not None:
        args.readme_figures.mkdir(parents=True, exist_ok=True)
        written += write_figure(apple["price"], args.readme_figures, "apple_graph", formats=formats)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return written


if __name__ == "__main__":
    main()
