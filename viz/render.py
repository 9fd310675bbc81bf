"""Write drawn graphs to files (.svg, .png, .pdf, .dot) and run the Graphviz `dot` program; the only viz module doing I/O."""

from __future__ import annotations

import shutil
from pathlib import Path

import graphviz

from viz import _checks
from viz.dot import draw_graph

FORMAT_BY_SUFFIX = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}
# Above this, dot scales the bitmap back down anyway ("too large for cairo-renderer bitmaps"), and a dpi such as
# 1e300 made it write an empty file.
MAX_DPI = 2400

INSTALL_HINT = (
    "Install Graphviz so that `dot` is on PATH: on Debian/Ubuntu `sudo apt-get install graphviz`, "
    "on Fedora `sudo dnf install graphviz`, on macOS `brew install graphviz`, with conda "
    "`conda install -c conda-forge graphviz`, on Windows `winget install graphviz` (or see "
    "graphviz.org/download). Writing a .dot file needs no Graphviz program."
)


class DotNotFoundError(RuntimeError):
    """The Graphviz `dot` executable, needed for .svg, .png, .pdf and animations, is not on PATH."""


def require_dot() -> str:
    """Return the path of the Graphviz `dot` executable, or raise `DotNotFoundError` saying how to install it.

    >>> require_dot().endswith(("dot", "dot.exe")) if shutil.which("dot") else True
    True
    """
    path = shutil.which("dot")
    if path is None:
        raise DotNotFoundError(f"the Graphviz program `dot` was not found on PATH. {INSTALL_HINT}")
    return path


def pipe(digraph: graphviz.Digraph, output_format: str) -> bytes:
    """Lay out ``digraph`` with `dot` and return the ``output_format`` ("svg", "png", "pdf", …) bytes.

    Raises:
        DotNotFoundError: `dot` is not installed.
        RuntimeError: `dot` failed; the message carries its stderr.

    >>> from autograd import Tensor
    >>> svg = pipe(draw_graph(Tensor(2.0, name="x") * 3.0), "svg") if shutil.which("dot") else b"<svg"
    >>> b"<svg" in svg
    True
    """
    require_dot()
    try:
        return digraph.pipe(format=output_format)
    except graphviz.ExecutableNotFound as error:
        raise DotNotFoundError(f"the Graphviz program `dot` could not be run ({error}). {INSTALL_HINT}") from error
    except graphviz.CalledProcessError as error:
        stderr = error.stderr.decode("utf-8", "replace") if isinstance(error.stderr, bytes) else error.stderr
        raise RuntimeError(f"dot -T{output_format} failed with exit status {error.returncode}: {stderr}") from error


def render(root, path, *, dpi: float | None = None, **options) -> Path:
    """Draw the graph behind ``root`` and write it to ``path``; the suffix picks the format.

    ``.dot`` writes the DOT source and needs no Graphviz program; ``.svg``, ``.png`` and ``.pdf`` run `dot`.

    Args:
        root: a Tensor, a list of Tensors (drawn with `viz.draw_graph` and ``options``) or a ready
            `graphviz.Digraph`.
        path: the file to write, ending in .svg, .png, .pdf or .dot. Its folder must exist.
        dpi: resolution of a .png, a finite number above 0 and at most `MAX_DPI` (Graphviz's default is 96).
        **options: keyword options of `viz.draw_graph` (show_data, show_grad, rankdir, max_nodes,
            collapse_modules, title).

    Returns:
        The path written, as a `pathlib.Path`.

    Raises:
        ValueError: unknown suffix, options given with a ready Digraph, or a dpi out of range.
        TypeError: a dpi that is not a number.
        DotNotFoundError: a format other than .dot was asked for and `dot` is not installed.

    >>> import tempfile
    >>> from autograd import Tensor
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = render(Tensor(2.0, name="x") * 3.0, Path(folder) / "graph.dot")
    ...     "digraph graphgrad" in written.read_text()
    True
    """
    if dpi is not None:
        dpi = _checks.positive_number("render", "dpi", dpi, maximum=MAX_DPI)
    path = Path(path)
    output_format = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if output_format is None:
        raise ValueError(f"render: unknown file suffix {path.suffix!r} in {str(path)!r}; "
                         f"use one of {', '.join(FORMAT_BY_SUFFIX)}")
    if isinstance(root, graphviz.Graph | graphviz.Digraph):
        if options:
            raise ValueError(f"render: drawing options {sorted(options)} cannot apply to a ready Digraph")
        digraph = root.copy()
    else:
        digraph = draw_graph(root, **options)
    if output_format == "dot":
        path.write_text(digraph.source, encoding="utf-8")
        return path
    if dpi is not None and output_format == "png":
        digraph.attr(dpi=f"{dpi:g}")
    path.write_bytes(pipe(digraph, output_format))
    return path
