"""The .npz weights file format of `Module.save` and `Module.load`: its constants, writing it and reading it.

`nn.module` holds `Module` and its state dicts; this module holds only what goes into and comes out of a file.
A weights file is a NumPy .npz archive: one .npy entry per parameter and per buffer (BatchNorm's running
averages), under its dotted name, plus the `METADATA_KEY` entry, JSON bytes naming the format, its version
and every array's shape and dtype. Version 1 files, written before buffers were saved, hold parameters only.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import os
import struct
import warnings
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from ._files import open_temporary

__all__ = ["FORMAT", "FORMAT_VERSION", "METADATA_KEY", "save", "load"]

FORMAT = "graphgrad.nn"
FORMAT_VERSION = 2
"""The version `save` writes. `load` reads it and version 1 (no buffers)."""
_READ_VERSIONS = (1, 2)
METADATA_KEY = "__graphgrad_metadata__"
"""The entry of a saved .npz holding the metadata: UTF-8 JSON bytes as a uint8 array (never pickled)."""

_SNIFF_SIZE = 64  # bytes read to tell a zip archive from an empty, text, .npy or pickle file
_HEADER_LENGTH_FORMATS = {(1, 0): "<H", (2, 0): "<I"}  # the .npy versions np.save writes for numeric arrays
_MAX_HEADER_SIZE = 10000  # numpy's own limit (np.load's max_header_size)
_MAX_DIMS = 32  # NumPy 1.x's limit on dimensions (2.x allows 64); no parameter has more
_CHUNK_SIZE = 1 << 20  # arrays are decompressed this many bytes at a time, straight into their buffer


def save(module, path) -> None:
    """Write ``module``'s parameters and buffers to the .npz file ``path`` (exactly that name), with a metadata entry.

    The metadata (format, version, class, the names, shapes and dtypes of parameters and buffers) is JSON stored as a
    uint8 array, so the file holds only plain numeric arrays and `load` never needs pickle. The
    file is written next to its destination and renamed into place, so it is never half written;
    its mode is 0666 less the umask, as for any file a program opens.

    >>> import tempfile
    >>> from nn import Linear
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(Linear(3, 2, rng=0), os.path.join(folder, "linear.npz"))
    ...     sorted(np.load(os.path.join(folder, "linear.npz")).files)
    ['__graphgrad_metadata__', 'bias', 'weight']
    """
    params = {name: param.data for name, param in module.named_parameters()}
    buffers = dict(module.named_buffers())
    state = {**params, **buffers}
    if METADATA_KEY in state:
        raise ValueError(f"{type(module).__name__}.save: a parameter is named {METADATA_KEY!r}, the metadata entry")
    metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "class": type(module).__name__,
        "parameters": [[name, list(array.shape), array.dtype.str] for name, array in params.items()],
        "buffers": [[name, list(array.shape), array.dtype.str] for name, array in buffers.items()],
    }
    state[METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # Not mkstemp: its files are 0600, and the weights would stay readable by their owner only.
    handle, temporary = open_temporary(directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **state)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(module, path):
    """Load parameters written by `save` from ``path`` into ``module``; returns ``module``.

    Nothing is unpickled, so the file can never run code, and nothing is decompressed before it is known
    to fit: every entry's .npy header (shape, dtype) is read first, and checked against the entry's size in
    the zip directory, against the metadata (itself read with a size cap) and against the module's
    parameters. Only then is each array read, never more bytes than its header promises. So a small file
    claiming gigabytes costs no more time or memory than the module's own parameters.

    Raises:
        ValueError: the file is not a graphgrad weights file that fits the module; the message names the
            file and what is wrong (an object array, a header or size that disagrees, the metadata, shapes).

    >>> import tempfile
    >>> from nn import Linear
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(Linear(3, 2, rng=0), os.path.join(folder, "linear.npz"))
    ...     layer = load(Linear(3, 2, rng=1), os.path.join(folder, "linear.npz"))
    >>> np.array_equal(layer.weight.data, Linear(3, 2, rng=0).weight.data)
    True
    """
    path = os.fspath(path)
    who = f"{type(module).__name__}.load: {path}"
    _check_is_zip(path, who)
    params = dict(module.named_parameters())
    buffers = dict(module.named_buffers())
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{who} is a damaged .npz archive ({exc})") from None
    except NotImplementedError as exc:  # a member claiming a newer zip version than zipfile reads
        raise ValueError(f"{who} is a zip archive this reader does not support ({exc})") from None
    with archive:
        entries = _entries(archive, who)
        headers = {key: _read_header(archive, info, f"{who}: entry {key!r}") for key, info in entries.items()}
        if METADATA_KEY not in entries:
            raise ValueError(f"{who} has no {METADATA_KEY!r} entry: it was not written by Module.save")
        expected = {**params, **buffers}
        metadata = _read_metadata(archive, entries.pop(METADATA_KEY), headers.pop(METADATA_KEY),
                                  _metadata_cap(module, expected), len(expected), who)
        _check_metadata(metadata, headers, who)
        # Zero-strided stand-ins of the declared shapes: the module's own checks, with no data read or allocated.
        stand_ins = {key: np.broadcast_to(np.zeros((), h.dtype), h.shape) for key, h in headers.items()}
        kept = []
        if metadata["version"] == 1:  # written before buffers were saved: the module's own stay as they are
            kept = [name for name in buffers if name not in stand_ins]
            stand_ins.update((name, buffers[name]) for name in kept)
        module._checked_state(stand_ins, who)
        arrays = {key: _read_data(archive, entries[key], headers[key], f"{who}: entry {key!r}") for key in headers}
    arrays.update((name, buffers[name]) for name in kept)
    module.load_state_dict(arrays)
    if kept:
        warnings.warn(f"{who} is a version 1 file, written before buffers were saved: {', '.join(kept)} keep "
                      "their current values (save the module again to include them)", stacklevel=3)
    return module


class _Header(NamedTuple):
    """An entry's .npy header: the array it declares, and where its data starts in the entry."""

    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    data_offset: int


