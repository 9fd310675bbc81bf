"""nn.serialization: hostile weights files are refused early, in bounded time and memory, with the file named.

The decompression bombs are built here without holding them: a raw deflate stream of zeros repeats the same
bytes after every full flush, so a 2 GiB entry is ~2 MB of bytes written in well under a second. Loads that
could blow up run in a subprocess, which reports its own peak memory and time.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import nn
from nn.serialization import METADATA_KEY

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30
_CHUNK = bytes(1 << 24)


def _npy_header(shape, dtype, version=(1, 0)) -> bytes:
    """The .npy magic, version and header of an array, without its data."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    buffer = io.BytesIO()
    write = np.lib.format.write_array_header_1_0 if version == (1, 0) else np.lib.format.write_array_header_2_0
    write(buffer, header)
    return buffer.getvalue()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _metadata(parameters, **changes) -> bytes:
    metadata = {"format": "graphgrad.nn", "version": 1, "class": "Linear",
                "parameters": [[name, list(shape), np.dtype(dtype).str] for name, shape, dtype in parameters]}
    metadata.update(changes)
    return _npy(np.frombuffer(json.dumps(metadata).encode(), np.uint8))


def _entry(name: str, data: bytes, zeros: int = 0):
    """A zip member holding ``data`` then ``zeros`` zero bytes: (name, size, crc, deflated bytes)."""
    full, rest = divmod(zeros, len(_CHUNK))
    crc = zlib.crc32(data)
    for _ in range(full):
        crc = zlib.crc32(_CHUNK, crc)
    crc = zlib.crc32(_CHUNK[:rest], crc)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor starts afresh, so every chunk of zeros deflates to these same bytes.
    chunk = compressor.compress(_CHUNK) + compressor.flush(zlib.Z_FULL_FLUSH) if full else b""
    tail = compressor.compress(_CHUNK[:rest]) + compressor.flush()
    return name, len(data) + zeros, crc, head + chunk * full + tail


def _write_zip(path, *entries) -> Path:
    """A zip of deflated members (sizes under 4 GiB, so no ZIP64 records), as np.savez_compressed writes."""
    central = b""
    with open(path, "wb") as file:
        for name, size, crc, deflated in entries:
            offset, encoded = file.tell(), name.encode()
            fields = (8, 0, 0x21, crc, len(deflated), size, len(encoded), 0)  # deflate, 1980-01-01
            file.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, *fields) + encoded + deflated)
            central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, offset) + encoded
        start = file.tell()
        file.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                                         len(central), start, 0))
    return Path(path)


LINEAR = [("weight", (2, 3), np.float64), ("bias", (3,), np.float64)]
BIAS = _entry("bias.npy", _npy(np.zeros(3)))

_MEASURE = """
import json, resource, sys, time
import nn
layer = nn.Linear(2, 3, rng=0)
unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
start = time.perf_counter()
try:
    layer.load(sys.argv[1])
    outcome = "loaded"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit - before
print(json.dumps({"outcome": outcome, "seconds": seconds, "grown_mib": grown / 2**20}))
"""


