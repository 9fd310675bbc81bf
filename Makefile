# graphgrad: `make demo` runs the demos, `make test` the tests. Each sets up .venv on first use.
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

.PHONY: all test demo bench bench-quick figures clean

all: test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,demo]'
	touch $@

# Tests never download: the loader's download code is tested against a local server only.
# One BLAS thread: the tests' small products gain nothing from two, and lose 15-30x when the cores are busy.
test: $(STAMP)
	GRAPHGRAD_OFFLINE=1 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest

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
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis *.egg-info
