"""MRC / MRCS / CCP4 files: images, image stacks and volumes.

The header (and FEI/Thermo ``FEI1``/``FEI2`` extended headers) is parsed by
mrcfile (``pip install "sidkit-readers[mrc]"``); the data are memory-mapped
chunk by chunk through a picklable proxy. Voxel sizes (Å in the file) become
nm. A Direct Electron movie ``YYYYMMDD_<acq>_movie.mrc`` is shaped and
calibrated by the ``YYYYMMDD_<acq>_info.txt`` beside it (a companion that
travels with the movie), as RosettaSciIO shapes it.
"""

from __future__ import annotations

import datetime as _dt
import glob
import re
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
_LEGACY_FEI_BYTES = 1024 * 128  # old FEI/EPU extended header: 1024 records of 128 bytes


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
    (UNKNOWN) and volume stacks a leading ``volume`` dim; length-1 axes are
    dropped. Mode 0 is read as unsigned bytes. A Direct Electron movie with
    its ``_info.txt`` becomes 4D-STEM (raster scans) or a ``time`` series.
    The header, labels, the first record of an FEI extended header and the
    DE info are in ``original_metadata``.
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
                dtype = _data_dtype(utils, header)
                shape = utils.data_shape_from_header(header)
                ispg = int(header.ispg)
            if next_bytes < 0:
                raise CorruptFileError(path, self.name, f"declares a negative extended header ({next_bytes} bytes)")
            fei = self._fei_record(path, header, exttyp, next_bytes)
            legacy = self._legacy_fei(path, header, next_bytes)
        offset = 1024 + next_bytes
        de = _de_movie_layout(path, shape)
        if de is not None:
            shape, dims = de["shape"], de["dims"]
        else:
            scales, offsets = _calibration(header, legacy)
            dims = self._dims(path, shape, scales, offsets, ispg)
        data = memmap_array(path, self.name, offset, shape, dtype, lazy=lazy,
                            chunks=options.get("chunks", "auto"))
        data, dims = _squeeze(data, dims)
        original = {
            "header": {name: plain(header[name]) for name in header.dtype.names},
            "labels": labels,
            "extended_header_type": exttyp,
        }
        if fei:
            original["fei_extended_header"] = fei
        if legacy:
            original["fei_header"] = legacy
        if de is not None:
            original["de_metadata"] = de["info"]
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
    def _legacy_fei(path: Path, header: Any, next_bytes: int) -> dict[str, Any]:
        """First record of an old-style FEI extended header (1024 x 128 bytes), or {}."""
        if next_bytes != _LEGACY_FEI_BYTES:
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
    def _dims(path: Path, shape: tuple[int, ...], scales: tuple[float, float, float],
              offsets: tuple[float, float, float], ispg: int) -> list[Dimension]:
        """Dims of a plain MRC file: ``scales``/``offsets`` (nm) are x, y, z."""

        def axis(name: str, n: int, k: int, kind: DimensionType) -> Dimension:
            units = "nm" if kind is DimensionType.SPATIAL else ""
            return Dimension.linear(name, n, scale=scales[k], offset=offsets[k], units=units,
                                    quantity="length" if units else "index", dimension_type=kind)

        if len(shape) == 2:
            return [axis("y", shape[0], 1, DimensionType.SPATIAL), axis("x", shape[1], 0, DimensionType.SPATIAL)]
        if len(shape) == 3:
            stack = path.suffix.lower() == ".mrcs" or ispg == 0
            first = (axis("frame", shape[0], 2, DimensionType.UNKNOWN) if stack
                     else axis("z", shape[0], 2, DimensionType.SPATIAL))
            return [first, axis("y", shape[1], 1, DimensionType.SPATIAL),
                    axis("x", shape[2], 0, DimensionType.SPATIAL)]
        if len(shape) == 4:
            return [Dimension("volume", shape[0], quantity="index", units="",
                              dimension_type=DimensionType.UNKNOWN),
                    axis("z", shape[1], 2, DimensionType.SPATIAL),
                    axis("y", shape[2], 1, DimensionType.SPATIAL),
                    axis("x", shape[3], 0, DimensionType.SPATIAL)]
        return [Dimension(f"dim_{i}", n) for i, n in enumerate(shape)]


def _data_dtype(utils: Any, header: Any) -> np.dtype:
    """The data type of the header's mode; mode 0 is read as unsigned bytes.

    The MRC2014 text calls mode 0 signed, but cameras (Direct Electron,
    SerialEM, IMOD by default) write unsigned bytes, and the reference
    reader reads mode 0 as ``uint8``.
    """
    if int(header.mode) == 0:
        return np.dtype(np.uint8)
    return np.dtype(utils.data_dtype_from_header(header))


