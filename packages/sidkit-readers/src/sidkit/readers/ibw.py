"""Igor Pro binary waves (``.ibw``): Asylum Research AFM images and STM exports.

Parsed with igor2 (extra ``ibw``). Igor's dim0 is x (the first array axis);
each axis ``i`` is calibrated as ``sfB[i] + index * sfA[i]`` in ``dimUnits[i]``.
Images are returned with rows = y (``(y, x)``), and Asylum multi-layer
images (a third axis with per-layer labels) as one dataset per channel.

igor2 reads the whole wave into memory (IBW files are single waves of modest
size); the returned dask array wraps that array.
"""

from __future__ import annotations

import datetime as _dt
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, DimensionType, Reader, TruncatedFileError, require

from ._metadata import normalised_metadata
from ._raw import file_size
from ._spm import linear_dim, plain, safe_name, spm_dataset

__all__ = ["IbwReader", "parse_note"]

#: Bytes of (binary header + wave header) covered by the checksum, per version.
#: Versions 1-3: the 126-byte WaveHeader2 ends with the first 16 bytes of wave
#: data (``wData[4]``); writers differ on whether those are summed, so both
#: spans are accepted.
_CHECKSUM_BYTES = {1: (8 + 126, 8 + 110), 2: (16 + 126, 16 + 110), 3: (20 + 126, 20 + 110), 5: (64 + 320,)}
_AXIS_NAMES = ("x", "y", "z", "t")
_ASYLUM_UNITS = (("phase", "deg"), ("height", "m"), ("zsensor", "m"), ("amplitude", "m"),
                 ("deflection", "m"), ("current", "A"), ("userin", "V"), ("potential", "V"),
                 ("bias", "V"), ("frequency", "Hz"), ("dissipation", ""))


def _byte_order(head: bytes) -> str | None:
    if len(head) < 2:
        return None
    for order in ("<", ">"):
        if struct.unpack(order + "h", head[:2])[0] in _CHECKSUM_BYTES:
            return order
    return None


def _checksum_ok(head: bytes) -> bool:
    order = _byte_order(head)
    if order is None:
        return False
    version = struct.unpack(order + "h", head[:2])[0]
    for n in _CHECKSUM_BYTES[version]:
        if len(head) >= n:
            words = np.frombuffer(head[:n], dtype=order + "i2")
            if int(words.astype(np.int64).sum()) % 65536 == 0:
                return True
    return False


#: Binary header per version: struct format after the version word, which of
#: its fields are section sizes (reserved ``pictSize``/``options`` excluded),
#: and the header length.
_BIN_HEADERS = {
    1: ("lh", slice(0, 1), 8),
    2: ("lllh", slice(0, 2), 16),
    3: ("llllh", slice(0, 3), 20),
    5: ("hllll4l4llll", slice(1, 15), 64),
}


def _declared_size(head: bytes) -> int | None:
    """Bytes the binary header says the file holds: headers, data and sections.

    ``None`` when the header is unreadable or declares a negative size.
    """
    order = _byte_order(head)
    if order is None:
        return None
    fmt, sizes, start = _BIN_HEADERS[struct.unpack(order + "h", head[:2])[0]]
    if len(head) < start:
        return None
    fields = struct.unpack(order + fmt, head[2:start])[sizes]
    if any(n < 0 for n in fields):
        return None
    return start + sum(fields)


def parse_note(note: str) -> dict[str, str]:
    """``key: value`` lines (``\\r`` or ``\\n`` separated) of a wave note as a dict.

    Lines without a colon are kept under ``"_lines"``.
    """
    out: dict[str, Any] = {}
    free: list[str] = []
    for line in note.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        if not line.strip():
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            key = key.strip()
            if key and len(key) <= 80 and key not in out:
                out[key] = value.strip()
                continue
        free.append(line)
    if free:
        out["_lines"] = free
    return out


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return b"".join(bytes(v) for v in value.ravel().tolist()).decode("latin-1").strip("\x00 ")
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00 ")
    return str(value or "")


