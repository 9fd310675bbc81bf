"""Tests for nn.data: DataLoader epochs and sample_batch, seeded and never using global random state."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn.data import DataLoader, sample_batch


def epoch_ids(loader):
    """The sample ids of one epoch, batch by batch (the loader's last array holds the ids)."""
    return [batch[-1].tolist() for batch in loader]


@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_shuffled_epoch_covers_every_sample_exactly_once(n, batch_size, seed):
    loader = DataLoader(np.arange(n), batch_size=batch_size, rng=seed)
    batches = epoch_ids(loader)
    assert len(batches) == len(loader) == -(-n // batch_size)
    assert sorted(sum(batches, [])) == list(range(n))
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size


@given(n=st.integers(0, 60), batch_size=st.integers(1, 70))
def test_drop_last_yields_only_full_batches_and_len_counts_them(n, batch_size):
    loader = DataLoader(np.arange(n), batch_size=batch_size, drop_last=True, rng=0)
    batches = epoch_ids(loader)
    assert len(batches) == len(loader) == n // batch_size
    assert all(len(b) == batch_size for b in batches)
    assert len(set(sum(batches, []))) == (n // batch_size) * batch_size


def test_batches_keep_arrays_aligned_sample_by_sample():
    x = np.arange(30).reshape(10, 3)
    t = np.arange(10) * 100
    for xb, tb in DataLoader(x, t, batch_size=4, rng=1):
        np.testing.assert_array_equal(xb[:, 0] // 3 * 100, tb)


def test_same_seed_gives_the_same_epochs():
    a = DataLoader(np.arange(20), batch_size=6, rng=42)
    b = DataLoader(np.arange(20), batch_size=6, rng=42)
    assert [epoch_ids(a) for _ in range(3)] == [epoch_ids(b) for _ in range(3)]


def test_a_generator_is_used_and_advanced_not_copied():
    rng = np.random.default_rng(7)
    loader = DataLoader(np.arange(20), batch_size=20, rng=rng)
    first = epoch_ids(loader)[0]
    np.testing.assert_array_equal(first, np.random.default_rng(7).permutation(20))
    assert loader.rng is rng


def test_successive_epochs_differ():
    loader = DataLoader(np.arange(100), batch_size=10, rng=0)
    epochs = [sum(epoch_ids(loader), []) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2] and sorted(epochs[0]) == sorted(epochs[2])


def test_global_numpy_random_state_is_neither_used_nor_touched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = epoch_ids(DataLoader(np.arange(50), batch_size=7, rng=5))
    np.random.seed(999)  # reseeding globally must not change a seeded loader
    b = epoch_ids(DataLoader(np.arange(50), batch_size=7, rng=5))
    assert a == b
    np.random.seed(123)
    epoch_ids(DataLoader(np.arange(50), batch_size=7, rng=None))
    sample_batch(np.arange(50), batch_size=3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_without_shuffle_batches_come_in_order_as_views():
    x = np.arange(10)
    batches = [xb for (xb,) in DataLoader(x, batch_size=4, shuffle=False)]
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(np.shares_memory(b, x) for b in batches)


def test_mismatched_lengths_are_rejected_listing_them():
    with pytest.raises(ValueError, match=r"DataLoader: arrays differ in length along axis 0: \[5, 4\]"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batch_size_below_one_is_rejected(batch_size):
    with pytest.raises(ValueError, match=rf"DataLoader: batch_size must be at least 1, got {batch_size}"):
        DataLoader(np.zeros(5), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.0, True, "8"])
def test_non_integer_batch_size_is_a_type_error(batch_size):
    with pytest.raises(TypeError, match=r"DataLoader: batch_size must be an int"):
        DataLoader(np.zeros(5), batch_size=batch_size)


def test_no_arrays_or_a_scalar_array_is_rejected():
    with pytest.raises(ValueError, match=r"DataLoader: give at least one array"):
        DataLoader()
    with pytest.raises(ValueError, match=r"DataLoader: array 1 is a scalar"):
        DataLoader(np.zeros(3), np.float64(1.0))


def test_a_bad_rng_is_a_type_error():
    with pytest.raises(TypeError, match=r"DataLoader: rng must be an int seed, a numpy.random.Generator or None, got RandomState"):
        DataLoader(np.zeros(3), rng=np.random.RandomState(0))


def test_sample_batch_draws_aligned_samples_with_replacement_like_the_book():
    x = np.arange(6) * 10
    t = np.arange(6)
    rng = np.random.default_rng(3)
    draws = [sample_batch(x, t, batch_size=6, rng=rng) for _ in range(20)]
    assert all(np.array_equal(xb, tb * 10) and len(tb) == 6 for xb, tb in draws)
    # With replacement, some batch of 6 out of 6 repeats a sample (all-distinct has odds 6!/6**6 each).
    assert any(len(set(tb.tolist())) < 6 for _, tb in draws)
    # The same indices as the book's np.random.choice(train_size, batch_size), with our own Generator.
    np.testing.assert_array_equal(sample_batch(t, batch_size=4, rng=np.random.default_rng(9))[0],
                                  np.random.default_rng(9).choice(6, 4))


def test_sample_batch_refuses_an_int_seed_that_would_repeat_every_batch():
    with pytest.raises(TypeError, match=r"sample_batch: rng must be a numpy.random.Generator made once and reused, got int"):
        sample_batch(np.arange(5), batch_size=2, rng=0)


def test_sample_batch_from_empty_arrays_is_rejected():
    with pytest.raises(ValueError, match=r"sample_batch: the arrays are empty"):
        sample_batch(np.zeros((0, 3)), batch_size=2, rng=np.random.default_rng(0))
