"""EMPAD (Electron Microscope Pixel Array Detector) 4D-STEM data: ``.xml`` + ``.raw``.

The ``.xml`` file describes the acquisition and names the ``.raw`` file, which
holds little-endian float32 frames of 128 x 130 pixels (the last two rows are
per-frame metadata and are dropped). The scan shape is ``pix_x``/``pix_y``
(or ``scan_parameters/scan_resolution_x/_y``); ``scan_parameters/series_count``
makes a frame series. Either file may be opened; the frames are
memory-mapped and read lazily.
"""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    DataType,
    Dimension,
    DimensionType,
    Reader,
    SidkitFileNotFoundError,
    make_record,
)

from ._metadata import normalised_metadata
from ._raw import MemmapProxy, check_fits, file_size, frame_chunks, lazy_memmap
from ._version import __version__

__all__ = ["EmpadReader", "xml_to_dict"]

WIDTH, HEIGHT, RAW_HEIGHT = 128, 128, 130
_MAX_XML = 16 << 20
_MAX_SIBLINGS = 64


def xml_to_dict(elem: ET.Element, depth: int = 0) -> Any:
    """An element tree as nested dicts: attributes, children and text."""
    if depth > 64:
        return None
    children = list(elem)
    if not children and not elem.attrib:
        return (elem.text or "").strip()
    out: dict[str, Any] = dict(elem.attrib)
    for child in children:
        value = xml_to_dict(child, depth + 1)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    if (elem.text or "").strip():
        out["_text"] = elem.text.strip()
    return out


def _is_empad_xml(head: bytes) -> bool:
    h = head[:4096]
    return b"<root" in h and (b"raw_file" in h or b"pix_x" in h or b"scan_parameters" in h
                              or b"EMPAD" in h.upper())


def _find(root: ET.Element, path: str) -> str | None:
    el = root.find(path)
    return el.text.strip() if el is not None and el.text else None


