# graphgrad: `make demo` runs the demos, `make test` the tests, `make docs` builds the docs site. Each sets up .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= out

# The full MNIST set, where this workplace keeps it; elsewhere the loader's own search applies.
SHARED_MNIST := $(abspath ../shared/datasets/mnist)
ifneq ($(wildcard $(SHARED_MNIST)/train-images-idx3-ubyte.gz),)
export GRAPHGRAD_DATA ?= $(SHARED_MNIST)
endif

DOCS_STAMP := $(VENV)/.installed-docs
DOCS_OUT   ?= docs/_build/html

.PHONY: all test demo docs bench bench-quick figures clean

all: test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,demo]'
	touch $@

# Tests never download: the loader's download code is tested against a local server only.
# One BLAS thread: the tests' small products gain nothing from two, and lose 15-30x when the cores are busy.
test: $(STAMP)
	GRAPHGRAD_OFFLINE=1 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest

$(DOCS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,demo,docs]'
	touch $@

# The docs site, every page's cells executed afresh (-E): a cell error, a warning (-W, all reported with
# --keep-going) or a broken cross-reference or internal link (-n) fails the build; -T prints a failing cell's traceback. Offline, like the tests:
# the MNIST page trains on $(GRAPHGRAD_DATA) when set, else on the bundled 5,000-image subset.
docs: $(DOCS_STAMP)
	GRAPHGRAD_OFFLINE=1 OPENBLAS_NUM_THREADS=1 $(PY) -m sphinx -b html -E -n -W --keep-going -T docs $(DOCS_OUT)
	@echo "docs: open $(DOCS_OUT)/index.html"

demo: $(STAMP)
	$(PY) -m demos.apple
	$(PY) -m demos.apple_orange
	$(PY) -m demos.gradient_check
	$(PY) -m demos.train_mnist --out $(OUT)
	$(PY) -m demos.train_convnet --epochs 1 --out $(OUT)
	$(PY) -m demos.render_graphs --out $(OUT)/graphs

# micrograd is the scalar peer (the bench extra); PyTorch is measured when it is installed.
bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) -m benchmarks

bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick --threads 1 --out $(OUT)/bench

figures: $(STAMP)
	$(PY) -m demos.render_graphs --out $(OUT)/graphs --readme-figures docs
	$(PY) -m demos.train_mnist --out docs --no-progress

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis *.egg-info docs/_build docs/api/generated
