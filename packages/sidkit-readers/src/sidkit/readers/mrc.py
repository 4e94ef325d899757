"""MRC / MRCS / CCP4 files: images, image stacks and volumes.

The header (and FEI/Thermo ``FEI1``/``FEI2`` extended headers) is parsed by
mrcfile (``pip install "sidkit-readers[mrc]"``); the data are memory-mapped
chunk by chunk through a picklable proxy. Voxel sizes (Å in the file) become
nm.
"""

from __future__ import annotations

import datetime as _dt
import struct
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Dimension, DimensionType, Reader, require

from ._em import memmap_array, parser_errors, plain, read_record
from ._metadata import normalised_metadata

__all__ = ["MRCReader", "is_mrc_header"]

_MODES = (0, 1, 2, 3, 4, 6, 12, 101)


def is_mrc_header(head: bytes) -> bool:
    """True when ``head`` looks like an MRC/CCP4 header.

    Checks the ``MAP`` word at byte 208 (MRC2000 and later) or, for older
    files, a known data mode and positive sizes in the first words.
    """
    if len(head) < 224:
        return False
    if head[208:211] == b"MAP":
        return True
    for order in ("<", ">"):
        nx, ny, nz, mode = struct.unpack(order + "4i", head[:16])
        if 0 < nx < 1 << 20 and 0 < ny < 1 << 20 and 0 < nz < 1 << 24 and mode in _MODES:
            mapc, mapr, maps = struct.unpack(order + "3i", head[64:76])
            if sorted((mapc, mapr, maps)) == [1, 2, 3]:
                return True
    return False


def _ole_datetime(days: Any) -> str | None:
    try:
        d = float(days)
    except (TypeError, ValueError):
        return None
    if not (1.0 < d < 100_000.0):
        return None
    return (_dt.datetime(1899, 12, 30) + _dt.timedelta(days=d)).isoformat(timespec="seconds")


def _text(v: Any) -> str | None:
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(-1)[0]
    if isinstance(v, (bytes, np.bytes_)):
        v = bytes(v).decode("utf-8", "replace").strip("\x00 ")
    return str(v) if v not in (None, "", b"") else None