def _check_is_zip(path: str, who: str) -> None:
    """Refuse, by its first bytes, a file that is not a zip archive, saying what it looks like instead."""
    with open(path, "rb") as file:
        start = file.read(_SNIFF_SIZE)
    if start.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a member, or an empty archive (as np.load sniffs)
        return
    text = _as_text(start)
    if not start:
        what = "it is empty (0 bytes)"
    elif start.startswith(b"\x93NUMPY"):
        what = "it holds a single .npy array, not an .npz archive"
    elif start.startswith(b"\x80"):  # pickle protocols 2 and later
        what = "it looks like pickled data, which is never unpickled (that could run code)"
    elif text is not None:
        what = f"it is text, not a zip archive ({text[:40]!r})"
    else:
        what = f"it is not a zip archive (it starts with {start[:16]!r})"
    raise ValueError(f"{who} is not a graphgrad .npz weights file: {what}")


def _as_text(start: bytes) -> str | None:
    """``start`` decoded, if it reads as the beginning of a UTF-8 text file; else None."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(start)  # a character cut at the end is fine
    except UnicodeDecodeError:
        return None
    return text if text and all(char.isprintable() or char in "\t\n\r\f" for char in text) else None


def _entries(archive: zipfile.ZipFile, who: str) -> dict:
    """The archive's members by key (their name less ``.npy``), refusing any other member and duplicates."""
    entries = {}
    for info in archive.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key is None or key in entries:
            raise ValueError(f"{who}: entry {info.filename!r} " + ("appears twice" if key else "is not a .npy array"))
        if info.flag_bits & 0x1:
            raise ValueError(f"{who}: entry {key!r} is encrypted")
        entries[key] = info
    return entries


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, who: str) -> _Header:
    """Read and check an entry's .npy header, and only that: the size it declares must be the entry's size."""
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            length_bytes = member.read(struct.calcsize(_HEADER_LENGTH_FORMATS.get(version, "<H")))
            length = struct.unpack(_HEADER_LENGTH_FORMATS.get(version, "<H"), length_bytes)[0]
            # numpy reads a header whole before checking its length (up to 4 GiB in version 2.0): check it first.
            fits = version in _HEADER_LENGTH_FORMATS and length <= _MAX_HEADER_SIZE
            header = member.read(length) if fits else b""
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ValueError(f"{who} is damaged ({exc})") from None
    except (ValueError, struct.error) as exc:  # no .npy magic, or too short for a header
        raise ValueError(f"{who}: its .npy header is malformed ({exc})") from None
    if version not in _HEADER_LENGTH_FORMATS:
        raise ValueError(f"{who}: .npy format version {version} is not read (1.0 and 2.0 are)")
    if length > _MAX_HEADER_SIZE:
        raise ValueError(f"{who}: its .npy header is {length} bytes long; at most {_MAX_HEADER_SIZE} are read")
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran_order, dtype = read(io.BytesIO(length_bytes + header), max_header_size=_MAX_HEADER_SIZE)
    except (ValueError, TypeError, SyntaxError, RecursionError) as exc:
        raise ValueError(f"{who}: its .npy header is malformed ({exc})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{who} is an object array; refusing it, because reading it would unpickle data, which can run code"
        )
    if len(shape) > _MAX_DIMS or any(side < 0 for side in shape):
        raise ValueError(f"{who}: its .npy header declares an impossible shape {shape}")
    data_offset = 6 + 2 + len(length_bytes) + length  # magic, version, header length, header
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != data_offset + nbytes:
        raise ValueError(
            f"{who}: its .npy header declares {shape} {dtype}, {nbytes} bytes of data, "
            f"but the zip entry holds {info.file_size - data_offset}"
        )
    return _Header(shape, dtype, fortran_order, data_offset)


