"""demos/train_convnet.py: a tiny run writes its curves, filters and weights, and its flags do what they say."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from demos import train_convnet
from nn import SimpleConvNet
from nn.datasets import SUBSET_DIR, load_mnist

REPO = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"
TINY = ["--data-dir", str(SUBSET_DIR), "--train-size", "300", "--epochs", "1", "--batch-size", "50",
        "--eval-size", "100", "--filter-num", "4", "--hidden-size", "10", "--no-progress"]


def tiny_run(tmp_path, *extra):
    return train_convnet.main([*TINY, "--out", str(tmp_path), *extra])


def test_tiny_run_writes_curves_filters_and_loadable_weights(tmp_path, capsys):
    result = tiny_run(tmp_path, "--save", str(tmp_path / "convnet.npz"), "--seed", "3")
    assert result["iterations"] == 6  # 300 images / 50 per step = one epoch
    assert len(result["run"]["loss"]) == 6 and len(result["run"]["test_acc"]) == 1
    for name in ("train_convnet.png", "convnet_filters.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    network = result["network"]
    assert network.params["W1"].shape == (4, 1, 5, 5) and network.params["W2"].shape == (4 * 12 * 12, 10)
    loaded = SimpleConvNet(conv_param={"filter_num": 4}, hidden_size=10).load(tmp_path / "convnet.npz")
    _, (x_test, t_test) = load_mnist(flatten=False, data_dir=SUBSET_DIR)
    assert loaded.accuracy(x_test, t_test) == result["test_acc"]
    printed = capsys.readouterr().out
    assert "6 steps of adam (batch 50, float64, seed 3) on 300 training images" in printed
    assert f"final test acc {result['test_acc']:.4f} on 1000 test images" in printed


def test_same_seed_repeats_the_run_and_another_seed_does_not(tmp_path):
    first, again = tiny_run(tmp_path / "a", "--seed", "5"), tiny_run(tmp_path / "b", "--seed", "5")
    other = tiny_run(tmp_path / "c", "--seed", "6")
    assert first["run"]["loss"] == again["run"]["loss"]
    assert first["run"]["loss"] != other["run"]["loss"]


def test_optimizer_lr_dtype_and_epochs_flags_are_used(tmp_path):
    result = tiny_run(tmp_path, "--optimizer", "sgd", "--lr", "0.05", "--dtype", "float32", "--epochs", "2")
    network = result["network"]
    assert result["iterations"] == 12 and len(result["run"]["test_acc"]) == 2
    assert all(value.dtype == np.float32 for value in network.params.values())
    optimizer = train_convnet.make_optimizer(train_convnet.parse_args(["--optimizer", "sgd", "--lr", "0.05"]),
                                             network.parameters())
    assert type(optimizer).__name__ == "SGD" and optimizer.lr == 0.05
    assert train_convnet.make_optimizer(train_convnet.parse_args([]), network.parameters()).lr == 0.001


def test_defaults_are_the_books_recipe():
    args = train_convnet.parse_args([])
    assert (args.epochs, args.batch_size, args.optimizer, args.lr) == (20, 100, "adam", None)
    assert (args.filter_num, args.filter_size, args.hidden_size, args.weight_init_std) == (30, 5, 100, 0.01)
    assert (args.eval_size, args.dtype, args.train_size) == (1000, "float64", None)


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "--epochs must be positive"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--train-size", "0"], "--train-size must be at least 1"),
    (["--lr", "-1"], "--lr must be positive"),
    (["--threads", "0"], "--threads must be at least 1"),
])
def test_bad_flags_are_refused_with_their_name(flags, message, capsys):
    with pytest.raises(SystemExit):
        train_convnet.parse_args(flags)
    assert message in capsys.readouterr().err


def test_training_runs_with_the_blas_threads_asked_for(monkeypatch, tmp_path):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    monkeypatch.setattr(train_convnet, "train", lambda args: seen.append(
        {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}))
    assert train_convnet.parse_args([]).threads == 1  # the measured default (README, "Threads")
    with threadpoolctl.threadpool_limits(limits=2):
        train_convnet.main(["--out", str(tmp_path)])
        train_convnet.main(["--out", str(tmp_path), "--threads", "2"])
        after = {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}
    assert seen == [{1}, {2}] and after == {2}


def test_runs_as_a_module_from_the_command_line(tmp_path):
    env = dict(os.environ, GRAPHGRAD_OFFLINE="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "demos.train_convnet", *TINY, "--train-size", "100",
                           "--quiet", "--out", str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "final test acc" in done.stdout and "epoch" not in done.stdout  # --quiet: the summary only
    assert (tmp_path / "convnet_filters.png").exists() and (tmp_path / "train_convnet.png").exists()


def test_epoch_lines_count_real_epochs_when_the_batch_size_does_not_divide_the_set(tmp_path, capsys):
    # Found this session (adversarial hunt): 250 images in batches of 100 printed 3 lines for 6 epochs,
    # labelled 1, 2, 3 while they were the starts of epochs 1, 3 and 5.
    result = train_convnet.main(TINY + ["--train-size", "250", "--batch-size", "100", "--epochs", "6",
                                        "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    for epoch, step in ((1, 0), (2, 3), (3, 5), (4, 8), (5, 10), (6, 13)):
        assert f"epoch {epoch:3d} (step {step:5d}):" in printed
    assert result["run"]["epochs"] == [1, 2, 3, 4, 5, 6]
