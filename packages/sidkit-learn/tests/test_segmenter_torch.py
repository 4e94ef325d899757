"""AtomSegmenter with torch, on CPU.

A small U-Net is trained once per session (fixed seeds, small images, a few
epochs) on synthetic data, then used on fresh synthetic images made with a
different seed, hence other orientations, lattices, noise and distortions.
Torch uses ``SIDKIT_TORCH_THREADS`` threads (default 1: on a shared, busy
machine more threads than free cores make torch many times slower).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

if os.environ.get("SIDKIT_REQUIRE_TORCH"):
    # the torch session sets this: there a missing torch is a failure, not a skip
    import safetensors  # noqa: F401
    import torch
else:
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")

from sidkit.core import (  # noqa: E402
    CorruptFileError,
    Dataset,
    DimensionMismatchError,
    SidkitFileNotFoundError,
    UnknownFormatError,
)
from sidkit.learn import (  # noqa: E402
    AtomSegmenter,
    find_atoms,
    load_model,
    make_atom_images,
    match_points,
    read_model_card,
    select_device,
)

torch.set_num_threads(int(os.environ.get("SIDKIT_TORCH_THREADS", "1")))

TRAIN = {"n_images": 96, "shape": (48, 48), "seed": 1}
FIT = {"epochs": 10, "batch_size": 8, "learning_rate": 1e-2, "seed": 0}


@pytest.fixture(scope="module")
def trained():
    data = make_atom_images(**TRAIN)
    val = make_atom_images(8, (48, 48), seed=2)
    seen = []
    model = AtomSegmenter(depth=2, width=8, dropout=0.1, device="cpu", seed=0)
    model.fit(data.images, data.masks, validation=(val.images, val.masks),
              progress=seen.append, **FIT)
    return model, seen


@pytest.fixture(scope="module")
def fresh():
    """Unseen images: another seed, so other orientations, noise and distortions."""
    return make_atom_images(8, (96, 96), seed=12345)


def test_fit_reports_progress_every_epoch_and_the_loss_falls(trained):
    model, seen = trained
    assert [s["epoch"] for s in seen] == list(range(1, FIT["epochs"] + 1))
    assert all(s["val_loss"] is not None for s in seen)
    assert seen[-1]["loss"] < 0.8 * seen[0]["loss"]
    assert model.training["epochs_run"] == FIT["epochs"]
    assert model.tile_size == 48


def test_find_atoms_on_fresh_images_reaches_precision_and_recall_095_within_1px(trained, fresh):
    model, _ = trained
    result = model.evaluate(fresh.images, fresh.positions, tolerance=1.0, exclude_border=2.0)
    assert result["true_positives"] > 300
    assert result["precision"] >= 0.95, result
    assert result["recall"] >= 0.95, result
    assert result["mean_distance_px"] < 0.5
    # the orientations of the fresh images differ from the training ones
    rot_train = {round(p["rotation"], 3) for p in make_atom_images(**TRAIN).recipe["images"]}
    assert not rot_train & {round(p["rotation"], 3) for p in fresh.recipe["images"]}


def test_find_atoms_coordinates_are_in_physical_units(trained, fresh):
    model, _ = trained
    atoms = find_atoms(fresh.image(0), model)
    assert atoms.units == "nm"
    pixel = fresh.images.dim("x").scale
    m = match_points(np.asarray(atoms), fresh.coordinates[0], tolerance=pixel,
                     exclude_border=2 * pixel, shape=(96 * pixel, 96 * pixel))
    assert m.precision >= 0.95 and m.recall >= 0.95


def test_predict_returns_probabilities_with_the_image_dims(trained, fresh):
    model, _ = trained
    img = fresh.image(1)
    prob = model.predict(img)
    assert prob.dims == img.dims
    assert prob.quantity == "probability"
    p = np.asarray(prob)
    assert p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0
    mask = np.asarray(fresh.masks[1]).astype(bool)
    assert p[mask].mean() > 0.7 and p[~mask].mean() < 0.15
    assert prob.provenance[-1]["process"] == "sidkit.learn.AtomSegmenter.predict"


def test_predict_on_a_stack_predicts_every_frame(trained, fresh):
    model, _ = trained
    stack = fresh.images[:2]
    prob = model.predict(stack)
    assert prob.shape == stack.shape and prob.dim_names == stack.dim_names
    np.testing.assert_allclose(np.asarray(prob[1]), np.asarray(model.predict(fresh.image(1))),
                               atol=1e-6)


def test_tiled_inference_on_a_large_image_matches_a_single_pass(trained):
    model, _ = trained
    big = make_atom_images(1, (200, 232), seed=77)
    img = big.image(0)
    seen = []
    tiled = np.asarray(model.predict(img, tile=64, overlap=16, progress=lambda d, n: seen.append((d, n))))
    assert seen and seen[-1][0] == seen[-1][1] > 1
    whole = np.asarray(model.predict(img, tiled=False))
    assert np.abs(tiled - whole).mean() < 0.01
    found_t = np.asarray(find_atoms(img, model, pixels=True, tile=64, overlap=16))
    found_w = np.asarray(find_atoms(img, model, pixels=True, tiled=False))
    m = match_points(found_t, found_w, tolerance=0.2)
    assert m.precision >= 0.99 and m.recall >= 0.99
    truth = match_points(found_t, big.positions[0], 1.0, exclude_border=2.0, shape=img.shape)
    assert truth.precision >= 0.95 and truth.recall >= 0.95


def test_save_load_round_trip_gives_identical_predictions(trained, fresh, tmp_path):
    model, _ = trained
    model.evaluate(fresh.images[:2], fresh.positions[:2])
    folder = model.save(tmp_path / "atoms")
    assert sorted(p.name for p in folder.iterdir()) == ["model_card.json", "weights.safetensors"]
    back = AtomSegmenter.load(folder, device="cpu")
    img = fresh.image(3)
    np.testing.assert_array_equal(np.asarray(back.predict(img)), np.asarray(model.predict(img)))
    assert back.architecture == model.architecture and back.tile_size == model.tile_size
    by_path = np.asarray(find_atoms(img, str(folder)))
    np.testing.assert_array_equal(by_path, np.asarray(find_atoms(img, model)))
    via_registry = load_model(folder, device="cpu")
    assert isinstance(via_registry, AtomSegmenter)
    np.testing.assert_array_equal(np.asarray(via_registry.predict(img)),
                                  np.asarray(model.predict(img)))


def test_model_card_records_architecture_training_recipe_and_metrics(trained, fresh, tmp_path):
    model, _ = trained
    model.evaluate(fresh.images[:2], fresh.positions[:2])
    card = read_model_card(model.save(tmp_path / "m"))
    assert card["model"] == "atom_segmenter"
    assert card["architecture"]["depth"] == 2 and card["architecture"]["width"] == 8
    assert card["architecture"]["batch_norm"] is True
    t = card["training"]
    assert t["epochs"] == 10 and t["batch_size"] == 8 and t["images"] == 96
    assert t["data"]["generator"] == "sidkit.learn.synthetic.make_atom_images"
    assert t["data"]["seed"] == 1 and "images" not in t["data"]
    assert card["metrics"]["evaluation"]["precision"] >= 0.9
    assert len(card["metrics"]["loss_history"]) == 10
    assert len(card["weights"]["sha256"]) == 64
    # the weights file is safetensors: a JSON header, no pickle
    raw = (tmp_path / "m" / "weights.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"]["model"] == "atom_segmenter"


def test_damaged_weights_are_a_corrupt_file_error_naming_the_file(trained, tmp_path):
    model, _ = trained
    folder = model.save(tmp_path / "m")
    w = folder / "weights.safetensors"
    raw = bytearray(w.read_bytes())
    raw[-5] ^= 0xFF
    w.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="weights.safetensors"):
        AtomSegmenter.load(folder)
    w.write_bytes(b"\x00" * 16)
    card = json.loads((folder / "model_card.json").read_text())
    card["weights"].pop("sha256")
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(CorruptFileError, match="weights.safetensors"):
        AtomSegmenter.load(folder)
    w.unlink()
    with pytest.raises(SidkitFileNotFoundError, match="weights.safetensors"):
        AtomSegmenter.load(folder)


def test_weights_that_do_not_fit_the_card_architecture_are_corrupt(trained, tmp_path):
    model, _ = trained
    folder = model.save(tmp_path / "m")
    card = json.loads((folder / "model_card.json").read_text())
    card["architecture"]["width"] = 4
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(CorruptFileError, match="do not fit"):
        AtomSegmenter.load(folder)
    card["architecture"]["depth"] = 99
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(CorruptFileError, match="depth"):
        AtomSegmenter.load(folder)
    card["model"] = "other"
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UnknownFormatError, match="other"):
        AtomSegmenter.load(folder)


def test_architecture_is_configurable_and_validated():
    small = AtomSegmenter(depth=1, width=4, batch_norm=False, dropout=0.0, device="cpu")
    large = AtomSegmenter(depth=3, width=8, device="cpu")
    assert small.n_parameters < large.n_parameters
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in small.net.modules())
    assert any(isinstance(m, torch.nn.Dropout2d) for m in large.net.modules())
    out = small.predict(Dataset(np.random.default_rng(0).random((37, 29)), ["y", "x"]))
    assert out.shape == (37, 29)
    for bad in ({"depth": 0}, {"width": 1000}, {"dropout": 1.0}):
        with pytest.raises(ValueError):
            AtomSegmenter(device="cpu", **bad)


def test_same_seeds_give_identical_training():
    data = make_atom_images(8, 32, seed=3)
    a = AtomSegmenter(depth=1, width=4, device="cpu").fit(data.images, data.masks, epochs=2,
                                                         progress=False)
    b = AtomSegmenter(depth=1, width=4, device="cpu").fit(data.images, data.masks, epochs=2,
                                                         progress=False)
    assert a.metrics["loss_history"] == b.metrics["loss_history"]
    img = data.image(0)
    np.testing.assert_array_equal(np.asarray(a.predict(img)), np.asarray(b.predict(img)))


def test_fit_rejects_mismatched_images_and_masks():
    model = AtomSegmenter(depth=1, width=4, device="cpu")
    with pytest.raises(DimensionMismatchError):
        model.fit(np.zeros((2, 16, 16)), np.zeros((2, 16, 8)), epochs=1)


def test_fit_prints_progress_to_stderr_by_default(capsys):
    data = make_atom_images(4, 32, seed=3)
    AtomSegmenter(depth=1, width=4, device="cpu").fit(data.images, data.masks, epochs=2)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err


def test_device_auto_picks_an_available_device():
    dev = select_device("auto")
    assert dev.type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        assert dev.type == "cpu"
        with pytest.raises(ValueError, match="CUDA"):
            select_device("cuda")
    assert select_device("cpu").type == "cpu"


def test_fit_accepts_lists_and_max_time_stops_after_an_epoch():
    data = make_atom_images(4, 32, seed=3)
    images = [data.image(i) for i in range(4)]
    masks = [np.asarray(data.masks[i]) for i in range(4)]
    model = AtomSegmenter(depth=1, width=4, device="cpu")
    model.fit(images, masks, epochs=5, max_time=0.0, progress=False)
    assert model.training["epochs_run"] == 1 and model.training["stopped_early"] is True
    assert model.training["images"] == 4
