"""The seed's code blocks (tests/seed_scripts) run against graphgrad and print the seed's numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "seed_scripts"
SUBSET = ROOT / "nn" / "_data"


def run_seed_script(name: str, replace: tuple[str, str] | None = None) -> list[str]:
    """Run a seed script in a fresh interpreter on the shipped MNIST subset; return its output lines.

    ``replace`` swaps one line of the script for a faster setting (fewer iterations, a smaller hidden
    layer); the test checks that the original line is there, so the script itself stays the seed's.
    """
    source = (SCRIPTS / name).read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in source, f"{name} no longer contains {replace[0]!r}"
        source = source.replace(replace[0], replace[1])
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHGRAD_DATA=str(SUBSET), GRAPHGRAD_OFFLINE="1",
               # One BLAS thread: on a busy 2-core machine OpenBLAS threads make a 100x784 matmul 30x slower.
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", source], cwd=SCRIPTS, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[:-1]


def numbers(line: str) -> list[float]:
    return [float(word) for word in line.split()]


def test_buy_apple_prints_220_then_2_2_110_200():
    price, gradients = run_seed_script("buy_apple.py")
    assert numbers(price) == pytest.approx([220])
    assert numbers(gradients) == pytest.approx([2.2, 110, 200])


def test_buy_apple_orange_prints_715_then_110_2_2_3_3_165_650():
    price, gradients = run_seed_script("buy_apple_orange.py")
    assert numbers(price) == pytest.approx([715])
    assert numbers(gradients) == pytest.approx([110, 2.2, 3.3, 165, 650])


def test_gradient_check_prints_a_small_difference_per_parameter():
    # 784 x 5 instead of 784 x 50 weights: the numerical gradient costs two losses per weight.
    lines = run_seed_script("gradient_check.py", ("hidden_size=50", "hidden_size=5"))
    assert [line.split(":")[0] for line in lines] == ["W1", "b1", "W2", "b2"]
    for line in lines:
        assert float(line.split(":")[1]) < 1e-6, line


def test_training_loop_learns_on_the_mnist_subset():
    lines = run_seed_script("train_neuralnet.py", ("iters_num = 10000", "iters_num = 300"))
    accuracies = [numbers(line) for line in lines]
    assert len(accuracies) == 6  # 5000 training images: one epoch every 50 iterations
    (first_train, first_test), (last_train, last_test) = accuracies[0], accuracies[-1]
    assert first_test < 0.3 and last_train > 0.7 and last_test > 0.7, accuracies
