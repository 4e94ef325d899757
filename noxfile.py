"""One entry point for tests, lint, docs, benchmarks and the demo.

``nox`` runs the default sessions: every package's tests (each in a fresh venv
with only that package and its declared dependencies), the torch tests of
sidkit-learn, the integration tests with everything installed, and lint.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["tests", "compat", "learn_torch", "integration", "lint"]

PYTHON = "3.11"
ALL_PACKAGES = ["core", "nsid", "usid", "readers", "analytics", "stem", "learn"]
PACKAGES = [p for p in ALL_PACKAGES if (ROOT / f"packages/sidkit-{p}/pyproject.toml").exists()]
# extras each package's own test session installs beyond "test"
TEST_EXTRAS = {
    "core": ["test"],
    "nsid": ["test", "compat"],  # pyNSID works beside numpy 2: the compatibility tests run here
    "usid": ["test"],
    "readers": ["test", "all"],
    "analytics": ["test"],
    "stem": ["test"],
    "learn": ["test"],
}
# extras used when every package is installed together (integration, docs, demo)
FULL_EXTRAS = {
    "core": ["test", "plot", "xarray", "hdf5"],
    "readers": ["all"],
}
TOY_PLUGINS = [
    "integration_tests/plugins/sidkit-toyformat",
    "integration_tests/plugins/sidkit-brokenplugin",
]
TORCH_PIN = "torch==2.13.0"  # CPU build; an unpinned torch pulls a multi-GB CUDA build


def _pkg(name: str, extras: list[str] | None = None) -> str:
    path = f"packages/sidkit-{name}"
    return f"{path}[{','.join(extras)}]" if extras else path


def _env() -> dict[str, str]:
    fixtures = os.environ.get("SIDKIT_FIXTURES", str((ROOT / ".." / "shared" / "fixtures").resolve()))
    return {"SIDKIT_FIXTURES": fixtures, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}


def _install_everything(session: nox.Session, *, torch: bool = False) -> None:
    args = []
    for p in PACKAGES:
        args += ["-e", _pkg(p, FULL_EXTRAS.get(p))]
    session.install(*args)


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Test one package alone, in a fresh venv with only what it declares."""
    args = ["-e", _pkg(package, TEST_EXTRAS[package])]
    if package != "core":
        args = ["-e", "packages/sidkit-core", *args]
    else:
        # core tests use real entry points of a third-party plugin and a broken one
        for plugin in TOY_PLUGINS:
            args += ["-e", plugin]
    session.install(*args)
    session.run("pytest", f"packages/sidkit-{package}/tests", "-q", "-p", "no:cacheprovider",
                *session.posargs, env=_env())


# packages whose "compat" extra installs the reference tool pinned to numpy < 2 (pyUSID's
# writer calls np.product), so it gets a session of its own
COMPAT = [p for p in ("usid",) if p in PACKAGES]


@nox.session(python=PYTHON)
@nox.parametrize("package", COMPAT)
def compat(session: nox.Session, package: str) -> None:
    """Round trips against the reference tool itself (pyUSID), which needs numpy < 2."""
    session.install("-e", "packages/sidkit-core", "-e", _pkg(package, ["test", "compat"]))
    session.run("pytest", f"packages/sidkit-{package}/tests", "-q", "-p", "no:cacheprovider",
                *session.posargs, env=_env())


@nox.session(python=PYTHON, venv_backend="venv")
def learn_torch(session: nox.Session) -> None:
    """sidkit-learn's torch tests: pip takes the local CPU build of torch."""
    if "learn" not in PACKAGES:
        session.skip("sidkit-learn is not in the tree")
    session.run("python", "-m", "pip", "install", "-q", TORCH_PIN)
    # torch is already satisfied, so the torch extra adds only safetensors
    session.run("python", "-m", "pip", "install", "-q", "-e", "packages/sidkit-core",
                "-e", _pkg("learn", ["test", "torch"]))
    session.run("python", "-c", "import torch, safetensors; print('torch', torch.__version__)")
    session.run("pytest", "packages/sidkit-learn/tests", "-q", "-p", "no:cacheprovider",
                *session.posargs, env={**_env(), "SIDKIT_REQUIRE_TORCH": "1"})


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Every package installed together, plus the third-party plugin packages."""
    _install_everything(session)
    args = []
    for plugin in TOY_PLUGINS:
        args += ["-e", plugin]
    session.install(*args, "pytest", "distributed", "xarray")
    paths = ["integration_tests"] + (["demo"] if (ROOT / "demo").is_dir() else [])
    session.run("pytest", *paths, "-q", "-p", "no:cacheprovider", *session.posargs, env=_env())


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over every package, the tests and the tooling."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the Sphinx site, warnings as errors, running the gallery examples."""
    _install_everything(session)
    session.install("-r", "docs/requirements.txt")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html",
                env=_env())


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run every package's benchmarks (ratios against raw h5py / numpy / reference readers).

    ``nox -s bench -- --quick`` runs small sizes.
    """
    _install_everything(session)
    session.install("h5py", "distributed", "scikit-learn")
    for script in sorted(ROOT.glob("packages/*/benchmarks/bench_*.py")):
        session.log(f"--- {script.relative_to(ROOT)}")
        session.run("python", str(script), *session.posargs, env=_env())


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The demo: a built-in sample (or ``-- --input FILE``) in; analysis, plots and NSID out."""
    _install_everything(session)
    session.run("python", "demo/sidkit_demo.py", *session.posargs, env=_env())
