"""Test helpers for the MNIST tests: tiny IDX files written by hand and a local HTTP server.

The IDX writer here is independent of `nn.datasets` on purpose, so the reader is checked against
a second implementation of the format rather than against itself.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from nn.datasets import Digest

FULL_SET_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def images_idx(images: np.ndarray) -> bytes:
    """IDX bytes for a uint8 array (N, rows, cols)."""
    return struct.pack(">IIII", 2051, *images.shape) + images.astype(np.uint8).tobytes()


def labels_idx(labels: np.ndarray) -> bytes:
    """IDX bytes for a uint8 array (N,)."""
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def write_mnist(directory: Path, n_train: int = 6, n_test: int = 4, gz: bool = True, seed: int = 0):
    """Write the four MNIST files with random contents; return ((x, t), (x_test, t_test)) as uint8."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    splits = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        t = rng.integers(0, 10, size=n, dtype=np.uint8)
        write(directory / f"{prefix}-images-idx3-ubyte", images_idx(x), gz)
        write(directory / f"{prefix}-labels-idx1-ubyte", labels_idx(t), gz)
        splits.append((x, t))
    return tuple(splits)


def write(path: Path, data: bytes, gz: bool) -> Path:
    """Write `data` to `path`, or gzipped to `path`.gz."""
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def write_gzip_of_zeros(path: Path, header: bytes, zeros: int, chunk: int = 1 << 24) -> Path:
    """Write `header` then `zeros` zero bytes as one gzip member, in O(chunk) memory and under a second for GiBs.

    After a full flush deflate's state is reset, so every `chunk` of zeros compresses to the same
    self-contained block (about 1000:1); it is computed once and written again. Only the CRC needs a
    pass over the zeros. The result is a valid gzip file (``gzip -t`` accepts it).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; the gzip framing is written here
    chunk_of_zeros = bytes(chunk)
    crc = zlib.crc32(header)
    full_chunks, rest = divmod(zeros, chunk)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00" + bytes(4) + b"\x00\xff")  # deflate, no flags, mtime 0, OS unknown
        f.write(compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH))
        block = compressor.compress(chunk_of_zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
        for _ in range(full_chunks):
            f.write(block)
            crc = zlib.crc32(chunk_of_zeros, crc)
        f.write(compressor.compress(bytes(rest)) + compressor.flush())
        crc = zlib.crc32(bytes(rest), crc)
        f.write(struct.pack("<II", crc, (len(header) + zeros) & 0xFFFFFFFF))
    return path


def digest_of(data: bytes) -> Digest:
    """The `Digest` (length, MD5, SHA-256) of some bytes."""
    return Digest(len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())


def find_full_set() -> Path | None:
    """The folder holding the full MNIST .gz files: $GRAPHGRAD_DATA, then ../shared/datasets/mnist."""
    repo = Path(__file__).resolve().parents[1]
    candidates = [os.environ.get("GRAPHGRAD_DATA"), repo.parent / "shared" / "datasets" / "mnist",
                  "/work/shared/datasets/mnist"]
    for candidate in candidates:
        if candidate and all((Path(candidate) / name).is_file() for name in FULL_SET_FILES):
            return Path(candidate)
    return None


class MirrorServer:
    """A local HTTP mirror on 127.0.0.1 serving files from a dict, with ways to misbehave.

    `routes` maps a URL path ("/good/train-labels-idx1-ubyte.gz") to its bytes. Paths under
    "/cut/" announce the full length but send half and close; under "/cut-unsized/" the same
    without a Content-Length; under "/stall/" the headers come and then nothing until the test
    ends; under "/trickle/" one byte every `trickle_interval` seconds (so no single read times
    out) until the test ends. Anything else is a 404. `requests` records every path asked for.
    """

    trickle_interval = 0.5

    def __init__(self, routes: dict[str, bytes]):
        self.routes = routes
        self.requests: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                data = server.routes.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if not self.path.startswith("/cut-unsized/"):
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.path.startswith("/stall/"):
                    self.wfile.flush()
                    server.release.wait(10)
                    return
                if self.path.startswith("/trickle/"):
                    try:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            if server.release.wait(server.trickle_interval):
                                return
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client gave up, as it should
                    return
                if self.path.startswith(("/cut/", "/cut-unsized/")):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown, and so each test, fast.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, prefix: str) -> str:
        """The base URL of one of the server's folders, e.g. url("good")."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def __enter__(self) -> MirrorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)



@pytest.fixture
def offline(monkeypatch):
    """Refuse every connection except to 127.0.0.1, and start from a neutral environment.

    Test modules make it apply to every test with ``pytestmark = pytest.mark.usefixtures("offline")``.
    """
    original = socket.create_connection

    def localhost_only(address, *args, **kwargs):
        if address[0] not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to reach {address}; tests must stay offline")
        return original(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", localhost_only)
    monkeypatch.delenv("GRAPHGRAD_OFFLINE", raising=False)
