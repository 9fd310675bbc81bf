"""What the demos tell a user: --help speaks of "the book" (``--seed`` is the random seed), and a run on the
bundled subset says so and prints a screenful of epoch lines, not 200."""

import importlib
import pkgutil
import re

import matplotlib.figure
import pytest

import demos
from demos import train_mnist
from nn.datasets import SUBSET_DIR

# Every demo module, so a new one is checked too (demos.train_convnet came this way).
DEMOS = [importlib.import_module(f"demos.{info.name}") for info in pkgutil.iter_modules(demos.__path__)]
# "the seed" meant the notes this project grew from, which a user has never seen; a random seed stays.
THE_SEED = re.compile(r"\bthe seed(?:'s)?\b|\bseed's\b", re.IGNORECASE)


def test_every_demo_is_checked():
    assert {"apple", "apple_orange", "gradient_check", "render_graphs", "train_mnist", "train_convnet"} <= {
        demo.__name__.split(".")[-1] for demo in DEMOS}


@pytest.mark.parametrize("demo", DEMOS, ids=lambda module: module.__name__)
def test_help_says_the_book_and_uses_seed_only_for_the_random_seed(demo, capsys):
    with pytest.raises(SystemExit) as exit_info:
        # The training demos parse before they load MNIST; the others answer --help from main.
        (demo.parse_args if hasattr(demo, "parse_args") else demo.main)(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "the book" in text.lower() or "book's" in text.lower()
    assert not THE_SEED.search(text), text
    assert not THE_SEED.search(demo.__doc__), demo.__doc__


def test_compare_book_is_the_option_and_compare_seed_still_works():
    assert train_mnist.parse_args(["--compare-book"]).compare_seed
    assert train_mnist.parse_args(["--compare-seed"]).compare_seed
    assert not train_mnist.parse_args([]).compare_seed


def test_subset_run_condenses_epoch_lines_and_its_plot_names_the_subset(tmp_path, capsys, monkeypatch):
    titles = []
    real_savefig = matplotlib.figure.Figure.savefig

    def savefig(figure, *args, **kwargs):
        titles.append(figure._suptitle.get_text() if figure._suptitle is not None else "")
        return real_savefig(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    # 150 steps of 1,000 images on the 5,000-image subset: 30 epochs of 5 steps.
    result = train_mnist.main(["--data-dir", str(SUBSET_DIR), "--iterations", "150", "--batch-size", "1000",
                               "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    epoch_lines = re.findall(r"^epoch +(\d+) ", out, re.MULTILINE)
    assert len(result["graphgrad"]["test_acc"]) == 30  # every epoch is still measured and plotted
    assert "30 epochs of 5 steps on 5,000 images: one line every 2 epochs, and the last" in out
    assert [int(e) for e in epoch_lines] == list(range(0, 30, 2)) + [29]
    assert titles == ["MNIST, 5,000-image subset (not the full 60,000)"]


def test_full_size_plot_has_no_subset_title(tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda figure, *a, **k: titles.append(figure._suptitle))
    run = {"loss": [2.3, 1.0, 0.5], "epochs": [0, 1], "train_acc": [0.1, 0.9], "test_acc": [0.1, 0.9],
           "final_test_acc": 0.9}
    train_mnist.plot_curves({"graphgrad": run}, str(tmp_path / "curves.png"), train_size=60000)
    assert titles == [None]
