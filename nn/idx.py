"""Reading and validating IDX files (the MNIST format), raw or gzip; `nn.datasets` finds and fetches them."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "read_idx_header", "read_idx_images", "read_idx_labels"]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_KINDS = {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}

_SUBSET_DIR = Path(__file__).resolve().parent / "_data"  # for the examples below


# Deflate expands at most 1032:1 (zlib's technical notes), so a gzip file of n bytes cannot hold
# more than 1032 * n; a header declaring more is refused before anything is allocated.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20  # bytes decompressed per read: bounds the memory beyond the result itself


def _read_up_to(stream, n: int) -> bytes:
    """Read `n` bytes, fewer only at the end of the stream (a raw read may return less than asked)."""
    parts, got = [], 0
    while got < n and (part := stream.read(n - got)):
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_idx(path: Path, magic: int, kind: str, header_only: bool = False):
    """Check an IDX file's header against its size, then read its payload, never more than declared.

    Returns the dimensions if `header_only`, else the payload as a writable uint8 array of those
    dimensions. Gzip is sniffed from the first bytes, not the name, and decompressed as a stream, so a
    small .gz expanding to gigabytes costs no more than its header declares (plus one byte, read to
    detect trailing data).
    """
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        size = os.fstat(f.fileno()).st_size
        if not gzipped:
            return _parse_idx(path, f, size, gzipped, magic, kind, header_only)
        try:
            with gzip.GzipFile(fileobj=f) as g:
                return _parse_idx(path, g, size, gzipped, magic, kind, header_only)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: gzip data is truncated or corrupt ({error})") from None


def _parse_idx(path: Path, stream, size: int, gzipped: bool, magic: int, kind: str, header_only: bool):
    """`_read_idx` on an open stream: `size` is the file's length on disk, compressed if `gzipped`."""
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    header = _read_up_to(stream, header_size)
    found = int.from_bytes(header[:4], "big") if len(header) >= 4 else None
    # The magic number comes first so that a swapped file is reported as such, not as too short.
    if found is not None and found != magic:
        other = {IMAGES_MAGIC: " (2051 marks an image file)", LABELS_MAGIC: " (2049 marks a label file)"}
        raise ValueError(
            f"{path}: magic number {found}, expected {magic} for an IDX {kind} file{other.get(found, '')}"
        )
    if len(header) < header_size:
        raise ValueError(
            f"{path}: {len(header)} bytes is too short for an IDX {kind} header ({header_size} bytes)"
        )
    dims = tuple(int.from_bytes(header[i:i + 4], "big") for i in range(4, header_size, 4))
    count = math.prod(dims)  # Python ints: a corrupt header cannot overflow
    expected = header_size + count
    what = f"{dims[0]} images of {dims[1]}x{dims[2]}" if ndim == 3 else f"{dims[0]} labels"

    def wrong_length(got) -> ValueError:
        return ValueError(
            f"{path}: expected {expected} bytes for {what} (with the {header_size}-byte header), got {got}"
        )

    if not gzipped and size != expected:
        raise wrong_length(size)
    if gzipped and expected > _MAX_DEFLATE_RATIO * size:
        raise ValueError(
            f"{path}: the header declares {what} ({expected} bytes with the header), more than a "
            f"{size}-byte gzip file can hold (deflate expands at most {_MAX_DEFLATE_RATIO}:1)"
        )
    if header_only:
        return dims
    # One array of the declared size, filled chunk by chunk: no second copy of the payload.
    payload = np.empty(count, dtype=np.uint8)
    view, got = memoryview(payload), 0
    while got < count and (n := stream.readinto(view[got:got + _CHUNK])):
        got += n
    if got < count:
        raise wrong_length(header_size + got)
    if stream.read(1):
        raise wrong_length(f"at least {expected + 1} (the rest was not read)")
    return payload.reshape(dims)


def read_idx_header(path: str | os.PathLike, magic: int) -> tuple[int, ...]:
    """The dimensions an IDX file's header declares, checked against the file's size; no payload is read.

    Use it to compare files (an image file and its labels, say) before reading either.

    Args:
        path: the file, raw or gzip.
        magic: `IMAGES_MAGIC` or `LABELS_MAGIC`, the kind of file expected.

    Returns:
        The dimensions, e.g. ``(N, rows, cols)`` for images.

    Raises:
        ValueError: naming the file, for a wrong magic number, a header too short, a raw file whose
            length differs from the header's, or a gzip file too small to hold what the header declares.

    >>> read_idx_header(_SUBSET_DIR / "t10k-images-idx3-ubyte.gz", IMAGES_MAGIC)
    (1000, 28, 28)
    """
    if magic not in _KINDS:
        raise ValueError(f"read_idx_header: magic must be {IMAGES_MAGIC} (images) or {LABELS_MAGIC} (labels), "
                         f"got {magic}")
    return _read_idx(Path(path), magic, _KINDS[magic], header_only=True)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (magic 2051), raw or gzip, after checking its header and length.

    Args:
        path: the file; gzip is recognised by its content, whatever the name.

    Returns:
        uint8 array of shape (N, rows, cols).

    Raises:
        ValueError: naming the file, for a wrong magic number, a length that does not match the
            header's dimensions, or a truncated or corrupt gzip stream. A gzip stream is decompressed
            no further than the header declares plus one byte, so a small file inflating to gigabytes
            is refused as quickly as it is read, in memory for the declared images only.

    >>> x = read_idx_images(_SUBSET_DIR / "t10k-images-idx3-ubyte.gz")
    >>> x.shape, x.dtype, int(x.max())
    ((1000, 28, 28), dtype('uint8'), 255)
    """
    path = Path(path)
    return _read_idx(path, IMAGES_MAGIC, "image")


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (magic 2049), raw or gzip, after checking its header and length.

    Args:
        path: the file; gzip is recognised by its content, whatever the name.

    Returns:
        uint8 array of shape (N,).

    Raises:
        ValueError: naming the file, as for `read_idx_images`.

    >>> read_idx_labels(_SUBSET_DIR / "t10k-labels-idx1-ubyte.gz")[:10]
    array([7, 0, 9, 3, 1, 6, 7, 7, 7, 3], dtype=uint8)
    """
    path = Path(path)
    return _read_idx(path, LABELS_MAGIC, "label")
