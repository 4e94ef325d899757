"""Plain images: PNG, JPEG, BMP, GIF (first frame) and WebP, via Pillow
(``pip install "sidkit-readers[image]"``).

Grey images give ``(y, x)``; colour images ``(y, x, 3|4)`` ``uint8`` with a
trailing ``channel`` dim (an RGB image whose three channels are equal is
returned as grey, as RosettaSciIO does). EXIF focal-plane tags (written e.g.
by Renishaw microscopes) calibrate the axes; without them the axes are in
pixels.
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

_UNIT = {2: "inch", 3: "cm", 4: "mm", 5: "µm"}
_CUSTOM_TAGS = {0xFEA0: "FocalPlaneXYOrigins", 0xFEA1: "FieldOfViewXY", 0xFEA2: "Unknown"}
_GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"}


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


def _decode(path: str, reader: str, mode: str | None) -> np.ndarray:
    from PIL import Image

    with parser_errors(path, reader, "decoding the image"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as im:
            if mode and im.mode != mode:
                im = im.convert(mode)
            return np.asarray(im)


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
            Grey images are decoded on demand. Colour images are decoded
            once here to tell grey-in-RGB from colour (image codecs cannot
            decode part of an image).
        **options
            ``keep_channels`` (default False): keep three equal RGB channels
            instead of returning a grey image.

        Returns
        -------
        dict of str to Dataset
        """
        import dask.array as da
        from dask import delayed

        from sidkit.core.fastpath import register_direct_read, wrap_numpy

        Image = require("PIL.Image", extra=self.extra, reader=self.name, pip_name="pillow")
        keep = bool(options.get("keep_channels", False))
        with parser_errors(path, self.name, "reading the image header"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
                mode = im.mode
                fmt = im.format
                info = {k: v for k, v in im.info.items() if k not in ("exif", "icc_profile", "xmp")}
                exif = _exif(im)
                has_alpha = "A" in mode or "transparency" in im.info
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            raise UnsafeFileError(path, self.name, f"declares {width} x {height} pixels "
                                  f"(limit {MAX_PIXELS}); refusing to decode it")
        if mode in _GREY_MODES:
            target = "I" if mode == "I;16B" else None
            sample = np.dtype({"1": "bool", "L": "uint8", "I": "int32", "F": "float32"}.get(
                mode, "uint16"))
            if mode in ("I;16", "I;16L", "I;16N", "I;16B"):
                sample = np.dtype("uint16")
                target = None
            shape: tuple[int, ...] = (height, width)
            data = da.from_delayed(delayed(_decode, pure=True)(os.fspath(path), self.name, target),
                                   shape=shape, dtype=sample)
            # computing it whole is one decode, without dask scheduling
            register_direct_read(data, functools.partial(_decode, os.fspath(path), self.name, target))
            if not lazy:
                data = data.persist()
            channels = 0
        else:
            target = "RGBA" if has_alpha else "RGB"
            arr = _decode(os.fspath(path), self.name, target)
            if arr.shape[:2] != (height, width):
                raise CorruptFileError(path, self.name, f"decoded to {arr.shape}, header says {height} x {width}")
            if not keep and np.array_equal(arr[..., 1], arr[..., 2]) and np.array_equal(arr[..., 0], arr[..., 1]):
                arr = np.ascontiguousarray(arr[..., 0])
                channels = 0
            else:
                channels = arr.shape[-1]
            data = wrap_numpy(arr, chunks=arr.shape)  # decoded already: no copy, no hashing
        dims = self._dims(height, width, exif)
        if channels:
            dims.append(Dimension("channel", channels, quantity="channel", units="",
                                  dimension_type=DimensionType.CHANNEL))
        original = {"format": fmt, "mode": mode, "size": [width, height],
                    "info": plain(info), "exif_tags": plain(exif)}
        when = exif.get("DateTimeOriginal") or exif.get("DateTime")
        when_iso = None
        if isinstance(when, str) and len(when) >= 19:
            when_iso = when[:10].replace(":", "-") + "T" + when[11:19]
        metadata = normalised_metadata(
            acquisition={"datetime": when_iso},
            instrument={"vendor": _text(exif.get("Make")), "model": _text(exif.get("Model")),
                        "software": _text(exif.get("Software"))},
            calibration={"pixel_size": [dims[0].scale, dims[1].scale],
                         "pixel_units": [dims[0].units, dims[1].units]} if dims[0].units else {},
        )
        ds = Dataset(data, dims, title=path.stem, quantity="intensity", units="a.u.",
                     data_type="image", source=str(path), metadata=metadata,
                     original_metadata=original, provenance=[read_record(self.name, path)])
        return {path.stem: ds}

    @staticmethod
    def _dims(height: int, width: int, exif: dict[str, Any]) -> list[Dimension]:
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
        return [y, x]


def _text(v: Any) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if v is None:
        return None
    s = str(v).strip("\x00 ")
    return s or None