class MRCReader(Reader):
    """Read MRC (``.mrc``), MRC stacks (``.mrcs``), tomograms (``.rec``,
    ``.st``, ``.ali``) and CCP4 maps.

    Images give ``y``/``x`` dims, volumes ``z``/``y``/``x`` (SPATIAL, nm),
    image stacks (``.mrcs`` or space group 0) a leading ``frame`` dim
    (UNKNOWN) and volume stacks a leading ``volume`` dim. The header, labels
    and the first record of an FEI extended header are in
    ``original_metadata``.
    """

    name: ClassVar[str] = "mrc"
    extensions: ClassVar[tuple[str, ...]] = (".mrc", ".mrcs", ".rec", ".st", ".ali", ".map", ".ccp4")
    extra: ClassVar[str] = "mrc"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "MRC/MRCS/CCP4 images, stacks and volumes (mrcfile)"

    def sniff(self, head: bytes) -> bool:
        try:
            return is_mrc_header(head)
        except Exception:  # noqa: BLE001 - sniff never raises
            return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read the data of an MRC file.

        Parameters
        ----------
        path : pathlib.Path
            The file.
        lazy : bool, default True
            Memory-map the data chunk by chunk.
        **options
            ``chunks`` (dask chunks, default ``"auto"``).

        Returns
        -------
        dict of str to Dataset
            One entry, named after the file.
        """
        mrcfile = require("mrcfile", extra=self.extra, reader=self.name)
        utils = require("mrcfile.utils", extra=self.extra, reader=self.name)
        if path.stat().st_size < 1024:
            raise CorruptFileError(path, self.name, "is shorter than the 1024-byte MRC header; "
                                   "the file is truncated or not an MRC file")
        with parser_errors(path, self.name, "parsing the MRC header"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mrcfile.open(path, mode="r", header_only=True, permissive=True) as mrc:
                header = mrc.header.copy()
                labels = [lab.decode("latin-1").strip() for lab in header.label[: int(header.nlabl)]
                          if isinstance(lab, bytes)] if 0 <= int(header.nlabl) <= 10 else []
                next_bytes = int(header.nsymbt)
                exttyp = _text(header.exttyp) or ""
                dtype = utils.data_dtype_from_header(header)
                shape = utils.data_shape_from_header(header)
                voxel = mrc.voxel_size.copy()
                origin = mrc.header.origin.copy()
                ispg = int(header.ispg)
            if next_bytes < 0:
                raise CorruptFileError(path, self.name, f"declares a negative extended header ({next_bytes} bytes)")
            fei = self._fei_record(path, header, exttyp, next_bytes)
            legacy = self._legacy_fei(path, header, exttyp, next_bytes)
        offset = 1024 + next_bytes
        data = memmap_array(path, self.name, offset, shape, dtype, lazy=lazy,
                            chunks=options.get("chunks", "auto"))
        if legacy:
            # old FEI extended header: the calibration is its pixel size (m)
            size_a = legacy["pixel_size"] * 1e10 if legacy.get("pixel_size", 0) > 0 else 0.0
            sizes = (size_a, size_a, 10.0)
            offsets = (0.0, 0.0, 0.0)
        else:
            sizes = (float(voxel.x), float(voxel.y), float(voxel.z))
            offsets = tuple(float(origin[k]) / 10.0 if np.isfinite(float(origin[k])) else 0.0
                            for k in ("x", "y", "z"))
        dims = self._dims(path, shape, sizes, offsets, ispg)
        original = {
            "header": {name: plain(header[name]) for name in header.dtype.names},
            "labels": labels,
            "extended_header_type": exttyp,
        }
        if fei:
            original["fei_extended_header"] = fei
        if legacy:
            original["fei_header"] = legacy
        spatial = [d for d in dims if d.dimension_type is DimensionType.SPATIAL][-2:]
        metadata = normalised_metadata(
            acquisition={
                "datetime": _ole_datetime(fei.get("Timestamp")) if fei else None,
                "exposure_s": fei.get("Integration time") or None if fei else None,
                "dwell_time_s": fei.get("Dwell time") or None if fei else None,
                "detector": (_text(fei.get("STEM Detector name")) or _text(fei.get("Camera name"))) if fei else None,
            },
            instrument={
                "vendor": "Thermo Fisher Scientific" if fei else None,
                "model": _text(fei.get("Microscope type")) if fei else None,
                "software": " ".join(filter(None, [_text(fei.get("Application")), _text(fei.get("Application version"))])) if fei else None,
            },
            beam={"energy_eV": fei.get("HT") or None if fei else None},
            optics={
                "magnification": fei.get("Magnification") or None if fei else None,
                "camera_length_m": fei.get("Camera length") or None if fei else None,
            },
            calibration={"pixel_size": [d.scale for d in spatial], "pixel_units": [d.units for d in spatial]}
            if spatial and spatial[0].units else {},
        )
        ds = Dataset(data, dims, title=path.stem, quantity="intensity", units="counts",
                     source=str(path), metadata=metadata, original_metadata=original,
                     provenance=[read_record(self.name, path)])
        return {path.stem: ds}

    def _fei_record(self, path: Path, header: Any, exttyp: str, next_bytes: int) -> dict[str, Any]:
        """First record of an FEI1/FEI2 extended header as a plain dict, or {}."""
        if exttyp not in ("FEI1", "FEI2") or next_bytes <= 0:
            return {}
        try:
            mrcfile_dtypes = require("mrcfile.dtypes", extra=self.extra, reader=self.name)
            with open(path, "rb") as fh:
                fh.seek(1024)
                first = fh.read(min(next_bytes, 4096))
            size = struct.unpack("<i", first[:4])[0]
            version = struct.unpack("<i", first[4:8])[0]
            dtype = mrcfile_dtypes.get_ext_header_dtype(exttyp.encode(), header.mode.dtype.byteorder)
            if dtype is None or len(first) < dtype.itemsize or size < dtype.itemsize // 2:
                dtype = None
            if dtype is None:
                return {"Metadata size": size, "Metadata version": version}
            rec = np.frombuffer(first[: dtype.itemsize], dtype=dtype)[0]
            return {n: plain(rec[n]) for n in dtype.names}
        except Exception:  # noqa: BLE001 - a damaged extended header only loses metadata
            return {}

    @staticmethod
    def _legacy_fei(path: Path, header: Any, exttyp: str, next_bytes: int) -> dict[str, Any]:
        """First record of an old-style FEI extended header (1024 x 128 bytes), or {}."""
        if exttyp in ("FEI1", "FEI2") or next_bytes != 131072:
            return {}
        names = ("a_tilt", "b_tilt", "x_stage", "y_stage", "z_stage", "x_shift", "y_shift",
                 "defocus", "exp_time", "mean_int", "tilt_axis", "pixel_size", "magnification")
        order = "<" if header.nx.dtype.byteorder in "<=|" else ">"
        try:
            with open(path, "rb") as fh:
                fh.seek(1024)
                raw = fh.read(4 * len(names))
            values = np.frombuffer(raw, dtype=order + "f4", count=len(names))
        except (OSError, ValueError):
            return {}
        return {n: float(v) for n, v in zip(names, values) if np.isfinite(v)}

    @staticmethod
    def _dims(path: Path, shape: tuple[int, ...], sizes: tuple[float, float, float],
              offsets: tuple[float, float, float], ispg: int) -> list[Dimension]:
        """Dims as the reference reader calibrates them: cell size / grid
        size (Å) and origin (Å) converted to nm; 1 (index) without a size."""

        def axis(name: str, n: int, size_a: float, offset_a: float, kind: DimensionType) -> Dimension:
            units = "nm" if kind is DimensionType.SPATIAL else ""
            if size_a and np.isfinite(size_a) and size_a > 0:
                return Dimension.linear(name, n, scale=size_a / 10.0, offset=offset_a, units=units,
                                        quantity="length" if units else "index", dimension_type=kind)
            return Dimension.linear(name, n, offset=offset_a, units="" if not units else units,
                                    quantity="length" if units else "index", dimension_type=kind)

        (vx, vy, vz), (ox, oy, oz) = sizes, offsets
        if len(shape) == 2:
            return [axis("y", shape[0], vy, oy, DimensionType.SPATIAL),
                    axis("x", shape[1], vx, ox, DimensionType.SPATIAL)]
        if len(shape) == 3:
            stack = path.suffix.lower() == ".mrcs" or ispg == 0
            first = (axis("frame", shape[0], vz, oz, DimensionType.UNKNOWN) if stack
                     else axis("z", shape[0], vz, oz, DimensionType.SPATIAL))
            return [first, axis("y", shape[1], vy, oy, DimensionType.SPATIAL),
                    axis("x", shape[2], vx, ox, DimensionType.SPATIAL)]
        if len(shape) == 4:
            return [Dimension("volume", shape[0], quantity="index", units="",
                              dimension_type=DimensionType.UNKNOWN),
                    axis("z", shape[1], vz, oz, DimensionType.SPATIAL),
                    axis("y", shape[2], vy, oy, DimensionType.SPATIAL),
                    axis("x", shape[3], vx, ox, DimensionType.SPATIAL)]
        return [Dimension(f"dim_{i}", n) for i, n in enumerate(shape)]
