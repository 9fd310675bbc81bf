"""Tests for nn.datasets and nn.idx on hostile input (issue 8): bounded time and memory on bombs, empty files,
mirror arguments, an overall download deadline, and the mode of downloaded files."""

import gzip
import os
import re
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _mnist_fixtures import (
    MirrorServer,
    digest_of,
    images_idx,
    labels_idx,
    offline,  # noqa: F401  (a fixture, used through pytestmark)
    write,
    write_gzip_of_zeros,
    write_mnist,
)

from nn.datasets import SUBSET_DIR, MnistDownloadError, download_mnist, load_mnist
from nn.idx import LABELS_MAGIC, read_idx_header, read_idx_labels

pytestmark = pytest.mark.usefixtures("offline")

GIB, MIB = 1 << 30, 1 << 20
REPO = Path(__file__).resolve().parents[1]


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------------------------------------
# A valid header with 3 GiB of zeros behind it, in a 3 MB .gz

# kind -> (file name, header, reader, what the header declares)
BOMBS = {
    "labels": ("train-labels-idx1-ubyte.gz", struct.pack(">II", 2049, 60000), "read_idx_labels",
               r"expected 60008 bytes for 60000 labels \(with the 8-byte header\)"),
    "images": ("t10k-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, 10000, 28, 28), "read_idx_images",
               r"expected 7840016 bytes for 10000 images of 28x28 \(with the 16-byte header\)"),
}


def run_python(code: str) -> tuple[list[str], int]:
    """Run `code` in a fresh interpreter after ``import nn.datasets``; its output lines and peak RSS in bytes."""
    script = f"import resource, time\nimport nn.datasets\n{code}\n" \
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=REPO, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    *lines, peak = result.stdout.splitlines()
    # ru_maxrss is in bytes on macOS and in KiB elsewhere.
    return lines, int(peak) * (1 if sys.platform == "darwin" else 1024)


@pytest.fixture(scope="module")
def baseline_peak():
    """Peak RSS of a child that only imports nn.datasets (and so NumPy)."""
    pytest.importorskip("resource")
    return run_python("")[1]


@pytest.mark.parametrize("kind", BOMBS)
def test_gzip_bomb_behind_a_valid_header_is_refused_in_under_a_second_and_100_mib(tmp_path, kind, baseline_peak):
    name, header, reader, declared = BOMBS[kind]
    path = write_gzip_of_zeros(tmp_path / name, header, 3 * GIB)
    assert path.stat().st_size < 4_000_000
    lines, peak = run_python(
        "start = time.perf_counter()\n"
        "try:\n"
        f"    nn.datasets.{reader}({str(path)!r})\n"
        "    print('accepted')\n"
        "except ValueError as error:\n"
        "    print(error)\n"
        "print(time.perf_counter() - start)\n"
    )
    message, seconds = lines[0], float(lines[1])
    assert seconds < 1.0, message
    assert peak - baseline_peak < 100 * MIB, f"{(peak - baseline_peak) / MIB:.0f} MiB above a bare import"
    assert re.fullmatch(rf"{re.escape(str(path))}: {declared}, got at least \d+ \(the rest was not read\)",
                        message), message


def test_load_mnist_compares_the_headers_of_a_pair_before_decompressing_either(tmp_path, monkeypatch):
    write_mnist(tmp_path, n_train=6)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    name, header, _, _ = BOMBS["labels"]
    write_gzip_of_zeros(tmp_path / name, header, 3 * GIB)

    def payload_read(path):
        raise AssertionError(f"{path} was read before the pair's headers were compared")

    # Also spares this process the gigabytes should the order regress.
    monkeypatch.setattr("nn.datasets.read_idx_images", payload_read)
    monkeypatch.setattr("nn.datasets.read_idx_labels", payload_read)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz holds 6 images but "
                                         r".*train-labels-idx1-ubyte.gz holds 60000 labels"):
        load_mnist(data_dir=tmp_path, download=False, allow_subset=False)
    assert time.perf_counter() - start < 1.0