def _calibration(header: Any, legacy: dict[str, Any]) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Pixel sizes and origins (nm) of x, y, z as the reference reader calibrates them.

    The cell length over the grid size (Å, so / 10), 1 where the grid size
    is 0 (and for z also where the cell length is 0); the origin / 10. An
    old-style FEI extended header replaces them with its pixel size (m) and
    zero origins.
    """
    if legacy:
        size = float(legacy.get("pixel_size", 0.0)) * 1e9
        return (size, size, 1.0), (0.0, 0.0, 0.0)
    cella = [float(header.cella[k]) for k in ("x", "y", "z")]
    grid = [int(header[k]) for k in ("mx", "my", "mz")]
    scales = [c / m / 10.0 if m != 0 else 1.0 for c, m in zip(cella, grid)]
    if cella[2] == 0:
        scales[2] = 1.0
    scales = [v if np.isfinite(v) else 1.0 for v in scales]
    origin = [float(header.origin[k]) / 10.0 for k in ("x", "y", "z")]
    offsets = tuple(v if np.isfinite(v) else 0.0 for v in origin)
    return (scales[0], scales[1], scales[2]), offsets  # type: ignore[return-value]


def _squeeze(data: Any, dims: list[Dimension]) -> tuple[Any, list[Dimension]]:
    """Drop length-1 axes (a one-frame stack, a one-row image), as the reference does."""
    keep = [i for i, n in enumerate(data.shape) if n != 1] or [data.ndim - 1]
    if len(keep) == data.ndim:
        return data, dims
    return data.reshape(tuple(data.shape[i] for i in keep)), [dims[i] for i in keep]


# ----------------------------------------------------------------------------- Direct Electron
_DE_MOVIE = re.compile(r"(?P<ts>\d{8})_(?P<acq>\d+)(?:_.+?)?(?:_\d+)?_movie\.mrc")
_MAX_INFO_BYTES = 4 * 2**20


def _de_info_file(path: Path) -> Path | None:
    """The ``YYYYMMDD_<acq>[_suffix]_info.txt`` beside a DE movie ``YYYYMMDD_<acq>..._movie.mrc``."""
    m = _DE_MOVIE.fullmatch(path.name)
    if m is None:
        return None
    prefix = f"{m.group('ts')}_{m.group('acq')}_"
    found = [p for p in path.parent.glob(f"{glob.escape(prefix)}*info.txt")
             if p.name == f"{prefix}info.txt" or p.name.endswith("_info.txt")]
    return sorted(found)[0] if found else None


def read_de_info(path: Path) -> dict[str, str]:
    """The ``key = value`` lines of a Direct Electron ``_info.txt`` file.

    Lines that are not exactly one ``key = value`` pair are skipped.
    """
    if path.stat().st_size > _MAX_INFO_BYTES:
        return {}
    info: dict[str, str] = {}
    for line in path.read_text("utf-8", errors="replace").splitlines():
        parts = line.split("=")
        if len(parts) == 2:
            info[parts[0].strip()] = parts[1].strip()
    return info


def _number(info: dict[str, str], key: str, default: float) -> float:
    try:
        value = float(info.get(key, default))
    except ValueError:
        return default
    return value if np.isfinite(value) else default


def _de_movie_layout(path: Path, shape: tuple[int, ...]) -> dict[str, Any] | None:
    """Shape, dims and info of a Direct Electron movie with its ``_info.txt``, or None.

    A STEM raster scan becomes 4D-STEM ``(scan y, scan x, ky, kx)`` (length-1
    scan axes dropped); other movies a ``time`` series of images in nm or,
    with a camera length, diffraction patterns in 1/nm. Calibrations follow
    the reference reader: its 4D-STEM axes are uncalibrated (step 1), its
    movies step by ``1 / (frames per second * frames summed)`` s and the
    info file's pixel sizes. A non-raster scan (which needs the scan
    coordinates) is read as a plain movie.
    """
    info_path = _de_info_file(path)
    if info_path is None or len(shape) not in (2, 3):
        return None
    try:
        info = read_de_info(info_path)
    except OSError:
        return None
    frames = shape[0] if len(shape) == 3 else 1
    ny, nx = shape[-2:]
    scanning = info.get("Scan - Enable", "Disable") == "Enable"
    raster = info.get("Scan - Type", "Raster") == "Raster"
    mode = int(_number(info, "Instrument Project TEMorSTEM Mode", -1))
    stem = scanning if mode == -1 else mode != 0
    if scanning and not raster:
        return None
    if stem and scanning:
        roi = "ROI " if info.get("Scan - ROI Enable", "Disable") == "Enable" else ""
        sx = int(_number(info, f"Scan - {roi}Size X", 1))
        sy = int(_number(info, f"Scan - {roi}Size Y", 1))
        if sx < 1 or sy < 1 or sx * sy > frames:
            return None
        dims = [_axis("y", sy, 1.0, "nm", DimensionType.SPATIAL), _axis("x", sx, 1.0, "nm", DimensionType.SPATIAL),
                _axis("ky", ny, 1.0, "1/nm", DimensionType.RECIPROCAL),
                _axis("kx", nx, 1.0, "1/nm", DimensionType.RECIPROCAL)]
        return {"shape": (sy, sx, ny, nx), "dims": dims, "info": info}
    per_frame = _number(info, "Frames Per Second", 1) * _number(info, "Autosave Movie Sum Count", 1)
    diffracting = _number(info, "Instrument Project Camera Length (centimeters)", -1) != -1 or stem
    if diffracting:
        names, units, kind, key = ("ky", "kx"), "1/nm", DimensionType.RECIPROCAL, "Diffraction Pixel Size {}"
    else:
        names, units, kind, key = ("y", "x"), "nm", DimensionType.SPATIAL, "Specimen Pixel Size {} (nanometers)"
    dims = [_axis("time", frames, 1.0 / per_frame if per_frame else 1.0, "s", DimensionType.TEMPORAL),
            _axis(names[0], ny, _number(info, key.format("Y"), 1), units, kind),
            _axis(names[1], nx, _number(info, key.format("X"), 1), units, kind)]
    return {"shape": (frames, ny, nx), "dims": dims, "info": info}


def _axis(name: str, n: int, scale: float, units: str, kind: DimensionType) -> Dimension:
    quantity = {DimensionType.SPATIAL: "length", DimensionType.RECIPROCAL: "scattering vector",
                DimensionType.TEMPORAL: "time"}[kind]
    return Dimension.linear(name, n, scale=scale, units=units, quantity=quantity, dimension_type=kind)
