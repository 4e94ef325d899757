"""Asylum Research ARDF files: AFM images and force maps.

Our own bounded parser (no maintained Python library reads ARDF). An ARDF
file is a chain of sections, each with a 16-byte header ``<crc32, size,
name[4], flags>`` (the CRC covers the section from byte 4 to its end):

- ``ARDF`` then ``FTOC``, a table of contents whose 24-byte entries (header +
  ``uint64`` pointer) point to ``IMAG`` (image) and ``VOLM`` (volume) sections;
  a ``TTOC`` text table follows it, whose ``TOFF`` entries point to ``TEXT``
  sections (the Igor-style ``key: value`` note).
- ``IMAG``: its own table, a ``TTOC``, ``IDEF`` (points, lines, x/y step,
  x/y/data units, name) and ``IBOX`` (lines, row stride) followed by one
  ``IDAT`` section of ``points`` float32 per line.
- ``VOLM``: table (last entry ``NSET``), ``TTOC``, ``VDEF`` (points, lines,
  steps, units, segment names), ``VCHN`` channel definitions (name, unit),
  ``XDEF``, ``VTOC`` (``VOFF`` entries: force index, line, point, pointer to
  a ``VSET``), ``MLOV``. Each ``VSET`` is followed by ``VNAM`` and one ``VDAT``
  per channel (force index, line, point, float count, channel, 5 segment
  offsets, then the float32 values).

Images become ``(y, x)`` datasets (memory-mapped, lazy); every force-map
channel a ``(y, x, sample)`` dataset padded with NaN to the longest curve,
read lazily line by line.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
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
    TruncatedFileError,
)

from ._metadata import normalised_metadata
from ._raw import MemmapProxy, file_size, lazy_memmap
from ._spm import linear_dim, safe_name, spm_dataset

__all__ = ["ArdfReader"]

_HEADER = struct.Struct("<LL4sL")
_TOC = struct.Struct("<QLL")
_IDEF = struct.Struct("<LLQQdd32s32s32s32s")
_VDEF = struct.Struct("<LL24sddd32s32s32s32sQ")
_VSET = struct.Struct("<LLLLQQ")
_VDAT = struct.Struct("<10L")
_MAX_ENTRIES = 1 << 22
_MAX_CHANNELS = 16


class _Bad(Exception):
    """Internal: inconsistent ARDF structure."""


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("windows-1252", "replace")


class _Sections:
    """Bounded access to the sections of a mapped ARDF file."""

    def __init__(self, buf: Any, size: int) -> None:
        self.buf, self.size = buf, size

    def header(self, off: int, name: bytes | None = None, *, check_crc: bool = True) -> tuple[int, bytes]:
        if off < 0 or off + 16 > self.size:
            raise _Bad(f"section at byte {off} lies beyond the end of the file")
        crc, size, sname, _flags = _HEADER.unpack_from(self.buf, off)
        if size < 16 or off + size > self.size:
            raise _Bad(f"section {sname!r} at byte {off} declares {size} bytes")
        if name is not None and sname != name:
            raise _Bad(f"expected a {name.decode()} section at byte {off}, found {sname!r}")
        if check_crc and zlib.crc32(self.buf[off + 4: off + size]) != crc:
            raise _Bad(f"section {sname.decode('latin-1')} at byte {off} fails its CRC check")
        return size, sname

    def toc(self, off: int, name: bytes, stride: int) -> tuple[int, list[tuple[bytes, int, int]]]:
        """Entries ``(name, pointer, extra)`` of a table of contents at ``off``; returns (table size, entries)."""
        self.header(off, name)
        toc_size, n, st = _TOC.unpack_from(self.buf, off + 16)
        if st != stride or n > _MAX_ENTRIES or toc_size != 32 + n * stride or off + toc_size > self.size:
            raise _Bad(f"{name.decode()} table at byte {off} is malformed ({n} entries of {st} bytes)")
        out = []
        for k in range(n):
            e = off + 32 + k * stride
            _crc, _size, ename, _flags = _HEADER.unpack_from(self.buf, e)
            if stride == 24:
                (ptr,) = struct.unpack_from("<Q", self.buf, e + 16)
                extra = 0
            elif stride == 32:
                extra, ptr = struct.unpack_from("<QQ", self.buf, e + 16)
            else:
                force, line, point, ptr = struct.unpack_from("<LLQQ", self.buf, e + 16)
                extra = (line, point)
                if _crc == 0:  # interrupted map: the rest is zero-filled
                    break
            if not ptr:
                break
            out.append((ename, int(ptr), extra))
        return toc_size, out

    def text(self, ttoc_off: int) -> tuple[int, list[str]]:
        size, entries = self.toc(ttoc_off, b"TTOC", 32)
        texts = []
        for _name, ptr, _index in entries:
            tsize, _ = self.header(ptr, b"TEXT")
            _i, n = struct.unpack_from("<LL", self.buf, ptr + 16)
            if 24 + n > tsize:
                raise _Bad(f"text at byte {ptr} declares {n} characters in a {tsize}-byte section")
            texts.append(bytes(self.buf[ptr + 24: ptr + 24 + n]).replace(b"\r", b"\n").decode("windows-1252", "replace"))
        return size, texts


def _note(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("@Line:"):
            key, value = line.split(":", 1)
            out.setdefault(key.strip(), value.strip())
    return out


class _CurveProxy:
    """Picklable reader of one force-map channel: ``(lines, points, nmax)`` float32, NaN padded.

    Holds the byte offset and length of every curve's values (from the VDAT
    headers), so a read maps the file and copies only the requested curves.
    """

    __slots__ = ("path", "offsets", "counts", "shape", "dtype", "ndim")

    def __init__(self, path: str, offsets: np.ndarray, counts: np.ndarray, nmax: int) -> None:
        self.path, self.offsets, self.counts = path, offsets, counts
        self.shape = (*offsets.shape, int(nmax))
        self.dtype = np.dtype("float32")
        self.ndim = 3

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, cols, samples = key
        offs, cnts = self.offsets[rows, cols], self.counts[rows, cols]
        out = np.full((*offs.shape, self.shape[2]), np.nan, dtype=np.float32)
        try:
            with open(self.path, "rb") as fh:
                buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                for idx in np.ndindex(offs.shape):
                    n = int(cnts[idx])
                    if n > 0:
                        out[idx][:n] = np.frombuffer(buf, dtype="<f4", count=n, offset=int(offs[idx]))
            finally:
                buf.close()
        except (OSError, ValueError) as exc:
            raise CorruptFileError(self.path, "ardf", f"reading force curves failed: {exc}") from exc
        return out[..., samples]

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.path, self.offsets, self.counts, self.shape[2])

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.__init__(*state)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        st = os.stat(self.path)
        return ("ardf-curves", self.path, st.st_mtime_ns, st.st_size, int(self.offsets.flat[0]) if self.offsets.size else 0)


class ArdfReader(Reader):
    """Read Asylum Research ARDF files: every image and every force-map channel."""

    name: ClassVar[str] = "ardf"
    extensions: ClassVar[tuple[str, ...]] = (".ardf",)
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Asylum Research ARDF images and force maps, own parser"

    def sniff(self, head: bytes) -> bool:
        return len(head) >= 20 and head[8:12] == b"ARDF" and head[24:28] in (b"FTOC", b"")

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every image and force-map channel.

        Raises
        ------
        CorruptFileError, TruncatedFileError
            A section fails its CRC, lies beyond the end, or is malformed.
        """
        path = Path(path)
        size = file_size(path)
        if size < 64:
            raise TruncatedFileError(path, self.name, f"holds {size} bytes; too short for an ARDF file")
        with open(path, "rb") as fh:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            try:
                return self._read(path, _Sections(buf, size))
            except (_Bad, struct.error) as exc:
                raise CorruptFileError(path, self.name, f"malformed ARDF structure: {exc}") from exc
        finally:
            buf.close()

    def _read(self, path: Path, s: _Sections) -> dict[str, Dataset]:
        s.header(0, b"ARDF")
        ftoc_size, entries = s.toc(16, b"FTOC", 24)
        _, texts = s.text(16 + ftoc_size)
        note = _note(texts[0]) if texts else {}
        metadata = normalised_metadata(
            acquisition={"datetime": f"{note.get('Date', '')}T{note.get('Time', '')}".strip("T") or None,
                         "detector": note.get("ImagingMode")},
            instrument={"vendor": "Asylum Research", "model": note.get("MicroscopeModel"),
                        "software": note.get("Version")},
        )
        out: dict[str, Dataset] = {}
        for _ename, ptr, _ in entries:
            _, kind = s.header(ptr)
            if kind == b"IMAG":
                self._image(path, s, ptr, note, metadata, out)
            elif kind == b"VOLM":
                self._volume(path, s, ptr, note, metadata, out)
        if not out:
            raise CorruptFileError(path, self.name, "holds no image or force map")
        return out

    def _image(self, path: Path, s: _Sections, off: int, note: dict[str, str], metadata: dict[str, Any],
               out: dict[str, Dataset]) -> None:
        toc_size, _ = s.toc(off, b"IMAG", 24)
        ttoc_size, _ = s.text(off + toc_size)
        idef = off + toc_size + ttoc_size
        isize, _ = s.header(idef, b"IDEF")
        points, lines, _a, _b, xstep, ystep, xu, yu, name, units = _IDEF.unpack_from(s.buf, idef + 16)
        ibox = idef + isize
        s.header(ibox, b"IBOX")
        _box, nlines, stride = _TOC.unpack_from(s.buf, ibox + 16)
        if nlines != lines or stride != 16 + 4 * points or points == 0 or lines == 0:
            raise _Bad(f"image {_cstr(name)!r}: IBOX {nlines} lines of {stride} bytes for {lines}x{points}")
        start = ibox + 32
        if start + lines * stride > s.size:
            raise _Bad(f"image {_cstr(name)!r} runs past the end of the file")
        proxy = MemmapProxy(path, "<f4", (lines, points), offset=start, header_bytes=16, reader=self.name)
        data = lazy_memmap(proxy, chunks=(lines, points))
        title = _cstr(name) or f"image {len(out)}"
        dims = [linear_dim("y", lines, ystep, 0.0, _cstr(yu), "spatial"),
                linear_dim("x", points, xstep, 0.0, _cstr(xu), "spatial")]
        md = {**metadata, **normalised_metadata(calibration={"pixel_size": [ystep, xstep],
                                                             "pixel_units": [_cstr(yu), _cstr(xu)]})}
        out[safe_name(title, out)] = spm_dataset(
            data, dims, path=path, reader=self.name, title=title, units=_cstr(units), metadata=md,
            original_metadata={"note": note, "idef": {"points": points, "lines": lines, "x_step": xstep,
                                                      "y_step": ystep}},
            modality="AFM", data_type=DataType.IMAGE)

    def _volume(self, path: Path, s: _Sections, off: int, note: dict[str, str], metadata: dict[str, Any],
                out: dict[str, Dataset]) -> None:
        toc_size, _ = s.toc(off, b"VOLM", 24)
        ttoc_size, _ = s.text(off + toc_size)
        vdef = off + toc_size + ttoc_size
        vsize, _ = s.header(vdef, b"VDEF")
        points, lines, _z, xstep, ystep, tstep, xu, yu, tu, segs, nseg = _VDEF.unpack_from(s.buf, vdef + 16)
        if points == 0 or lines == 0 or points * lines > _MAX_ENTRIES:
            raise _Bad(f"volume declares {lines} x {points} curves")
        channels: list[tuple[str, str]] = []
        pos = vdef + vsize
        while len(channels) <= _MAX_CHANNELS:
            csize, cname = s.header(pos)
            if cname != b"VCHN":
                break
            n, u = struct.unpack_from("<32s32s", s.buf, pos + 16)
            channels.append((_cstr(n), _cstr(u)))
            pos += csize
        xsize, _ = s.header(pos, b"XDEF")
        vtoc_size, curves = s.toc(pos + xsize, b"VTOC", 40)
        nch = len(channels)
        offsets = np.zeros((nch, lines, points), dtype=np.int64)
        counts = np.zeros((nch, lines, points), dtype=np.int64)
        for _name, ptr, (line, point) in curves:
            if line >= lines or point >= points:
                raise _Bad(f"curve at line {line}, point {point} outside the {lines} x {points} map")
            vset_size, _ = s.header(ptr, b"VSET", check_crc=False)
            vnam_size, _ = s.header(ptr + vset_size, b"VNAM", check_crc=False)
            p = ptr + vset_size + vnam_size
            for _k in range(nch):
                dsize, dname = s.header(p, check_crc=False)
                if dname != b"VDAT":
                    break
                _fi, _l, _pt, nfloats, chan = _VDAT.unpack_from(s.buf, p + 16)[:5]
                if chan >= nch or 16 + 40 + 4 * nfloats > dsize:
                    raise _Bad(f"VDAT at byte {p} declares channel {chan} with {nfloats} values")
                offsets[chan, line, point] = p + 56
                counts[chan, line, point] = nfloats
                p += dsize
        nmax = int(counts.max()) if counts.size else 0
        seg_names = [x for x in _cstr(segs).split(";") if x]
        import dask.array as da

        for c, (cname, cunit) in enumerate(channels):
            proxy = _CurveProxy(os.fspath(path), offsets[c], counts[c], nmax)
            data = da.from_array(proxy, chunks=(1, points, nmax), lock=False, asarray=False,
                                 meta=np.empty((0, 0, 0), dtype=np.float32),
                                 name=f"ardf-{path.name}-{c}-{off}-{os.stat(path).st_mtime_ns}")
            dims = [linear_dim("y", lines, ystep, 0.0, _cstr(yu), "spatial"),
                    linear_dim("x", points, xstep, 0.0, _cstr(xu), "spatial"),
                    Dimension.linear("sample", nmax, scale=tstep if np.isfinite(tstep) and tstep else 1.0,
                                     units=_cstr(tu) or "", quantity="time",
                                     dimension_type=DimensionType.TEMPORAL)]
            out[safe_name(f"{cname} force map", out)] = spm_dataset(
                data, dims, path=path, reader=self.name, title=cname, units=cunit, metadata=metadata,
                original_metadata={"note": note, "segments": seg_names, "n_segments": int(nseg),
                                   "curves": len(curves), "samples_per_curve_max": nmax},
                modality="AFM force map")
