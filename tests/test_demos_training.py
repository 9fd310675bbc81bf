"""The training and gradient-check demos run, learn, and match the seed's hand-written layers step for step."""

import numpy as np
import pytest

from benchmarks.seed_layers import SeedTwoLayerNet
from demos import gradient_check, train_mnist
from nn import TwoLayerNet
from nn.data import sample_batch
from nn.datasets import SUBSET_DIR, load_mnist
from nn.optim import SGD, Adam

SUBSET = str(SUBSET_DIR)


@pytest.fixture(scope="module")
def subset():
    (x_train, t_train), (x_test, t_test) = load_mnist(one_hot_label=True, data_dir=SUBSET)
    return x_train.astype(np.float64), t_train.astype(np.float64), x_test.astype(np.float64), t_test


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    result = train_mnist.main(["--data-dir", SUBSET, "--iterations", "600", "--compare-seed", "--out", str(out),
                               "--save", str(out / "weights.npz"), "--no-progress"])
    return result, out


def test_short_training_run_on_shipped_subset_beats_85_percent(short_run):
    result, _ = short_run
    assert result["test_acc"] > 0.85
    assert result["graphgrad"]["train_acc"][0] < 0.3 < result["graphgrad"]["train_acc"][-1]


def test_compare_seed_gives_the_hand_written_layers_same_accuracies_and_weights(short_run):
    result, _ = short_run
    ours, seed = result["graphgrad"], result["hand-written"]
    assert ours["train_acc"] == seed["train_acc"] and ours["test_acc"] == seed["test_acc"]
    assert result["test_acc_difference"] == 0.0
    for key in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(ours["network"].params[key], seed["network"].params[key], rtol=0, atol=1e-10)
    # The book's loss adds 1e-7 inside the log, so it is slightly below the exact one.
    gap = np.array(ours["loss"]) - np.array(seed["loss"])
    assert len(gap) == 600 and np.all(gap >= -1e-12) and np.all(gap < 1e-4)