def test_gzip_header_declaring_more_than_deflate_can_expand_to_is_refused_before_reading(tmp_path):
    path = write(tmp_path / "labels", struct.pack(">II", 2049, 2**32 - 1), gz=True)
    size = path.stat().st_size
    with pytest.raises(ValueError, match=rf"labels.gz: the header declares 4294967295 labels \(4294967303 bytes "
                                         rf"with the header\), more than a {size}-byte gzip file can hold"):
        read_idx_labels(path)


def test_trailing_bytes_in_a_gzip_stream_are_refused(tmp_path):
    path = write(tmp_path / "labels", labels_idx(np.arange(5, dtype=np.uint8)) + b"\x00", gz=True)
    with pytest.raises(ValueError, match=r"labels.gz: expected 13 bytes for 5 labels .*got at least 14"):
        read_idx_labels(path)


def test_read_idx_header_refuses_a_magic_number_that_is_not_an_idx_kind(tmp_path):
    path = write(tmp_path / "labels", labels_idx(np.arange(3, dtype=np.uint8)), gz=False)
    assert read_idx_header(path, LABELS_MAGIC) == (3,)
    with pytest.raises(ValueError, match=r"read_idx_header: magic must be 2051 \(images\) or 2049 \(labels\), "
                                         r"got 2050"):
        read_idx_header(path, 2050)


def test_empty_image_and_label_pair_is_refused_naming_both_files(tmp_path):
    write_mnist(tmp_path, gz=False)
    write(tmp_path / "t10k-images-idx3-ubyte", images_idx(np.zeros((0, 28, 28), np.uint8)), gz=False)
    write(tmp_path / "t10k-labels-idx1-ubyte", labels_idx(np.zeros(0, np.uint8)), gz=False)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte and .*t10k-labels-idx1-ubyte hold no images "
                                         r"and labels \(both headers declare 0 items\)"):
        load_mnist(data_dir=tmp_path, download=False, allow_subset=False)


# ---------------------------------------------------------------------------------------------
# The mirrors argument