def _datetime(note: dict[str, Any]) -> str | None:
    date, time = note.get("Date"), note.get("Time")
    if not isinstance(date, str) or not date:
        return None
    cands = [(f"{date} {time}", f) for f in ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%d %H:%M:%S")] if time else []
    cands.append((date, "%Y-%m-%d"))
    for text, fmt in cands:
        try:
            return _dt.datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    return None


def _v5_trailer(path: Path, bin_header: dict[str, Any], size: int) -> tuple[list[str], list[list[str]]] | None:
    """Extended dimension units and dimension labels of a version-5 wave.

    Both are read straight from the file, one entry per dimension (igor2
    drops empty sections from its unit list, which shifts later dimensions,
    and glues the leftover bytes of each 32-byte label to the name:
    ``DeflectionRetrace\\0e`` -> ``DeflectionRetracee``). Labels are cut at
    their first NUL. ``None`` when the section sizes do not fit the file.
    """
    try:
        off = 64 + int(bin_header["wfmSize"]) + int(bin_header["formulaSize"]) + int(bin_header["noteSize"])
        off += int(bin_header["dataEUnitsSize"])
        unit_sizes = [int(n) for n in np.asarray(bin_header["dimEUnitsSize"]).ravel()[:4]]
        label_sizes = [int(n) for n in np.asarray(bin_header["dimLabelsSize"]).ravel()[:4]]
    except (KeyError, TypeError, ValueError):
        return None
    sizes = unit_sizes + label_sizes
    if off < 0 or any(n < 0 for n in sizes) or off + sum(sizes) > size:
        return None
    with open(path, "rb") as fh:
        fh.seek(off)
        units = [fh.read(n).split(b"\0", 1)[0].decode("latin-1").strip() for n in unit_sizes]
        labels = []
        for n in label_sizes:
            raw = fh.read(n)
            labels.append([raw[i:i + 32].split(b"\0", 1)[0].decode("latin-1") for i in range(0, len(raw), 32)])
    return units, labels


class IbwReader(Reader):
    """Read Igor binary waves (Asylum Research AFM, STM exports) with igor2."""

    name: ClassVar[str] = "ibw"
    extensions: ClassVar[tuple[str, ...]] = (".ibw",)
    extra: ClassVar[str | None] = "ibw"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Igor Pro binary wave (Asylum AFM, STM), via igor2"

    def sniff(self, head: bytes) -> bool:
        try:
            return _checksum_ok(head)
        except Exception:  # noqa: BLE001 - sniff never raises
            return False

    def read(self, path: Path, *, lazy: bool = True, split_channels: bool = True,
             **options: Any) -> dict[str, Dataset]:
        """Read the wave of an ``.ibw`` file.

        Parameters
        ----------
        path : pathlib.Path
            The file.
        lazy : bool
            Accepted for the common signature; igor2 reads the wave eagerly.
        split_channels : bool, default True
            Return each labelled layer of an Asylum image as its own dataset;
            ``False`` keeps one dataset with a CHANNEL dim.

        Returns
        -------
        dict of str to Dataset
            One dataset per channel (or one for the wave), in layer order.
        """
        binarywave = require("igor2.binarywave", extra=self.extra, reader=self.name, pip_name="igor2")
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(512)
        if not _checksum_ok(head):
            raise CorruptFileError(path, self.name,
                                   "the IBW header checksum does not match (or the version is unknown); "
                                   "the file is damaged or not an Igor binary wave")
        need, have = _declared_size(head), file_size(path)
        if need is None:
            raise CorruptFileError(path, self.name, "the IBW binary header declares negative section sizes")
        if need > have:
            raise TruncatedFileError(path, self.name,
                                     f"the IBW header declares {need} bytes but the file has {have}; "
                                     "the file looks truncated")
        try:
            loaded = binarywave.load(str(path))
        except (struct.error, EOFError) as exc:
            raise TruncatedFileError(path, self.name, f"the wave ends early ({exc})") from exc
        except Exception as exc:  # igor2 raises many kinds on damaged input
            raise CorruptFileError(path, self.name, f"igor2 cannot parse the wave: {type(exc).__name__}: {exc}") from exc
        wave = loaded["wave"]
        version = int(loaded.get("version", 0))
        wh = wave.get("wave_header", {})
        data = np.asarray(wave.get("wData"))
        if data.dtype.kind not in "biufc" or data.ndim == 0:
            raise CorruptFileError(path, self.name, f"holds a {data.dtype} wave, not numeric data")
        nd = data.ndim
        if version == 5:
            sf_a = np.asarray(wh.get("sfA", np.ones(4)), dtype=float)
            sf_b = np.asarray(wh.get("sfB", np.zeros(4)), dtype=float)
            dim_units = [_text(u) for u in np.asarray(wh.get("dimUnits", [b""] * 4)).reshape(4, -1)]
        else:
            sf_a = np.array([float(wh.get("hsA", 1.0)), 1, 1, 1])
            sf_b = np.array([float(wh.get("hsB", 0.0)), 0, 0, 0])
            dim_units = [_text(wh.get("xUnits", b"")), "", "", ""]
        labels = [[_text(x) for x in (lab or [])] for lab in (wave.get("labels") or [])]
        if version == 5:
            trailer = _v5_trailer(path, wave.get("bin_header", {}), file_size(path))
            if trailer is not None:
                dim_units = [long or short for long, short in zip(trailer[0], dim_units)]
                if [len(x) for x in trailer[1]] == [len(x) for x in labels]:
                    labels = trailer[1]
        data_units = _text(wave.get("data_units", b"")) or _text(wh.get("dataUnits", b""))
        title = _text(wh.get("bname", b"")) or path.stem
        note_text = _text(wave.get("note", b""))
        note = parse_note(note_text)

        dims = []
        for i in range(nd):
            units = dim_units[i] if i < len(dim_units) else ""
            name = _AXIS_NAMES[i] if i < len(_AXIS_NAMES) else f"dim{i}"
            dims.append(linear_dim(name, data.shape[i], sf_a[i] if i < 4 else 1.0,
                                   sf_b[i] if i < 4 else 0.0, units))
        channel_axis = None
        for i in range(nd):
            lab = labels[i] if i < len(labels) else []
            if i >= 2 and len(lab) == data.shape[i] + 1 and any(lab[1:]):
                channel_axis = i
                dims[i] = dims[i].replace(name="channel", values=np.array(lab[1:], dtype=object).astype(str),
                                          units="", quantity="channel",
                                          dimension_type=DimensionType.CHANNEL)
                break

        original = {
            "version": version,
            "wave_header": plain({k: v for k, v in wh.items()}),
            "bin_header": plain(wave.get("bin_header", {})),
            "note": note,
            "labels": labels,
            "data_units": data_units,
            "dimension_units": dim_units[:nd],
        }
        vendor = "Asylum Research" if ("MicroscopeModel" in note or "AsylumVersion" in note) else None
        spatial = [d for d in dims if d.dimension_type is DimensionType.SPATIAL]
        metadata = normalised_metadata(
            acquisition={"datetime": _datetime(note), "detector": note.get("ImagingMode")},
            instrument={"vendor": vendor, "model": note.get("MicroscopeModel"),
                        "software": note.get("Version") or note.get("IgorVersion")},
            calibration={"pixel_size": [d.scale for d in spatial[:2][::-1]],
                         "pixel_units": [d.units for d in spatial[:2][::-1]]},
        )
        from sidkit.core.fastpath import wrap_numpy

        # igor2 has read the wave into memory: channels and the (y, x)
        # transpose are numpy views of it, each wrapped without a copy (and
        # computed whole without dask scheduling)
        order = list(range(nd))
        if nd >= 2:
            order[0], order[1] = 1, 0  # (y, x, ...): rows are y
        out: dict[str, Dataset] = {}
        if channel_axis is not None and split_channels:
            names = labels[channel_axis][1:]
            kept = [j for j in order if j != channel_axis]
            for k, label in enumerate(names):
                index: list[Any] = [slice(None)] * nd
                index[channel_axis] = k
                sub_order = [j if j < channel_axis else j - 1 for j in kept]
                chan = np.transpose(data[tuple(index)], sub_order)
                units = self._channel_units(label, data_units)
                key = safe_name(label or f"channel_{k}", out)
                out[key] = spm_dataset(
                    wrap_numpy(chan, chunks=chan.shape), [dims[j] for j in kept], path=path,
                    reader=self.name, title=label or f"{title} {k}", units=units, metadata=metadata,
                    original_metadata={**original, "channel": label, "channel_index": k},
                )
            return out
        view = np.transpose(data, order)
        out[safe_name(title, out)] = spm_dataset(
            wrap_numpy(view, chunks=view.shape), [dims[j] for j in order], path=path, reader=self.name,
            title=title, units=data_units, metadata=metadata, original_metadata=original,
        )
        return out

    @staticmethod
    def _channel_units(label: str, default: str) -> str:
        low = label.lower()
        for key, units in _ASYLUM_UNITS:
            if low.startswith(key):
                return units
        return default
