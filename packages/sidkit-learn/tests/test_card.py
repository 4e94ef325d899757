from __future__ import annotations

import json

import pytest

from sidkit.core import CorruptFileError, SidkitFileNotFoundError
from sidkit.learn import card as card_mod
from sidkit.learn import read_model_card, write_model_card


def _card():
    return {"model": "m", "architecture": {"depth": 2}, "training": {"epochs": 3},
            "metrics": {"loss": 0.1}}


def test_card_round_trip(tmp_path):
    path = write_model_card(_card(), tmp_path / "model")
    assert path.name == "model_card.json"
    back = read_model_card(tmp_path / "model")
    assert back["format"] == "sidkit-learn model card" and back["format_version"] == 1
    assert back["architecture"] == {"depth": 2} and back["metrics"] == {"loss": 0.1}
    assert read_model_card(path) == back


def test_missing_card_names_the_path(tmp_path):
    with pytest.raises(SidkitFileNotFoundError, match="model_card.json"):
        read_model_card(tmp_path)


def test_invalid_json_is_corrupt_and_names_the_file(tmp_path):
    (tmp_path / "model_card.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="model_card.json"):
        read_model_card(tmp_path)


@pytest.mark.parametrize("content", [[1, 2], {"format": "other"},
                                     {"format": "sidkit-learn model card", "model": "m"}])
def test_cards_without_required_fields_are_corrupt(tmp_path, content):
    (tmp_path / "model_card.json").write_text(json.dumps(content))
    with pytest.raises(CorruptFileError):
        read_model_card(tmp_path)


def test_oversized_card_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(card_mod, "MAX_CARD_BYTES", 10)
    write_model_card(_card(), tmp_path)
    with pytest.raises(CorruptFileError, match="bytes"):
        read_model_card(tmp_path)


def test_non_finite_numbers_are_written_as_null(tmp_path):
    card = _card()
    card["metrics"] = {"mean_distance": float("nan"), "worst": float("inf"), "ok": [1.0, float("nan")]}
    write_model_card(card, tmp_path)
    text = (tmp_path / "model_card.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert read_model_card(tmp_path)["metrics"] == {"mean_distance": None, "worst": None,
                                                    "ok": [1.0, None]}
