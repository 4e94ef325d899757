"""Plain image reader: PNG/JPEG/BMP/GIF files written by Pillow."""

from __future__ import annotations

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image

from sidkit.core import DataType, DimensionType, SidkitError, load, load_all
from sidkit.core.testing import real_fixtures
from sidkit.readers.image import ImageReader, image_kind

REAL = {p.name: p for p, _ in real_fixtures(__file__, "image")}


@pytest.mark.parametrize("fmt,ext,kind", [("PNG", ".png", "png"), ("JPEG", ".jpg", "jpeg"),
                                          ("BMP", ".bmp", "bmp"), ("GIF", ".gif", "gif")])
def test_sniff_recognises_each_format(tmp_path, fmt, ext, kind):
    path = tmp_path / f"a{ext}"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(path, format=fmt)
    assert image_kind(path.read_bytes()[:4096]) == kind


def test_sniff_rejects_foreign_bytes():
    assert not ImageReader().sniff(b"")
    assert not ImageReader().sniff(b"II*\x00" + bytes(20))
    assert not ImageReader().sniff(b"BMx" + bytes(10))  # "BM" without a BMP header


@pytest.mark.parametrize("ext,fmt", [(".png", "PNG"), (".bmp", "BMP")])
def test_grey_image_values_lossless(tmp_path, ext, fmt):
    img = np.random.default_rng(4).integers(0, 255, (20, 30)).astype(np.uint8)
    path = tmp_path / f"grey{ext}"
    Image.fromarray(img).save(path, format=fmt)
    ds = load(path)
    assert ds.shape == (20, 30) and ds.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(ds), img)
    assert ds.data_type is DataType.IMAGE
    assert [d.dimension_type for d in ds.dims] == [DimensionType.SPATIAL] * 2
    assert ds.dims[1].units == "" and ds.dims[1].scale == 1.0


def test_sixteen_bit_png_keeps_its_depth(tmp_path):
    img = (np.arange(12 * 10).reshape(12, 10) * 300).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(img).save(path)
    ds = load(path)
    np.testing.assert_array_equal(np.asarray(ds), img)


def test_rgb_png_has_channel_dim_and_grey_rgb_collapses(tmp_path):
    rgb = np.random.default_rng(5).integers(0, 255, (8, 9, 3)).astype(np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    ds = load(path)
    assert ds.shape == (8, 9, 3) and ds.dims[-1].dimension_type is DimensionType.CHANNEL
    np.testing.assert_array_equal(np.asarray(ds), rgb)
    grey = np.repeat(rgb[..., :1], 3, axis=2)
    gpath = tmp_path / "greyrgb.png"
    Image.fromarray(grey).save(gpath)
    assert load(gpath).shape == (8, 9)
    assert load(gpath, keep_channels=True).shape == (8, 9, 3)


def test_palette_gif_is_expanded_to_rgb(tmp_path):
    rgb = np.zeros((6, 6, 3), dtype=np.uint8)
    rgb[:3, :, 0] = 255
    rgb[3:, :, 2] = 255
    path = tmp_path / "pal.gif"
    Image.fromarray(rgb).convert("P").save(path)
    ds = load(path)
    assert ds.shape == (6, 6, 3)
    assert np.asarray(ds)[0, 0].tolist() == [255, 0, 0]


def test_wrong_extension_is_detected_by_content(tmp_path):
    path = tmp_path / "really_png.jpg"
    Image.fromarray(np.ones((3, 3), dtype=np.uint8)).save(path, format="PNG")
    assert load(path).shape == (3, 3)


@pytest.mark.skipif("renishaw_wire.jpg" not in REAL, reason="image fixtures absent")
def test_renishaw_exif_calibrates_axes_in_micrometres():
    ds = load(REAL["renishaw_wire.jpg"])
    y, x = ds.dims[:2]
    assert x.units == "µm" and x.offset == pytest.approx(19105.5)
    assert y.scale == pytest.approx(2.5038270833333334)
    assert ds.original_metadata["exif_tags"]["Make"]


def test_truncated_png_raises_sidkit_error_naming_file(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(6).integers(0, 255, (64, 64)).astype(np.uint8)).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SidkitError, match="cut.png"):
        for ds in load_all(path).values():
            ds.compute()


def test_data_and_axes_match_the_reference_reader(tmp_path):
    pytest.importorskip("imageio")
    ref_image = pytest.importorskip("rsciio.image")
    rng = np.random.default_rng(9)
    rgb = rng.integers(0, 255, (7, 9, 3)).astype(np.uint8)
    cases = {"grey.png": rng.integers(0, 255, (7, 9)).astype(np.uint8), "rgb.png": rgb,
             "greyrgb.png": np.repeat(rgb[..., :1], 3, axis=2),
             "deep.png": (rng.integers(0, 60000, (7, 9))).astype(np.uint16)}
    for name, arr in cases.items():
        path = tmp_path / name
        Image.fromarray(arr).save(path)
        ours = load(path)
        ref = ref_image.file_reader(str(path))[0]
        data = ref["data"]
        if data.dtype.names:
            data = np.stack([data[n] for n in data.dtype.names], axis=-1)
        np.testing.assert_array_equal(np.asarray(ours), data, err_msg=name)
        for dim, ax in zip(ours.dims, ref["axes"]):
            assert dim.scale == pytest.approx(ax["scale"]) and dim.offset == pytest.approx(ax["offset"]), name