def test_run_counts_epochs_like_the_book_draws_png_and_saves_loadable_weights(short_run, subset):
    result, out = short_run
    assert len(result["graphgrad"]["test_acc"]) == 12  # 5000 / 100 = 50 steps per epoch, from step 0
    assert (out / "train_mnist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = TwoLayerNet(784, 50, 10).load(out / "weights.npz")
    _, _, x_test, t_test = subset
    assert loaded.accuracy(x_test, t_test) == result["test_acc"]


def test_training_step_matches_seed_reference_step_for_step(subset):
    x_train, t_train, x_test, t_test = subset
    rng = np.random.default_rng(3)
    network = TwoLayerNet(784, 50, 10, rng=rng)
    reference = SeedTwoLayerNet.from_params(network.params)
    optimizer, reference_optimizer = SGD(network.parameters(), lr=0.1), SGD(lr=0.1)
    for _ in range(100):
        x_batch, t_batch = sample_batch(x_train, t_train, batch_size=100, rng=rng)
        loss = train_mnist.graphgrad_step(network, optimizer, x_batch, t_batch)
        book_loss = train_mnist.seed_step(reference, reference_optimizer, x_batch, t_batch)
        y_target = np.sum(reference.lastLayer.y * t_batch, axis=1)
        assert loss == pytest.approx(-np.mean(np.log(y_target)), abs=1e-10)
        # log(y + 1e-7) - log(y) lies in (0, 1e-7 / y]: the book's loss is below by at most that much.
        assert 0 <= loss - book_loss <= np.mean(1e-7 / y_target) + 1e-12
        for key in ("W1", "b1", "W2", "b2"):
            np.testing.assert_allclose(network.params[key], reference.params[key], rtol=0, atol=1e-10)
    assert network.accuracy(x_test, t_test) == reference.accuracy(x_test, t_test)


def test_float32_run_stays_float32_and_prints_a_line_per_epoch(tmp_path, capsys):
    result = train_mnist.main(["--data-dir", SUBSET, "--iterations", "100", "--dtype", "float32", "--out",
                               str(tmp_path), "--no-progress"])
    assert all(array.dtype == np.float32 for array in result["graphgrad"]["network"].params.values())
    assert result["test_acc"] > 0.5
    printed = capsys.readouterr().out
    assert "epoch   1 (step    50):  graphgrad: train acc" in printed
    assert "100 steps of sgd (batch 100, float32, seed 0) on 5000 training images" in printed
    assert f"final graphgrad:    train acc {result['train_acc']:.4f}, test acc {result['test_acc']:.4f}" in printed


def test_optimizer_flag_uses_the_books_default_learning_rate_except_for_seed_sgd(capsys, tmp_path):
    args = train_mnist.parse_args(["--optimizer", "adam"])
    assert isinstance(train_mnist.make_optimizer(args), Adam) and train_mnist.make_optimizer(args).lr == 0.001
    assert train_mnist.make_optimizer(train_mnist.parse_args([])).lr == 0.1
    assert train_mnist.make_optimizer(train_mnist.parse_args(["--optimizer", "adam", "--lr", "0.01"])).lr == 0.01
    result = train_mnist.main(["--data-dir", SUBSET, "--iterations", "100", "--optimizer", "adam",
                               "--out", str(tmp_path), "--quiet"])
    assert result["test_acc"] > 0.7
    printed = capsys.readouterr().out
    assert "epoch" not in printed and "100 steps of adam" in printed


@pytest.mark.parametrize("flag", ["--iterations", "--batch-size", "--hidden-size", "--threads"])
def test_nonpositive_sizes_are_refused(flag, capsys):
    with pytest.raises(SystemExit):
        train_mnist.parse_args([flag, "0"])
    assert f"{flag} must be at least 1, got 0" in capsys.readouterr().err


def test_nonpositive_learning_rate_is_refused(capsys):
    with pytest.raises(SystemExit):
        train_mnist.parse_args(["--lr", "-0.1"])
    assert "--lr must be positive, got -0.1" in capsys.readouterr().err


def test_training_runs_with_the_blas_threads_asked_for(monkeypatch, tmp_path):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []
    monkeypatch.setattr(train_mnist, "train", lambda args: seen.append(
        {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}))
    assert train_mnist.parse_args([]).threads == 1  # the measured default (README, "Threads")
    with threadpoolctl.threadpool_limits(limits=2):
        train_mnist.main(["--out", str(tmp_path)])
        train_mnist.main(["--out", str(tmp_path), "--threads", "2"])
        after = {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}
    assert seen == [{1}, {2}] and after == {2}


def test_defaults_are_the_seeds_recipe():
    args = train_mnist.parse_args([])
    assert (args.iterations, args.batch_size, args.optimizer, args.hidden_size, args.weight_init_std,
            args.dtype) == (10000, 100, "sgd", 50, 0.01, "float64")


def test_gradient_check_demo_passes_its_checks(capsys):
    result = gradient_check.main(["--data-dir", SUBSET, "--hidden-size", "10"])
    printed = capsys.readouterr().out
    assert result["passed"] and "gradient check passed" in printed
    for key in ("W1", "b1", "W2", "b2"):
        assert f"  {key}:" in printed
        assert result["relu"]["mean_abs_diff"][key] < 1e-6
    assert result["sigmoid"]["max_abs_diff"] < 1e-8
    assert result["relu"]["max_seed_diff"] < 1e-12 and result["sigmoid"]["max_seed_diff"] < 1e-12


def test_gradient_check_demo_reports_a_failed_check(monkeypatch, capsys):
    monkeypatch.setattr(gradient_check, "SIGMOID_TOLERANCE", 0.0)
    result = gradient_check.main(["--data-dir", SUBSET, "--hidden-size", "2"])
    assert not result["passed"]
    assert "FAILED" in capsys.readouterr().out


def test_epoch_lines_count_real_epochs_when_the_batch_size_does_not_divide_the_set(tmp_path, capsys):
    # Found this session (adversarial hunt): with 5,000 images in batches of 128 (39.0625 steps an epoch) the
    # book's i % iter_per_epoch == 0 fired only at step 625 (epoch 16), and it was labelled "epoch 1".
    result = train_mnist.main(["--data-dir", SUBSET, "--iterations", "120", "--batch-size", "128", "--out",
                               str(tmp_path), "--no-progress"])
    printed = capsys.readouterr().out
    for epoch, step in ((0, 0), (1, 40), (2, 79), (3, 118)):
        assert f"epoch {epoch:3d} (step {step:5d}):" in printed
    assert result["graphgrad"]["epochs"] == [0, 1, 2, 3]