def _load_in_subprocess(path) -> dict:
    """Load ``path`` into a Linear(2, 3) in a fresh interpreter: its outcome, seconds and peak-memory growth."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


needs_resource = pytest.mark.skipif(sys.platform == "win32", reason="peak memory is read with the resource module")


@needs_resource
@pytest.mark.parametrize("forged_metadata, message", [
    (False, r"disagrees with its metadata: weight is \(16384, 16384\) but the metadata says \(2, 3\)"),
    (True, r"wrong shapes: weight \(16384, 16384\) \(the parameter is \(2, 3\)\)"),
])
def test_a_deflated_2gib_entry_is_refused_before_any_data_is_read(tmp_path, forged_metadata, message):
    bomb_shape = (16384, 16384)  # 2 GiB of float64
    declared = [("weight", bomb_shape if forged_metadata else (2, 3), np.float64), LINEAR[1]]
    path = _write_zip(tmp_path / "bomb.npz", _entry("weight.npy", _npy_header(bomb_shape, np.float64), zeros=2 * GIB),
                      BIAS, _entry(f"{METADATA_KEY}.npy", _metadata(declared)))
    assert path.stat().st_size < 3 * 2**20
    report = _load_in_subprocess(path)
    assert report["outcome"].startswith(f"ValueError: Linear.load: {path}")
    assert re.search(message, report["outcome"]), report["outcome"]
    assert report["seconds"] < 1 and report["grown_mib"] < 100, report


@needs_resource
def test_a_header_declaring_1e12_elements_is_a_value_error_not_a_memory_error(tmp_path):
    path = _write_zip(tmp_path / "huge.npz",
                      _entry("weight.npy", _npy_header((10**6, 10**6), np.float64), zeros=2**20), BIAS,
                      _entry(f"{METADATA_KEY}.npy", _metadata(LINEAR)))
    report = _load_in_subprocess(path)
    assert report["outcome"] == (
        f"ValueError: Linear.load: {path}: entry 'weight': its .npy header declares (1000000, 1000000) float64, "
        "8000000000000 bytes of data, but the zip entry holds 1048576"
    )
    assert report["seconds"] < 1 and report["grown_mib"] < 100, report


@pytest.mark.parametrize("extra", [8, -8])
def test_an_entry_holding_more_or_less_than_its_header_promises_is_refused(tmp_path, extra):
    data = _npy(np.ones((2, 3)))
    data = data + bytes(extra) if extra > 0 else data[:extra]
    path = _write_zip(tmp_path / "w.npz", _entry("weight.npy", data), BIAS,
                      _entry(f"{METADATA_KEY}.npy", _metadata(LINEAR)))
    with pytest.raises(ValueError, match=rf"w.npz: entry 'weight': its .npy header declares \(2, 3\) float64, "
                                         rf"48 bytes of data, but the zip entry holds {48 + extra}$"):
        nn.Linear(2, 3).load(path)


def test_the_metadata_entry_is_read_with_a_size_cap(tmp_path):
    path = _write_zip(tmp_path / "w.npz", _entry("weight.npy", _npy(np.ones((2, 3)))), BIAS,
                      _entry(f"{METADATA_KEY}.npy", _npy_header((64 * 2**20,), np.uint8), zeros=64 * 2**20))
    with pytest.raises(ValueError, match=r"w.npz: the metadata entry is 67108864 bytes; "
                                         r"the metadata of a module with 2 parameters takes at most \d+"):
        nn.Linear(2, 3).load(path)


def test_a_npy_header_longer_than_numpys_limit_is_refused_before_it_is_read(tmp_path):
    header = b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31)
    path = _write_zip(tmp_path / "w.npz", _entry("weight.npy", header, zeros=2**20), BIAS,
                      _entry(f"{METADATA_KEY}.npy", _metadata(LINEAR)))
    with pytest.raises(ValueError, match=r"w.npz: entry 'weight': its .npy header is 2147483648 bytes long; "
                                         r"at most 10000 are read"):
        nn.Linear(2, 3).load(path)


def test_an_empty_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "empty.npz"
    path.touch()
    with pytest.raises(ValueError, match=r"empty.npz is not a graphgrad .npz weights file: it is empty \(0 bytes\)"):
        nn.Linear(2, 3).load(path)


def test_a_text_file_is_refused_as_text_not_as_pickled_data(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("weights: see the README\n")
    with pytest.raises(ValueError, match=r"notes.npz is not a graphgrad .npz weights file: it is text, "
                                         r"not a zip archive \('weights: see the README\\n'\)$"):
        nn.Linear(2, 3).load(path)


@pytest.mark.parametrize("content, what", [
    (_npy(np.zeros(3)), r"it holds a single .npy array, not an .npz archive"),
    (b"\x00\x01\x02\xff" * 8, r"it is not a zip archive \(it starts with b'\\x00\\x01\\x02\\xff"),
])
def test_other_files_are_refused_saying_what_they_look_like(tmp_path, content, what):
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"w.npz is not a graphgrad .npz weights file: {what}"):
        nn.Linear(2, 3).load(path)


def test_an_archive_claiming_a_newer_zip_version_is_a_value_error(tmp_path):
    path = tmp_path / "w.npz"
    nn.Linear(2, 3, rng=0).save(path)
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6:central + 8] = struct.pack("<H", 99)  # "version needed to extract": 9.9
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"w.npz is a zip archive this reader does not support \(zip file version 9.9\)"):
        nn.Linear(2, 3).load(path)


def test_an_entry_whose_dtype_disagrees_with_the_metadata_is_refused(tmp_path):
    path = _write_zip(tmp_path / "w.npz", _entry("weight.npy", _npy(np.ones((2, 3), np.float32))), BIAS,
                      _entry(f"{METADATA_KEY}.npy", _metadata(LINEAR)))
    with pytest.raises(ValueError, match=r"w.npz: the file disagrees with its metadata: "
                                         r"weight is '<f4' but the metadata says '<f8'$"):
        nn.Linear(2, 3).load(path)


def test_deeply_nested_metadata_is_a_value_error_not_a_recursion_error(tmp_path):
    # 1300 levels fit under Linear's metadata cap and exceed Python 3.11's recursion limit (1000); where the
    # JSON decoder allows more levels, the same file is refused for its missing brackets.
    nested = np.frombuffer(b"[" * 1300, np.uint8)
    path = _write_zip(tmp_path / "w.npz", _entry("weight.npy", _npy(np.ones((2, 3)))), BIAS,
                      _entry(f"{METADATA_KEY}.npy", _npy(nested)))
    with pytest.raises(ValueError, match=r"w.npz: the metadata entry is not UTF-8 JSON \((nested too deeply|Expecting)"):
        nn.Linear(2, 3).load(path)


def test_metadata_holding_a_5000_digit_number_is_refused_naming_the_file(tmp_path):
    # 40 parameters allow metadata long enough for a number beyond Python's 4300-digit int conversion limit.
    module = nn.Module()
    for index in range(40):
        module.register(f"p{index}", nn.Parameter(np.zeros(1)))
    digits = np.frombuffer(b'{"format": "graphgrad.nn", "version": ' + b"9" * 5000 + b"}", np.uint8)
    path = _write_zip(tmp_path / "w.npz", _entry(f"{METADATA_KEY}.npy", _npy(digits)))
    with pytest.raises(ValueError, match=r"w.npz: the metadata entry is not UTF-8 JSON \(Exceeds the limit"):
        module.load(path)


def test_the_bombs_built_here_are_well_formed_zip_archives(tmp_path):
    """The helpers above write what they claim: zipfile reads the members, sizes and CRCs back."""
    import zipfile

    path = _write_zip(tmp_path / "z.npz", _entry("weight.npy", _npy_header((8, 2**20), np.float64), zeros=64 * 2**20),
                      BIAS)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.getinfo("weight.npy").file_size == 128 + 64 * 2**20
        with archive.open("bias.npy") as member:
            assert np.array_equal(np.lib.format.read_array(member), np.zeros(3))


def test_files_numpy_writes_otherwise_still_load(tmp_path):
    """Compressed, Fortran-ordered, big-endian and version 2.0 entries: the header checks refuse none of them."""
    weight = np.asfortranarray(np.arange(6.0).reshape(2, 3)).astype(">f8")
    bias = np.array([1.0, 2.0, 3.0])
    metadata = np.frombuffer(json.dumps({"format": "graphgrad.nn", "version": 1, "parameters": [
        ["weight", [2, 3], ">f8"], ["bias", [3], "<f8"]]}).encode(), np.uint8)
    path = tmp_path / "w.npz"
    np.savez_compressed(path, weight=weight, bias=bias, **{METADATA_KEY: metadata})
    layer = nn.Linear(2, 3).load(path)
    assert np.array_equal(layer.weight.data, weight) and layer.weight.dtype == np.float64
    header = _npy_header((3,), np.float64, version=(2, 0))
    _write_zip(tmp_path / "v2.npz", _entry("weight.npy", _npy(weight)), _entry("bias.npy", header + bias.tobytes()),
               _entry(f"{METADATA_KEY}.npy", _npy(metadata)))
    assert np.array_equal(nn.Linear(2, 3).load(tmp_path / "v2.npz").bias.data, bias)


@pytest.mark.parametrize("names, message", [
    (["weight.npy", "bias.npy", "notes.txt"], r"entry 'notes.txt' is not a .npy array"),
    (["weight.npy", "bias.npy", "bias.npy"], r"entry 'bias.npy' appears twice"),
])
def test_an_archive_with_other_members_is_refused(tmp_path, names, message):
    entries = [_entry(name, _npy(np.zeros((2, 3) if name == "weight.npy" else 3))) for name in names]
    path = _write_zip(tmp_path / "w.npz", *entries, _entry(f"{METADATA_KEY}.npy", _metadata(LINEAR)))
    with pytest.raises(ValueError, match=rf"w.npz: {message}$"):
        nn.Linear(2, 3).load(path)


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600)])
def test_saved_weights_honour_the_umask(tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        nn.Linear(2, 3, rng=0).save(tmp_path / "w.npz")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]
