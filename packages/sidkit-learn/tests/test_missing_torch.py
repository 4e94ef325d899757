"""Without torch every torch-needing call raises MissingDependencyError naming the extra.

Where torch is installed, its absence is simulated: ``sys.modules["torch"] = None``
makes :func:`importlib.util.find_spec` report it missing, exactly like an
environment without it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sidkit.core import MissingDependencyError, SidkitError
from sidkit.learn import AtomSegmenter, load_model, select_device, torch_available, write_model_card

EXTRA = "sidkit-learn[torch]"


@pytest.fixture(autouse=True)
def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)


def _check(excinfo, feature):
    err = excinfo.value
    assert isinstance(err, SidkitError) and isinstance(err, ImportError)
    assert EXTRA in str(err)
    assert feature in str(err)


def test_torch_available_reports_missing_torch():
    assert torch_available() is False


def test_constructing_atom_segmenter_names_the_extra():
    with pytest.raises(MissingDependencyError) as excinfo:
        AtomSegmenter(depth=2, width=4)
    _check(excinfo, "AtomSegmenter")


def test_select_device_names_the_extra():
    with pytest.raises(MissingDependencyError) as excinfo:
        select_device("auto")
    _check(excinfo, "device")


def test_loading_a_saved_model_names_the_extra(tmp_path):
    write_model_card({"model": "atom_segmenter", "architecture": {"depth": 2, "width": 4},
                      "training": {}, "metrics": {}}, tmp_path)
    with pytest.raises(MissingDependencyError) as excinfo:
        AtomSegmenter.load(tmp_path)
    _check(excinfo, "AtomSegmenter.load")
    with pytest.raises(MissingDependencyError):
        load_model(tmp_path)


def test_fit_predict_and_save_name_the_extra():
    # methods called on the class (no instance can be built without torch)
    with pytest.raises(MissingDependencyError) as excinfo:
        AtomSegmenter.fit(object.__new__(AtomSegmenter), np.zeros((1, 8, 8)), np.zeros((1, 8, 8)))
    _check(excinfo, "AtomSegmenter.fit")
    with pytest.raises(MissingDependencyError) as excinfo:
        AtomSegmenter.predict(object.__new__(AtomSegmenter), np.zeros((8, 8)))
    _check(excinfo, "AtomSegmenter.predict")
    with pytest.raises(MissingDependencyError) as excinfo:
        AtomSegmenter.save(object.__new__(AtomSegmenter), "unused")
    _check(excinfo, "AtomSegmenter.save")
