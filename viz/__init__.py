"""Draw graphgrad's computational graphs: forward values above, gradients below, as Graphviz figures, files and step-through animations."""

from viz.dot import draw_graph
from viz.render import DotNotFoundError, render
from viz.animate import animate_backward, explain

__all__ = ["draw_graph", "render", "animate_backward", "explain", "DotNotFoundError"]
