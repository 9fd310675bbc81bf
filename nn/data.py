"""Minibatches over arrays: `DataLoader` for epochs, `sample_batch` for the book's sampling with replacement.

Randomness always comes from a `numpy.random.Generator` the caller seeds, never NumPy's global state.
Loading datasets lives in `nn.datasets`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

__all__ = ["epoch_started", "DataLoader", "sample_batch"]


def _as_generator(rng: int | np.random.Generator | None, owner: str) -> np.random.Generator:
    """An int seed or None becomes a fresh Generator; a Generator is used as is (and advanced)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"{owner}: rng must be an int seed, a numpy.random.Generator or None, "
                    f"got {type(rng).__name__}")


def _check_arrays(arrays: tuple, owner: str) -> tuple[np.ndarray, ...]:
    """Arrays as ndarrays with at least one dimension and equal lengths along axis 0."""
    if not arrays:
        raise ValueError(f"{owner}: give at least one array, e.g. {owner}(x, t)")
    arrays = tuple(np.asarray(a) for a in arrays)
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"{owner}: array {i} is a scalar; samples run along axis 0")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"{owner}: arrays differ in length along axis 0: {lengths}")
    return arrays


def _check_batch_size(batch_size: int, owner: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"{owner}: batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"{owner}: batch_size must be at least 1, got {batch_size}")
    return int(batch_size)


class DataLoader:
    """Iterate over aligned arrays in minibatches, one pass over every sample per epoch.

    Each `iter()` is one epoch and yields tuples with one batch per array. With `shuffle`, each
    epoch draws a new permutation from `rng`, so every sample appears exactly once per epoch,
    epochs differ from each other, and the same seed gives the same sequence of epochs.

    Args:
        *arrays: arrays with the same length along axis 0, e.g. images and labels.
        batch_size: samples per batch; the last batch may be smaller unless `drop_last`.
        shuffle: visit samples in a new random order each epoch; otherwise in order.
        drop_last: skip the final batch when it would be smaller than `batch_size`.
        rng: an int seed or a `numpy.random.Generator` (which is then advanced); None seeds
            from the operating system.

    Raises:
        ValueError: no arrays, a scalar, lengths that differ, or batch_size < 1.
        TypeError: batch_size is not an int, or rng is not a seed or Generator.

    >>> x, t = np.arange(10).reshape(5, 2), np.array([0, 1, 0, 1, 1])
    >>> loader = DataLoader(x, t, batch_size=2, rng=0)
    >>> len(loader)
    3
    >>> [xb.shape for xb, tb in loader]
    [(2, 2), (2, 2), (1, 2)]
    >>> sorted(np.concatenate([tb for xb, tb in loader]).tolist())
    [0, 0, 1, 1, 1]
    >>> [tb.tolist() for xb, tb in DataLoader(x, t, batch_size=2, shuffle=False, drop_last=True)]
    [[0, 1], [0, 1]]
    """

    def __init__(self, *arrays, batch_size: int = 100, shuffle: bool = True, drop_last: bool = False,
                 rng: int | np.random.Generator | None = None):
        self.arrays = _check_arrays(arrays, "DataLoader")
        self.batch_size = _check_batch_size(batch_size, "DataLoader")
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = _as_generator(rng, "DataLoader")

    @property
    def num_samples(self) -> int:
        """Samples per epoch before batching (the length of each array)."""
        return len(self.arrays[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        # The permutation is drawn when the epoch starts, not when the loader is made, so
        # each epoch gets its own order.
        order = self.rng.permutation(self.num_samples) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, self.num_samples)
            # Without shuffling, slices are views: no copy of the data.
            index = slice(start, stop) if order is None else order[start:stop]
            yield tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        return (f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")


def epoch_started(step: int, steps_per_epoch: float) -> int | None:
    """The number of the epoch that ``step`` starts (0 for step 0), or None if it starts none.

    Epoch k starts at the first step at or after ``k * steps_per_epoch``. With a whole number of steps
    per epoch that is the book's ``i % iter_per_epoch == 0``. When the batch size does not divide the
    training set (468.75 steps per epoch for 60,000 images in batches of 128), the book's test fires
    only where the product is whole (every 4th epoch there); this fires once per epoch.

    >>> [step for step in range(10) if epoch_started(step, 2.5) is not None]
    [0, 3, 5, 8]
    >>> epoch_started(600, 600.0), epoch_started(601, 600.0)
    (1, None)
    """
    epoch = math.floor(step / steps_per_epoch)
    if step == 0 or epoch > math.floor((step - 1) / steps_per_epoch):
        return epoch
    return None


def sample_batch(*arrays, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Draw one minibatch with replacement, as the book's training loop does each step.

    This is ``batch_mask = np.random.choice(train_size, batch_size)`` with a caller-owned
    Generator: samples may repeat within a batch, and an "epoch" is only a count of steps.

    Args:
        *arrays: arrays with the same length along axis 0.
        batch_size: samples to draw.
        rng: the Generator to draw from, made once with ``np.random.default_rng(seed)`` and
            reused; an int is refused because it would give the same batch at every step.

    Returns:
        A tuple with one batch per array, taken at the same indices.

    Raises:
        ValueError: as for `DataLoader`, or the arrays are empty.
        TypeError: rng is not a Generator, or batch_size is not an int.

    >>> rng = np.random.default_rng(0)
    >>> x, t = np.arange(12).reshape(6, 2), np.arange(6)
    >>> xb, tb = sample_batch(x, t, batch_size=4, rng=rng)
    >>> xb.shape, bool(np.all(xb[:, 0] == 2 * tb))
    ((4, 2), True)
    """
    arrays = _check_arrays(arrays, "sample_batch")
    batch_size = _check_batch_size(batch_size, "sample_batch")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"sample_batch: rng must be a numpy.random.Generator made once and reused, "
                        f"got {type(rng).__name__}")
    if len(arrays[0]) == 0:
        raise ValueError("sample_batch: the arrays are empty; there is nothing to sample")
    mask = rng.choice(len(arrays[0]), batch_size)
    return tuple(a[mask] for a in arrays)
