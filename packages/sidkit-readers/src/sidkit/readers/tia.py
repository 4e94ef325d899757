"""FEI / Thermo Fisher TIA ``.ser`` files (with their ``.emi`` companion).

The ``.ser`` file holds a series of data elements (1-D spectra or 2-D
images) laid out on 0, 1 or 2 calibrated series dimensions (a time series,
a line scan, a spectrum image, an image stack); the ``.emi`` file beside it
(``foo.emi`` for ``foo_1.ser``) holds the microscope settings as XML.
The data need nothing beyond numpy; the ``.emi`` metadata need RosettaSciIO
(without it they are skipped with a warning).

sidkit parses the small binary SER header (layout of C. Boothroyd's
description, as RosettaSciIO reads it) and memory-maps the data elements,
so nothing is read until computed (series of at most 4 MiB are read at
once: see ``SMALL_ARRAY_BYTES`` in ``_raw``). The EMI metadata are decoded
as RosettaSciIO's EMI parser decodes them, by a faster equivalent that hands
unusual files to RosettaSciIO itself (``pip install "sidkit-readers[tia]"``);
the axes follow RosettaSciIO's conventions (spatial axes in nm, energy in
eV, images flipped to top-down).
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    Reader,
    TruncatedFileError,
    UnsafeFileError,
    module_available,
    require,
)

from ._em import check_declared_size, dataset_from_signal, parse_datetime, parser_errors

__all__ = ["TIAReader", "is_ser_header", "companion_emi", "SerHeader", "read_ser_header"]

_SER_VERSIONS = (0x0210, 0x0220)
_SPECTRUM = 0x4120
_IMAGE = 0x4122
_TIME_TAG = 0x4152
_XY_TAG = 0x4142
_DATA_TYPES = {1: "<u1", 2: "<u2", 3: "<u4", 4: "<i1", 5: "<i2", 6: "<i4", 7: "<f4", 8: "<f8",
               9: "<c8", 10: "<c16"}
_MAX_DIMS = 8
_MAX_TEXT = 4096


def is_ser_header(head: bytes) -> bool:
    """True when ``head`` starts like a TIA series (``.ser``) file."""
    if len(head) < 14:
        return False
    order, series_id, version = struct.unpack("<HHH", head[:6])
    data_type, tag_type = struct.unpack("<II", head[6:14])
    return (order == 0x4949 and series_id == 0x0197 and version in _SER_VERSIONS
            and data_type in (_SPECTRUM, _IMAGE) and tag_type in (_TIME_TAG, _XY_TAG))


def companion_emi(ser: Path) -> tuple[Path | None, int]:
    """The ``.emi`` file of ``foo_N.ser`` and ``N - 1`` (its object index)."""
    m = re.fullmatch(r"(.*)_(\d+)", ser.stem)
    if not m:
        return None, 0
    emi = ser.with_name(m.group(1) + ".emi")
    for cand in (emi, emi.with_suffix(".EMI")):
        if cand.is_file():
            return cand, int(m.group(2)) - 1
    return None, int(m.group(2)) - 1


class SerHeader(dict):
    """The SER header as a dict (keys as RosettaSciIO names them)."""


def _need(buf: bytes, pos: int, n: int, path: Path, what: str) -> None:
    if pos + n > len(buf):
        raise TruncatedFileError(path, "tia", f"the file ends inside the {what}; it looks truncated")


def read_ser_header(path: Path, fh: Any, size: int) -> SerHeader:
    """Parse the header, the dimension array and the offset arrays.

    Raises
    ------
    CorruptFileError, TruncatedFileError, UnsafeFileError
    """
    buf = fh.read(30 + _MAX_DIMS * (32 + 2 * _MAX_TEXT))
    _need(buf, 0, 30, path, "header")
    if not is_ser_header(buf):
        raise CorruptFileError(path, "tia", "does not start with a TIA series header "
                               "(byte order 'II', series id 0x0197); not a .ser file")
    h = SerHeader()
    (h["ByteOrder"], h["SeriesID"], h["SeriesVersion"], h["DataTypeID"], h["TagTypeID"],
     h["TotalNumberElements"], h["ValidNumberElements"]) = struct.unpack("<HHHIIII", buf[:22])
    wide = h["SeriesVersion"] > 0x0210
    if wide:
        _need(buf, 22, 12, path, "header")
        h["OffsetArrayOffset"], h["NumberDimensions"] = struct.unpack("<QI", buf[22:34])
        pos = 34
    else:
        h["OffsetArrayOffset"], h["NumberDimensions"] = struct.unpack("<II", buf[22:30])
        pos = 30
    ndim = h["NumberDimensions"]
    if ndim > _MAX_DIMS:
        raise UnsafeFileError(path, "tia", f"declares {ndim} series dimensions (at most {_MAX_DIMS})")
    total, valid = h["TotalNumberElements"], h["ValidNumberElements"]
    if valid > total or total > size // 8:
        raise CorruptFileError(path, "tia", f"declares {valid} valid of {total} elements, "
                               f"impossible in a file of {size} bytes")
    for n in range(1, ndim + 1):
        _need(buf, pos, 28, path, "dimension array")
        dsize, coff, cdelta, celem, dlen = struct.unpack("<IddII", buf[pos:pos + 28])
        pos += 28
        if dlen > _MAX_TEXT:
            raise CorruptFileError(path, "tia", f"dimension {n} has a {dlen}-byte description")
        _need(buf, pos, dlen + 4, path, "dimension array")
        desc = buf[pos:pos + dlen]
        pos += dlen
        (ulen,) = struct.unpack("<I", buf[pos:pos + 4])
        pos += 4
        if ulen > _MAX_TEXT:
            raise CorruptFileError(path, "tia", f"dimension {n} has {ulen}-byte units")
        _need(buf, pos, ulen, path, "dimension array")
        units = buf[pos:pos + ulen]
        pos += ulen
        h.update({f"Dim-{n}_DimensionSize": dsize, f"Dim-{n}_CalibrationOffset": coff,
                  f"Dim-{n}_CalibrationDelta": cdelta, f"Dim-{n}_CalibrationElement": celem,
                  f"Dim-{n}_DescriptionLength": dlen,
                  f"Dim-{n}_Description": desc.decode("latin-1"),
                  f"Dim-{n}_UnitsLength": ulen, f"Dim-{n}_Units": units.decode("latin-1")})
    # offset arrays: data offsets then tag offsets, TotalNumberElements each
    itemsize = 8 if wide else 4
    off = h["OffsetArrayOffset"]
    if off + 2 * total * itemsize > size:
        raise TruncatedFileError(path, "tia", "the offset arrays run past the end of the file; "
                                 "the file looks truncated")
    fh.seek(off)
    raw = fh.read(2 * total * itemsize)
    offsets = np.frombuffer(raw, dtype="<u8" if wide else "<u4").astype(np.int64)
    h["data_offsets"] = offsets[:valid]
    h["tag_offsets"] = offsets[total:total + valid]
    return h


def _element_layout(path: Path, fh: Any, h: SerHeader, size: int) -> dict[str, Any]:
    """Calibration, dtype and shape of the data elements (from the first one)."""
    if h["ValidNumberElements"] == 0:
        raise CorruptFileError(path, "tia", "holds no valid data element (a single spectrum "
                               "lives in the .emi file, which sidkit does not read)")
    first = int(h["data_offsets"][0])
    fh.seek(first)
    if h["DataTypeID"] == _SPECTRUM:
        raw = fh.read(26)
        if len(raw) < 26:
            raise TruncatedFileError(path, "tia", "the file ends inside the first data element")
        coff, cdelta, celem, dtype_code, length = struct.unpack("<ddIHI", raw)
        el = {"CalibrationOffset": coff, "CalibrationDelta": cdelta, "CalibrationElement": celem,
              "DataType": dtype_code, "ArrayLength": length}
        shape: tuple[int, ...] = (length,)
        header_size = 26
    else:
        raw = fh.read(50)
        if len(raw) < 50:
            raise TruncatedFileError(path, "tia", "the file ends inside the first data element")
        cox, cdx, cex, coy, cdy, cey, dtype_code, sx, sy = struct.unpack("<ddIddIHII", raw)
        el = {"CalibrationOffsetX": cox, "CalibrationDeltaX": cdx, "CalibrationElementX": cex,
              "CalibrationOffsetY": coy, "CalibrationDeltaY": cdy, "CalibrationElementY": cey,
              "DataType": dtype_code, "ArraySizeX": sx, "ArraySizeY": sy}
        shape = (sy, sx)
        header_size = 50
    if dtype_code not in _DATA_TYPES:
        raise CorruptFileError(path, "tia", f"data element type {dtype_code} is unknown")
    el["dtype"] = np.dtype(_DATA_TYPES[dtype_code])
    el["shape"] = shape
    el["header_size"] = header_size
    check_declared_size(path, "tia", first + header_size, shape, el["dtype"])
    return el


def _tags(path: Path, fh: Any, h: SerHeader, count: int) -> dict[str, np.ndarray]:
    """Time (and X/Y position) tags of the first ``count`` elements."""
    xy = h["TagTypeID"] == _XY_TAG
    n = 24 if xy else 8
    times, xs, ys = [], [], []
    for off in h["tag_offsets"][:count]:
        fh.seek(int(off))
        raw = fh.read(n)
        if len(raw) < n:
            break
        times.append(struct.unpack("<I", raw[4:8])[0])
        if xy:
            x, y = struct.unpack("<dd", raw[8:24])
            xs.append(x)
            ys.append(y)
    out = {"Time": np.asarray(times)}
    if xy:
        out["PositionX"] = np.asarray(xs)
        out["PositionY"] = np.asarray(ys)
    return out


def _acquire_date(objects_dict: Any) -> Any:
    """``ObjectInfo.AcquireDate`` ("Mon Feb 22 18:50:01 2016") as a datetime, or None."""
    try:
        text = str(objects_dict["ObjectInfo"]["AcquireDate"])
    except Exception:  # noqa: BLE001
        return None
    return parse_datetime(text, ("%a %b %d %H:%M:%S %Y",))


# ----------------------------------------------------------------------------- EMI
class _Unusual(Exception):
    """The EMI XML needs RosettaSciIO's own (slower) tree builder."""


