"""Sphinx configuration for spdl's user documentation (Markdown pages through MyST)."""

project = "spdl"
author = "the spdl developers"
copyright = "2026, the spdl developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# _static/bench holds the Markdown tables bench/plot.py writes beside its charts: data, not pages.
exclude_patterns = ["_build", "README.md", "_static"]
myst_heading_anchors = 3
napoleon_google_docstring = True
autodoc_typehints = "description"
# Types go into the documented parameters only, not into a second, undocumented list.
autodoc_typehints_description_target = "documented"
html_theme = "alabaster"
nitpicky = False