def _read_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo, header: _Header, who: str) -> np.ndarray:
    """The array behind a checked header, read in chunks into one buffer of exactly its size."""
    nbytes = math.prod(header.shape) * header.dtype.itemsize
    buffer = np.empty(nbytes, dtype=np.uint8)
    filled = 0
    try:
        with archive.open(info) as member:
            member.read(header.data_offset)
            while filled < nbytes:
                chunk = member.read(min(nbytes - filled, _CHUNK_SIZE))
                if not chunk:
                    raise ValueError(f"{who} is damaged (its data ends after {filled} of {nbytes} bytes)")
                buffer[filled:filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                filled += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ValueError(f"{who} is damaged ({exc})") from None
    order = "F" if header.fortran_order else "C"
    return buffer.view(header.dtype).reshape(header.shape, order=order)


def _metadata_cap(module, arrays: dict) -> int:
    """The most bytes `save` could write as ``module``'s metadata, generously: names may be \\u-escaped."""
    return 1024 + 12 * len(type(module).__name__) + sum(
        64 + 12 * len(name) + 24 * array.ndim for name, array in arrays.items()
    )


def _read_metadata(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, header: _Header, cap: int, count: int, who: str
) -> dict:
    """The metadata entry, read only if it is no longer than ``cap`` bytes, decoded and checked."""
    if header.dtype != np.uint8 or len(header.shape) != 1:
        raise ValueError(f"{who}: the metadata entry must be a 1-d uint8 array, got {header.dtype} {header.shape}")
    if header.shape[0] > cap:
        raise ValueError(
            f"{who}: the metadata entry is {header.shape[0]} bytes; "
            f"the metadata of a module with {count} parameters takes at most {cap}"
        )
    raw = _read_data(archive, info, header, f"{who}: the metadata entry")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{who}: the metadata entry is not UTF-8 JSON (nested too deeply)") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, or an int beyond Python's 4300 digits
        raise ValueError(f"{who}: the metadata entry is not UTF-8 JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{who}: the metadata does not declare format {FORMAT!r}")
    version = metadata.get("version")
    if type(version) is not int or version not in _READ_VERSIONS:  # (JSON's true would equal 1)
        readable = " and ".join(map(str, _READ_VERSIONS))
        raise ValueError(
            f"{who}: format version {metadata.get('version')!r} is not supported (this graphgrad reads {readable})"
        )
    return metadata


def _check_metadata(metadata: dict, headers: dict, who: str) -> None:
    """The metadata must list exactly the file's arrays, with their shapes and dtypes, all float."""
    declared = {}
    for kind in ("parameters", "buffers") if metadata["version"] >= 2 else ("parameters",):
        try:
            listed = {name: (tuple(shape), dtype) for name, shape, dtype in metadata.get(kind)}
        except (TypeError, ValueError):
            raise ValueError(f"{who}: the metadata's {kind[:-1]} list is malformed") from None
        twice = [name for name in listed if name in declared]
        if twice:
            raise ValueError(f"{who}: the metadata lists {twice} as both parameters and buffers")
        declared.update(listed)
    problems = []
    undeclared = [name for name in headers if name not in declared]
    absent = [name for name in declared if name not in headers]
    if undeclared:
        problems.append(f"arrays not in the metadata {undeclared}")
    if absent:
        problems.append(f"metadata entries with no array {absent}")
    for name, (shape, dtype) in declared.items():
        if name not in headers:
            continue
        if headers[name].shape != shape:
            problems.append(f"{name} is {headers[name].shape} but the metadata says {shape}")
        if headers[name].dtype.str != dtype:
            problems.append(f"{name} is {headers[name].dtype.str!r} but the metadata says {dtype!r}")
    for name, header in headers.items():
        if header.dtype.kind != "f":
            problems.append(f"{name} has dtype {header.dtype}, not float")
    if problems:
        raise ValueError(f"{who}: the file disagrees with its metadata: " + "; ".join(problems))