def _emi_objects(emi: Path) -> list[bytes]:
    """The ``<ObjectInfo>...</ObjectInfo>`` blocks of an EMI file (as RosettaSciIO finds them)."""
    tx = emi.read_bytes()
    objects = []
    start = tx.find(b"<ObjectInfo>", 1)
    while start != -1:
        end = tx.find(b"</ObjectInfo>", start)
        if end == -1:
            raise _Unusual("unterminated ObjectInfo")
        objects.append(tx[start:end + 13])
        start = tx.find(b"<ObjectInfo>", start + 1)
    return objects


def _key(text: Any) -> str:
    # RosettaSciIO's tree (a Box with box_dots) treats "." and "[" in keys specially
    if not isinstance(text, str) or "." in text or "[" in text:
        raise _Unusual(f"key {text!r}")
    return text


def _node(tree: dict[str, Any], tag: str) -> dict[str, Any]:
    node = tree.get(tag)
    if node is None:
        node = tree[tag] = {}
    elif not isinstance(node, dict):
        raise _Unusual(f"{tag} is both a value and a node")
    return node


def _emi_tree(et: Any, tree: dict[str, Any]) -> None:
    """RosettaSciIO's ``emixml2dtb`` into plain dicts (same keys and values)."""
    tag = _key(et.tag)
    if tag == "ExperimentalDescription":
        node = _node(tree, tag)
        for data in et.find("Root").findall("Data"):
            label = data.find("Label").text
            value = data.find("Value").text
            units = data.find("Unit").text
            item = _key(label if not units else label + f"_{units}")
            try:
                value = float(value) if units else value
            except ValueError:
                pass
            node[item] = value
        return
    if tag == "TrueImageHeaderInfo":
        # RosettaSciIO parses the embedded XML, then looks its entries up by a
        # bytes path, which never matches: the node stays empty. Same here (the
        # reference's original_metadata), but only the well-formedness check
        # is kept, which fails where its parse would
        import xml.parsers.expat

        _node(tree, tag)
        xml.parsers.expat.ParserCreate().Parse(et.text, True)
        return
    if et.text:
        tree[tag] = et.text
        return
    node = _node(tree, tag)
    for child in et:
        _emi_tree(child, node)


