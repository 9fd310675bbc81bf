"""MNIST: find, download, verify and read the four IDX files; batching lives in `nn.data`.

`load_mnist` returns arrays shaped like the loader of the book "Deep Learning from Scratch". It reads
the files from one directory (``data_dir``, else ``$GRAPHGRAD_DATA``, else ``$XDG_CACHE_HOME/graphgrad/mnist``
or ``~/.cache/graphgrad/mnist``), downloads the missing ones, and when neither works falls back, loudly,
to a small subset shipped in ``nn/_data``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from ._files import open_temporary
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx_header, read_idx_images, read_idx_labels

__all__ = [
    "MIRRORS",
    "MNIST_DIGESTS",
    "RAW_DIGESTS",
    "SUBSET_DIR",
    "Digest",
    "MnistDownloadError",
    "default_data_dir",
    "download_mnist",
    "load_mnist",
    "read_idx_images",
    "read_idx_labels",
]

# Base URLs tried in order; the file name is appended to each.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

SUBSET_DIR = Path(__file__).resolve().parent / "_data"

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class Digest(NamedTuple):
    """Expected length and checksums of one file.

    >>> Digest(4, hashlib.md5(b"idx!").hexdigest(), hashlib.sha256(b"idx!").hexdigest()).size
    4
    """

    size: int
    md5: str
    sha256: str


# The .gz files exactly as the mirrors serve them: the MD5s torchvision publishes and the SHA-256s
# TensorFlow Datasets publishes. Downloads are checked against these.
MNIST_DIGESTS = {
    "train-images-idx3-ubyte.gz": Digest(
        9912422,
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte.gz": Digest(
        28881,
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte.gz": Digest(
        1648877,
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte.gz": Digest(
        4542,
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}

# The decompressed IDX files. These identify the data however it was gzipped: a recompressed copy
# has other .gz digests but the same contents.
RAW_DIGESTS = {
    "train-images-idx3-ubyte": Digest(
        47040016,
        "6bbc9ace898e44ae57da46a324031adb",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": Digest(
        60008,
        "a25bea736e30d166cdddb491f175f624",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": Digest(
        7840016,
        "2646ac647ad5339dbf082846283269ea",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": Digest(
        10008,
        "27ae3e4e09519cfbb04c329615203637",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}


class MnistDownloadError(OSError):
    """No mirror delivered a file that matched its checksum; the message lists every attempt."""


def _find_files(directory: Path) -> dict[str, Path | None]:
    """Map each of the four MNIST files to its raw or .gz copy in `directory` (raw first), or None."""
    found = {}
    for name in FILES:
        raw, gz = directory / name, directory / f"{name}.gz"
        found[name] = raw if raw.is_file() else gz if gz.is_file() else None
    return found


def _check_split(image_path: Path, image_dims: tuple[int, ...], label_path: Path,
                 label_dims: tuple[int, ...]) -> None:
    """Check that the images are 28x28 and as many as the labels, and that there are some."""
    if image_dims[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{image_path}: expected images of {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}, "
            f"got {image_dims[1]}x{image_dims[2]}"
        )
    if image_dims[0] != label_dims[0]:
        raise ValueError(
            f"{image_path} holds {image_dims[0]} images but {label_path} holds {label_dims[0]} labels"
        )
    if image_dims[0] == 0:
        raise ValueError(
            f"{image_path} and {label_path} hold no images and labels (both headers declare 0 items)"
        )


def _load_split(paths: Mapping[str, Path], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check the images and labels of one split ("train" or "t10k")."""
    image_path, label_path = paths[f"{prefix}-images-idx3-ubyte"], paths[f"{prefix}-labels-idx1-ubyte"]
    # Headers first: a pair that disagrees is refused before either payload is decompressed.
    _check_split(image_path, read_idx_header(image_path, IMAGES_MAGIC),
                 label_path, read_idx_header(label_path, LABELS_MAGIC))
    images, labels = read_idx_images(image_path), read_idx_labels(label_path)
    # Again on what was read: either file may have been replaced in between.
    _check_split(image_path, images.shape, label_path, labels.shape)
    if labels.max() >= NUM_CLASSES:
        raise ValueError(f"{label_path}: labels must be digits 0-9, found {labels.max()}")
    return images, labels


