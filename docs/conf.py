"""Sphinx configuration of phaser's documentation (``python -m sphinx -W -b html docs
docs/_build/html``; the ``docs`` extra installs what it needs)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import phaser  # noqa: E402

project = "phaser"
author = "the phaser developers"
release = version = phaser.__version__
copyright = "the phaser developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "phaser_commands",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "ignore-module-all": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"phaser {release}"
html_theme_options = {"navigation_with_keys": False}
