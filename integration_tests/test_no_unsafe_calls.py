"""No package unpickles or evaluates anything: a grep over every package's sources."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = [
    (re.compile(r"^\s*(import pickle|from pickle|import cPickle|import dill|import marshal)"), "pickle"),
    (re.compile(r"(?<![\w.])eval\("), "eval("),
    (re.compile(r"(?<![\w.])exec\("), "exec("),
    (re.compile(r"allow_pickle\s*=\s*True"), "allow_pickle=True"),
    (re.compile(r"pickle\.loads?\("), "pickle.load"),
    (re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)"), "torch.load without weights_only=True"),
    (re.compile(r"yaml\.load\((?![^)]*SafeLoader)"), "yaml.load"),
]


def _sources():
    yield from sorted((ROOT / "packages").glob("*/src/**/*.py"))


def test_sources_exist():
    assert len(list(_sources())) > 20


def test_no_pickle_eval_exec_in_package_sources():
    hits = []
    for path in _sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in FORBIDDEN:
                if pattern.search(code):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {what}: {line.strip()}")
    assert hits == []