# ----------------------------------------------------------------------------------------------
# Where the files live, and downloading them


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory `load_mnist` uses when given no ``data_dir``.

    ``$GRAPHGRAD_DATA`` if set, else ``$XDG_CACHE_HOME/graphgrad/mnist`` (when that is an absolute
    path), else ``~/.cache/graphgrad/mnist``.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    >>> default_data_dir({"GRAPHGRAD_DATA": "/data/mnist"}).as_posix()
    '/data/mnist'
    >>> default_data_dir({"XDG_CACHE_HOME": "/var/cache"}).as_posix()
    '/var/cache/graphgrad/mnist'
    """
    environ = os.environ if environ is None else environ
    if environ.get("GRAPHGRAD_DATA"):
        return Path(environ["GRAPHGRAD_DATA"]).expanduser()
    cache = environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative value.
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "graphgrad" / "mnist"


def _check_mirrors(mirrors, caller: str) -> tuple[str, ...]:
    """The mirrors as a tuple of URLs; a single str is one mirror (iterating it would give characters).

    >>> _check_mirrors("https://example.org/mnist/", "load_mnist")
    ('https://example.org/mnist/',)
    """
    if isinstance(mirrors, str):
        return _check_mirrors((mirrors,), caller)
    if isinstance(mirrors, (bytes, bytearray)) or not isinstance(mirrors, Iterable):
        raise TypeError(f"{caller}: mirrors must be a str URL or a sequence of them, got {type(mirrors).__name__}")
    mirrors = tuple(mirrors)
    for i, mirror in enumerate(mirrors):
        if not isinstance(mirror, str):
            raise TypeError(f"{caller}: mirror {i} is {type(mirror).__name__}, expected a str URL")
        if not urllib.parse.urlsplit(mirror).scheme:
            raise ValueError(
                f"{caller}: mirror {mirror!r} has no scheme; expected a URL such as {MIRRORS[0]!r}"
            )
    return mirrors


def _default_deadline(size: int) -> float:
    """Seconds allowed for a file of `size` bytes: one minute plus 1 s per 50 kB (a slow but working link).

    >>> round(_default_deadline(MNIST_DIGESTS["train-images-idx3-ubyte.gz"].size))
    258
    """
    return 60.0 + size / 50_000


def _fetch_verified(url: str, dest: Path, digest: Digest, progress: bool, timeout: float,
                    deadline: float) -> None:
    """Download `url` to `dest` through a temporary file that is renamed only once its checksum matches.

    Raises TimeoutError once the whole transfer has taken more than `deadline` seconds.
    """
    start = time.monotonic()
    # Not mkstemp: its 0600 would stay on the renamed file; this one gets 0666 less the umask.
    fd, tmp = open_temporary(dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "graphgrad"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isdigit() else None
            md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
            received = 0
            with tqdm(total=announced or digest.size, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, file=sys.stderr, disable=not progress) as bar:
                # read1 returns what has arrived instead of waiting for 64 KiB, so a mirror trickling
                # bytes (each read within `timeout`) still meets the deadline check below.
                while chunk := response.read1(1 << 16):
                    elapsed = time.monotonic() - start
                    if elapsed > deadline:
                        raise TimeoutError(
                            f"gave up after {elapsed:.1f} s, the deadline for this file being {deadline:g} s "
                            f"({received} of {announced or digest.size} bytes received); "
                            f"pass a larger deadline= for a slow connection"
                        )
                    received += len(chunk)
                    if received > digest.size:
                        raise ValueError(f"server sent more than the expected {digest.size} bytes")
                    out.write(chunk)
                    md5.update(chunk)
                    sha256.update(chunk)
                    bar.update(len(chunk))
            # http.client reports a connection closed early as a short read, not an error.
            if announced is not None and received != announced:
                raise ConnectionError(f"connection closed after {received} of {announced} bytes")
            if Digest(received, md5.hexdigest(), sha256.hexdigest()) != digest:
                raise ValueError(
                    f"checksum mismatch: expected sha256 {digest.sha256} "
                    f"(md5 {digest.md5}, {digest.size} bytes), got sha256 {sha256.hexdigest()} "
                    f"(md5 {md5.hexdigest()}, {received} bytes)"
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    finally:
        # Also on KeyboardInterrupt: a partial or unverified download must never stay behind.
        if os.path.exists(tmp):
            os.unlink(tmp)


def download_mnist(
    dest_dir: str | os.PathLike | None = None,
    mirrors: str | Sequence[str] = MIRRORS,
    *,
    digests: Mapping[str, Digest] = MNIST_DIGESTS,
    progress: bool = True,
    timeout: float = 30.0,
    deadline: float | None = None,
) -> Path:
    """Download the MNIST files missing from `dest_dir`, verifying each against its checksum.

    Each file is tried on each mirror in turn, streamed into a temporary file in `dest_dir` while
    hashing, and renamed into place only when its length, SHA-256 and MD5 all match; so an
    interrupted, cut or corrupted download never leaves a file that a later run would load.
    Files already present, raw or gzip, are not fetched again.

    Args:
        dest_dir: where to put the files; `default_data_dir()` if None. Created if needed.
        mirrors: base URLs with a scheme ("https://..."), tried in order; the file name is appended
            to each. A single str is one mirror.
        digests: file name -> expected `Digest`; the files to fetch are its keys.
        progress: show a tqdm progress bar per file on stderr.
        timeout: seconds to wait for the connection and for each read.
        deadline: seconds allowed for each file, from the request to its last byte, however steadily
            the bytes arrive; past it that mirror is abandoned for the next. A read already waiting
            is not interrupted, so the overrun is at most `timeout`. None (default): 60 s plus 1 s
            per 50 kB of the file's expected size, e.g. 258 s for train-images-idx3-ubyte.gz.

    Returns:
        The directory holding the files.

    Raises:
        MnistDownloadError: no mirror delivered a file matching its digest; the message names the
            file and each URL with its failure (HTTP error, timeout, deadline, cut connection, or
            expected and actual checksums).
        ValueError: `mirrors` is empty, a mirror has no scheme, or `deadline` is not positive.
        TypeError: `mirrors` is neither a str nor a sequence of str.
    """
    mirrors = _check_mirrors(mirrors, "download_mnist")
    if not mirrors:
        raise ValueError("download_mnist: mirrors is empty; give at least one base URL")
    _check_deadline(deadline, "download_mnist")
    dest = Path(dest_dir) if dest_dir is not None else default_data_dir()
    dest.mkdir(parents=True, exist_ok=True)
    missing = [name for name in digests
               if not (dest / name).is_file() and not (dest / name.removesuffix(".gz")).is_file()]
    if missing and progress:
        print(f"graphgrad: downloading {', '.join(missing)} into {dest}", file=sys.stderr)
    for name in missing:
        failures = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                _fetch_verified(url, dest / name, digests[name], progress, timeout,
                                deadline if deadline is not None else _default_deadline(digests[name].size))
                break
            except (OSError, ValueError, http.client.HTTPException) as error:
                failures.append(f"  {url}: {error}")
        else:
            raise MnistDownloadError(
                f"{name}: no mirror delivered a verified copy, so none was saved in {dest}:\n"
                + "\n".join(failures)
            )
    return dest


# ----------------------------------------------------------------------------------------------
# The book-style loader


def _offline() -> bool:
    """True when ``$GRAPHGRAD_OFFLINE`` forbids downloading (any value but empty or 0)."""
    return os.environ.get("GRAPHGRAD_OFFLINE", "") not in ("", "0")


def _check_deadline(deadline, who: str) -> None:
    if deadline is not None and not deadline > 0:
        raise ValueError(f"{who}: deadline must be a positive number of seconds or None, got {deadline!r}")


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    allow_subset: bool = True,
    mirrors: str | Sequence[str] = MIRRORS,
    progress: bool = True,
    timeout: float = 30.0,
    deadline: float | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``, like "Deep Learning from Scratch".

    The files are read from one directory: `data_dir` if given, else `default_data_dir()`
    (``$GRAPHGRAD_DATA``, then the per-user cache). Each of the four IDX files may be raw or .gz.
    Missing files are downloaded into that directory (see `download_mnist`). If they are still
    missing, the subset shipped in ``nn/_data`` (5,000 training and 1,000 test images) is used
    instead, and a message on stderr says so and how to get the full set. Files that are present
    but corrupt are an error, never a reason to fall back.

    Args:
        normalize: float32 pixels in [0, 1]; otherwise the uint8 values 0-255.
        flatten: images as (N, 784); otherwise (N, 1, 28, 28).
        one_hot_label: labels as one-hot float64 rows (N, 10), as the book's are; otherwise uint8 digits (N,). Mind
            that uint8 arithmetic wraps; cast before subtracting.
        data_dir: the directory to read (and download into).
        download: fetch missing files. None (default) means yes unless ``$GRAPHGRAD_OFFLINE``
            is set to something other than "" or "0".
        allow_subset: fall back to the shipped subset when the full files are unavailable.
        mirrors: base URLs for the download, tried in order; a single str is one mirror.
        progress: show download progress on stderr.
        timeout: seconds to wait for a mirror's connection and for each read (see `download_mnist`).
        deadline: seconds allowed for each file's download; None: 60 s plus 1 s per 50 kB of the file.

    Returns:
        ``((x_train, t_train), (x_test, t_test))``.

    Raises:
        ValueError: a file is truncated or corrupt, images and labels disagree in number or are
            none, a mirror has no scheme, or `deadline` is not positive.
        FileNotFoundError: files are missing, downloading is off and `allow_subset` is False;
            or the subset shipped with graphgrad is itself missing.
        MnistDownloadError: the download failed and `allow_subset` is False.
        TypeError: `mirrors` is neither a str nor a sequence of str (checked even if nothing is missing).

    >>> (x, t), (x_test, t_test) = load_mnist(data_dir=SUBSET_DIR, flatten=False, one_hot_label=True)
    >>> x.shape, x.dtype, t.shape, t.dtype, x_test.shape
    ((5000, 1, 28, 28), dtype('float32'), (5000, 10), dtype('float64'), (1000, 1, 28, 28))
    """
    # Checked even when nothing is missing, so a wrong argument fails the same way every time.
    mirrors = _check_mirrors(mirrors, "load_mnist")
    _check_deadline(deadline, "load_mnist")
    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    paths = _find_files(directory)
    missing = [name for name, path in paths.items() if path is None]
    unavailable = None
    if missing:
        unavailable = _download_or_explain(directory, missing, download, allow_subset,
                                           dict(mirrors=mirrors, progress=progress, timeout=timeout, deadline=deadline))
        paths = _find_files(SUBSET_DIR if unavailable else directory)
        absent = [name for name, path in paths.items() if path is None]
        if unavailable and absent:
            raise FileNotFoundError(
                f"MNIST: {directory} lacks {', '.join(missing)} ({unavailable}), and the subset "
                f"shipped with graphgrad lacks {', '.join(absent)} in {SUBSET_DIR}: reinstall graphgrad"
            )
    train, test = _load_split(paths, "train"), _load_split(paths, "t10k")
    if unavailable:
        print(
            f"graphgrad: MNIST files not found in {directory} (missing {', '.join(missing)}); "
            f"{unavailable}\n"
            f"graphgrad: using the SMALL MNIST SUBSET shipped with graphgrad: {len(train[0])} training "
            f"and {len(test[0])} test images ({SUBSET_DIR})\n"
            f"graphgrad: for the full 60000/10000 set, run nn.datasets.download_mnist() while online, "
            f"or put the four IDX files (raw or .gz) in {directory} or in the folder named by "
            f"$GRAPHGRAD_DATA",
            file=sys.stderr,
        )
    return (_format(*train, normalize, flatten, one_hot_label),
            _format(*test, normalize, flatten, one_hot_label))


