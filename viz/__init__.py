"""Draw graphgrad's computational graphs: forward values above, gradients below, as Graphviz figures, files and step-through animations."""

from viz.dot import draw_graph
from viz.render import DotNotFoundError, render
from viz.animate import animate_backward
# The function, not the module: after this line `viz.explain` is `explain`; the module is sys.modules['viz.explain'].
from viz.explain import explain

__all__ = ["draw_graph", "render", "animate_backward", "explain", "DotNotFoundError"]
