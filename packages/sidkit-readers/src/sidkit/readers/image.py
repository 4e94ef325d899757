"""Plain images: PNG, JPEG, BMP, GIF and WebP, via Pillow
(``pip install "sidkit-readers[image]"``).

Pixels come back as RosettaSciIO (through imageio) returns them: palettes
applied, CMYK JPEGs as their four ink channels, every frame of an animated
GIF or APNG as a leading ``frame`` dim, and a 1-pixel-high (or -wide) image
as a line. Grey images give ``(y, x)``; colour images ``(y, x, 3|4)`` with a
trailing ``channel`` dim, except that an RGB(A) image whose three colour
channels are equal is returned as a grey image (``keep_channels=True`` keeps
every channel). RosettaSciIO compares only green with blue; sidkit also
requires red to be equal, so that red marks on a grey micrograph are not
dropped. EXIF
focal-plane tags (written e.g. by Renishaw microscopes) calibrate the axes;
without them the axes are in pixels.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Dimension, DimensionType, Reader, UnsafeFileError, require

from ._em import parser_errors, plain, read_record
from ._metadata import normalised_metadata

__all__ = ["ImageReader", "image_kind"]

#: Largest image (in pixels) decoded; Pillow's own bomb check uses 2x its limit.
MAX_PIXELS = 1 << 30

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"BM", "bmp"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)

#: EXIF FocalPlaneResolutionUnit, spelled as RosettaSciIO spells it
_UNIT = {2: "inches", 3: "cm", 4: "mm", 5: "µm"}
_CUSTOM_TAGS = {0xFEA0: "FocalPlaneXYOrigins", 0xFEA1: "FieldOfViewXY", 0xFEA2: "Unknown"}
#: single-band Pillow modes and the dtype of their pixels (a PNG's "I" is 16-bit)
_GREY_MODES = {"1": "bool", "L": "uint8", "I": "int32", "F": "float32",
               "I;16": "uint16", "I;16B": "uint16", "I;16L": "uint16", "I;16N": "uint16"}


def image_kind(head: bytes) -> str | None:
    """``"png"``, ``"jpeg"``, ``"bmp"``, ``"gif"`` or ``"webp"`` from the first bytes, else None."""
    for sig, kind in _SIGNATURES:
        if head.startswith(sig):
            if kind == "bmp" and (len(head) < 18 or int.from_bytes(head[14:18], "little") not in
                                  (12, 16, 40, 52, 56, 64, 108, 124)):
                return None
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _exif(im: Any) -> dict[str, Any]:
    from PIL.ExifTags import TAGS

    try:
        raw = im._getexif() if hasattr(im, "_getexif") else None
    except Exception:  # noqa: BLE001 - a damaged EXIF block only loses metadata
        raw = None
    if raw is None:
        try:
            raw = dict(im.getexif())
        except Exception:  # noqa: BLE001
            raw = {}
    out = {}
    for k, v in (raw or {}).items():
        name = _CUSTOM_TAGS.get(k) or TAGS.get(k) or f"tag_{k}"
        out[name] = v
    return out


def _pixels(im: Any) -> np.ndarray:
    """One frame's pixels: palette applied, a PNG's 16-bit "I" as uint16, native byte order."""
    if im.mode == "P":
        im = im.convert(im.palette.mode if im.palette is not None else "RGB")
    elif im.mode == "I" and im.format == "PNG":
        im = im.convert("I;16")
    arr = np.asarray(im)
    return arr.astype(arr.dtype.newbyteorder("=")) if arr.dtype.byteorder == ">" else arr


def _frames(im: Any) -> np.ndarray:
    """Every frame of an animated image stacked on a leading axis, each with
    the channel count of the first (later GIF frames Pillow composites to
    RGBA only because of transparency come back as RGB, as imageio gives them)."""
    from PIL import ImageSequence

    out: list[np.ndarray] = []
    for frame in ImageSequence.Iterator(im):
        arr = _pixels(frame)
        if out and arr.shape != out[0].shape and arr.ndim == out[0].ndim == 3:
            mode = {3: "RGB", 4: "RGBA"}.get(out[0].shape[2])
            arr = np.asarray(frame.convert(mode)) if mode else arr
        out.append(arr)
    if any(a.shape != out[0].shape for a in out):
        raise ValueError(f"frames differ in shape: {sorted({a.shape for a in out})}")
    return np.stack(out)


def _decode(path: str, reader: str, animated: bool) -> np.ndarray:
    from PIL import Image

    with parser_errors(path, reader, "decoding the image"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as im:
            return _frames(im) if animated else _pixels(im)


def _is_animated(im: Any) -> bool:
    """True for a GIF or APNG with several frames (read whole, as imageio reads them)."""
    multi = int(getattr(im, "n_frames", 1) or 1) > 1
    return multi and (im.format == "GIF" or getattr(im, "custom_mimetype", None) == "image/apng")


def _grey_in_colour(arr: np.ndarray) -> bool:
    """A grey image stored as colour: a single ``(y, x, 3|4)`` image whose
    red, green and blue channels are equal."""
    return (arr.ndim == 3 and arr.shape[2] >= 3 and np.array_equal(arr[:, :, 1], arr[:, :, 2])
            and np.array_equal(arr[:, :, 0], arr[:, :, 1]))


class ImageReader(Reader):
    """Read PNG, JPEG, BMP, GIF and WebP images.

    A single Dataset with ``y``/``x`` dims (SPATIAL; calibrated by EXIF
    focal-plane tags when present) and, for colour, a ``channel`` dim. EXIF
    and format info are in ``original_metadata``.
    """

    name: ClassVar[str] = "image"
    extensions: ClassVar[tuple[str, ...]] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
    extra: ClassVar[str] = "image"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 0
    description: ClassVar[str] = "PNG/JPEG/BMP/GIF/WebP images (Pillow)"

    def sniff(self, head: bytes) -> bool:
        try:
            return image_kind(head) is not None
        except Exception:  # noqa: BLE001
            return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read an image.

        Parameters
        ----------
        path : pathlib.Path
            The file.
        lazy : bool, default True
            Grey images are decoded on demand. Colour and animated images
            are decoded once here to tell grey-in-RGB from colour (image
            codecs cannot decode part of an image).
        **options
            ``keep_channels`` (default False): keep the channels of an RGB(A)
            image whose colour channels are equal instead of returning it
            as a grey image.

        Returns
        -------
        dict of str to Dataset
        """
        Image = require("PIL.Image", extra=self.extra, reader=self.name, pip_name="pillow")
        keep = bool(options.get("keep_channels", False))
        with parser_errors(path, self.name, "reading the image header"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
                mode, fmt = im.mode, im.format
                animated = _is_animated(im)
                n_frames = int(im.n_frames) if animated else 1
                info = {k: v for k, v in im.info.items() if k not in ("exif", "icc_profile", "xmp")}
                exif = _exif(im)
        if width <= 0 or height <= 0 or width * height * n_frames > MAX_PIXELS:
            raise UnsafeFileError(path, self.name, f"declares {n_frames} x {width} x {height} pixels "
                                  f"(limit {MAX_PIXELS}); refusing to decode it")
        names = ["frame"] * animated + ["y", "x"]
        if mode in _GREY_MODES and not animated:
            dtype = np.dtype("uint16" if mode == "I" and fmt == "PNG" else _GREY_MODES[mode])
            data: Any = self._lazy_grey(path, (height, width), dtype, lazy)
        else:
            data = _decode(os.fspath(path), self.name, animated)
            if data.shape[:len(names)] != (n_frames,) * animated + (height, width):
                raise CorruptFileError(path, self.name, f"decoded to {data.shape}, header says "
                                       f"{n_frames} frame(s) of {height} x {width}")
            names += ["channel"] * (data.ndim - len(names))
        names, data = _squeeze_line(names, data)
        if not keep and names[-1] == "channel" and _grey_in_colour(data):
            names, data = names[:-1], np.ascontiguousarray(data[..., 0])
        if isinstance(data, np.ndarray):
            from sidkit.core.fastpath import wrap_numpy

            data = wrap_numpy(data, chunks=data.shape)  # decoded already: no copy, no hashing
        y, x = self._dims(height, width, exif)
        dims = [{"y": y, "x": x}.get(n) or _extra_dim(n, data.shape[i]) for i, n in enumerate(names)]
        original = {"format": fmt, "mode": mode, "size": [width, height], "frames": n_frames,
                    "info": plain(info), "exif_tags": plain(exif)}
        ds = Dataset(data, dims, title=path.stem, quantity="intensity", units="a.u.",
                     data_type=_data_type(names), source=str(path), metadata=_metadata(exif, y, x),
                     original_metadata=original, provenance=[read_record(self.name, path)])
        return {path.stem: ds}

    def _lazy_grey(self, path: Path, shape: tuple[int, int], dtype: np.dtype, lazy: bool) -> Any:
        """A single-band image as a dask array decoded on demand."""
        import dask.array as da
        from dask import delayed

        from sidkit.core.fastpath import register_direct_read

        data = da.from_delayed(delayed(_decode, pure=True)(os.fspath(path), self.name, False),
                               shape=shape, dtype=dtype)
        # computing it whole is one decode, without dask scheduling
        register_direct_read(data, functools.partial(_decode, os.fspath(path), self.name, False))
        return data if lazy else data.persist()

    @staticmethod
    def _dims(height: int, width: int, exif: dict[str, Any]) -> tuple[Dimension, Dimension]:
        offsets = [0.0, 0.0]
        fov = [float(width), float(height)]
        unit = ""
        try:
            origin = exif.get("FocalPlaneXYOrigins")
            if origin is not None and len(origin) >= 2:
                offsets = [float(origin[0]), float(origin[1])]
            if "FocalPlaneXResolution" in exif:
                fov[0] = float(exif["FocalPlaneXResolution"])
            if "FocalPlaneYResolution" in exif:
                fov[1] = float(exif["FocalPlaneYResolution"])
            unit = _UNIT.get(int(exif.get("FocalPlaneResolutionUnit", 0) or 0), "")
        except (TypeError, ValueError, ZeroDivisionError):
            offsets, fov, unit = [0.0, 0.0], [float(width), float(height)], ""
        if not (fov[0] > 0 and fov[1] > 0 and np.isfinite(fov).all() and np.isfinite(offsets).all()):
            offsets, fov, unit = [0.0, 0.0], [float(width), float(height)], ""
        y = Dimension.linear("y", height, scale=fov[1] / height, offset=offsets[1], units=unit,
                             quantity="length", dimension_type=DimensionType.SPATIAL)
        x = Dimension.linear("x", width, scale=fov[0] / width, offset=offsets[0], units=unit,
                             quantity="length", dimension_type=DimensionType.SPATIAL)
        return y, x


def _squeeze_line(names: list[str], data: Any) -> tuple[list[str], Any]:
    """Drop a length-1 ``y`` or ``x`` of a line-shaped image, as imageio's
    reader squeezes it (a 1 x 1 image keeps both)."""
    sizes = dict(zip(names, data.shape))
    drop = [n for n in ("y", "x") if sizes[n] == 1 and sizes["x" if n == "y" else "y"] > 1]
    if not drop:
        return names, data
    kept = [n for n in names if n not in drop]
    return kept, data.reshape(tuple(sizes[n] for n in kept))


def _extra_dim(name: str, size: int) -> Dimension:
    if name == "frame":
        return Dimension("frame", size, quantity="frame", units="", dimension_type=DimensionType.TEMPORAL)
    return Dimension("channel", size, quantity="channel", units="", dimension_type=DimensionType.CHANNEL)


def _data_type(names: list[str]) -> str:
    if "y" in names and "x" in names:
        return "image stack" if "frame" in names else "image"
    return "line plot"


def _metadata(exif: dict[str, Any], y: Dimension, x: Dimension) -> dict[str, Any]:
    """sidkit's normalised metadata from the EXIF tags and the calibrated dims."""
    when = exif.get("DateTimeOriginal") or exif.get("DateTime")
    when_iso = None
    if isinstance(when, str) and len(when) >= 19:
        when_iso = when[:10].replace(":", "-") + "T" + when[11:19]
    return normalised_metadata(
        acquisition={"datetime": when_iso},
        instrument={"vendor": _text(exif.get("Make")), "model": _text(exif.get("Model")),
                    "software": _text(exif.get("Software"))},
        calibration={"pixel_size": [y.scale, x.scale], "pixel_units": [y.units, x.units]} if y.units else {},
    )


def _text(v: Any) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if v is None:
        return None
    s = str(v).strip("\x00 ")
    return s or None
