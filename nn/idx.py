"""Reading and validating IDX files (the MNIST format), raw or gzip; `nn.datasets` finds and fetches them."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "read_idx_images", "read_idx_labels"]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

_SUBSET_DIR = Path(__file__).resolve().parent / "_data"  # for the examples below


def _read_bytes(path: Path) -> bytes:
    """The file's contents, decompressed if it is gzip (sniffed from its first bytes, not its name)."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not gzipped:
            return f.read()
        try:
            with gzip.GzipFile(fileobj=f) as g:
                return g.read()
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: gzip data is truncated or corrupt ({error})") from None


def _parse_idx(path: Path, data: bytes, magic: int, kind: str) -> np.ndarray:
    """Check an IDX file's header and length, and return its payload as a writable uint8 array."""
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    # The magic number comes first so that a swapped file is reported as such, not as too short.
    if found is not None and found != magic:
        other = {IMAGES_MAGIC: " (2051 marks an image file)", LABELS_MAGIC: " (2049 marks a label file)"}
        raise ValueError(
            f"{path}: magic number {found}, expected {magic} for an IDX {kind} file{other.get(found, '')}"
        )
    if len(data) < header_size:
        raise ValueError(
            f"{path}: {len(data)} bytes is too short for an IDX {kind} header ({header_size} bytes)"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header_size + math.prod(dims)  # Python ints: a corrupt header cannot overflow
    if len(data) != expected:
        what = f"{dims[0]} images of {dims[1]}x{dims[2]}" if ndim == 3 else f"{dims[0]} labels"
        raise ValueError(
            f"{path}: expected {expected} bytes for {what} (with the {header_size}-byte header), "
            f"got {len(data)}"
        )
    # frombuffer over bytes is read-only; callers get an array they own.
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims).copy()


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (magic 2051), raw or gzip, after checking its header and length.

    Args:
        path: the file; gzip is recognised by its content, whatever the name.

    Returns:
        uint8 array of shape (N, rows, cols).

    Raises:
        ValueError: naming the file, for a wrong magic number, a length that does not match the
            header's dimensions, or a truncated or corrupt gzip stream.

    >>> x = read_idx_images(_SUBSET_DIR / "t10k-images-idx3-ubyte.gz")
    >>> x.shape, x.dtype, int(x.max())
    ((1000, 28, 28), dtype('uint8'), 255)
    """
    path = Path(path)
    return _parse_idx(path, _read_bytes(path), IMAGES_MAGIC, "image")


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
    return _parse_idx(path, _read_bytes(path), LABELS_MAGIC, "label")
