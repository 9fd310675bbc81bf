"""Train the book's two-layer network (784-50-10) on MNIST with graphgrad, optionally beside the hand-written layers.

The book's recipe (Deep Learning from Scratch, ch. 5) is the default: 10000 steps of SGD at learning rate 0.1 on batches of 100 drawn with
replacement (the book's ``choice(train_size, batch_size)``), weights of std 0.01. It prints train and test
accuracy once per epoch (train_size / batch_size steps; at most about 20 lines, so the 5,000-image subset's
200 epochs print one line in 10), a summary with the wall time, and draws the loss
and accuracy curves to ``<out>/train_mnist.png``. The full recipe ends near 97% test accuracy. With
``--compare-book`` the book's hand-written NumPy layers (`benchmarks.seed_layers`) train from the same
initial weights on the same batches, and both final accuracies and their difference are printed.

    GRAPHGRAD_DATA=/path/to/mnist python -m demos.train_mnist --compare-book
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from tqdm import tqdm

from benchmarks.seed_layers import SeedTwoLayerNet
from nn import TwoLayerNet
from nn.data import epoch_started, sample_batch
from nn.datasets import load_mnist
from nn.optim import OPTIMIZERS
from nn.utils import TRAINING_THREADS, blas_threads

FULL_TRAIN_SIZE = 60000  # MNIST's training set; fewer images means the bundled subset (or a user's own)
# Epoch lines printed in a run, about: the subset's 200 epochs of 50 steps would otherwise print 200 lines.
MAX_EPOCH_LINES = 20
SEED_LR = 0.1  # the book's learning rate for SGD; other optimizers default to the book's chapter 6 values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10000, help="training steps (10000)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per step (100)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (the book's 0.1 for sgd, the book's default for the others)")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd", help="nn.optim class (sgd)")
    parser.add_argument("--hidden-size", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--weight-init-std", type=float, default=0.01, help="std of the initial weights (0.01)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="dtype of the weights and images (float64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial weights, then of the batches (0)")
    parser.add_argument("--data-dir", default=None,
                        help="folder of the MNIST IDX files (default: $GRAPHGRAD_DATA, then the user cache)")
    parser.add_argument("--out", default="out", help="folder for train_mnist.png (out)")
    parser.add_argument("--save", metavar="PATH", help="write the trained weights to this .npz file")
    parser.add_argument("--compare-book", "--compare-seed", dest="compare_seed", action="store_true",
                        help="also train the book's hand-written layers from the same weights on the same batches "
                             "(--compare-seed is its former name)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--threads", type=int, default=TRAINING_THREADS, metavar="N",
                        help=f"BLAS threads while training ({TRAINING_THREADS}: on busy cores 9-13x faster than two, "
                             "on idle ones up to 25%% slower; README, Threads)")
    args = parser.parse_args(argv)
    for name in ("iterations", "batch_size", "hidden_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.lr is not None and not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    return args


def make_optimizer(args, params=None):
    """The chosen nn.optim optimizer: over Tensors for graphgrad, or for the book's dict form (params=None)."""
    lr = args.lr if args.lr is not None else (SEED_LR if args.optimizer == "sgd" else None)
    return OPTIMIZERS[args.optimizer](params, **({} if lr is None else {"lr": lr}))


