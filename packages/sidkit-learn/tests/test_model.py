from __future__ import annotations

import pytest

from sidkit.core import PluginError, UnknownFormatError, plugins
from sidkit.learn import AtomSegmenter, Model, get_model, models
from sidkit.learn.model import _check_protocol


def test_atom_segmenter_is_listed_in_the_sidkit_models_group():
    infos = {i.name: i for i in plugins("sidkit.models")}
    assert "atom_segmenter" in infos
    assert infos["atom_segmenter"].distribution == "sidkit-learn"
    assert infos["atom_segmenter"].load() is AtomSegmenter


def test_models_and_get_model_return_the_class():
    assert models()["atom_segmenter"] is AtomSegmenter
    assert get_model("Atom_Segmenter") is AtomSegmenter


def test_get_model_unknown_name_lists_installed_models():
    with pytest.raises(UnknownFormatError, match="atom_segmenter"):
        get_model("no_such_model")


def test_atom_segmenter_follows_the_model_protocol():
    assert issubclass(AtomSegmenter, Model)
    assert AtomSegmenter.name == "atom_segmenter"
    for method in ("fit", "predict", "save", "load"):
        assert callable(getattr(AtomSegmenter, method))
    _check_protocol("atom_segmenter", AtomSegmenter)


def test_class_without_the_protocol_is_a_plugin_error():
    class Half:
        name = "half"

        def predict(self, image):
            return image

    with pytest.raises(PluginError, match="fit, save, load"):
        _check_protocol("half", Half)
    with pytest.raises(PluginError):
        _check_protocol("inst", object())


def test_base_model_methods_are_abstract():
    with pytest.raises(NotImplementedError):
        Model().fit(None, None)
    with pytest.raises(NotImplementedError):
        Model.load("x")
