"""Gatan DigitalMicrograph DM3 / DM4 files: images, spectra, spectrum images
and image stacks.

Parsing is done by RosettaSciIO (``pip install "sidkit-readers[dm]"``); the
data are memory-mapped chunk by chunk (lazy, picklable by path). Every image
of the file except the thumbnail is returned; the energy axis of a spectrum
image is placed last.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import Dataset, Reader, require

from ._em import check_declared_size, dataset_from_signal, memmap_array, parser_errors
from ._raw import SMALL_ARRAY_BYTES, SMALL_TOTAL_BYTES

__all__ = ["DMReader", "dm_version"]

#: DM ``ImageData.DataType`` codes that are plain numpy types (packed
#: complex and RGBA are left to RosettaSciIO).
_DM_DTYPES = {1: "i2", 2: "f4", 3: "c8", 6: "u1", 7: "i4", 9: "i1", 10: "u2", 11: "u4",
              12: "f8", 13: "c16", 14: "?"}

#: DM data types RosettaSciIO decodes only in memory: the old packed complex
#: FFT (5) and RGB/RGBA (8, 23).
_EAGER_ONLY = frozenset((5, 8, 23))


def dm_version(head: bytes) -> int | None:
    """The DM file version (3 or 4) that ``head`` starts with, or None.

    Checks the version, the byte-order flag and the root tag group's
    ``sorted``/``open`` flags of the header, so foreign bytes are rejected.
    """
    if len(head) < 16:
        return None
    version = struct.unpack(">I", head[:4])[0]
    if version == 3:
        order = struct.unpack(">I", head[8:12])[0]
        flags = head[12:14]
    elif version == 4:
        order = struct.unpack(">I", head[12:16])[0]
        flags = head[16:18]
    else:
        return None
    if order not in (0, 1) or len(flags) < 2 or any(b > 1 for b in flags):
        return None
    return version


class DMReader(Reader):
    """Read Gatan DigitalMicrograph ``.dm3`` and ``.dm4`` files.

    Returns one Dataset per image of the file (thumbnails excluded), with
    calibrated dims (``x``/``y`` in the file's length units as SPATIAL,
    ``1/nm`` axes as RECIPROCAL, energy axes as SPECTRAL, stack axes
    UNKNOWN), the whole tag tree in ``original_metadata`` and normalised
    acquisition metadata (date, beam energy, magnification, camera length,
    dwell time, detector).
    """

    name: ClassVar[str] = "dm"
    extensions: ClassVar[tuple[str, ...]] = (".dm3", ".dm4")
    extra: ClassVar[str] = "dm"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Gatan DigitalMicrograph DM3/DM4 (RosettaSciIO)"

    def sniff(self, head: bytes) -> bool:
        try:
            return dm_version(head) is not None
        except Exception:  # noqa: BLE001 - sniff never raises
            return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every image of a DM file.

        Parameters
        ----------
        path : pathlib.Path
            The ``.dm3``/``.dm4`` file.
        lazy : bool, default True
            Memory-map the data chunk by chunk; ``False`` reads it now.
        **options
            ``chunks`` (dask chunks of the memory map, default ``"auto"``).

        Returns
        -------
        dict of str to Dataset
            One entry per image, named after the image's title.
        """
        dm = require("rsciio.digitalmicrograph", extra=self.extra, reader=self.name,
                     pip_name="rosettasciio")
        with open(path, "rb") as fh:
            head = fh.read(64)
        version = dm_version(head)
        if version is None:
            from sidkit.core import CorruptFileError

            raise CorruptFileError(path, self.name, "does not start with a DM3/DM4 header; "
                                   "check that it is a DigitalMicrograph file")
        chunks = options.get("chunks", "auto")
        with parser_errors(path, self.name, "parsing the DM tag tree"):
            signals = self._parse(dm, path, chunks)
        out: dict[str, Dataset] = {}
        for i, sig in enumerate(signals):
            own = sig.pop("_own", False)
            with parser_errors(path, self.name, "decoding image metadata"):
                ds = dataset_from_signal(sig, path, self.name, vendor="Gatan",
                                         software=f"DigitalMicrograph (DM{version})", index=i,
                                         guard=not own)
            if not lazy:
                ds = ds.persist()
            key = ds.title or f"image_{i}"
            if key in out:
                key = f"{key}_{i}"
            out[key] = ds
        return out

    def _memmap(self, sig: dict[str, Any], path: Path, chunks: Any, budget: list[int] | None = None) -> Any:
        """A checked, byte-order-aware memory map of the image data, or None.

        RosettaSciIO maps DM data in the machine's byte order; big-endian
        (old Macintosh) files need the file's order, which the tag tree
        records next to the data offset. The declared size is checked against
        the file size here, so a truncated file fails when opened.
        """
        try:
            image = sig["original_metadata"]["ImageList"]["TagGroup0"]["ImageData"]
            code = int(image["DataType"])
            info = image["Data"]
            dims = [int(v) for v in image["Dimensions"].values()]
            offset, size = int(info["offset"]), int(info["size"])
            endian = info.get("endian", "little")
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        if code not in _DM_DTYPES or not dims:
            return None
        shape = tuple(dims[::-1])
        if int(np.prod(shape, dtype=np.int64)) != size:
            return None
        dtype = np.dtype(_DM_DTYPES[code]).newbyteorder(">" if endian == "big" else "<")
        nbytes = size * dtype.itemsize
        if budget is not None and chunks == "auto" and nbytes <= min(SMALL_ARRAY_BYTES, budget[0]):
            # small-file fast path: one read now beats a lazy graph over a few kB
            check_declared_size(path, self.name, offset, shape, dtype)
            budget[0] -= nbytes
            values = np.fromfile(path, dtype=dtype, count=size, offset=offset).reshape(shape)
            return values.astype(dtype.newbyteorder("="), copy=False)
        return memmap_array(path, self.name, offset, shape, dtype, lazy=True, chunks=chunks)

    def _parse(self, dm: Any, path: Path, chunks: Any) -> list[dict[str, Any]]:
        """RosettaSciIO's DM parse, with sidkit's own memory maps for the data.

        This follows :func:`rsciio.digitalmicrograph.file_reader` but builds
        the data arrays itself (byte-order aware, size-checked, picklable) and
        skips RosettaSciIO's per-image deep copies; packed-complex and RGBA
        images keep RosettaSciIO's decoding. Falls back to ``file_reader`` if
        RosettaSciIO's parser classes change.
        """
        api = require("rsciio.digitalmicrograph._api", extra=self.extra, reader=self.name,
                      pip_name="rosettasciio")
        if not (hasattr(api, "DigitalMicrographReader") and hasattr(api, "ImageObject")):
            return [{**sig, "_own": False} for sig in self._rsciio(dm, path, chunks)]
        out = []
        budget = [SMALL_TOTAL_BYTES]  # bytes of small images read now (see _memmap)
        with open(path, "rb") as fh:
            reader = api.DigitalMicrographReader(fh)
            reader.parse_file()
            imdicts = reader.get_image_dictionaries() or []
            tags = dict(reader.tags_dict)
            tags.pop("ImageList", None)
            for imdict in imdicts:
                image = api.ImageObject(imdict, fh, order=None)
                image.filename = str(path)
                original = {**tags, "ImageList": {"TagGroup0": image.imdict.to_dict()}}
                sig = {"axes": image.get_axes_dict(), "metadata": image.get_metadata(),
                       "original_metadata": original, "mapping": image.get_mapping()}
                own = self._memmap({**sig, "data": None}, path, chunks, budget)
                if own is None:
                    code = original["ImageList"]["TagGroup0"].get("ImageData", {}).get("DataType")
                    data = image.get_data(code not in _EAGER_ONLY, chunks)
                sig["data"] = own if own is not None else data
                sig["_own"] = own is not None
                out.append(sig)
        return out

    @staticmethod
    def _rsciio(dm: Any, path: Path, chunks: Any) -> list[dict[str, Any]]:
        try:
            return dm.file_reader(str(path), lazy=True, chunks=chunks)
        except (ValueError, TypeError):
            # RGBA and the old packed complex FFT decode only in memory; a
            # damaged file fails again here, with the eager reader's message
            return dm.file_reader(str(path), lazy=False)
