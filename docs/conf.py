"""Sphinx configuration of graphgrad's docs site: MyST-NB pages executed at build time, Furo, autodoc/autosummary.

`make docs` builds it with warnings as errors (-W), nitpicky cross-references (-n) and every notebook cell
executed (a cell error fails the build); see README's "Docs" section.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # autodoc and the notebooks import autograd, nn, viz and demos from the checkout
# The notebook kernels are child processes: they find the checkout through PYTHONPATH.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

project = "graphgrad"
author = "graphgrad contributors"
copyright = "graphgrad contributors, MIT licence"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# --- pages: Markdown notebooks, executed on every build ------------------------------------------------
nb_execution_mode = "force"           # every output and drawing comes from this build's run
nb_execution_raise_on_error = True    # a cell error fails the build
nb_execution_timeout = 600            # the MNIST page trains for a while on a busy machine
nb_execution_show_tb = True           # a failing cell's traceback is printed in the build log
nb_merge_streams = True
# Formulas are Unicode text, not LaTeX: MathJax would load from a CDN, and the site must read offline.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# --- API reference ------------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True   # a package page lists what the package re-exports...
autosummary_ignore_module_all = False  # ...which is its __all__, and only that
autodoc_default_options = {"members": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_mock_imports = []
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" sections as fields, not second descriptions of the properties
default_role = "code"  # docstrings quote names in single backticks: shown as code, never a broken reference



def _prose_attribute_docstring(self):
    """Napoleon reads a property docstring's "text: more" first line as "type: description"; ours are prose."""
    return self._format_field("", "", self._consume_to_end())


from sphinx.ext.napoleon.docstring import GoogleDocstring  # noqa: E402

GoogleDocstring._parse_attribute_docstring = _prose_attribute_docstring

# -n checks every cross-reference; names from outside graphgrad (NumPy, Graphviz, hypothesis, the standard
# library's typing) have no inventory here, as the build has no network for intersphinx.
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|graphviz|hypothesis|st|pathlib|typing|collections|contextlib|os|io|PIL)\..*"),
    ("py:.*", r"(ndarray|Path|Callable|Iterable|Iterator|Sequence|Mapping|Any|NamedTuple|optional)"),
]

# --- HTML -------------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = "graphgrad"
html_static_path = []
html_theme_options = {"navigation_with_keys": True}