def tiny_files():
    """The four file names mapped to small gzip IDX contents (3 training and 2 test images)."""
    rng = np.random.default_rng(8)
    files = {}
    for prefix, n in (("train", 3), ("t10k", 2)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(
            images_idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(labels_idx(np.arange(n, dtype=np.uint8)), mtime=0)
    return files


def test_a_single_mirror_string_is_one_mirror_not_a_sequence_of_characters(tmp_path):
    files = tiny_files()
    digests = {name: digest_of(data) for name, data in files.items()}
    with MirrorServer({f"/good/{name}": data for name, data in files.items()}) as server:
        download_mnist(tmp_path / "a", server.url("good"), digests=digests, progress=False)
        # load_mnist passes its mirrors on; here the mirror has nothing, so the first file fails there.
        with pytest.raises(MnistDownloadError, match=r"(?s)train-images-idx3-ubyte.gz: no mirror .*"
                                                     r"/nothing/train-images-idx3-ubyte.gz: HTTP Error 404"):
            load_mnist(data_dir=tmp_path / "b", mirrors=server.url("nothing"), allow_subset=False, progress=False)
    assert leftovers(tmp_path / "a") == sorted(files)
    assert server.requests == [f"/good/{name}" for name in files] + ["/nothing/train-images-idx3-ubyte.gz"]


@pytest.mark.parametrize("mirrors, error, message", [
    ([b"http://127.0.0.1/"], TypeError, r"mirror 0 is bytes, expected a str URL"),
    (["http://127.0.0.1/", None], TypeError, r"mirror 1 is NoneType, expected a str URL"),
    (8, TypeError, r"mirrors must be a str URL or a sequence of them, got int"),
    (["ossci-datasets.s3.amazonaws.com/mnist/"], ValueError,
     r"mirror 'ossci-datasets.s3.amazonaws.com/mnist/' has no scheme; expected a URL such as 'https://"),
])
def test_mirrors_that_are_not_urls_are_refused_before_any_download(tmp_path, mirrors, error, message):
    with pytest.raises(error, match=r"download_mnist: " + message):
        download_mnist(tmp_path, mirrors, progress=False)
    with pytest.raises(error, match=r"load_mnist: " + message):
        load_mnist(data_dir=tmp_path, mirrors=mirrors, progress=False)
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# An overall deadline per file


def test_a_mirror_trickling_a_byte_every_half_second_is_abandoned_at_the_deadline(tmp_path):
    name, data = "t10k-labels-idx1-ubyte.gz", tiny_files()["t10k-labels-idx1-ubyte.gz"]
    with MirrorServer({f"/trickle/{name}": data}) as server:
        url = server.url("trickle") + name
        start = time.monotonic()
        with pytest.raises(MnistDownloadError) as caught:
            # Each read gets a byte within 0.5 s, so the 5 s per-read timeout never fires.
            download_mnist(tmp_path, [server.url("trickle")], digests={name: digest_of(data)}, progress=False,
                           timeout=5, deadline=1.0)
        elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 2.5
    assert re.search(rf"{re.escape(url)}: gave up after 1\.\d s, the deadline for this file being 1 s "
                     rf"\(\d+ of {len(data)} bytes received", str(caught.value)), str(caught.value)
    assert leftovers(tmp_path) == []


def test_the_next_mirror_is_tried_after_one_misses_the_deadline(tmp_path):
    name, data = "t10k-labels-idx1-ubyte.gz", tiny_files()["t10k-labels-idx1-ubyte.gz"]
    with MirrorServer({f"/trickle/{name}": data, f"/good/{name}": data}) as server:
        download_mnist(tmp_path, [server.url("trickle"), server.url("good")], digests={name: digest_of(data)},
                       progress=False, timeout=5, deadline=0.6)
    assert server.requests == [f"/trickle/{name}", f"/good/{name}"]
    assert leftovers(tmp_path) == [name] and (tmp_path / name).read_bytes() == data


def test_load_mnist_passes_its_timeout_and_deadline_to_the_download(tmp_path):
    # Before, load_mnist took neither, so a stalled mirror held it for the default deadline (minutes per file).
    with MirrorServer({f"/trickle/{name}": data for name, data in tiny_files().items()}) as server:
        start = time.monotonic()
        with pytest.raises(MnistDownloadError, match=r"the deadline for this file being 1 s"):
            load_mnist(data_dir=tmp_path, mirrors=[server.url("trickle")], allow_subset=False, progress=False,
                       timeout=5, deadline=1.0)
        elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 2.5  # the first file to miss its deadline ends the download
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("deadline", [0, -1.0])
def test_load_mnist_refuses_a_deadline_that_is_not_positive_even_with_nothing_to_download(deadline):
    with pytest.raises(ValueError, match=rf"load_mnist: deadline must be a positive number of seconds or None"):
        load_mnist(data_dir=SUBSET_DIR, deadline=deadline)


@pytest.mark.parametrize("deadline", [0, -1.0, float("nan")])
def test_a_deadline_that_is_not_positive_is_refused(tmp_path, deadline):
    with pytest.raises(ValueError, match=rf"download_mnist: deadline must be a positive number of seconds or "
                                         rf"None, got {deadline!r}"):
        download_mnist(tmp_path, ["http://127.0.0.1:9/"], deadline=deadline, progress=False)


# ---------------------------------------------------------------------------------------------
# File modes


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_downloaded_files_get_mode_0666_less_the_umask(tmp_path, umask):
    name, data = "t10k-labels-idx1-ubyte.gz", tiny_files()["t10k-labels-idx1-ubyte.gz"]
    with MirrorServer({f"/good/{name}": data}) as server:
        previous = os.umask(umask)
        try:
            download_mnist(tmp_path, [server.url("good")], digests={name: digest_of(data)}, progress=False)
        finally:
            os.umask(previous)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask

