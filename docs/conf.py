"""Sphinx configuration of deepgnn's documentation (``make docs``).

Why Sphinx: the API reference comes from the docstrings themselves (autodoc + napoleon reads
their Google sections, MathJax renders their ``.. math::`` blocks, and their examples are the
doctests ``make test`` runs), so the reference cannot drift from the code. The guide pages are
Markdown (MyST), the CLI reference comes from the argparse parser, and the tutorials are Python
scripts that sphinx-gallery runs at build time, so every output shown is a real run.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

import deepgnn  # noqa: E402

# The tutorials run in this process. One thread: on the 2-core build machines these small
# sparse steps ran 13x slower on two threads shared with other jobs (depth_table of 9 cells:
# 16.8 s against 1.3 s).
torch.set_num_threads(1)

project = "deepgnn"
author = "The deepgnn developers"
copyright = "2026, the deepgnn developers"
release = version = deepgnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served with the pages: formulas render offline too
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinxarg.ext",
    "sphinx_gallery.gen_gallery",
    "deepgnn_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "tutorials/README.txt", "tutorials/GALLERY_HEADER.rst"]
templates_path: list[str] = []

# The docstrings' sections: Google style; a class's `Attributes:` become attribute entries that
# cross-references (`TrainResult.untrained`) resolve to (undocumented members are not listed, so
# none is documented twice).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False
add_module_names = False

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Every cross-reference must resolve (`-n`); the third-party libraries' own docs are not
# reachable from the build machines (no intersphinx inventories), so references into them are
# left as text. deepgnn's own names must resolve: deepgnn_docs maps the private modules they
# are defined in (`deepgnn.models._base.GNN`) to the public names they are documented under.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|pandas|pd|numpy|np|scipy|optuna|dgl|networkx|nx|matplotlib|tqdm)(\..*)?"),
    (r"py:.*", r"(collections\.abc|typing|pathlib|argparse|os|dataclasses|enum|types)\..*"),
    (r"py:class", r"(Tensor|DataFrame|Path|Study|Figure|Axes|Generator|Module|Parameter)"),
    (r"py:.*", r"(pickle|random|logging|subprocess|multiprocessing|concurrent)\..*"),
    # internal helper types that public signatures mention but the API does not export
    (r"py:class", r"deepgnn\.sweep\.ledger\.Claim"),
]

sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["generated/tutorials"],
    "filename_pattern": r".*\.py$",  # run every tutorial: the outputs shown are real
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "min_reported_time": 1,
    "capture_repr": ("_repr_html_", "__repr__"),
    "show_memory": False,
    "plot_gallery": "True",
    "reset_modules": ("matplotlib",),
}

html_theme = "furo"
html_title = f"deepgnn {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
