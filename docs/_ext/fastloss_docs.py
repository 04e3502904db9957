"""Sphinx extension: one page per registered loss, written at build time.

At ``builder-inited`` it walks fastloss's registry (so a loss added on any
branch gets its page without a docs change) and writes
``docs/generated/losses/<function name>.rst`` plus the index of losses and the
loss tables of the API reference.  Each page joins what the class says about
itself (signature, docstring, metadata: ``target_kind``, ``has_hessian``,
``link``, names) with the entry of ``loss_table.LOSSES`` (formula, gradient,
hessian, peers, edge cases, a doctest).

A registered loss without a table entry stops the build: a new loss cannot be
undocumented.  A table entry whose loss is not registered in this build is
skipped (it documents a loss another branch is adding).  Files are rewritten
only when their text changes, so an incremental build stays incremental.
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

FAMILY_ORDER = ["Regression", "Classification", "Distributions", "Detection",
                "Segmentation", "Agreement", "Ranking"]

KIND_TEXT = {
    "elementwise": "elementwise: every element is its own term; a sample's loss is the mean over its k outputs for ``(n, k)`` input",
    "labels": "integer class labels ``(n,)`` against scores ``(n, C)``; a row is one sample",
    "rows": "a row of ``(n, k)`` is one sample whose k values are coupled",
    None: "set-level: the value is not a sum over independent samples",
}

REDUCTION_TEXT = (
    "``reduction``: ``\"mean\"`` (default) is :math:`\\sum_i w_i l_i / \\sum_i w_i`, "
    "``\"sum\"`` is :math:`\\sum_i w_i l_i`, ``\"none\"`` the array :math:`w_i l_i`; "
    ":math:`w_i` = ``sample_weight[i]`` (default 1). The gradient is that of the reduced value "
    "(of the sum for ``\"none\"``). See :doc:`/conventions`.")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _indent(text: str, n: int = 3) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def _title(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _names(cls) -> list[str]:
    return [cls.__name__, cls.function_name, *[a for a in cls.aliases if a != cls.__name__]]


def _function_signature(cls) -> str:
    fl = importlib.import_module("fastloss")
    fn = getattr(fl, cls.function_name, None)
    sig = inspect.signature(fn) if fn is not None else None
    return f"{cls.function_name}{sig}" if sig is not None else f"{cls.function_name}(y_true, y_pred, sample_weight=None, **params)"


def _hessian_note(cls) -> str:
    if not cls.has_hessian:
        return "no ``gradient_hessian``"
    if cls.hessian_needs_logits:
        return "``gradient_hessian`` with ``from_logits=True``"
    return "``gradient_hessian``"


def _params(cls) -> str:
    sig = inspect.signature(cls.__init__)
    items = [f"``{p.name}={p.default!r}``" for p in list(sig.parameters.values())[1:]
             if p.default is not inspect.Parameter.empty]
    return ", ".join(items) if items else "none"


def _peer(name: str) -> str:
    """A peer that is a Python name (``keras.losses.Huber(delta)``) is set as code."""
    return f"``{name}``" if re.fullmatch(r"[\w.:]+(\(.*\))?", name) else name


def loss_page(cls, entry, has_curves: bool) -> str:
    name = cls.function_name
    parts = [f".. _loss-{name}:\n", _title(entry["title"], "="),
             ".. currentmodule:: fastloss\n",
             f":class:`{cls.__name__}` (class) and :func:`{name}` (function) — "
             f"{_hessian_note(cls)}.\n",
             ".. list-table::\n   :stub-columns: 1\n   :widths: 20 80\n\n"
             f"   * - names for :func:`fastloss.get`\n     - {', '.join(f'``{n!r}``' for n in _names(cls))}\n"
             f"   * - parameters\n     - {_params(cls)}\n"
             f"   * - input\n     - {KIND_TEXT[cls.target_kind]}\n"
             + (f"   * - with ``from_logits=True``\n     - scores become probabilities by the {cls.link}\n"
                if cls.link else ""),
             _title("Formula", "-"),
             ".. math::\n\n" + _indent(entry["formula"]) + "\n",
             entry["where"] + "\n",
             (REDUCTION_TEXT if cls.target_kind is not None else
              "Set-level loss: ``reduction`` (where it takes one) acts over the units the loss "
              "names (images, classes, pairs); see the API entry below.") + "\n",
             _title("Gradient and hessian", "-"),
             f"**Gradient** of :math:`l_i` with respect to ``y_pred``: {entry['gradient']}\n",
             f"**Hessian** (diagonal): {entry['hessian']}\n"]
    if has_curves:
        parts.append(
            ".. plot::\n   :include-source: false\n"
            f"   :alt: {entry['title']}: loss, gradient and hessian computed by fastloss\n\n"
            f"   import lossplots\n   lossplots.curve_figure({name!r})\n")
        parts.append("Computed by fastloss when these pages were built. The gallery has the code "
                     "for such pictures: :doc:`/auto_examples/index`.\n")
    rows = "".join(f"   * - {_peer(peer)}\n     - {conv}\n" for peer, conv in entry["peers"])
    parts += [_title("Peers and how to convert", "-"),
              ".. list-table::\n   :header-rows: 1\n   :widths: 40 60\n\n"
              "   * - peer\n     - agreement / conversion\n" + rows,
              "General rules (reductions, sklearn's half-losses, Keras' "
              "``sum_over_batch_size``): :doc:`/conventions`.\n",
              _title("Edge cases", "-"),
              "".join(f"- {rule}\n" for rule in entry["edge"]),
              _title("Example", "-"),
              "The formula above in NumPy against fastloss (a doctest, run with every "
              "build of these pages):\n",
              entry["example"],
              _title("API", "-"),
              f".. autoclass:: {cls.__name__}\n",
              f".. function:: {_function_signature(cls)}\n   :no-index:\n\n"
              f"   The function form: ``{cls.__name__}(**params)(y_true, y_pred, sample_weight)``.\n"]
    return "\n".join(parts)


def _short(entry) -> str:
    """The index's formula: the entry's ``short``, else its formula without
    the leading ``l_i =`` (the column header says what it is)."""
    text = entry.get("short") or entry["formula"]
    return re.sub(r"^\s*(l_i|L)\s*=\s*", "", text)


def loss_index(classes, table) -> str:
    by_family: dict = {}
    for cls in classes:
        by_family.setdefault(table[cls.function_name]["family"], []).append(cls)
    families = [f for f in FAMILY_ORDER if f in by_family] + sorted(
        f for f in by_family if f not in FAMILY_ORDER)
    out = [_title("Losses", "="),
           f"Every loss registered in this build ({len(classes)}), with its formula, gradient, "
           "hessian, peers and edge cases. The pages are generated from fastloss's "
           "registry when the documentation is built.\n",
           ".. currentmodule:: fastloss\n"]
    for family in families:
        out.append(_title(family, "-"))
        out.append(".. list-table::\n   :header-rows: 1\n   :widths: 26 26 48\n\n"
                   "   * - loss\n     - class\n     - per-sample loss (or the set's)\n")
        for cls in by_family[family]:
            e = table[cls.function_name]
            out.append(f"   * - :doc:`{e['title']} <{cls.function_name}>`\n"
                       f"     - :class:`{cls.__name__}`\n"
                       f"     - :math:`{_short(e)}`\n")
        out.append("")
    out.append(".. toctree::\n   :hidden:\n\n" + "".join(
        f"   {cls.function_name}\n" for f in families for cls in by_family[f]))
    return "\n".join(out)


def generate(app) -> None:
    import fastloss
    from fastloss import _registry
    import loss_table

    classes = _registry.loss_classes()
    missing = [cls.function_name for cls in classes if cls.function_name not in loss_table.LOSSES]
    if missing:
        raise ExtensionError(
            f"registered loss(es) {missing} have no entry in docs/_ext/loss_table.py: "
            "write the formula, gradient, hessian, peers, edge cases and example")
    registered = {cls.function_name for cls in classes}
    skipped = sorted(set(loss_table.LOSSES) - registered)
    if skipped:
        logger.info(f"[fastloss_docs] table entries for losses not in this build: {skipped}")
    import lossplots

    out = Path(app.srcdir) / "generated" / "losses"
    wanted = {"index.rst"}
    for cls in classes:
        text = loss_page(cls, loss_table.LOSSES[cls.function_name],
                         lossplots.has_curves(cls.function_name))
        _write(out / f"{cls.function_name}.rst", text)
        wanted.add(f"{cls.function_name}.rst")
    _write(out / "index.rst", loss_index(classes, loss_table.LOSSES))
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    # included files end in .inc so that Sphinx does not read them as pages
    _write(Path(app.srcdir) / "generated" / "adapters_optional.inc", optional_adapters())
    _write(Path(app.srcdir) / "generated" / "losses_table.inc", losses_table(classes))
    _write(Path(app.srcdir) / "generated" / "core_more.inc", other_public_names())
    app.config.html_context["fastloss_loss_count"] = len(classes)
    logger.info(f"[fastloss_docs] {len(classes)} loss pages (fastloss {fastloss.__version__})")


def losses_table(classes) -> str:
    """Every registered loss class for the API reference, in definition order."""
    rows = "".join(
        f"   * - :class:`{cls.__name__}`\n     - :func:`{cls.function_name}`\n"
        f"     - ``{cls.__module__}``\n     - {cls.target_kind or 'set-level'}\n"
        f"     - {'yes' + (' (logits)' if cls.hessian_needs_logits else '') if cls.has_hessian else '-'}\n"
        for cls in classes)
    return (".. list-table::\n   :header-rows: 1\n   :widths: 26 30 18 14 12\n\n"
            "   * - class\n     - function\n     - module\n     - input\n     - hessian\n" + rows)


# The public names api/core.rst and api/losses.rst document by hand.
DOCUMENTED = {"Loss", "objective", "available", "get", "get_num_threads", "set_num_threads",
              "num_threads", "show_config", "config", "set_simd_path", "available_simd_paths",
              "__version__", "cohen_kappa"}


def other_public_names() -> str:
    """Every name of ``fastloss.__all__`` that is neither a registered loss
    (class, function or alias) nor documented by hand: a public function
    added on another branch (e.g. ``init_score``) gets its entry here."""
    import fastloss
    from fastloss import _registry

    names = [n for n in fastloss.__all__
             if n not in DOCUMENTED and n.lower() not in _registry._BY_NAME]
    if not names:
        return "Nothing else: every public name is documented above or has its loss page.\n"
    out = []
    for name in names:
        obj = getattr(fastloss, name)
        kind = ("autoclass" if inspect.isclass(obj) else
                "autofunction" if callable(obj) else "autodata")
        out.append(f".. {kind}:: fastloss.{name}\n")
    return "\n".join(out)


def optional_adapters() -> str:
    """fastloss.dask where that module exists and imports (SPEC §5)."""
    try:
        importlib.import_module("fastloss.dask")
    except ImportError:
        return ("``fastloss.dask`` is not part of this build (or dask is not installed); "
                "its reference appears here once it is.\n")
    return (_title("fastloss.dask", "-") +
            "\n.. automodule:: fastloss.dask\n   :members:\n")


# |x| in a docstring is the absolute value, not an RST substitution reference.
# Docstrings are written as plain text with math-like notation; outside
# literals, a pipe pair around a word is escaped so that docutils keeps it.
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")
_PIPES = re.compile(r"(?<![\\|])\|(?=[^\s|])([^|`]*?[^\s|\\])\|")


def escape_pipes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "|" not in line:
            continue
        parts = _LITERAL.split(line)
        lines[i] = "".join(part if j % 2 else _PIPES.sub(r"\\|\1\\|", part)
                           for j, part in enumerate(parts))


class GalleryOrder:
    """sphinx-gallery's ``within_subsection_order``: the losses first (the
    pictures most readers come for), the adapters, the benchmark last; a new
    script sorts after these, by file name."""

    ORDER = ["plot_regression_losses.py", "plot_classification_losses.py",
             "plot_every_pointwise_loss.py", "plot_set_losses.py", "plot_box_losses.py",
             "plot_boosting_objectives.py", "plot_sklearn_pipeline.py", "plot_benchmark.py"]

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(str(filename))
        rank = self.ORDER.index(name) if name in self.ORDER else len(self.ORDER)
        return f"{rank:03d}{name}"

    def __repr__(self):
        return "GalleryOrder"


def setup(app):
    app.connect("builder-inited", generate)
    # before numpydoc (priority 500) reads the docstring
    app.connect("autodoc-process-docstring", escape_pipes, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if os.environ.get("FASTLOSS_DOCS_DEBUG"):  # pragma: no cover - a hand check
    print("fastloss_docs loaded")
