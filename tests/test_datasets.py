"""Tests for nn.datasets: IDX validation, where files are looked for, verified downloads, the subset fallback."""

import gzip
import hashlib
import struct

import numpy as np
import pytest
from _mnist_fixtures import (
    MirrorServer,
    digest_of,
    find_full_set,
    images_idx,
    labels_idx,
    offline,  # noqa: F401  (a fixture, used through pytestmark)
    write,
    write_mnist,
)

from nn.datasets import (
    MNIST_DIGESTS,
    RAW_DIGESTS,
    SUBSET_DIR,
    MnistDownloadError,
    default_data_dir,
    download_mnist,
    load_mnist,
    read_idx_images,
    read_idx_labels,
)

FULL_SET = find_full_set()
needs_full_set = pytest.mark.skipif(
    FULL_SET is None,
    reason="full MNIST not found: set GRAPHGRAD_DATA or provide ../shared/datasets/mnist next to the repo",
)


# Every test: connections to 127.0.0.1 only, and no $GRAPHGRAD_OFFLINE from the caller.
pytestmark = pytest.mark.usefixtures("offline")


def tiny_gz_files(n_train=6, n_test=4, seed=0):
    """The four MNIST file names mapped to small gzip IDX contents, plus the arrays inside."""
    rng = np.random.default_rng(seed)
    files, arrays = {}, {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        t = rng.integers(0, 10, size=n, dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(images_idx(x), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(labels_idx(t), mtime=0)
        arrays[prefix] = (x, t)
    return files, arrays


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------------------------------------
# Reading and validating


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_raw_and_gzip_files_load_the_exact_pixels_and_labels(tmp_path, gz):
    (x, t), (x_test, t_test) = write_mnist(tmp_path, gz=gz)
    (xl, tl), (xl_test, tl_test) = load_mnist(normalize=False, flatten=False, data_dir=tmp_path,
                                              download=False, allow_subset=False)
    np.testing.assert_array_equal(xl[:, 0], x)
    np.testing.assert_array_equal(tl, t)
    np.testing.assert_array_equal(xl_test[:, 0], x_test)
    np.testing.assert_array_equal(tl_test, t_test)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot_label", [True, False])
def test_options_give_the_documented_shapes_and_dtypes(tmp_path, normalize, flatten, one_hot_label):
    write_mnist(tmp_path, n_train=6, n_test=4)
    (x, t), (x_test, t_test) = load_mnist(normalize, flatten, one_hot_label, data_dir=tmp_path,
                                          download=False, allow_subset=False)
    image_shape = (784,) if flatten else (1, 28, 28)
    assert x.shape == (6, *image_shape) and x_test.shape == (4, *image_shape)
    assert x.dtype == x_test.dtype == (np.float32 if normalize else np.uint8)
    assert t.shape == ((6, 10) if one_hot_label else (6,))
    assert t_test.shape == ((4, 10) if one_hot_label else (4,))
    assert t.dtype == t_test.dtype == (np.float64 if one_hot_label else np.uint8)  # the book's one-hot dtype
    assert x.flags.writeable and t.flags.writeable


def test_normalized_pixels_are_the_raw_values_over_255_in_unit_interval(tmp_path):
    (x_raw, _), _ = write_mnist(tmp_path)
    (x, _), _ = load_mnist(data_dir=tmp_path, download=False)
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x, x_raw.reshape(6, 784) / np.float32(255), rtol=0, atol=1e-7)


def test_one_hot_rows_have_a_single_one_at_the_label(tmp_path):
    (_, t_raw), _ = write_mnist(tmp_path)
    (_, t), _ = load_mnist(one_hot_label=True, data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(t.sum(axis=1), np.ones(6))
    np.testing.assert_array_equal(t.argmax(axis=1), t_raw)


def test_truncated_image_file_is_rejected_naming_the_file_and_lengths(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: expected 4720 bytes for 6 images "
                                         r"of 28x28 .*got 1000"):
        load_mnist(data_dir=tmp_path, download=False)


def test_truncated_gzip_stream_is_rejected_naming_the_file(tmp_path, capsys):
    write_mnist(tmp_path, gz=True)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: gzip data is truncated or corrupt"):
        load_mnist(data_dir=tmp_path, download=False, allow_subset=True)
    # A corrupt file is an error, never a reason to fall back to the subset.
    assert "SUBSET" not in capsys.readouterr().err


def test_wrong_magic_number_is_rejected_naming_file_and_both_numbers(tmp_path):
    write_mnist(tmp_path, gz=False)
    # A label file where the image file should be.
    (tmp_path / "train-images-idx3-ubyte").write_bytes(labels_idx(np.zeros(6, np.uint8)))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: magic number 2049, expected 2051 "
                                         r"for an IDX image file \(2049 marks a label file\)"):
        load_mnist(data_dir=tmp_path, download=False)


def test_image_and_label_counts_that_disagree_are_rejected_naming_both_files(tmp_path):
    write_mnist(tmp_path, gz=False)
    write(tmp_path / "t10k-labels-idx1-ubyte", labels_idx(np.zeros(3, np.uint8)), gz=False)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte holds 4 images but .*"
                                         r"t10k-labels-idx1-ubyte holds 3 labels"):
        load_mnist(data_dir=tmp_path, download=False)


def test_file_shorter_than_its_header_is_rejected(tmp_path):
    path = write(tmp_path / "labels", b"\x00\x00\x08", gz=False)
    with pytest.raises(ValueError, match=r"labels: 3 bytes is too short for an IDX label header \(8 bytes\)"):
        read_idx_labels(path)


def test_trailing_bytes_after_the_declared_items_are_rejected(tmp_path):
    path = write(tmp_path / "labels", labels_idx(np.arange(5, dtype=np.uint8)) + b"\x00", gz=False)
    with pytest.raises(ValueError, match=r"labels: expected 13 bytes for 5 labels .*got 14"):
        read_idx_labels(path)


def test_absurd_dimensions_in_a_corrupt_header_are_reported_not_overflowed(tmp_path):
    path = write(tmp_path / "images", struct.pack(">IIII", 2051, 2**32 - 1, 2**32 - 1, 2**32 - 1), gz=False)
    with pytest.raises(ValueError, match=r"images: expected 79228162458924105385300197391 bytes .*got 16"):
        read_idx_images(path)


def test_images_that_are_not_28x28_are_rejected(tmp_path):
    write_mnist(tmp_path, gz=False)
    write(tmp_path / "train-images-idx3-ubyte", images_idx(np.zeros((6, 20, 20), np.uint8)), gz=False)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: expected images of 28x28, got 20x20"):
        load_mnist(data_dir=tmp_path, download=False)


def test_labels_outside_0_to_9_are_rejected(tmp_path):
    write_mnist(tmp_path, gz=False)
    write(tmp_path / "train-labels-idx1-ubyte", labels_idx(np.array([1, 2, 12, 3, 4, 5])), gz=False)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: labels must be digits 0-9, found 12"):
        load_mnist(data_dir=tmp_path, download=False)


def test_gzip_is_recognised_by_content_not_by_name(tmp_path):
    labels = np.array([3, 1, 4], dtype=np.uint8)
    path = tmp_path / "labels-without-suffix"
    path.write_bytes(gzip.compress(labels_idx(labels)))
    np.testing.assert_array_equal(read_idx_labels(path), labels)
    assert read_idx_images(write(tmp_path / "imgs", images_idx(np.ones((2, 3, 4), np.uint8)), gz=True)).shape \
        == (2, 3, 4)


# ---------------------------------------------------------------------------------------------
# Where the files are looked for


def test_data_dir_takes_precedence_over_graphgrad_data(tmp_path, monkeypatch):
    (x_arg, _), _ = write_mnist(tmp_path / "arg", seed=1)
    write_mnist(tmp_path / "env", seed=2)
    monkeypatch.setenv("GRAPHGRAD_DATA", str(tmp_path / "env"))
    (x, _), _ = load_mnist(normalize=False, flatten=False, data_dir=tmp_path / "arg", download=False)
    np.testing.assert_array_equal(x[:, 0], x_arg)


def test_graphgrad_data_is_used_when_no_data_dir_is_given(tmp_path, monkeypatch):
    (x_env, _), _ = write_mnist(tmp_path / "env", seed=2)
    monkeypatch.setenv("GRAPHGRAD_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (x, _), _ = load_mnist(normalize=False, flatten=False, download=False, allow_subset=False)
    np.testing.assert_array_equal(x[:, 0], x_env)


def test_xdg_cache_is_used_when_graphgrad_data_is_unset(tmp_path, monkeypatch):
    (x_cache, _), _ = write_mnist(tmp_path / "cache" / "graphgrad" / "mnist", seed=3)
    monkeypatch.delenv("GRAPHGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (x, _), _ = load_mnist(normalize=False, flatten=False, download=False, allow_subset=False)
    np.testing.assert_array_equal(x[:, 0], x_cache)


def test_home_cache_is_the_default_and_relative_xdg_cache_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".cache" / "graphgrad" / "mnist"
    assert default_data_dir({}) == expected
    assert default_data_dir({"XDG_CACHE_HOME": "relative/cache"}) == expected


# ---------------------------------------------------------------------------------------------
# Downloading from a local mirror


def test_download_writes_verified_files_that_load(tmp_path):
    files, arrays = tiny_gz_files()
    digests = {name: digest_of(data) for name, data in files.items()}
    with MirrorServer({f"/good/{name}": data for name, data in files.items()}) as server:
        dest = download_mnist(tmp_path / "new" / "dir", [server.url("good")], digests=digests, progress=False)
    assert leftovers(dest) == sorted(files)  # nothing else, in particular no temporary files
    for name, data in files.items():
        assert (dest / name).read_bytes() == data
    (x, t), _ = load_mnist(normalize=False, flatten=False, data_dir=dest, download=False, allow_subset=False)
    np.testing.assert_array_equal(x[:, 0], arrays["train"][0])
    np.testing.assert_array_equal(t, arrays["train"][1])


def test_download_tries_mirrors_in_order_until_one_verifies(tmp_path):
    name, data = "train-labels-idx1-ubyte.gz", gzip.compress(labels_idx(np.arange(10, dtype=np.uint8)))
    corrupt = data[:-1] + bytes([data[-1] ^ 0xFF])
    routes = {f"/bad/{name}": corrupt, f"/good/{name}": data}
    with MirrorServer(routes) as server:
        mirrors = [server.url("missing"), server.url("bad"), server.url("good"), server.url("unused")]
        download_mnist(tmp_path, mirrors, digests={name: digest_of(data)}, progress=False)
    assert server.requests == [f"/missing/{name}", f"/bad/{name}", f"/good/{name}"]
    assert leftovers(tmp_path) == [name] and (tmp_path / name).read_bytes() == data


def test_checksum_mismatch_names_file_url_and_digests_and_leaves_no_file(tmp_path):
    name, data = "t10k-labels-idx1-ubyte.gz", gzip.compress(labels_idx(np.arange(10, dtype=np.uint8)))
    served = gzip.compress(labels_idx(np.arange(9, dtype=np.uint8)))
    expected, actual = digest_of(data), digest_of(served)
    with MirrorServer({f"/bad/{name}": served}) as server:
        url = server.url("bad") + name
        with pytest.raises(MnistDownloadError) as caught:
            download_mnist(tmp_path, [server.url("bad")], digests={name: expected}, progress=False)
    message = str(caught.value)
    assert message.startswith(f"{name}: no mirror delivered a verified copy")
    assert f"{url}: checksum mismatch" in message
    assert f"expected sha256 {expected.sha256}" in message and f"got sha256 {actual.sha256}" in message
    assert f"md5 {expected.md5}" in message and f"md5 {actual.md5}" in message
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("route", ["cut", "cut-unsized"])
def test_connection_cut_mid_file_leaves_no_partial_file(tmp_path, route):
    files, _ = tiny_gz_files(n_train=50)
    name = "train-images-idx3-ubyte.gz"
    with MirrorServer({f"/{route}/{name}": files[name]}) as server:
        with pytest.raises(MnistDownloadError, match=name) as caught:
            download_mnist(tmp_path, [server.url(route)], digests={name: digest_of(files[name])},
                           progress=False)
    if route == "cut":  # the announced length shows the cut; without one, the checksum does
        assert "connection closed after" in str(caught.value)
    else:
        assert "checksum mismatch" in str(caught.value)
    assert leftovers(tmp_path) == []


def test_stalled_server_times_out_and_leaves_no_file(tmp_path):
    files, _ = tiny_gz_files()
    name = "t10k-labels-idx1-ubyte.gz"
    with MirrorServer({f"/stall/{name}": files[name]}) as server:
        with pytest.raises(MnistDownloadError, match="timed out"):
            download_mnist(tmp_path, [server.url("stall")], digests={name: digest_of(files[name])},
                           progress=False, timeout=0.3)
    assert leftovers(tmp_path) == []


def test_progress_bar_reports_on_stderr_and_download_still_verifies(tmp_path, capsys):
    files, _ = tiny_gz_files(n_train=200)
    digests = {name: digest_of(data) for name, data in files.items()}
    with MirrorServer({f"/good/{name}": data for name, data in files.items()}) as server:
        download_mnist(tmp_path, [server.url("good")], digests=digests, progress=True)
    err = capsys.readouterr().err
    assert "downloading" in err and str(tmp_path) in err
    assert "train-images-idx3-ubyte.gz" in err and "100%" in err
    assert leftovers(tmp_path) == sorted(files)


def test_download_skips_files_already_present_raw_or_gzip(tmp_path):
    write_mnist(tmp_path, gz=False)
    with MirrorServer({}) as server:
        download_mnist(tmp_path, [server.url("good")], progress=False)
    assert server.requests == []


def test_empty_mirror_list_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="mirrors is empty"):
        download_mnist(tmp_path, [])


# ---------------------------------------------------------------------------------------------
# Falling back to the shipped subset


def test_missing_files_with_download_off_fall_back_to_subset_and_announce_it(tmp_path, capsys):
    (x, t), (x_test, t_test) = load_mnist(data_dir=tmp_path / "empty", download=False)
    assert x.shape == (5000, 784) and t.shape == (5000,) and x.dtype == np.float32
    assert x_test.shape == (1000, 784) and t_test.shape == (1000,)
    err = capsys.readouterr().err
    assert f"MNIST files not found in {tmp_path / 'empty'}" in err
    assert "downloading is off" in err
    assert "SMALL MNIST SUBSET" in err and "5000 training and 1000 test images" in err
    assert "download_mnist()" in err and "GRAPHGRAD_DATA" in err


def test_failed_download_falls_back_to_subset_and_says_why(tmp_path, capsys):
    with MirrorServer({}) as server:
        (x, _), _ = load_mnist(data_dir=tmp_path, mirrors=[server.url("nothing")], progress=False)
    assert x.shape == (5000, 784)
    err = capsys.readouterr().err
    assert "the download failed" in err and "404" in err and "SMALL MNIST SUBSET" in err
    assert [p for p in leftovers(tmp_path) if p.endswith(".part")] == []


def test_graphgrad_offline_forbids_the_download(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHGRAD_OFFLINE", "1")
    with MirrorServer({}) as server:
        (x, _), _ = load_mnist(data_dir=tmp_path, mirrors=[server.url("good")])
    assert server.requests == []
    assert x.shape == (5000, 784) and "downloading is off" in capsys.readouterr().err


def test_no_subset_and_no_download_raises_naming_the_missing_files(tmp_path):
    write_mnist(tmp_path, gz=True)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks t10k-images-idx3-ubyte \(raw or .gz\).*allow_subset=False"):
        load_mnist(data_dir=tmp_path, download=False, allow_subset=False)


def test_no_subset_reraises_the_download_error(tmp_path):
    with MirrorServer({}) as server:
        with pytest.raises(MnistDownloadError, match=r"train-images-idx3-ubyte.gz: no mirror delivered"):
            load_mnist(data_dir=tmp_path, mirrors=[server.url("nothing")], allow_subset=False, progress=False)


def test_a_missing_shipped_subset_is_reported_not_a_confusing_crash(tmp_path, monkeypatch):
    import nn.datasets

    monkeypatch.setattr(nn.datasets, "SUBSET_DIR", tmp_path / "no-subset")
    with pytest.raises(FileNotFoundError, match=r"the subset shipped with graphgrad lacks .*reinstall"):
        load_mnist(data_dir=tmp_path / "empty", download=False)


def test_loading_files_that_are_present_prints_nothing(tmp_path, capsys):
    write_mnist(tmp_path)
    load_mnist(data_dir=tmp_path)
    assert capsys.readouterr().err == ""


def test_shipped_subset_is_small_and_holds_every_digit():
    sizes = {p.name: p.stat().st_size for p in SUBSET_DIR.glob("*.gz")}
    assert len(sizes) == 4 and sum(sizes.values()) < 2_000_000
    (_, t), (_, t_test) = load_mnist(data_dir=SUBSET_DIR, download=False, allow_subset=False)
    assert np.bincount(t, minlength=10).min() >= 400
    assert np.bincount(t_test, minlength=10).min() >= 80


# ---------------------------------------------------------------------------------------------
# The full set, when available


@needs_full_set
def test_full_set_loads_60000_training_and_10000_test_images():
    (x, t), (x_test, t_test) = load_mnist(data_dir=FULL_SET, download=False, allow_subset=False)
    assert x.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert t.shape == (60000,) and t_test.shape == (10000,)
    assert x.dtype == np.float32 and 0.0 == x.min() and x.max() == 1.0
    assert t[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert t_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(t).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@needs_full_set
def test_full_set_decompresses_to_the_recorded_canonical_digests():
    for name, digest in RAW_DIGESTS.items():
        data = gzip.decompress((FULL_SET / f"{name}.gz").read_bytes())
        assert (len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) == digest, name
    assert set(MNIST_DIGESTS) == {f"{name}.gz" for name in RAW_DIGESTS}


@needs_full_set
def test_shipped_subset_is_every_12th_training_and_10th_test_image_of_the_full_set():
    full = load_mnist(normalize=False, data_dir=FULL_SET, download=False, allow_subset=False)
    subset = load_mnist(normalize=False, data_dir=SUBSET_DIR, download=False, allow_subset=False)
    for (x_full, t_full), (x_sub, t_sub), step in zip(full, subset, (12, 10)):
        np.testing.assert_array_equal(x_sub, x_full[::step])
        np.testing.assert_array_equal(t_sub, t_full[::step])