def _parse_emi(emi: Path, index: int) -> tuple[Any, Any, dict[str, Any]]:
    """EMI objects, the first as a dict tree, and object ``index`` as a dict tree.

    Raises on anything RosettaSciIO's tree builder would treat differently,
    so that the caller can hand the file to it.
    """
    import xml.etree.ElementTree as ET

    objects = [o.decode("utf-8") for o in _emi_objects(emi)]  # all, as RosettaSciIO does
    if not objects:
        return None, None, {}
    first: dict[str, Any] = {}
    _emi_tree(ET.fromstring(objects[0]), first)
    if index == 0 or index >= len(objects):
        return objects, first, first  # read-only here; Dataset copies it
    this: dict[str, Any] = {}
    _emi_tree(ET.fromstring(objects[index]), this)
    return objects, first, this


class _SerProxy:
    """Picklable, memory-mapped view of the data elements of a SER file.

    Elements sit at ``offset0 + i * stride``; each is a small header then the
    array. Slicing maps the file and copies only the requested elements.
    With ``view`` = (elements used, their shape, flip rows, final shape) the
    proxy is already the dataset's array: the first elements reshaped to the
    series layout, image rows flipped top-down, length-1 axes dropped.
    """

    __slots__ = ("path", "offset0", "stride", "count", "header_size", "el_dtype", "el_shape",
                 "shape", "dtype", "ndim", "view")

    def __init__(self, path: str, offset0: int, stride: int, count: int, header_size: int,
                 el_dtype: np.dtype, el_shape: tuple[int, ...],
                 view: tuple[int, tuple[int, ...], bool, tuple[int, ...]] | None = None) -> None:
        self.path = path
        self.offset0 = offset0
        self.stride = stride
        self.count = count
        self.header_size = header_size
        self.el_dtype = np.dtype(el_dtype)
        self.el_shape = tuple(el_shape)
        self.view = view
        self.shape = (count, *self.el_shape) if view is None else tuple(view[3])
        self.dtype = self.el_dtype.newbyteorder("=")
        self.ndim = len(self.shape)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("sidkit-ser", self.path, self.offset0, self.stride, self.count, str(self.el_dtype),
                self.el_shape, self.view)

    def _record(self) -> np.dtype:
        return np.dtype({"names": ["Array"], "formats": [(self.el_dtype, self.el_shape)],
                         "offsets": [self.header_size], "itemsize": self.stride})

    def _arrange(self, arr: np.ndarray) -> np.ndarray:
        if self.view is not None:
            used, shape, flip, final = self.view
            arr = arr[:used].reshape(shape)
            if flip:
                arr = arr[..., ::-1, :]
            arr = arr.reshape(final)
        return arr

    def __getitem__(self, key: Any) -> np.ndarray:
        with parser_errors(self.path, "tia", "reading the data elements"):
            mm = np.memmap(self.path, dtype=self._record(), mode="r", offset=self.offset0, shape=(self.count,))
            try:
                return np.array(self._arrange(mm["Array"])[key], dtype=self.dtype)
            finally:
                del mm

    def read_all(self) -> np.ndarray:
        """Every value, read with one plain file read (for small series)."""
        with parser_errors(self.path, "tia", "reading the data elements"):
            want = self.stride * self.count
            with open(self.path, "rb") as fh:
                fh.seek(self.offset0)
                raw = fh.read(want)
            # the last element may end before a whole stride (its size was checked)
            raw += bytes(want - len(raw))
            return np.array(self._arrange(np.frombuffer(raw, dtype=self._record())["Array"]), dtype=self.dtype)

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)