class EmpadReader(Reader):
    """Read EMPAD 4D-STEM acquisitions (``.xml`` description + ``.raw`` frames)."""

    name: ClassVar[str] = "empad"
    extensions: ClassVar[tuple[str, ...]] = (".xml", ".raw")
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "EMPAD 4D-STEM (.xml + .raw float32 frames), memory-mapped"

    def sniff(self, head: bytes) -> bool:
        return _is_empad_xml(head)

    def _xml_for(self, path: Path) -> Path | None:
        if path.suffix.lower() == ".xml":
            return path
        for cand in sorted(path.parent.glob("*.xml"))[:_MAX_SIBLINGS]:
            try:
                with open(cand, "rb") as fh:
                    head = fh.read(65536)
            except OSError:
                continue
            if _is_empad_xml(head) and path.name.encode() in head:
                return cand
        return None

    def claims(self, path: Path, head: bytes) -> bool:
        try:
            if path.suffix.lower() == ".raw":
                return self._xml_for(path) is not None
            return self.sniff(head)
        except Exception:  # noqa: BLE001 - claims never raises
            return False

    def read(self, path: Path, *, lazy: bool = True, chunks: Any = None, **options: Any) -> dict[str, Dataset]:
        """Read the frames described by an EMPAD ``.xml`` (or named by its ``.raw``).

        Returns
        -------
        dict
            ``{"empad": Dataset}``: ``(y, x, ky, kx)`` 4D-STEM with SPATIAL scan
            and RECIPROCAL detector dims, or ``(frame, ky, kx)`` for a series.
        """
        path = Path(path)
        xml_path = self._xml_for(path)
        if xml_path is None:
            raise CorruptFileError(path, self.name, "no EMPAD .xml next to this .raw names it; open the .xml")
        if file_size(xml_path) > _MAX_XML:
            raise CorruptFileError(xml_path, self.name, "the XML description is larger than 16 MiB")
        try:
            root = ET.parse(xml_path).getroot()
        except (ET.ParseError, OSError) as exc:
            raise CorruptFileError(xml_path, self.name, f"the XML description is unreadable: {exc}") from exc
        raw_el = root.find("raw_file")
        raw_name = raw_el.get("filename") if raw_el is not None else None
        raw_path = path if path.suffix.lower() == ".raw" else (xml_path.parent / Path(raw_name).name if raw_name else None)
        if raw_path is None:
            raise CorruptFileError(xml_path, self.name, "the XML names no raw_file")
        if not raw_path.is_file():
            raise SidkitFileNotFoundError(raw_path, self.name, f"the data file named by {xml_path.name} is missing")

        def _int(p: str) -> int | None:
            v = _find(root, p)
            try:
                return int(float(v)) if v is not None else None
            except ValueError:
                return None

        series = _int("scan_parameters/series_count")
        sx, sy = _int("pix_x"), _int("pix_y")
        if sx is None or sy is None:
            sx, sy = _int("scan_parameters/scan_resolution_x"), _int("scan_parameters/scan_resolution_y")
        if series:
            scan: tuple[int, ...] = (series,)
        elif sx and sy:
            scan = (sy, sx)
        else:
            raise CorruptFileError(xml_path, self.name, "the XML gives neither the scan size nor a series count")
        if any(n <= 0 for n in scan):
            raise CorruptFileError(xml_path, self.name, f"invalid scan shape {scan}")
        nframes = int(np.prod(scan))
        check_fits(raw_path, self.name, (nframes, RAW_HEIGHT, WIDTH), 4, 0, what="the EMPAD frames")
        proxy = MemmapProxy(raw_path, "<f4", (nframes, RAW_HEIGHT, WIDTH), reader=self.name)
        arr = lazy_memmap(proxy, chunks=frame_chunks(proxy.shape, 4, multiple=scan[-1]))
        arr = arr.reshape((*scan, RAW_HEIGHT, WIDTH))[..., :HEIGHT, :]
        if chunks is not None:
            arr = arr.rechunk(chunks)
        if not lazy:
            arr = arr.persist()

        k_scale, k_units = 1.0, "px"
        cal = _find(root, "iom_measurements/calibrated_pixelsize")
        try:
            if cal is not None and float(cal) > 0:
                k_scale, k_units = float(cal) * 1e9, "1/nm"
        except ValueError:
            pass
        det = [Dimension.linear(n, s, scale=k_scale, offset=-64 * k_scale, units=k_units,
                                quantity="scattering vector", dimension_type=DimensionType.RECIPROCAL)
               for n, s in (("ky", HEIGHT), ("kx", WIDTH))]
        if len(scan) == 2:
            fov = _find(root, "iom_measurements/optics/get_full_scan_field_of_view")
            scales = [1.0, 1.0]
            units = "px"
            try:
                values = ast.literal_eval(fov) if fov else None
                if isinstance(values, (list, tuple)) and len(values) >= 2:
                    fx, fy = float(values[0]), float(values[1])
                    if fx > 0 and fy > 0:
                        scales, units = [fy / scan[0] * 1e9, fx / scan[1] * 1e9], "nm"
            except (ValueError, SyntaxError, TypeError):
                pass
            dims = [Dimension.linear("y", scan[0], scale=scales[0], units=units, quantity="length",
                                     dimension_type=DimensionType.SPATIAL),
                    Dimension.linear("x", scan[1], scale=scales[1], units=units, quantity="length",
                                     dimension_type=DimensionType.SPATIAL), *det]
            data_type = DataType.IMAGE_4D
        else:
            dims = [Dimension("frame", scan[0], units="", quantity="frame"), *det]
            data_type = DataType.IMAGE_STACK
        stamp = _find(root, "timestamp/isoformat")
        metadata = normalised_metadata(
            acquisition={"datetime": stamp, "detector": "EMPAD", "frames": nframes},
            instrument={"vendor": "Thermo Fisher / Cornell", "model": "EMPAD"},
        )
        ds = Dataset(arr, dims, title=xml_path.stem, quantity="intensity", units="counts",
                     data_type=data_type, modality="4D-STEM", source=str(raw_path), metadata=metadata,
                     original_metadata={"xml": xml_to_dict(root), "raw_file": raw_path.name},
                     provenance=[make_record("sidkit.readers.empad.EmpadReader.read",
                                             {"path": str(path)}, package="sidkit-readers", version=__version__)])
        return {"empad": ds}
