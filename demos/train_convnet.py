"""Train the book's chapter 7 SimpleConvNet on MNIST with graphgrad, and draw its first layer's filters.

The book's recipe (``ch07/train_convnet.py``) is the default: conv 30 filters of 5x5 - relu - 2x2 max pool -
affine 100 - relu - affine 10 - softmax, weights of std 0.01, Adam at learning rate 0.001, 20 epochs of
steps on batches of 100 drawn with replacement (an epoch is train_size / batch_size steps, as in the book's
Trainer). Once per epoch it prints train and test accuracy on the first ``--eval-size`` images of each set
(the book's ``evaluate_sample_num_per_epoch=1000``), then the final test accuracy on the whole test set.
It draws the loss and accuracy curves to ``<out>/train_convnet.png`` and the 30 filters of the first layer,
before and after training, to ``<out>/convnet_filters.png`` (the book's ``ch07/visualize_filter.py``).
On the full MNIST the book reaches about 98.9% test accuracy; each epoch takes a minute or more on one core.

    GRAPHGRAD_DATA=/path/to/mnist python -m demos.train_convnet [--epochs 20] [--save convnet.npz]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from tqdm import tqdm

from nn import SimpleConvNet
from nn.data import epoch_started, sample_batch
from nn.datasets import load_mnist
from nn.optim import OPTIMIZERS
from nn.utils import TRAINING_THREADS, blas_threads

BOOK_LR = 0.001  # the book's Adam learning rate for this network


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=20, help="epochs of train_size / batch_size steps (20)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per step (100)")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam", help="nn.optim class (adam)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (the book's 0.001 for adam, the book's default for the others)")
    parser.add_argument("--filter-num", type=int, default=30, help="filters of the convolution (30)")
    parser.add_argument("--filter-size", type=int, default=5, help="side of a filter (5)")
    parser.add_argument("--hidden-size", type=int, default=100, help="hidden units (100)")
    parser.add_argument("--weight-init-std", type=float, default=0.01, help="std of the initial weights (0.01)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="dtype of the weights (float64, as the book)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N training images only (the book's comment: 5000 for a quick run)")
    parser.add_argument("--eval-size", type=int, default=1000,
                        help="images of each set for the per-epoch accuracies (1000, the book's); the final test "
                             "accuracy uses the whole test set")
    parser.add_argument("--seed", type=int, default=0, help="seeds the initial weights, then the batches (0)")
    parser.add_argument("--data-dir", default=None,
                        help="folder of the MNIST IDX files (default: $GRAPHGRAD_DATA, then the user cache)")
    parser.add_argument("--out", default="out", help="folder for train_convnet.png and convnet_filters.png (out)")
    parser.add_argument("--save", metavar="PATH", help="write the trained weights to this .npz file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--threads", type=int, default=TRAINING_THREADS, metavar="N",
                        help=f"BLAS threads while training ({TRAINING_THREADS}: on busy cores 1.1-2.4x faster than two, "
                             "on idle ones about 30%% slower; README, Threads)")
    args = parser.parse_args(argv)
    for name in ("batch_size", "filter_num", "filter_size", "hidden_size", "eval_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.train_size is not None and args.train_size < 1:
        parser.error(f"--train-size must be at least 1, got {args.train_size}")
    if not args.epochs > 0:
        parser.error(f"--epochs must be positive, got {args.epochs}")
    if args.lr is not None and not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    return args


def make_optimizer(args, params):
    """The chosen nn.optim optimizer over the network's parameters, at ``--lr`` or the book's rate."""
    lr = args.lr if args.lr is not None else (BOOK_LR if args.optimizer == "adam" else None)
    return OPTIMIZERS[args.optimizer](params, **({} if lr is None else {"lr": lr}))


def train_step(network, optimizer, x_batch, t_batch) -> float:
    """One training step on the graph: forward, backward, update. Returns the batch's loss (before the update)."""
    loss = network.loss_tensor(x_batch, t_batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(run: dict, path: str) -> None:
    """The batch loss per step and the per-epoch accuracies, side by side, as a PNG."""
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    window = min(100, len(run["loss"]))  # the batch loss is noisy: draw its moving average too
    smooth = np.convolve(run["loss"], np.ones(window) / window, mode="valid")
    loss_ax.plot(run["loss"], lw=0.3, alpha=0.3, color="C0")
    loss_ax.plot(np.arange(window - 1, len(run["loss"])), smooth, label=f"mean of {window}")
    acc_ax.plot(run["epochs"], run["train_acc"], "o-", ms=4, label="train")
    acc_ax.plot(run["epochs"], run["test_acc"], "s-", ms=4, label="test")
    loss_ax.set(xlabel="step", ylabel="batch loss", yscale="log", title="training loss")
    acc_ax.set(xlabel="epoch", ylabel=f"accuracy (first {run['eval_size']} images)", ylim=(0, 1),
               title=f"accuracy (final test {run['final_test_acc']:.4f} on all)")
    loss_ax.legend()
    acc_ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_filters(before: np.ndarray, after: np.ndarray, path: str, columns: int = 8) -> None:
    """The first input channel of each filter (FN, C, FH, FW) as grey images, before and after training.

    The book's ``filter_show``: ``columns`` filters a row, ``gray_r`` (dark = large), each filter scaled
    to its own range by ``imshow``.
    """
    plt = _pyplot()
    count = before.shape[0]
    rows = int(np.ceil(count / columns))
    fig = plt.figure(figsize=(2 * columns * 0.6 + 0.3, rows * 0.6 + 0.45))
    for subfig, filters, title in zip(fig.subfigures(1, 2, wspace=0.05), (before, after),
                                      ("initial filters (random)", "after training")):
        subfig.suptitle(title, fontsize=10)
        grid = {"hspace": 0.08, "wspace": 0.08, "left": 0.02, "right": 0.98, "bottom": 0.02, "top": 0.86}
        axes = subfig.subplots(rows, columns, squeeze=False, gridspec_kw=grid)
        for index, ax in enumerate(axes.ravel()):
            ax.set_xticks([])
            ax.set_yticks([])
            if index < count:
                ax.imshow(filters[index, 0], cmap="gray_r", interpolation="nearest")
            else:
                ax.axis("off")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    with blas_threads(args.threads):  # see README, "Threads"
        return train(args)


def train(args) -> dict:
    """Load MNIST, train as ``args`` say, print the summary, draw the curves and filters; return the results."""
    dtype = np.dtype(args.dtype)
    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False, data_dir=args.data_dir)
    if args.train_size is not None:
        x_train, t_train = x_train[:args.train_size], t_train[:args.train_size]
    # The images stay float32, as the book's: a float64 network promotes them inside the products.
    rng = np.random.default_rng(args.seed)  # one stream, like the book's global state: weights, then batches
    network = SimpleConvNet(input_dim=x_train.shape[1:],
                            conv_param={"filter_num": args.filter_num, "filter_size": args.filter_size,
                                        "pad": 0, "stride": 1},
                            hidden_size=args.hidden_size, output_size=10, weight_init_std=args.weight_init_std,
                            rng=rng, dtype=dtype)
    initial_filters = network.params["W1"].copy()
    optimizer = make_optimizer(args, network.parameters())
    say = (lambda *_: None) if args.quiet else tqdm.write

    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / args.batch_size, 1)  # the book's Trainer
    iterations = max(int(args.epochs * iter_per_epoch), 1)
    eval_train, eval_test = slice(0, args.eval_size), slice(0, args.eval_size)
    eval_sizes = f"first {min(args.eval_size, train_size)} train, {min(args.eval_size, len(t_test))} test images"
    run = {"loss": [], "epochs": [], "train_acc": [], "test_acc": [], "eval_size": args.eval_size}
    step_time = 0.0
    started = time.perf_counter()
    steps = tqdm(range(iterations), desc="training", unit="step", disable=args.quiet or args.no_progress)
    for i in steps:
        x_batch, t_batch = sample_batch(x_train, t_train, batch_size=args.batch_size, rng=rng)
        tick = time.perf_counter()
        run["loss"].append(train_step(network, optimizer, x_batch, t_batch))
        step_time += time.perf_counter() - tick
        if i % 50 == 0:
            steps.set_postfix(loss=f"{np.mean(run['loss'][-100:]):.4f}", refresh=False)
        epoch = epoch_started(i, iter_per_epoch)  # the book's i % iter_per_epoch == 0, once per epoch always
        if epoch is not None:
            run["epochs"].append(epoch + 1)  # counted from 1, as the book's Trainer counts
            run["train_acc"].append(network.accuracy(x_train[eval_train], t_train[eval_train]))
            run["test_acc"].append(network.accuracy(x_test[eval_test], t_test[eval_test]))
            say(f"epoch {epoch + 1:3d} (step {i:5d}): train acc {run['train_acc'][-1]:.4f}, "
                f"test acc {run['test_acc'][-1]:.4f}  ({eval_sizes}; {time.perf_counter() - started:.0f} s)")
    wall_time = time.perf_counter() - started
    run["final_test_acc"] = network.accuracy(x_test, t_test)

    print(f"{iterations} steps of {args.optimizer} (batch {args.batch_size}, {dtype}, seed {args.seed}) "
          f"on {train_size} training images in {wall_time:.1f} s ({1e3 * step_time / iterations:.1f} ms/step)")
    print(f"final test acc {run['final_test_acc']:.4f} on {len(t_test)} test images")
    os.makedirs(args.out, exist_ok=True)
    result = {"test_acc": run["final_test_acc"], "iterations": iterations, "time": step_time,
              "wall_time": wall_time, "network": network, "run": run,
              "curves": os.path.join(args.out, "train_convnet.png"),
              "filters": os.path.join(args.out, "convnet_filters.png")}
    plot_curves(run, result["curves"])
    plot_filters(initial_filters, network.params["W1"], result["filters"])
    print(f"curves: {result['curves']}\nfilters: {result['filters']}")
    if args.save:
        network.save(args.save)
        print(f"weights: {args.save}")
    return result


if __name__ == "__main__":
    main()