def _position_axis(position: np.ndarray) -> dict[str, Any]:
    """size/scale/offset of a raster axis from element positions (RosettaSciIO's rule)."""
    offset = float(position[0])
    i = 0
    for i, x in enumerate(position):  # noqa: B007 - i is used after the loop
        if x != position[0]:
            break
    if i == len(position) - 1 or len(position) < 2:
        return {"size": 0, "scale": 0.0, "offset": offset}
    scale = float(position[i] - position[0])
    if i == 1:
        j = 0
        for j, x in enumerate(position[1:]):  # noqa: B007 - j is used after the loop
            if x == position[0]:
                break
        size = j + 1
    else:
        size = len(position) // i
    return {"size": int(size), "scale": scale, "offset": offset}


class TIAReader(Reader):
    """Read FEI TIA ``.ser`` series (and ``.emi`` files, which name their series).

    Images come back with ``y``/``x`` dims in nm (SPATIAL), spectra with an
    ``Energy`` dim in eV (SPECTRAL), series and scans with their navigation
    dims as calibrated in the file. Opening the ``.emi`` instead reads the
    image units from its acquisition mode (1/nm, RECIPROCAL, for diffraction),
    as RosettaSciIO does; opening a ``.ser`` keeps the SER calibration in nm,
    as RosettaSciIO reads a ``.ser``. The ``.ser`` header and, when the
    companion ``.emi`` is present, its ``ObjectInfo`` tree are in
    ``original_metadata``.
    """

    name: ClassVar[str] = "tia"
    extensions: ClassVar[tuple[str, ...]] = (".ser", ".emi")
    extra: ClassVar[str] = "tia"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "FEI/Thermo TIA SER/EMI (memory-mapped; EMI metadata via RosettaSciIO)"

    def sniff(self, head: bytes) -> bool:
        try:
            return is_ser_header(head)
        except Exception:  # noqa: BLE001 - sniff never raises
            return False

    def claims(self, path: Path, head: bytes) -> bool:
        try:
            if path.suffix.lower() == ".emi":
                return any(self._sers_of(path))
            return self.sniff(head)
        except Exception:  # noqa: BLE001
            return False

    @staticmethod
    def _sers_of(emi: Path) -> list[Path]:
        return sorted(p for p in emi.parent.glob(emi.stem + "_*.ser")
                      if re.fullmatch(re.escape(emi.stem) + r"_\d+", p.stem))

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read a ``.ser`` file (or every series of an ``.emi`` file).

        Parameters
        ----------
        path : pathlib.Path
            ``foo_1.ser`` (preferred) or ``foo.emi``.
        lazy : bool, default True
            Memory-map the elements; ``False`` reads them now.
        **options
            ``only_valid_data`` (default True): drop the never-acquired
            elements of an interrupted time series (maps are padded with
            zeros, or NaN for float data, either way).

        Returns
        -------
        dict of str to Dataset
        """
        only_valid = bool(options.get("only_valid_data", True))
        sers = self._sers_of(path) if path.suffix.lower() == ".emi" else [path]
        if not sers:
            raise CorruptFileError(path, self.name, "no foo_N.ser file belongs to this .emi file")
        out: dict[str, Dataset] = {}
        for i, ser in enumerate(sers):
            sig = self._read_ser(ser, only_valid, from_emi=path.suffix.lower() == ".emi")
            with parser_errors(ser, self.name, "decoding the series metadata"):
                ds = dataset_from_signal(sig, ser, self.name, vendor="FEI", software="TIA",
                                         title=ser.stem, index=i, guard=False)
            out[ser.stem] = ds.persist() if not lazy else ds
        return out

    # ------------------------------------------------------------------ parsing
    def _read_ser(self, path: Path, only_valid: bool, *, from_emi: bool = False) -> dict[str, Any]:
        """The series as a signal dict; image units are guessed from the EMI
        mode only when the ``.emi`` was opened (see ``_data_and_axes``)."""
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            h = read_ser_header(path, fh, size)
            el = _element_layout(path, fh, h, size)
            xy = h["TagTypeID"] == _XY_TAG
            ndim = h["NumberDimensions"]
            need_all = ndim == 0 and xy
            tags = _tags(path, fh, h, h["ValidNumberElements"] if need_all else 2)
        objects, objects_dict, om_extra = self._emi(path)
        data, axes = self._data_and_axes(path, h, el, tags, objects_dict if from_emi else None, only_valid)
        original = {"ser_header_parameters": {k: v for k, v in h.items()
                                              if k not in ("data_offsets", "tag_offsets")}}
        original["ser_header_parameters"].update(
            {k: v for k, v in el.items() if k not in ("dtype", "shape", "header_size")})
        original.update(om_extra)
        metadata: dict[str, Any] = {"General": {"original_filename": path.name}, "Signal": {"signal_type": ""}}
        if objects_dict is not None:
            when = _acquire_date(objects_dict)
            if when is not None:
                metadata["General"].update({"date": when.date().isoformat(),
                                            "time": when.time().isoformat()})
        mapping = None
        if objects_dict is not None:
            api = require("rsciio.tia._api", extra=self.extra, reader=self.name, pip_name="rosettasciio")
            mapping = getattr(api, "mapping", None)
        return {"data": data, "axes": axes, "metadata": metadata, "original_metadata": original,
                "mapping": mapping}

    def _emi(self, path: Path) -> tuple[Any, Any, dict[str, Any]]:
        """EMI objects, the first as a plain dict tree, and this series' ObjectInfo as plain dict."""
        emi, index = companion_emi(path)
        if emi is None:
            return None, None, {}
        if not module_available("rsciio"):
            warnings.warn(f"{path}: reader 'tia': the microscope metadata in {emi.name} are not read "
                          "because RosettaSciIO is missing: pip install 'sidkit-readers[tia]'",
                          stacklevel=3)
            return None, None, {"emi_metadata": f"not read: install 'sidkit-readers[tia]' to read {emi.name}"}
        try:
            return _parse_emi(emi, index)
        except Exception:  # noqa: BLE001 - anything unusual: RosettaSciIO's own parser decides
            pass
        api = require("rsciio.tia._api", extra=self.extra, reader=self.name, pip_name="rosettasciio")
        try:
            import xml.etree.ElementTree as ET

            objects = api.get_xml_info_from_emi(str(emi))
            if not objects:
                return None, None, {}
            objects_dict = api.convert_xml_to_dict(objects[0]).to_dict()
            tree = api.DTBox(box_dots=True)
            api.emixml2dtb(ET.fromstring(objects[index if index < len(objects) else 0]), tree)
            return objects, objects_dict, tree.to_dict()
        except Exception:  # noqa: BLE001 - a damaged companion only loses metadata
            return None, None, {}

    @staticmethod
    def _guess_units(objects_dict: Any, h: SerHeader) -> str:
        if objects_dict is None or h["NumberDimensions"] < 1:
            return "meters"
        try:
            info = objects_dict["ObjectInfo"]
            mode = info["ExperimentalDescription"]["Mode"]
            is_camera = "CameraNamePath" in info["AcquireInfo"].keys()
        except Exception:  # noqa: BLE001
            return "meters"
        is_stack = h["Dim-1_UnitsLength"] == 0
        is_diff_scan = h["Dim-1_DimensionSize"] > 1 and not is_stack
        if "STEM" in mode:
            return "1/meters" if (is_camera or is_diff_scan) else "meters"
        if "Diffraction" in mode:
            return "1/meters"
        return "meters"

    def _data_and_axes(self, path: Path, h: SerHeader, el: dict[str, Any], tags: dict[str, np.ndarray],
                       objects_dict: Any, only_valid: bool) -> tuple[Any, list[dict[str, Any]]]:
        spectrum = h["DataTypeID"] == _SPECTRUM
        ndim = h["NumberDimensions"]
        valid = h["ValidNumberElements"]
        ys = tags.get("PositionY")
        order = "F" if ys is not None and len(ys) > 1 and ys[0] == ys[1] else "C"
        axes: list[dict[str, Any]] = []
        array_shape: list[int] = []
        if ndim == 0:
            if "PositionX" in tags and len(tags["PositionX"]) == valid:
                xcal, ycal = _position_axis(tags["PositionX"]), _position_axis(tags["PositionY"])
                if xcal["size"] == 0 and ycal["size"] != 0:
                    axes.append({"name": "x", "units": "meters", **xcal})
                elif xcal["size"] != 0 and ycal["size"] == 0:
                    axes.append({"name": "y", "units": "meters", **ycal})
                elif xcal["size"] * ycal["size"] == valid:
                    axes += [{"name": "y", "units": "meters", **ycal}, {"name": "x", "units": "meters", **xcal}]
                else:
                    axes.append({"name": "x", "units": "meters", "offset": 0.0,
                                 "scale": float(np.hypot(xcal["scale"], ycal["scale"])), "size": valid})
            else:
                axes.append({"name": "Unknown dimension", "offset": 0.0, "scale": 1.0, "units": "",
                             "size": valid})
            array_shape = [int(a["size"]) for a in axes]
        else:
            spatial = ["x", "y"][:ndim]
            for i in range(ndim):
                idim = 1 + i if order == "C" else ndim - i
                if spectrum or h[f"Dim-{i + 1}_DimensionSize"] != 1:
                    units = h[f"Dim-{idim}_Units"] if h[f"Dim-{idim}_UnitsLength"] > 0 else None
                    name = spatial.pop() if units == "meters" and spatial else None
                    axes.append({"offset": h[f"Dim-{idim}_CalibrationOffset"],
                                 "scale": h[f"Dim-{idim}_CalibrationDelta"], "units": units,
                                 "size": h[f"Dim-{idim}_DimensionSize"], "name": name})
                    array_shape.append(int(h[f"Dim-{idim}_DimensionSize"]))
            if ndim == 1 and h["TotalNumberElements"] != valid and only_valid:
                if valid == 1:
                    axes, array_shape = [], []
                elif axes:
                    axes[0]["size"] = valid
                    array_shape[0] = valid
        if spectrum:
            axes.append({"offset": el["CalibrationOffset"], "scale": el["CalibrationDelta"],
                         "size": el["ArrayLength"], "units": "eV", "name": "Energy"})
        else:
            units = self._guess_units(objects_dict, h) if objects_dict is not None else "meters"
            axes.append({"name": "y", "units": units, "size": el["ArraySizeY"], "scale": el["CalibrationDeltaY"],
                         "offset": el["CalibrationOffsetY"] - el["CalibrationElementY"] * el["CalibrationDeltaY"]})
            axes.append({"name": "x", "units": units, "size": el["ArraySizeX"], "scale": el["CalibrationDeltaX"],
                         "offset": el["CalibrationOffsetX"] - el["CalibrationElementX"] * el["CalibrationDeltaX"]})
        for ax in axes:
            if ax["units"] == "meters":
                # as RosettaSciIO (the reference reader) does, only the scale is
                # converted; the offset keeps the file's value
                ax["units"], ax["scale"] = "nm", ax["scale"] * 1e9
            elif ax["units"] == "1/meters":
                ax["units"], ax["scale"] = "1 / nm", ax["scale"] / 1e9
        el_shape = list(el["shape"])
        full_shape = array_shape + el_shape
        n_nav = int(np.prod(array_shape)) if array_shape else 1
        n_used = valid
        if n_nav != valid:
            if ndim == 1 and only_valid:
                n_used = min(valid, n_nav)
                if array_shape:
                    array_shape[0] = n_used
                full_shape = array_shape + el_shape
            elif n_nav > valid:
                return self._padded(path, h, el, n_nav, full_shape, spectrum, axes, array_shape)
            else:
                n_used = n_nav
        if not full_shape:
            full_shape = el_shape
        out_shape = list(full_shape)
        if len(axes) != len(out_shape):
            out_shape = [n for n in out_shape if n != 1]
        if len(axes) != len(out_shape):
            raise CorruptFileError(path, self.name, f"series dimensions {array_shape} do not fit "
                                   f"{valid} elements of shape {tuple(el_shape)}")
        return self._elements(path, h, el, view=(n_used, tuple(full_shape), not spectrum,
                                                 tuple(out_shape))), axes

    def _padded(self, path: Path, h: SerHeader, el: dict[str, Any], n_nav: int, full_shape: list[int],
                spectrum: bool, axes: list[dict[str, Any]], array_shape: list[int]) -> tuple[Any, list[dict[str, Any]]]:
        """An interrupted map: the never-acquired elements padded (dask, block-wise)."""
        import dask.array as da

        data = self._elements(path, h, el)
        el_shape = list(el["shape"])
        valid = h["ValidNumberElements"]
        fill = np.nan if data.dtype.kind == "f" else 0
        pad = da.full((n_nav - valid, *el_shape), fill, dtype=data.dtype)
        data = da.concatenate([data, pad], axis=0)
        data = data.reshape(full_shape)
        if not spectrum:
            data = data[..., ::-1, :]
        if len(axes) != data.ndim:
            keep = [i for i, n in enumerate(data.shape) if n != 1]
            data = data.reshape(tuple(data.shape[i] for i in keep))
        if len(axes) != data.ndim:
            raise CorruptFileError(path, self.name, f"series dimensions {array_shape} do not fit "
                                   f"{valid} elements of shape {tuple(el_shape)}")
        return data, axes

    def _elements(self, path: Path, h: SerHeader, el: dict[str, Any],
                  view: tuple[int, tuple[int, ...], bool, tuple[int, ...]] | None = None) -> Any:
        """A dask array of the data elements: ``(valid, *element_shape)``, or
        with ``view`` = (elements used, their shape, flip rows, final shape)
        already arranged as the dataset (all numpy views of the memory map,
        so a chunk still reads only its own elements). Computing the whole
        array reads it in one call. Arranged elements of at most
        ``SMALL_ARRAY_BYTES`` in all are read now and returned as numpy."""
        import dask.array as da
        from dask.base import tokenize

        from ._raw import SMALL_ARRAY_BYTES, frame_chunks, whole_read

        offsets = h["data_offsets"]
        count = len(offsets)
        nbytes = el["header_size"] + int(np.prod(el["shape"])) * el["dtype"].itemsize
        if count > 1:
            steps = np.diff(offsets)
            stride = int(steps[0])
            regular = bool(np.all(steps == stride)) and stride >= nbytes
        else:
            stride, regular = nbytes, True
        if not regular:
            raise CorruptFileError(path, self.name, "data elements are not evenly spaced; "
                                   "this SER layout is not supported")
        last = int(offsets[0]) + stride * (count - 1) + nbytes
        if last > os.path.getsize(path):
            raise TruncatedFileError(path, self.name, f"the data elements run to byte {last} but the "
                                     f"file has {os.path.getsize(path)}; it looks truncated")
        proxy = _SerProxy(os.fspath(path), int(offsets[0]), stride, count, el["header_size"],
                          el["dtype"], el["shape"], view)
        if view is not None and stride * count <= SMALL_ARRAY_BYTES:
            # small-file fast path: one copy now beats a lazy graph over a few kB
            return proxy.read_all()
        if view is None:
            per = max(1, (64 * 2**20) // max(1, nbytes))
            chunks: Any = (min(per, count), *el["shape"])
        else:
            chunks = frame_chunks(proxy.shape, proxy.dtype.itemsize)
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        name = f"tia-{path.name}-{tokenize(os.fspath(path), stamp, stride, count, view)}"
        arr = da.from_array(proxy, chunks=chunks, name=name, lock=False, asarray=True,
                            meta=np.empty((0,) * proxy.ndim, dtype=proxy.dtype))
        return whole_read(arr, proxy)  # type: ignore[arg-type]
