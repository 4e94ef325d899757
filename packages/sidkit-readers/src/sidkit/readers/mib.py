"""Quantum Detectors MerlinEM ``.mib`` files (4D-STEM and frame series).

A MIB file is a sequence of frames, each a comma-separated ASCII header
(``MQ1,<seq>,<header bytes>,<chips>,<X>,<Y>,<depth>,...``) followed by the
frame's pixels: big-endian ``U08``/``U16``/``U32``/``U64`` counters, or in RAW
mode (``R64``) the packed counters of one chip (1-, 6- and 12-bit depths are
unpacked here). The companion ``.hdr`` text file (same name) holds the
acquisition settings, among them the number of frames and the frames per
trigger, from which the scan shape follows. With one frame per trigger (pixel
trigger), or without a ``.hdr``, the row length is found from the frame
timestamps: the first step longer than the mean is the fly-back between rows.

The frames are memory-mapped and read lazily, chunk by chunk; nothing is read
when the file is opened but the first header (and, when the scan shape must be
inferred from timestamps, up to 10 000 frame headers).
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    DataType,
    Dimension,
    DimensionMismatchError,
    DimensionType,
    Reader,
    TruncatedFileError,
    UnknownFormatError,
    make_record,
)
from sidkit.core.fastpath import chain_direct_read

from ._metadata import normalised_metadata
from ._raw import DECODERS, SMALL_ARRAY_BYTES, MemmapProxy, file_size, frame_chunks, lazy_memmap
from ._version import __version__

__all__ = ["MibReader", "parse_frame_header", "parse_hdr"]

_DTYPES = {"U08": ">u1", "U16": ">u2", "U32": ">u4", "U64": ">u8", "U01": ">u1"}
_RAW_DECODE = {1: "r1", 6: "r6", 12: "r12"}
_FIELDS = (
    "header_id", "sequence_number", "data_offset", "chips", "pixels_x", "pixels_y",
    "pixel_depth", "sensor_layout", "chip_select", "timestamp", "shutter_time_s",
    "counter", "colour_mode", "gain_mode",
    "threshold_0", "threshold_1", "threshold_2", "threshold_3",
    "threshold_4", "threshold_5", "threshold_6", "threshold_7",
)
#: Scan shape inference reads at most this many frame headers.
MAX_TIMESTAMP_FRAMES = 10_000
_MAX_HDR_BYTES = 1 << 20
_MAX_HEADER = 1 << 16
_MAX_FRAME_SIDE = 1 << 16


def parse_frame_header(text: str) -> dict[str, Any]:
    """Named fields of one MIB frame header.

    Parameters
    ----------
    text : str
        The header, decoded as ASCII.

    Returns
    -------
    dict
        Fields by name (:data:`_FIELDS`), the DAC values as a list, and the
        ``MQ1A`` extension (``timestamp_ext``, ``exposure_ns``,
        ``counter_depth``) when present. Values stay strings.
    """
    parts = [p.strip() for p in text.rstrip("\x00 ").split(",")]
    out: dict[str, Any] = dict(zip(_FIELDS, parts))
    rest = parts[len(_FIELDS):]
    if "MQ1A" in rest:
        i = rest.index("MQ1A")
        ext = rest[i + 1:]
        out["dacs"] = rest[:i]
        for key, value in zip(("timestamp_ext", "exposure_ns", "counter_depth"), ext):
            out[key] = value
    else:
        out["dacs"] = [p for p in rest if p]
    return out


def parse_hdr(text: str) -> dict[str, str]:
    """The ``key: value`` lines of a Merlin ``.hdr`` file as a dict of strings."""
    out: dict[str, str] = {}
    for line in text.replace("\x00", "").splitlines():
        if not line.strip() or line.startswith("HDR") or line.startswith("End"):
            continue
        if "\t" in line:
            key, value = line.split("\t", 1)
        elif ":" in line:
            key, value = line.split(":", 1)
        else:
            continue
        out[key.strip().rstrip(":").strip()] = value.strip()
    return out


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(str(value).strip().removesuffix("ns"))
    except (TypeError, ValueError):
        return None


def _iso(stamp: str | None) -> str | None:
    if not stamp:
        return None
    s = stamp.strip().rstrip("Z")
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?", s)
    if not m:
        return None
    frac = (m.group(3) or "")[:7]
    try:
        return _dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{frac}").isoformat()
    except ValueError:
        return None


class MibReader(Reader):
    """Read Quantum Detectors MerlinEM ``.mib`` 4D-STEM files lazily.

    Options
    -------
    scan_shape : tuple of int, optional
        ``(rows, columns)`` of the scan; overrides the ``.hdr`` file and the
        timestamp inference. ``(n,)`` or ``None`` with no ``.hdr`` gives a
        stack of frames when the shape cannot be inferred.
    flip : bool, default True
        Flip the detector rows, as the Merlin software and RosettaSciIO show
        the frames.
    chunks : dask chunks, optional
        Chunking of the returned array (default: whole frames, ~64 MiB).
    """

    name: ClassVar[str] = "mib"
    extensions: ClassVar[tuple[str, ...]] = (".mib",)
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Quantum Detectors MerlinEM MIB (4D-STEM), memory-mapped"

    def sniff(self, head: bytes) -> bool:
        return head[:4] == b"MQ1," and head[4:10].isdigit()

    # ------------------------------------------------------------------ parsing
    def _first_header(self, path: Path, size: int) -> dict[str, Any]:
        with open(path, "rb") as fh:
            head = fh.read(64)
            if len(head) < 20 or not head.startswith(b"MQ1,"):
                raise CorruptFileError(path, self.name,
                                       "does not start with a MIB frame header ('MQ1,'); "
                                       "the file is empty, damaged or not a Merlin file")
            try:
                hsize = int(head.split(b",")[2])
            except (ValueError, IndexError) as exc:
                raise CorruptFileError(path, self.name, "the frame header's data offset is unreadable") from exc
            if not 20 <= hsize <= _MAX_HEADER:
                raise CorruptFileError(path, self.name, f"frame header declares {hsize} header bytes")
            if hsize > size:
                raise TruncatedFileError(path, self.name,
                                         f"the first frame header needs {hsize} bytes; the file has {size}")
            fh.seek(0)
            text = fh.read(hsize).decode("ascii", "replace")
        fields = parse_frame_header(text)
        fields["data_offset"] = hsize
        return fields

    def _hdr(self, path: Path) -> dict[str, str] | None:
        hdr = path.with_suffix(".hdr")
        if not hdr.is_file():
            for cand in (path.with_suffix(".HDR"),):
                if cand.is_file():
                    hdr = cand
                    break
            else:
                return None
        try:
            with open(hdr, "rb") as fh:
                text = fh.read(_MAX_HDR_BYTES).decode("latin-1")
        except OSError:
            return None
        return parse_hdr(text)

    def _frame_layout(self, path: Path, f: dict[str, Any], hdr: dict[str, str] | None
                      ) -> tuple[tuple[int, int], str, str | None]:
        nx, ny = _int(f.get("pixels_x")), _int(f.get("pixels_y"))
        if not nx or not ny or not (0 < nx <= _MAX_FRAME_SIDE and 0 < ny <= _MAX_FRAME_SIDE):
            raise CorruptFileError(path, self.name,
                                   f"frame size {f.get('pixels_x')!r} x {f.get('pixels_y')!r} is invalid")
        depth_code = str(f.get("pixel_depth", "")).strip()
        if depth_code in _DTYPES:
            return (ny, nx), _DTYPES[depth_code], None
        if depth_code == "R64":
            depth = _int(f.get("counter_depth"))
            if depth is None and hdr:
                depth = _int(hdr.get("Counter Depth (number)"))
            chips = _int(f.get("chips")) or 1
            if depth not in _RAW_DECODE or chips != 1:
                raise UnknownFormatError(
                    path, self.name,
                    f"RAW-mode frames with counter depth {depth} on {chips} chip(s) are not supported "
                    "(1-, 6- and 12-bit single-chip RAW are); save the acquisition in processed mode",
                )
            return (ny, nx), "u1", _RAW_DECODE[depth]
        raise CorruptFileError(path, self.name, f"unknown pixel depth {depth_code!r} in the frame header")

    def _timestamps(self, path: Path, header_bytes: int, stride: int, n: int) -> list[str]:
        """The timestamps of the first ``n`` (at most ``MAX_TIMESTAMP_FRAMES``)
        frame headers, copied out of one strided memory map of the file."""
        count = min(n, MAX_TIMESTAMP_FRAMES)
        if count <= 0:
            return []
        layout = np.dtype({"names": ["h"], "formats": [(np.void, header_bytes)], "itemsize": stride})
        headers = np.array(np.memmap(path, dtype=layout, mode="r", shape=(count,))["h"])
        stamps = []
        for raw in headers:
            text = raw.tobytes()
            at = text.find(b",MQ1A,")  # the extension's timestamp follows its tag
            stamp = text[at + 6:].split(b",", 1)[0].strip(b" \x00") if at >= 0 else b""
            if not stamp:
                stamp = parse_frame_header(text.split(b"\x00")[0].decode("ascii", "replace")).get(
                    "timestamp", "").encode()
            stamps.append(stamp.decode("ascii", "replace"))
        return stamps

    def _scan_from_timestamps(self, stamps: list[str]) -> int | None:
        try:
            times = np.array([s.strip().rstrip("Z").replace(" ", "T") for s in stamps],
                             dtype="datetime64[ns]")  # numpy parses the strings in one call
        except (ValueError, TypeError):
            return None
        if np.isnat(times).any():  # a frame without a timestamp: no rows to find
            return None
        diff = np.diff(times).astype(np.float64)
        if diff.size == 0 or not np.all(np.isfinite(diff)):
            return None
        above = np.flatnonzero(diff - diff.mean() > 0)
        return int(above[0]) + 1 if above.size else None

    def _scan_shape(self, path: Path, nframes: int, hdr: dict[str, str] | None,
                    layout: tuple[int, int], scan_shape: Any) -> tuple[int, ...]:
        """Scan shape ``(rows, columns)`` or ``(frames,)``.

        The ``.hdr`` gives the frames in the acquisition and the frames per
        trigger (one scan row per trigger). With one frame per trigger, or no
        ``.hdr`` at all (then every frame in the file counts), the row length
        is where the frame timestamps first step by more than their mean: the
        fly-back between rows. An interrupted acquisition keeps complete rows.
        """
        if scan_shape is not None:
            shape = tuple(int(n) for n in np.atleast_1d(scan_shape))
            if any(n <= 0 for n in shape) or int(np.prod(shape)) > nframes:
                raise DimensionMismatchError(
                    f"{path}: reader 'mib': scan_shape {shape} needs {int(np.prod(shape))} frames "
                    f"but the file holds {nframes}"
                )
            return shape
        if hdr is None:
            total, per_trigger = nframes, 1
        else:
            total = _int(hdr.get("Frames in Acquisition (Number)"))
            per_trigger = _int(hdr.get("Frames per Trigger (Number)")) or 1
        if not total or total <= 0:  # 0: continuous acquisition of unknown length
            return (nframes,)
        if per_trigger == 1:
            header_bytes, stride = layout
            found = self._scan_from_timestamps(self._timestamps(path, header_bytes, stride, nframes))
            if found:
                per_trigger = found
        if per_trigger <= 0 or per_trigger > total:
            return (min(total, nframes),)
        rows = total // per_trigger
        if rows * per_trigger > nframes:  # interrupted acquisition: complete rows only
            rows = nframes // per_trigger
        if rows == 0:
            return (nframes,)
        return (rows, per_trigger)

    # ------------------------------------------------------------------ read
    def read(self, path: Path, *, lazy: bool = True, scan_shape: Any = None, flip: bool = True,
             chunks: Any = None, **options: Any) -> dict[str, Dataset]:
        """Read the frames of a MIB file as one lazy Dataset.

        Returns
        -------
        dict
            ``{"mib": Dataset}``: 4D ``(y, x, ky, kx)`` with SPATIAL scan and
            RECIPROCAL detector dims (``DataType.IMAGE_4D``) when the scan shape
            is known, else a stack ``(frame, ky, kx)``.

        Raises
        ------
        CorruptFileError, TruncatedFileError
            The header is unreadable, or the file holds no complete frame.
        UnknownFormatError
            RAW-mode data of an unsupported depth or chip layout.
        """
        path = Path(path)
        size = file_size(path)
        f = self._first_header(path, size)
        hdr = self._hdr(path)
        frame_shape, dtype, decode = self._frame_layout(path, f, hdr)
        hsize = int(f["data_offset"])
        npix = frame_shape[0] * frame_shape[1]
        frame_bytes = (int(round(npix * DECODERS[decode][1])) if decode
                       else npix * np.dtype(dtype).itemsize)
        stride = hsize + frame_bytes
        nframes = size // stride
        if nframes == 0:
            raise TruncatedFileError(path, self.name,
                                     f"holds {size} bytes, less than one frame ({stride} bytes)")
        scan = self._scan_shape(path, nframes, hdr, (hsize, stride), scan_shape)
        scan = tuple(n for n in scan if n > 1)
        used = int(np.prod(scan)) if scan else 1
        proxy = MemmapProxy(path, dtype, (used, *frame_shape), header_bytes=hsize,
                            decode=decode, reader=self.name)
        row = scan[-1] if len(scan) == 2 else 1

        def arrange(frames: Any) -> Any:  # numpy or dask alike
            if len(scan) == 2:
                frames = frames.reshape((*scan, *frame_shape))
            elif not scan:
                frames = frames[0]
            return frames[..., ::-1, :] if flip else frames

        nbytes = int(np.prod(proxy.shape, dtype=np.int64)) * proxy.dtype.itemsize
        if chunks is None and nbytes <= SMALL_ARRAY_BYTES:
            # small-file fast path: one read now beats a lazy graph over a few kB
            arr = arrange(proxy[(slice(None),) * proxy.ndim])
        else:
            frames = lazy_memmap(proxy, chunks=frame_chunks(proxy.shape, proxy.dtype.itemsize, multiple=row))
            arr = arrange(frames)
            if arr is not frames:  # computing it whole stays one read of the file
                arr = chain_direct_read(arr, frames, arrange)
            if chunks is not None:
                arr = arr.rechunk(chunks)
            if not lazy:
                arr = arr.persist()

        det = [Dimension("ky", frame_shape[0], quantity="scattering angle", units="px",
                         dimension_type=DimensionType.RECIPROCAL),
               Dimension("kx", frame_shape[1], quantity="scattering angle", units="px",
                         dimension_type=DimensionType.RECIPROCAL)]
        if len(scan) == 2:
            dims = [Dimension("y", scan[0], quantity="length", units="px", dimension_type="spatial"),
                    Dimension("x", scan[1], quantity="length", units="px", dimension_type="spatial"), *det]
            data_type = DataType.IMAGE_4D
        elif len(scan) == 1:
            dims = [Dimension("frame", scan[0], quantity="frame", units="",
                              dimension_type=DimensionType.UNKNOWN), *det]
            data_type = DataType.IMAGE_STACK
        else:
            dims = det
            data_type = DataType.IMAGE

        exposure = _float(f.get("shutter_time_s"))
        if exposure is None and f.get("exposure_ns"):
            ns = _float(f["exposure_ns"])
            exposure = ns * 1e-9 if ns is not None else None
        chip = (hdr or {}).get("Chip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX)")
        metadata = normalised_metadata(
            acquisition={
                "datetime": _iso(f.get("timestamp_ext")) or _iso(f.get("timestamp")),
                "exposure_s": exposure,
                "dwell_time_s": exposure,
                "detector": f"Merlin {chip}" if chip else "Merlin",
                "frames": nframes,
            },
            instrument={
                "vendor": "Quantum Detectors",
                "model": (hdr or {}).get("Readout System"),
                "software": (hdr or {}).get("Software Version"),
            },
        )
        original = {
            "frame_header": f,
            "hdr_file": hdr or {},
            "layout": {"frames_in_file": nframes, "frame_bytes": frame_bytes, "header_bytes": hsize,
                       "dtype": str(np.dtype(dtype)), "raw_decode": decode, "flipped_rows": bool(flip)},
        }
        ds = Dataset(
            arr, dims, title=path.stem, quantity="counts", units="counts", data_type=data_type,
            modality="4D-STEM" if len(scan) == 2 else "electron diffraction",
            source=str(path), metadata=metadata, original_metadata=original,
            provenance=[make_record("sidkit.readers.mib.MibReader.read",
                                    {"path": str(path), "scan_shape": list(scan), "flip": flip},
                                    package="sidkit-readers", version=__version__)],
        )
        return {"mib": ds}