def graphgrad_step(network, optimizer, x_batch, t_batch) -> float:
    """One training step on the graph: forward, backward, update. Returns the batch's loss."""
    loss = network.loss_tensor(x_batch, t_batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def seed_step(network, optimizer, x_batch, t_batch) -> float:
    """One step of the book's loop with its hand-written layers (``gradient``, then the dict update)."""
    grads = network.gradient(x_batch, t_batch)
    optimizer.update(network.params, grads)
    return float(network.lastLayer.loss)  # the book's loss: its cross_entropy_error adds 1e-7 inside the log


def plot_curves(runs: dict, path: str, train_size: int = FULL_TRAIN_SIZE) -> None:
    """Loss per step and accuracy per epoch of each run, side by side, as a PNG (matplotlib's Agg backend).

    A run on fewer than MNIST's 60,000 training images says so in the figure's title."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, run), style in zip(runs.items(), ("-", "--")):
        window = min(100, len(run["loss"]))  # the batch loss is noisy: draw its moving average over it
        smooth = np.convolve(run["loss"], np.ones(window) / window, mode="valid")
        if style == "-":
            loss_ax.plot(run["loss"], lw=0.3, alpha=0.3, color="C0")
        loss_ax.plot(np.arange(window - 1, len(run["loss"])), smooth, style, label=f"{name} (mean of {window})")
        acc_ax.plot(run["epochs"], run["train_acc"], "o" + style, ms=4, label=f"train ({name})")
        acc_ax.plot(run["epochs"], run["test_acc"], "s" + style, ms=4, label=f"test ({name})")
    loss_ax.set(xlabel="step", ylabel="batch loss", yscale="log", title="training loss")
    final_test = runs["graphgrad"]["final_test_acc"]
    acc_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title=f"accuracy (final test {final_test:.4f})")
    loss_ax.legend()
    acc_ax.legend(loc="lower right")
    if train_size < FULL_TRAIN_SIZE:
        fig.suptitle(f"MNIST, {train_size:,}-image subset (not the full 60,000)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    with blas_threads(args.threads):  # see README, "Threads"
        return train(args)


def train(args) -> dict:
    """Load MNIST, train as ``args`` say, print the summary, draw the curves; return the accuracies and times."""
    dtype = np.dtype(args.dtype)
    (x_train, t_train), (x_test, t_test) = (
        (x.astype(dtype), t.astype(dtype)) for x, t in load_mnist(one_hot_label=True, data_dir=args.data_dir))
    rng = np.random.default_rng(args.seed)  # one stream, like the book's global state: weights, then batches
    network = TwoLayerNet(x_train.shape[1], args.hidden_size, 10, args.weight_init_std, rng=rng, dtype=dtype)
    optimizer = make_optimizer(args, network.parameters())
    runs = {"graphgrad": {"network": network, "optimizer": optimizer, "step": graphgrad_step}}
    if args.compare_seed:
        seed_network = SeedTwoLayerNet.from_params(network.params, dtype=dtype)
        runs["hand-written"] = {"network": seed_network, "optimizer": make_optimizer(args), "step": seed_step}
    for run in runs.values():
        run.update(loss=[], epochs=[], train_acc=[], test_acc=[], time=0.0)
    say = (lambda *_: None) if args.quiet else tqdm.write

    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / args.batch_size, 1)
    epochs = int(np.ceil(args.iterations / iter_per_epoch))
    print_every = max(1, int(np.ceil(epochs / MAX_EPOCH_LINES)))  # in epochs; every epoch is still recorded
    if print_every > 1:
        say(f"{epochs} epochs of {iter_per_epoch:g} steps on {train_size:,} images: one line every "
            f"{print_every} epochs, and the last")
    started = time.perf_counter()
    steps = tqdm(range(args.iterations), desc="training", unit="step", disable=args.quiet or args.no_progress)
    for i in steps:
        x_batch, t_batch = sample_batch(x_train, t_train, batch_size=args.batch_size, rng=rng)
        for run in runs.values():
            tick = time.perf_counter()
            # The loss of the batch the gradient came from (the book evaluates it again after the update).
            run["loss"].append(run["step"](run["network"], run["optimizer"], x_batch, t_batch))
            run["time"] += time.perf_counter() - tick
        if i % 50 == 0:
            steps.set_postfix(loss=f"{np.mean(runs['graphgrad']['loss'][-100:]):.4f}", refresh=False)
        epoch = epoch_started(i, iter_per_epoch)  # the book's i % iter_per_epoch == 0, once per epoch always
        if epoch is not None:
            line = f"epoch {epoch:3d} (step {i:5d}):"
            for name, run in runs.items():
                run["epochs"].append(epoch)
                run["train_acc"].append(run["network"].accuracy(x_train, t_train))
                run["test_acc"].append(run["network"].accuracy(x_test, t_test))
                line += f"  {name}: train acc {run['train_acc'][-1]:.4f}, test acc {run['test_acc'][-1]:.4f}"
            if epoch % print_every == 0 or i + iter_per_epoch >= args.iterations:
                say(line)
    wall_time = time.perf_counter() - started

    print(f"{args.iterations} steps of {args.optimizer} (batch {args.batch_size}, {dtype}, seed {args.seed}) "
          f"on {train_size} training images in {wall_time:.1f} s")
    for name, run in runs.items():
        run["final_train_acc"] = run["network"].accuracy(x_train, t_train)
        run["final_test_acc"] = run["network"].accuracy(x_test, t_test)
        print(f"final {name + ':':13s} train acc {run['final_train_acc']:.4f}, test acc {run['final_test_acc']:.4f}"
              f"  ({run['time']:.1f} s in steps, {1e3 * run['time'] / args.iterations:.2f} ms/step)")
    graphgrad = runs["graphgrad"]
    result = {"train_acc": graphgrad["final_train_acc"], "test_acc": graphgrad["final_test_acc"],
              "time": graphgrad["time"], "wall_time": wall_time, **runs}
    if args.compare_seed:
        seed = runs["hand-written"]
        result["test_acc_difference"] = graphgrad["final_test_acc"] - seed["final_test_acc"]
        print(f"difference (graphgrad - hand-written): test acc {100 * result['test_acc_difference']:+.2f} points, "
              f"train acc {100 * (graphgrad['final_train_acc'] - seed['final_train_acc']):+.2f} points")

    os.makedirs(args.out, exist_ok=True)
    result["plot"] = os.path.join(args.out, "train_mnist.png")
    plot_curves(runs, result["plot"], train_size)
    print(f"curves: {result['plot']}")
    if args.save:
        network.save(args.save)
        print(f"weights: {args.save}")
    return result

if __name__ == "__main__":
    main()
