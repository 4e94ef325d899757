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


def _reference_expected(path):
    """What RosettaSciIO's image reader returns, as a sidkit-real-expected dict
    (structured RGB as a trailing channel axis)."""
    pytest.importorskip("imageio")
    ref_image = pytest.importorskip("rsciio.image")
    datasets = []
    for i, sig in enumerate(ref_image.file_reader(str(path), lazy=False)):
        data = sig["data"]
        if data.dtype.names:
            data = np.stack([data[n] for n in data.dtype.names], axis=-1)
        axes = sorted(sig["axes"], key=lambda a: a["index_in_array"])
        axes = [{"name": a["name"], "scale": a["scale"], "offset": a["offset"], "units": a["units"]} for a in axes]
        v = data.astype(np.float64)
        datasets.append({"index": i, "shape": list(data.shape), "dtype": data.dtype.name, "axes": axes,
                         "checksums": {"sum": float(v.sum()), "min": float(v.min()), "max": float(v.max())}})
    return {"datasets": datasets}


def _save_animation(path, frames):
    images = [Image.fromarray(f).convert("P", palette=Image.ADAPTIVE, colors=32) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:])


def test_rgb_with_equal_channels_is_grey_but_red_marks_on_grey_are_kept(tmp_path):
    grey = np.random.default_rng(10).integers(0, 255, (6, 8)).astype(np.uint8)
    path = tmp_path / "grey.png"
    Image.fromarray(np.dstack([grey, grey, grey])).save(path)
    np.testing.assert_array_equal(np.asarray(load(path)), grey)
    np.testing.assert_array_equal(np.asarray(load(path, keep_channels=True)), np.dstack([grey] * 3))
    marked = np.dstack([grey[::-1], grey, grey])  # red marks on a grey micrograph (green = blue)
    path = tmp_path / "marked.png"
    Image.fromarray(marked).save(path)
    np.testing.assert_array_equal(np.asarray(load(path)), marked)


def test_animated_gif_frames_are_a_leading_frame_dim(tmp_path):
    frames = np.random.default_rng(11).integers(0, 255, (3, 5, 7, 3)).astype(np.uint8)
    path = tmp_path / "anim.gif"
    _save_animation(path, frames)
    ds = load(path)
    assert ds.shape == (3, 5, 7, 3)
    assert [d.name for d in ds.dims] == ["frame", "y", "x", "channel"]
    assert ds.data_type is DataType.IMAGE_STACK
    with Image.open(path) as im:
        im.seek(2)
        np.testing.assert_array_equal(np.asarray(ds)[2], np.asarray(im.convert("RGB")))


def test_cmyk_jpeg_keeps_its_four_ink_channels(tmp_path):
    rgb = np.random.default_rng(12).integers(0, 255, (6, 8, 3)).astype(np.uint8)
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path)
    ds = load(path)
    assert ds.shape == (6, 8, 4)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(ds), np.asarray(im))


def test_palette_png_with_transparency_is_rgb_without_alpha(tmp_path):
    rgb = np.random.default_rng(13).integers(0, 255, (6, 8, 3)).astype(np.uint8)
    path = tmp_path / "pal.png"
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=8).save(path, transparency=2)
    ds = load(path)
    assert ds.shape == (6, 8, 3)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(ds), np.asarray(im.convert("RGB")))


def test_one_pixel_high_colour_image_is_a_line_of_pixels(tmp_path):
    rgb = np.random.default_rng(14).integers(0, 255, (1, 9, 3)).astype(np.uint8)
    path = tmp_path / "line.png"
    Image.fromarray(rgb).save(path)
    ds = load(path)
    assert ds.shape == (9, 3)
    assert [d.name for d in ds.dims] == ["x", "channel"]
    np.testing.assert_array_equal(np.asarray(ds), rgb[0])


def test_exif_focal_plane_resolution_in_inches_calibrates_axes(tmp_path):
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0xA20E], sub[0xA20F], sub[0xA210] = 30.0, 20.0, 2  # field of view x, y; unit inch
    path = tmp_path / "inch.jpg"
    Image.fromarray((np.arange(450) % 251).astype(np.uint8).reshape(10, 15, 3)).save(path, exif=exif)
    y, x = load(path).dims[:2]
    assert x.units == y.units == "inches"
    assert x.scale == pytest.approx(2.0) and y.scale == pytest.approx(2.0)


def _variants(tmp_path):
    rng = np.random.default_rng(15)
    rgb = rng.integers(0, 255, (6, 8, 3)).astype(np.uint8)
    grey = rng.integers(0, 255, (6, 8)).astype(np.uint8)
    Image.fromarray(np.dstack([grey, grey, grey])).save(tmp_path / "grey_rgb.bmp")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=8).save(tmp_path / "pal.png", transparency=2)
    Image.fromarray(rgb[:1]).save(tmp_path / "line.png")
    Image.fromarray(grey > 100).save(tmp_path / "bits.png")
    Image.fromarray(np.dstack([rgb, grey])).save(tmp_path / "rgba.png")
    Image.fromarray(grey).save(tmp_path / "grey.gif")
    _save_animation(tmp_path / "anim.gif", rng.integers(0, 255, (3, 6, 8, 3)).astype(np.uint8))
    _save_animation(tmp_path / "anim_line.gif", np.repeat(rng.integers(0, 255, (3, 1, 8, 1)), 3, axis=3).astype(np.uint8))
    frames = [Image.fromarray(f) for f in rng.integers(0, 255, (2, 6, 8, 3)).astype(np.uint8)]
    frames[0].save(tmp_path / "apng.png", save_all=True, append_images=frames[1:])
    return sorted(tmp_path.iterdir())


def test_variants_match_the_reference_reader(tmp_path):
    from sidkit.core.testing import match_real_expected

    for path in _variants(tmp_path):
        problems = match_real_expected(load_all(path), _reference_expected(path))
        assert not any(problems.values()), (path.name, problems)
