"""FEI / Thermo Fisher TIA ``.ser`` files (with their ``.emi`` companion).

The ``.ser`` file holds the data (images, spectra, line scans, spectrum
images, series); the ``.emi`` file beside it (``foo.emi`` for
``foo_1.ser``) holds the microscope settings. Parsing is done by
RosettaSciIO (``pip install "sidkit-readers[tia]"``). Opening an ``.emi``
reads every ``.ser`` that belongs to it.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any, ClassVar

from sidkit.core import CorruptFileError, Dataset, Reader, require

from ._em import dataset_from_signal, parser_errors

__all__ = ["TIAReader", "is_ser_header", "companion_emi"]

_SER_VERSIONS = (0x0210, 0x0220)
_DATA_TYPES = (0x4120, 0x4122)
_TAG_TYPES = (0x4152, 0x4142)


def is_ser_header(head: bytes) -> bool:
    """True when ``head`` starts like a TIA series (``.ser``) file."""
    if len(head) < 14:
        return False
    order, series_id, version = struct.unpack("<HHH", head[:6])
    data_type, tag_type = struct.unpack("<II", head[6:14])
    return (order == 0x4949 and series_id == 0x0197 and version in _SER_VERSIONS
            and data_type in _DATA_TYPES and tag_type in _TAG_TYPES)


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


class TIAReader(Reader):
    """Read FEI TIA ``.ser`` series (and ``.emi`` files, which name their series).

    Images come back with ``y``/``x`` dims in nm (SPATIAL) or 1/nm
    (RECIPROCAL), spectra with an ``Energy`` dim in eV (SPECTRAL), series and
    scans with their navigation dims as calibrated in the file. The ``.ser``
    header and, when the companion ``.emi`` is present, its ``ObjectInfo``
    tree are in ``original_metadata``.
    """

    name: ClassVar[str] = "tia"
    extensions: ClassVar[tuple[str, ...]] = (".ser", ".emi")
    extra: ClassVar[str] = "tia"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "FEI/Thermo TIA SER/EMI (RosettaSciIO)"

    def sniff(self, head: bytes) -> bool:
        try:
            return is_ser_header(head)
        except Exception:  # noqa: BLE001 - sniff never raises
            return False

    def claims(self, path: Path, head: bytes) -> bool:
        try:
            if path.suffix.lower() == ".emi":
                # an .emi is a binary container with XML ObjectInfo inside
                return b"<ObjectInfo>" in head or any(path.parent.glob(path.stem + "_[0-9]*.ser"))
            return self.sniff(head)
        except Exception:  # noqa: BLE001
            return False

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read a ``.ser`` file (or every series of an ``.emi`` file).

        Parameters
        ----------
        path : pathlib.Path
            ``foo_1.ser`` (preferred) or ``foo.emi``.
        lazy : bool, default True
            Return dask-backed Datasets.
        **options
            ``only_valid_data`` (default True): drop the elements of an
            interrupted series that were never acquired.

        Returns
        -------
        dict of str to Dataset
        """
        tia = require("rsciio.tia", extra=self.extra, reader=self.name, pip_name="rosettasciio")
        only_valid = bool(options.get("only_valid_data", True))
        if path.suffix.lower() == ".emi":
            with parser_errors(path, self.name, "parsing the EMI file"):
                signals = tia.file_reader(str(path), lazy=True, only_valid_data=only_valid)
            names = [f"series_{i + 1}" for i in range(len(signals))]
        else:
            with open(path, "rb") as fh:
                head = fh.read(64)
            if not is_ser_header(head):
                raise CorruptFileError(path, self.name, "does not start with a TIA series header "
                                       "(byte order 'II', series id 0x0197); not a .ser file")
            signals = self._read_ser(tia, path, only_valid)
            names = [path.stem]
        out: dict[str, Dataset] = {}
        for i, (name, sig) in enumerate(zip(names, signals)):
            with parser_errors(path, self.name, "decoding the series metadata"):
                ds = dataset_from_signal(sig, path, self.name, vendor="FEI", software="TIA",
                                         title=name, index=i)
            out[name] = ds.persist() if not lazy else ds
        return out

    def _read_ser(self, tia: Any, path: Path, only_valid: bool) -> list[dict[str, Any]]:
        api = require("rsciio.tia._api", extra=self.extra, reader=self.name, pip_name="rosettasciio")
        emi, index = companion_emi(path)
        objects = None
        if emi is not None:
            try:
                objects = api.get_xml_info_from_emi(str(emi))
            except Exception:  # noqa: BLE001 - a damaged companion only loses metadata
                objects = None
        with parser_errors(path, self.name, "parsing the SER file"):
            signals = api.ser_reader(str(path), objects if objects else None, lazy=True,
                                     only_valid_data=only_valid)
        if objects and index < len(objects):
            try:
                import xml.etree.ElementTree as ET

                op = api.DTBox(signals[-1]["original_metadata"], box_dots=True)
                api.emixml2dtb(ET.fromstring(objects[index]), op)
                signals[-1]["original_metadata"] = op.to_dict()
            except Exception:  # noqa: BLE001 - metadata from a damaged .emi is skipped
                pass
        return signals