def _download_or_explain(directory: Path, missing: list[str], download: bool | None,
                         allow_subset: bool, options: dict) -> str | None:
    """Download the missing files (`download_mnist` gets ``options``); None on success, else why the subset stands in.

    Raises instead of explaining when `allow_subset` is False.
    """
    if download is None:
        download = not _offline()
    if not download:
        if not allow_subset:
            raise FileNotFoundError(
                f"MNIST: {directory} lacks {', '.join(missing)} (raw or .gz), downloading is off "
                f"(download=False or $GRAPHGRAD_OFFLINE) and allow_subset=False; put the files "
                f"there or allow the download"
            )
        return "downloading is off (download=False or $GRAPHGRAD_OFFLINE)"
    try:
        download_mnist(directory, **options)
    except (OSError, ValueError) as error:
        if not allow_subset:
            raise
        return f"the download failed: {error}"
    return None


def _format(images: np.ndarray, labels: np.ndarray, normalize: bool, flatten: bool,
            one_hot_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """Apply the book's three options to one split."""
    x = images.reshape(len(images), -1) if flatten else images[:, np.newaxis]
    if normalize:
        x = x.astype(np.float32)
        x /= np.float32(255)
    t = np.eye(NUM_CLASSES)[labels] if one_hot_label else labels  # float64, as the book's np.zeros rows
    return x, t
