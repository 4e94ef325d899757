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

from sidkit.core import Dataset, Reader, require

from ._em import dataset_from_signal, parser_errors

__all__ = ["DMReader", "dm_version"]


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
            try:
                # lazy=True builds per-chunk memory maps; nothing is read yet
                signals = dm.file_reader(str(path), lazy=True, chunks=chunks)
            except ValueError as exc:
                if "RGBA" not in str(exc):
                    raise
                # RosettaSciIO cannot memory-map packed RGBA images: read them
                signals = dm.file_reader(str(path), lazy=False)
        out: dict[str, Dataset] = {}
        for i, sig in enumerate(signals):
            with parser_errors(path, self.name, "decoding image metadata"):
                ds = dataset_from_signal(sig, path, self.name, vendor="Gatan",
                                         software=f"DigitalMicrograph (DM{version})", index=i)
            if not lazy:
                ds = ds.persist()
            key = ds.title or f"image_{i}"
            if key in out:
                key = f"{key}_{i}"
            out[key] = ds
        return out
