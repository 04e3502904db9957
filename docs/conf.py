"""Sphinx configuration of the fastloss documentation.

Build: ``pip install '.[docs]' && sphinx-build docs docs/_build`` (CI:
``tools/build_docs.sh``: warnings are errors, then the doctests).  Everything
that shows a number or a picture is computed by the installed fastloss at
build time: the loss pages (``_ext/fastloss_docs.py``), their curves
(``_ext/lossplots.py``) and the gallery (``examples/``).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import fastloss  # noqa: E402  (the installed package: the docs describe what is built)

project = "fastloss"
author = "the fastloss developers"
copyright = "the fastloss developers"
version = release = fastloss.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "fastloss_docs",
]

exclude_patterns = ["_build", "examples", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = []
default_role = "literal"      # `x` in a docstring is code, never a dangling reference
nitpicky = False
suppress_warnings = []

# -- autodoc / numpydoc ------------------------------------------------------
# The docstrings mix numpydoc sections (Parameters) with prose; numpydoc
# renders both.  Validation is off (the style is not uniform across modules);
# what -W enforces is that every page and cross-reference resolves.
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
autodoc_class_signature = "mixed"
numpydoc_show_class_members = False
numpydoc_validation_checks: set = set()
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# fastloss.torch needs torch; without it (a docs-only venv) its reference is
# built from the source with torch mocked.
if importlib.util.find_spec("torch") is None:
    autodoc_mock_imports = ["torch"]

# -- doctest -------------------------------------------------------------------
doctest_global_setup = "import numpy as np\nimport fastloss as fl\n"
doctest_test_doctest_blocks = "default"

# -- plots on the loss pages -------------------------------------------------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.dpi": 110}
plot_pre_code = "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\n"

# -- gallery -----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",          # relative to this directory
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "fastloss_docs.GalleryOrder",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    # a script's last expression is often a figure: its repr is noise
    "capture_repr": (),
    "plot_gallery": "True",
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastloss {release}"
html_static_path = ["_static"]
html_css_files = ["fastloss.css"]
html_context: dict = {}
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
# single pages without sub-pages: no empty "Section Navigation" column
html_sidebars = {"index": [], "getting_started": [], "conventions": []}

# -- math ----------------------------------------------------------------------
# The formulas render with MathJax 3.  A copy ships in the package
# django-static-mathjax (MathJax's own files; no Django dependency), part of
# the [docs] extra: its self-contained SVG build goes into _static so the
# site renders its math offline (no CDN at build or reading time).  Without
# that package Sphinx's default CDN address is used.
try:
    import mathjax as _mathjax_copy
except ImportError:
    _mathjax_copy = None
if _mathjax_copy is not None:
    import shutil

    _mathjax_js = Path(_mathjax_copy.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"
    _stage = HERE / "_build" / "mathjax_static"
    (_stage / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_mathjax_js, _stage / "mathjax" / "tex-svg.js")
    html_static_path.append(str(_stage))
    mathjax_path = "mathjax/tex-svg.js"
