"""Rebuild the MNIST subset shipped in this folder from the four full IDX files.

The subset is every 12th training image (5,000) and every 10th test image (1,000), starting at
index 0. A fixed stride needs no random generator, so the result cannot drift between NumPy
versions, and it samples both halves of the test set, whose first 5,000 images are easier than
the last 5,000. The files are gzip IDX with a zero timestamp, so rebuilding is byte-for-byte
reproducible and `nn.datasets` validates them with the same reader as the full set.

Run from the repository root:

    python nn/_data/make_subset.py /work/shared/datasets/mnist
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

TRAIN_STEP = 12
TEST_STEP = 10
SOURCES = {  # output name -> (full file, header bytes, stride)
    "train-images-idx3-ubyte.gz": ("train-images-idx3-ubyte.gz", 16, TRAIN_STEP),
    "train-labels-idx1-ubyte.gz": ("train-labels-idx1-ubyte.gz", 8, TRAIN_STEP),
    "t10k-images-idx3-ubyte.gz": ("t10k-images-idx3-ubyte.gz", 16, TEST_STEP),
    "t10k-labels-idx1-ubyte.gz": ("t10k-labels-idx1-ubyte.gz", 8, TEST_STEP),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array of 1 or 3 dimensions as an IDX file (big-endian header, then the bytes).

    >>> idx_bytes(np.array([7, 2], dtype=np.uint8)).hex()
    '00000801000000020702'
    """
    if array.dtype != np.uint8 or array.ndim not in (1, 3):
        raise ValueError(f"idx_bytes: need uint8 with 1 or 3 dimensions, got {array.dtype} {array.shape}")
    header = np.array([0x0800 | array.ndim, *array.shape], dtype=">u4").tobytes()
    return header + array.tobytes()


def strided(data: bytes, header_size: int, step: int) -> np.ndarray:
    """Every `step`-th item of an IDX file's payload, keeping its item shape.

    >>> strided(idx_bytes(np.arange(5, dtype=np.uint8)), 8, 2)
    array([0, 2, 4], dtype=uint8)
    """
    dims = np.frombuffer(data, dtype=">u4", count=(header_size - 4) // 4, offset=4)
    items = np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)
    return items[::step]


def main(argv: list[str] | None = None) -> None:
    """Write the subset next to this script from the full files in the given folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with the four full MNIST .gz files")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    for name, (source, header_size, step) in SOURCES.items():
        subset = strided(gzip.decompress((args.source / source).read_bytes()), header_size, step)
        (args.out / name).write_bytes(gzip.compress(idx_bytes(subset), compresslevel=9, mtime=0))
        print(f"{name}: {len(subset)} items, {(args.out / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
