"""Bruker / Veeco Nanoscope SPM files (``.spm``, ``.000``, ...).

Our own parser, written from the Nanoscope user guide's description of the
file: a text header of ``\\key: value`` lines grouped in ``\\*Section``
blocks, ended by ``\\*File list end``, then the images. Every
``\\*Ciao image list`` block is one channel: ``Data offset``, ``Data
length``, ``Bytes/pixel`` (2 or 4, little-endian signed), ``Samps/line`` x
``Number of lines``, ``Scan Size`` and the CIAO value parameter
``\\@2:Z scale: V [soft-scale name] (hard scale) hard value``. Physical values
are ``raw * hard_value / 256**bytes_per_pixel * soft_scale``, the soft scale
being the value of the parameter named in brackets (e.g. ``\\@Sens. Zsens: V
9.4 nm/V``), so heights come out in nm. Lines are stored bottom line first;
they are flipped so row 0 is the top of the image. The images are
memory-mapped and read lazily.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, DataType, Reader, TruncatedFileError, UnknownFormatError

from ._metadata import normalised_metadata
from ._raw import MemmapProxy, check_fits, lazy_memmap
from ._spm import linear_dim, safe_name, spm_dataset

__all__ = ["NanoscopeReader", "parse_header", "parse_value"]

_MAX_HEADER = 4 << 20
_SNIFF = re.compile(rb"^\\\*(?:[A-Za-z]+ )*File list\r?\n", re.IGNORECASE)
_UNITS = {"~m": "µm", "um": "µm", "nm": "nm", "pm": "pm", "mm": "mm", "m": "m", "Å": "Å"}


def parse_header(text: str) -> list[tuple[str, dict[str, str]]]:
    """``[(section name, {key: value})]`` in file order; keys keep their ``@n:`` prefix."""
    sections: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        line = line.strip("\x00 \x1a")
        if not line.startswith("\\"):
            continue
        if line.startswith("\\*"):
            sections.append((line[2:].strip(), {}))
            continue
        if not sections:
            sections.append(("", {}))
        body = line[1:]
        # the key ends at the first ": " (keys like "@2:Z scale" contain a colon)
        m = re.match(r"(@\d+:)?([^:]*):\s?(.*)$", body)
        if not m:
            continue
        key = (m.group(1) or "") + m.group(2).strip()
        sections[-1][1].setdefault(key, m.group(3).strip())
    return sections


def parse_value(text: str) -> dict[str, Any]:
    """A CIAO value parameter ``V [soft] (hard-scale units) hard-value units``.

    Returns a dict with ``type``, ``soft_scale`` (name or None),
    ``hard_scale`` (float or None), ``hard_value`` (float or None), ``units``.
    """
    m = re.match(r"\s*([VCS])?\s*(?:\[([^\]]*)\])?\s*(?:\(([-+0-9.eE]+)\s*([^)]*)\))?\s*([-+0-9.eE]+)?\s*(.*)$",
                 text or "")
    if not m:
        return {"type": None, "soft_scale": None, "hard_scale": None, "hard_value": None, "units": ""}

    def num(s: str | None) -> float | None:
        try:
            return float(s) if s else None
        except ValueError:
            return None

    return {"type": m.group(1), "soft_scale": (m.group(2) or "").strip() or None,
            "hard_scale": num(m.group(3)), "hard_value": num(m.group(5)), "units": (m.group(6) or "").strip()}


def _find(sections: list[tuple[str, dict[str, str]]], key: str) -> str | None:
    for _, values in sections:
        for k, v in values.items():
            if k == key or re.sub(r"^@\d+:", "", k) == key or k.lower() == key.lower():
                return v
    return None


def _scan_size(text: str | None) -> tuple[float, float, str]:
    if not text:
        return 1.0, 1.0, ""
    parts = text.split()
    nums = []
    for p in parts:
        try:
            nums.append(float(p))
        except ValueError:
            break
    units = parts[len(nums)] if len(parts) > len(nums) else ""
    if not nums:
        return 1.0, 1.0, ""
    w = nums[0]
    h = nums[1] if len(nums) > 1 else nums[0]
    return w, h, _UNITS.get(units, units)


class NanoscopeReader(Reader):
    """Read Bruker/Veeco Nanoscope SPM images (every channel), memory-mapped."""

    name: ClassVar[str] = "nanoscope"
    extensions: ClassVar[tuple[str, ...]] = (".spm", ".000", ".001", ".002", ".003", ".004", ".005")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Bruker/Veeco Nanoscope SPM images, own parser"

    def sniff(self, head: bytes) -> bool:
        return bool(_SNIFF.match(head[:64]))

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every ``Ciao image list`` channel as a ``(y, x)`` image.

        Raises
        ------
        CorruptFileError, TruncatedFileError
            Header unreadable, or an image lies beyond the end of the file.
        UnknownFormatError
            The file holds no image channel (force curves only).
        """
        path = Path(path)
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_HEADER)
        if not self.sniff(raw):
            raise CorruptFileError(path, self.name, "does not start with a '\\*File list' header")
        end = raw.find(b"\\*File list end")
        if end < 0:
            raise TruncatedFileError(path, self.name, "the header has no '\\*File list end'; truncated")
        sections = parse_header(raw[:end].decode("latin-1"))
        images = [values for name, values in sections if name.lower() == "ciao image list"]
        if not images:
            raise UnknownFormatError(path, self.name, "holds no 'Ciao image list' channel (force data are not read)")
        out: dict[str, Dataset] = {}
        general = {name or "_": values for name, values in sections if name.lower() != "ciao image list"}
        date = _find(sections, "Date")
        for k, img in enumerate(images):
            try:
                offset = int(img["Data offset"])
                length = int(img.get("Data length", "0"))
                bpp = int(img.get("Bytes/pixel", "2"))
                nx = int(img.get("Samps/line") or _find(sections, "Samps/line") or 0)
                ny = int(img.get("Number of lines") or _find(sections, "Lines") or 0)
            except (KeyError, ValueError) as exc:
                raise CorruptFileError(path, self.name, f"image {k}: layout keys unreadable ({exc})") from exc
            if nx > 0 and ny > 0 and length and length // (nx * ny) in (2, 4):
                bpp = length // (nx * ny)  # newer files keep "Bytes/pixel: 2" for 4-byte data
            if bpp not in (2, 4) or nx <= 0 or ny <= 0:
                raise CorruptFileError(path, self.name, f"image {k}: {nx} x {ny} pixels of {bpp} bytes")
            if length and length < nx * ny * bpp:
                raise CorruptFileError(path, self.name, f"image {k}: Data length {length} < {nx}x{ny}x{bpp}")
            check_fits(path, self.name, (ny, nx), bpp, offset, what=f"image {k}")
            arr = lazy_memmap(MemmapProxy(path, f"<i{bpp}", (ny, nx), offset=offset, reader=self.name),
                              chunks=(ny, nx))[::-1, :]
            zkey = next((key for key in img if re.sub(r"^@\d+:", "", key) == "Z scale"), None)
            zval = parse_value(img.get(zkey, "")) if zkey else parse_value("")
            factor, units = 1.0, "LSB"
            if zval["hard_value"] is not None:
                factor = zval["hard_value"] / float(256 ** bpp)
                units = zval["units"] or "V"
            elif zval["hard_scale"] is not None:
                factor = zval["hard_scale"]
                units = (zval["units"] or "V/LSB").split("/")[0]
            soft, soft_factor = zval["soft_scale"], 1.0
            if soft:
                sval = parse_value(_find(sections, "@" + soft) or _find(sections, soft) or "")
                if sval["hard_value"] is not None:
                    soft_factor = sval["hard_value"]
                    factor *= soft_factor
                    units = sval["units"].split("/")[0] if "/" in sval["units"] else sval["units"]
            okey = next((key for key in img if re.sub(r"^@\d+:", "", key) == "Z offset"), None)
            oval = parse_value(img.get(okey, "")) if okey else parse_value("")
            shift = 0.0
            if oval["hard_value"] is not None and zval["hard_value"] is not None:
                shift = oval["hard_value"] / float(256 ** bpp) * soft_factor
            data = arr.astype(np.float64) * factor + shift
            title_key = next((key for key in img if re.sub(r"^@\d+:", "", key) == "Image Data"), None)
            title_m = re.search(r'"([^"]*)"', img.get(title_key, "")) if title_key else None
            title = title_m.group(1) if title_m else f"channel {k}"
            direction = img.get("Line Direction") or img.get("Line direction")
            w, h, sunits = _scan_size(img.get("Scan Size") or _find(sections, "Scan Size"))
            dims = [linear_dim("y", ny, h / ny, 0.0, sunits, "spatial"),
                    linear_dim("x", nx, w / nx, 0.0, sunits, "spatial")]
            metadata = normalised_metadata(
                acquisition={"datetime": date},
                instrument={"vendor": "Bruker", "software": _find(sections, "Version")},
                calibration={"pixel_size": [h / ny, w / nx], "pixel_units": [sunits, sunits]},
            )
            key = safe_name(f"{title} {direction}".strip() if direction else title, out)
            out[key] = spm_dataset(
                data, dims, path=path, reader=self.name, title=title, units=units, metadata=metadata,
                original_metadata={"image": img, "header": general, "z_scale": zval, "factor": factor},
                modality="AFM", data_type=DataType.IMAGE)
        return out
