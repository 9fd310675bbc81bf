"""The book's gradient check: backprop through graphgrad's graph against numerical differentiation on 3 MNIST images.

It prints the mean absolute difference per parameter for the book's TwoLayerNet (784-50-10, ReLU); the book's
run prints about 1e-6 to 1e-9, since ReLU's kink makes a few central differences inexact. Then it checks
the same network with Sigmoid instead of ReLU, which has no kink: every element must differ by less than
1e-8 in float64. Last, the backprop gradients of both must equal the book's hand-written layer formulas
(`benchmarks.seed_layers`) to 1e-12. It exits with status 1 if a check fails.

    GRAPHGRAD_DATA=/path/to/mnist python -m demos.gradient_check
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks.seed_layers import SeedTwoLayerNet
from nn import MLP, TwoLayerNet
from nn.datasets import load_mnist

SIGMOID_TOLERANCE = 1e-8  # max |backprop - numerical| per element, sigmoid network, float64
SEED_FORMULA_TOLERANCE = 1e-12  # max |graphgrad - hand-written| per element


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3, help="training images to check on (3)")
    parser.add_argument("--hidden-size", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial weights (0)")
    parser.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files (default: $GRAPHGRAD_DATA)")
    args = parser.parse_args(argv)

    (x_train, t_train), _ = load_mnist(normalize=True, one_hot_label=True, data_dir=args.data_dir)
    x_batch, t_batch = x_train[:args.samples].astype(np.float64), t_train[:args.samples].astype(np.float64)
    networks = {
        "relu": TwoLayerNet(input_size=784, hidden_size=args.hidden_size, output_size=10, rng=args.seed),
        "sigmoid": MLP([784, args.hidden_size, 10], activation="sigmoid", weight_init=0.01, rng=args.seed),
    }
    result, passed = {}, True
    for activation, network in networks.items():
        print(f"784-{args.hidden_size}-10 network with {activation}: mean |backprop - numerical| per parameter")
        grad_numerical = network.numerical_gradient(x_batch, t_batch)
        grad_backprop = network.gradient(x_batch, t_batch)
        seed_network = SeedTwoLayerNet.from_params(network.params, activation=activation)
        grad_seed = seed_network.gradient(x_batch, t_batch)
        numerical_diff = {key: np.abs(grad_backprop[key] - grad_numerical[key]) for key in grad_numerical}
        seed_diff = max(np.abs(grad_backprop[key] - grad_seed[key]).max() for key in grad_seed)
        for key, diff in numerical_diff.items():
            print(f"  {key}:{np.average(diff)}")  # the book's line: key + ":" + str(diff)
        max_numerical_diff = max(diff.max() for diff in numerical_diff.values())
        checks = [(f"max |graphgrad - hand-written layer formulas| = {seed_diff:.1e}",
                   seed_diff < SEED_FORMULA_TOLERANCE, SEED_FORMULA_TOLERANCE)]
        if activation == "sigmoid":  # no kink: central differences are exact to O(h^2)
            checks.append((f"max |backprop - numerical| = {max_numerical_diff:.1e}",
                           max_numerical_diff < SIGMOID_TOLERANCE, SIGMOID_TOLERANCE))
        for text, ok, tolerance in checks:
            print(f"  {text} {'<' if ok else '>='} {tolerance:.0e}: {'ok' if ok else 'FAILED'}")
            passed &= bool(ok)
        result[activation] = {"mean_abs_diff": {k: float(np.average(d)) for k, d in numerical_diff.items()},
                              "max_abs_diff": float(max_numerical_diff), "max_seed_diff": float(seed_diff)}
    result["passed"] = passed
    print("gradient check passed" if passed else "gradient check FAILED")
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
