"""The .npz weights file format of `Module.save` and `Module.load`: its constants, writing it and reading it.

`nn.module` holds `Module` and its state dicts; this module holds only what goes into and comes out of a file.
A weights file is a NumPy .npz archive: one .npy entry per parameter, under its dotted name, plus the
`METADATA_KEY` entry, JSON bytes naming the format, its version and every parameter's shape and dtype.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "METADATA_KEY", "save", "load"]

FORMAT = "graphgrad.nn"
FORMAT_VERSION = 1
METADATA_KEY = "__graphgrad_metadata__"
"""The entry of a saved .npz holding the metadata: UTF-8 JSON bytes as a uint8 array (never pickled)."""


def save(module, path) -> None:
    """Write ``module``'s parameters to the .npz file ``path`` (exactly that name), with a metadata entry.

    The metadata (format, version, class, parameter names, shapes and dtypes) is JSON stored as a
    uint8 array, so the file holds only plain numeric arrays and `load` never needs pickle. The
    file is written next to its destination and renamed into place, so it is never half written.

    >>> import tempfile
    >>> from nn import Linear
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(Linear(3, 2, rng=0), os.path.join(folder, "linear.npz"))
    ...     sorted(np.load(os.path.join(folder, "linear.npz")).files)
    ['__graphgrad_metadata__', 'bias', 'weight']
    """
    state = {name: param.data for name, param in module.named_parameters()}
    if METADATA_KEY in state:
        raise ValueError(f"{type(module).__name__}.save: a parameter is named {METADATA_KEY!r}, the metadata entry")
    metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "class": type(module).__name__,
        "parameters": [[name, list(array.shape), array.dtype.str] for name, array in state.items()],
    }
    state[METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **state)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(module, path):
    """Load parameters written by `save` from ``path`` into ``module``; returns ``module``.

    The file is read with ``allow_pickle=False``, so it can never run code. It is refused, with the
    file named, if it is not an .npz archive, if an entry is an object array (which only pickle could
    read), if it lacks the metadata entry or its metadata disagrees with its arrays, or (through
    `Module.load_state_dict`) if its parameters do not fit the module.

    Raises:
        ValueError: the file is not a graphgrad weights file that fits the module.

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
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as exc:  # a pickle, or a .npy holding objects
        raise ValueError(f"{who} is not a graphgrad .npz weights file ({exc})") from None
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{who} is a damaged .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{who} holds a single array, not a graphgrad .npz weights file")
    with archive:
        arrays = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise ValueError(
                        f"{who}: entry {key!r} is an object array; refusing it, because reading it "
                        "would unpickle data, which can run code"
                    ) from None
                raise ValueError(f"{who}: entry {key!r} cannot be read ({exc})") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ValueError(f"{who}: entry {key!r} is damaged ({exc})") from None
    metadata = _read_metadata(arrays.pop(METADATA_KEY, None), who)
    _check_metadata(metadata, arrays, who)
    module.load_state_dict(arrays)
    return module


def _read_metadata(entry, who: str) -> dict:
    if entry is None:
        raise ValueError(f"{who} has no {METADATA_KEY!r} entry: it was not written by Module.save")
    if entry.dtype != np.uint8 or entry.ndim != 1:
        raise ValueError(f"{who}: the metadata entry must be a 1-d uint8 array, got {entry.dtype} {entry.shape}")
    try:
        metadata = json.loads(entry.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{who}: the metadata entry is not UTF-8 JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{who}: the metadata does not declare format {FORMAT!r}")
    if metadata.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{who}: format version {metadata.get('version')!r} is not supported (this graphgrad reads {FORMAT_VERSION})"
        )
    return metadata


def _check_metadata(metadata: dict, arrays: dict, who: str) -> None:
    """The metadata must list exactly the file's arrays, with their shapes and float dtypes."""
    listed = metadata.get("parameters")
    try:
        declared = {name: tuple(shape) for name, shape, _ in listed}
    except (TypeError, ValueError):
        raise ValueError(f"{who}: the metadata's parameter list is malformed") from None
    problems = []
    undeclared = [name for name in arrays if name not in declared]
    absent = [name for name in declared if name not in arrays]
    if undeclared:
        problems.append(f"arrays not in the metadata {undeclared}")
    if absent:
        problems.append(f"metadata entries with no array {absent}")
    for name, shape in declared.items():
        if name in arrays and arrays[name].shape != shape:
            problems.append(f"{name} is {arrays[name].shape} but the metadata says {shape}")
    for name, array in arrays.items():
        if array.dtype.kind != "f":
            problems.append(f"{name} has dtype {array.dtype}, not float")
    if problems:
        raise ValueError(f"{who}: the file disagrees with its metadata: " + "; ".join(problems))
