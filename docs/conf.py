"""Sphinx configuration of the sidkit documentation.

``nox -s docs`` installs every sidkit package and ``docs/requirements.txt``,
then runs ``sphinx-build -W --keep-going -b html docs docs/_build/html``:
warnings are errors and every gallery example in ``docs/examples`` runs.

The API pages list each package's public names (its ``__all__``); they are
written at build time into ``api/_pkg_<name>.rst`` so they follow the code.
"""

from __future__ import annotations

import importlib
import inspect
import os
import warnings
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).parent

project = "sidkit"
author = "sidkit developers"
copyright = f"{date.today().year}, {author}"
try:
    from sidkit.core import __version__ as release
except ImportError:  # pragma: no cover - docs need sidkit-core installed
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5"]
html_theme = "pydata_sphinx_theme"
html_title = "sidkit"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

# -- autodoc / numpydoc -----------------------------------------
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
autodoc_typehints = "none"          # numpydoc sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # autodoc's :members: documents them
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "dask": ("https://docs.dask.org/en/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}
# no network in the build environment: intersphinx inventories are optional
intersphinx_disabled_reftypes = ["*"]
if os.environ.get("SIDKIT_DOCS_INTERSPHINX") != "1":
    intersphinx_mapping = {}

nitpicky = False

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
}

warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

# -- API pages generated from each package's __all__ ---------------------------
PACKAGES = {
    "core": ("sidkit-core", "The Dataset, its dimensions, errors, plugins, load and save"),
    "nsid": ("sidkit-nsid", "NSID HDF5 files"),
    "usid": ("sidkit-usid", "USID HDF5 files"),
    "readers": ("sidkit-readers", "Instrument file formats"),
    "analytics": ("sidkit-analytics", "Decomposition, clustering, classification, fitting, image tools"),
    "stem": ("sidkit-stem", "4D-STEM and atomic-resolution STEM"),
    "learn": ("sidkit-learn", "Deep-learning models"),
}
# extra public modules documented beside a package's top-level names
MODULES = {
    "core": ["sidkit.core.plotting", "sidkit.core.display", "sidkit.core.hdf5",
             "sidkit.core.streaming", "sidkit.core.atomic", "sidkit.core.provenance", "sidkit.core.testing"],
}


def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return [n for n in names if not n.startswith("_")
            and (inspect.isclass(getattr(module, n, None)) or callable(getattr(module, n, None)))]


def _summary(obj) -> str:
    """The first paragraph of a docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _object_page(modname: str, name: str, obj) -> str:
    full = f"{modname}.{name}".replace("_", r"\_")
    lines = [full, "=" * len(full), "", f".. currentmodule:: {modname}", ""]
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        lines += [f".. autoexception:: {name}", "   :members:", "   :show-inheritance:"]
    elif inspect.isclass(obj):
        lines += [f".. autoclass:: {name}", "   :members:", "   :show-inheritance:"]
    else:
        lines += [f".. autofunction:: {name}"]
    return "\n".join(lines) + "\n"


def _table(modname: str, module, names: list[str] | None = None) -> list[str]:
    """A summary table linking to one generated page per public name."""
    names = _public(module) if names is None else names
    if not names:
        return []
    lines = [".. list-table::", "   :widths: 30 70", ""]
    for name in names:
        obj = getattr(module, name)
        role = "class" if inspect.isclass(obj) else "func"
        summary = _summary(obj) or " "
        lines += [f"   * - :{role}:`~{modname}.{name}`", f"     - {summary}"]
        _write_if_changed(HERE / "api" / "generated" / f"{modname}.{name}.rst",
                          _object_page(modname, name, obj).splitlines())
    lines += ["", ".. toctree::", "   :hidden:", ""]
    lines += [f"   generated/{modname}.{name}" for name in names]
    return lines + [""]


def _plugins(dist: str) -> list[str]:
    """A section per entry-point group the distribution registers."""
    from importlib.metadata import entry_points

    lines: list[str] = []
    for group in ("sidkit.readers", "sidkit.writers", "sidkit.processes", "sidkit.models"):
        eps = sorted((ep for ep in entry_points(group=group)
                      if ep.dist is not None and ep.dist.name.replace("_", "-") == dist),
                     key=lambda ep: ep.name)
        rows = []
        for ep in eps:
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin is listed, not fatal
                rows += [f"   * - ``{ep.name}``", f"     - could not be imported: {type(exc).__name__}"]
                continue
            mod, _, qual = ep.value.partition(":")
            target = f"{mod}.{qual}"
            page = HERE / "api" / "generated" / f"{target}.rst"
            _write_if_changed(page, _object_page(mod, qual, obj).splitlines())
            role = "class" if inspect.isclass(obj) else "func"
            exts = " ".join(getattr(obj, "extensions", ()) or ())
            summary = _summary(obj) + (f" ({exts})" if exts else "")
            rows += [f"   * - ``{ep.name}``: :{role}:`~{target}`", f"     - {summary or ' '}"]
            lines_toc.append(f"   generated/{target}")
        if rows:
            head = f"Entry points ``{group}``"
            lines += [head, "-" * len(head), "", ".. list-table::", "   :widths: 35 65", "", *rows, ""]
    if lines_toc:
        lines += [".. toctree::", "   :hidden:", "", *lines_toc, ""]
        lines_toc.clear()
    return lines


lines_toc: list[str] = []


def _write_api_pages() -> None:
    out_dir = HERE / "api"
    (out_dir / "generated").mkdir(exist_ok=True)
    for short, (dist, blurb) in PACKAGES.items():
        modname = f"sidkit.{short}"
        target = out_dir / f"_pkg_{short}.rst"
        title = f"``{modname}``: {blurb}"
        lines = [title, "=" * len(title), ""]
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            lines += [f".. note:: ``{dist}`` is not installed here ({exc}); "
                      f"``pip install {dist}`` to use it.", ""]
            _write_if_changed(target, lines)
            continue
        lines += [f".. currentmodule:: {modname}", "",
                  (inspect.getdoc(module) or "").strip(), "",
                  f"Install: ``pip install {dist}``.", ""]
        lines += _table(modname, module)
        lines += _plugins(dist)
        for extra in MODULES.get(short, []):
            mod = importlib.import_module(extra)
            sub = f"``{extra}``"
            lines += [sub, "-" * len(sub), "", f".. currentmodule:: {extra}", "",
                      (inspect.getdoc(mod) or "").strip().split("\n\n")[0], ""]
            lines += _table(extra, mod)
        _write_if_changed(target, lines)


def _write_if_changed(path: Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_api_pages()
