"""Replay a backward pass step by step as a self-contained HTML page or GIF (`animate_backward`); the step lines
come from `viz.explain`."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import numpy as np

from autograd.graph import backward_steps
from viz import _checks, labels
from viz.dot import DEFAULT_MAX_NODES, draw_view
from viz.explain import describe_step
from viz.graph_view import GraphView, collect_graph
from viz.render import pipe

DEFAULT_MAX_FRAMES = 300
GIF_FRAME_MILLISECONDS = 1200


def _frame_gradients(view: GraphView, steps):
    """Yield, for frames 0..len(steps), the gradient known so far for each value index."""
    known: dict[int, np.ndarray] = {}
    yield dict(known)
    for step in steps:
        output = step.node.output
        if output is not None:
            known[view.index_of(output)] = np.asarray(step.grad_output)
        for tensor, gradient in zip(step.node.inputs, step.input_grads):
            if gradient is not None:
                index = view.index_of(tensor)
                known[index] = np.asarray(gradient) if index not in known else known[index] + gradient
        yield dict(known)


def animate_backward(root, path, *, grad=None, show_data: bool = True, rankdir: str | None = None,
                     max_nodes: int = DEFAULT_MAX_NODES, collapse_modules: bool = False,
                     title: str | None = None, max_frames: int = DEFAULT_MAX_FRAMES) -> Path:
    """Write a step-through animation of the backward pass from ``root``: an .html page or a .gif.

    Frame 0 shows the forward values; frame k highlights the op whose VJP runs at step k (its input edges in
    blue) and shows every gradient known after it, partial sums included. The HTML page is self-contained
    (SVG frames inline, no network access): previous/next buttons, a slider, the arrow keys, Home and End,
    and under each frame the step's line from `explain`. A .gif needs Pillow. ``.grad`` is not touched.

    Args:
        root: a Tensor or a list of Tensors to differentiate.
        path: the file to write, ending in .html or .gif. Its folder must exist.
        grad: the seed gradient (default ones).
        show_data, rankdir, max_nodes, collapse_modules: as in `viz.draw_graph`.
        title: heading of the page (default: "Backward pass from <root names>").
        max_frames: refuse graphs needing more frames than this (each frame is one run of `dot`).

    Returns:
        The path written.

    Raises:
        ValueError: unknown suffix, more than ``max_frames`` frames, or a ``max_frames`` or ``max_nodes`` that is
            not an integer of at least 1.
        TypeError: a ``max_frames`` or ``max_nodes`` that is not a number.
        DotNotFoundError: the Graphviz `dot` program is not installed.

    >>> import tempfile, shutil
    >>> from autograd import Tensor
    >>> price = Tensor(100.0, name="apple") * Tensor(2.0, name="apple_num")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     if shutil.which("dot"):  # frames are laid out by Graphviz
    ...         page = animate_backward(price, Path(folder) / "steps.html")
    ...         print(page.read_text().count('class="frame"'), "frames")
    ...     else:
    ...         print(2, "frames")
    2 frames
    """
    _checks.positive_integer("animate_backward", "max_frames", max_frames)
    _checks.positive_integer("animate_backward", "max_nodes", max_nodes)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".gif"):
        raise ValueError(f"animate_backward: unknown file suffix {path.suffix!r} in {str(path)!r}; "
                         f"use .html or .gif")
    view = collect_graph(root)
    steps = backward_steps(root, grad)
    if len(steps) + 1 > max_frames:
        raise ValueError(f"animate_backward: {len(steps) + 1} frames needed, more than max_frames={max_frames}")
    captions = ["forward pass: " + ", ".join(
        f"{view.name_of(tensor)} = {labels.format_array(tensor.data)}" for tensor in view.roots)]
    captions += [describe_step(view, step, number) for number, step in enumerate(steps, start=1)]
    position_of_node = {id(node): position for position, node in enumerate(view.nodes)}
    digraphs = []
    for frame_number, known in enumerate(_frame_gradients(view, steps)):
        highlight = position_of_node[id(steps[frame_number - 1].node)] if frame_number > 0 else None
        digraphs.append(draw_view(
            view, show_data=show_data, show_grad=True, rankdir=rankdir, max_nodes=max_nodes,
            collapse_modules=collapse_modules, title=captions[frame_number] if suffix == ".gif" else None,
            gradient_of=lambda tensor, known=known: known.get(view.index_of(tensor)),
            highlight_node=highlight, reserve_grad_rows=True))
    if title is None:
        title = "Backward pass from " + ", ".join(view.name_of(tensor) for tensor in view.roots)
    if suffix == ".gif":
        path.write_bytes(_gif_bytes([pipe(digraph, "png") for digraph in digraphs]))
    else:
        svgs = [pipe(digraph, "svg").decode("utf-8") for digraph in digraphs]
        path.write_text(_html_page(title, svgs, captions), encoding="utf-8")
    return path


def _inline_svg(svg: str, frame_number: int) -> str:
    """Strip the XML prolog, DOCTYPE (it names an external DTD) and comments; make element ids unique per frame."""
    svg = re.sub(r"<\?xml.*?\?>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!DOCTYPE.*?>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = re.sub(r'(\s)id="', rf'\1id="f{frame_number}-', svg)
    return svg.strip()


def _html_page(title: str, svgs: list[str], captions: list[str]) -> str:
    frames = "\n".join(
        f'<figure class="frame" data-step="{number}"{"" if number == 0 else " hidden"}>\n'
        f"{_inline_svg(svg, number)}\n<figcaption>{html.escape(caption)}</figcaption>\n</figure>"
        for number, (svg, caption) in enumerate(zip(svgs, captions)))
    last = len(svgs) - 1
    return _PAGE_TEMPLATE.format(title=html.escape(title), frames=frames, last=last)


_PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }}
.controls {{ display: flex; gap: 0.8em; align-items: center; margin: 0.8em 0; }}
.controls input[type=range] {{ flex: 1; max-width: 28em; }}
figure {{ margin: 0; }}
figure svg {{ max-width: 100%; height: auto; }}
figcaption {{ font-family: Menlo, Consolas, monospace; font-size: 0.9em; white-space: pre-wrap; margin-top: 0.6em; }}
.hint {{ color: #666; font-size: 0.85em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<div class="controls">
<button type="button" id="previous" aria-label="previous step">&#9664; previous</button>
<input type="range" id="slider" min="0" max="{last}" value="0" step="1" aria-label="step">
<button type="button" id="next" aria-label="next step">next &#9654;</button>
<span id="position">step 0 of {last}</span>
</div>
<p class="hint">Frame 0 shows the forward values; each step highlights the op whose vector-Jacobian product runs and shows the gradients known so far (blue, below each value). Keys: &larr; &rarr; Home End.</p>
{frames}
<script>
(function () {{
  var frames = document.querySelectorAll("figure.frame");
  var slider = document.getElementById("slider");
  var previous = document.getElementById("previous");
  var next = document.getElementById("next");
  var position = document.getElementById("position");
  var current = 0;
  function show(step) {{
    current = Math.max(0, Math.min(frames.length - 1, step));
    for (var i = 0; i < frames.length; i++) {{ frames[i].hidden = (i !== current); }}
    slider.value = current;
    position.textContent = "step " + current + " of " + (frames.length - 1);
    previous.disabled = current === 0;
    next.disabled = current === frames.length - 1;
  }}
  previous.addEventListener("click", function () {{ show(current - 1); }});
  next.addEventListener("click", function () {{ show(current + 1); }});
  slider.addEventListener("input", function () {{ show(parseInt(slider.value, 10)); }});
  document.addEventListener("keydown", function (event) {{
    if (event.key === "ArrowLeft") {{ show(current - 1); event.preventDefault(); }}
    else if (event.key === "ArrowRight") {{ show(current + 1); event.preventDefault(); }}
    else if (event.key === "Home") {{ show(0); event.preventDefault(); }}
    else if (event.key === "End") {{ show(frames.length - 1); event.preventDefault(); }}
  }});
  show(0);
}})();
</script>
</body>
</html>
"""


def _gif_bytes(png_frames: list[bytes]) -> bytes:
    """Combine PNG frames into a looping GIF, padding each onto a white canvas of the largest frame's size."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ModuleNotFoundError("animate_backward: writing a .gif needs Pillow (`pip install Pillow`); "
                                  "an .html animation needs nothing extra") from error
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in png_frames]
    width = max(image.width for image in images)
    height = max(image.height for image in images)
    canvases = []
    for image in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, ((width - image.width) // 2, 0))
        canvases.append(canvas.quantize(colors=64))
    buffer = io.BytesIO()
    canvases[0].save(buffer, format="GIF", save_all=True, append_images=canvases[1:],
                     duration=GIF_FRAME_MILLISECONDS, loop=0)
    return buffer.getvalue()
