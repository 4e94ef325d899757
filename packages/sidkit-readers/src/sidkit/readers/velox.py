"""FEI / Thermo Fisher Velox EMD files (HDF5 with ``/Version`` = Velox).

Images, image stacks, EDS maps, spectra and spectrum images (decoded from
Velox's spectrum streams) are parsed by RosettaSciIO
(``pip install "sidkit-readers[velox]"``). Berkeley EMD files share the
``.emd`` suffix; :meth:`VeloxReader.claims` tells them apart by content.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from sidkit.core import CorruptFileError, Dataset, Reader, require
from sidkit.core.hdf5 import is_hdf5

from ._em import dataset_from_signal, parser_errors

__all__ = ["VeloxReader", "is_velox"]


def is_velox(path: Path) -> bool:
    """True when ``path`` is an HDF5 file whose ``/Version`` says Velox.

    Needs h5py; returns False on any error.
    """
    try:
        import h5py
    except ImportError:
        return False
    try:
        with h5py.File(path, "r", locking=False) as fh:
            if "Version" not in fh or "Data" not in fh:
                return False
            raw = fh["Version"][()]
            item = raw.reshape(-1)[0] if hasattr(raw, "reshape") else raw
            if isinstance(item, bytes):
                item = item.decode("utf-8", "replace")
            version = json.loads(str(item))
            return version.get("format") in ("Velox", "DevelopersKit")
    except Exception:  # noqa: BLE001 - claims never raise
        return False


class VeloxReader(Reader):
    """Read Thermo Fisher (FEI) Velox ``.emd`` files.

    Every image, stack, spectrum and spectrum image of the file is returned
    (titles as Velox names them: ``HAADF``, ``DF2``, ``EDS``, element maps).
    Spatial dims are calibrated in the file's units (SPATIAL, or RECIPROCAL
    for diffraction), energy in keV (SPECTRAL), frame time in s (TEMPORAL).
    The per-frame JSON metadata of the first frame is in
    ``original_metadata``.
    """

    name: ClassVar[str] = "velox"
    extensions: ClassVar[tuple[str, ...]] = (".emd",)
    extra: ClassVar[str] = "velox"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Thermo Fisher / FEI Velox EMD (RosettaSciIO)"

    def sniff(self, head: bytes) -> bool:
        return is_hdf5(head)

    def claims(self, path: Path, head: bytes) -> bool:
        return is_hdf5(head) and is_velox(path)

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every dataset of a Velox file.

        Parameters
        ----------
        path : pathlib.Path
            The ``.emd`` file.
        lazy : bool, default True
            Read images chunk by chunk on demand.
        **options
            Passed to :func:`rsciio.emd.file_reader` for spectrum images:
            ``sum_frames``, ``sum_EDS_detectors``, ``rebin_energy``,
            ``first_frame``, ``last_frame``, ``SI_dtype``,
            ``load_SI_image_stack``, ``select_type``.

        Returns
        -------
        dict of str to Dataset
        """
        require("h5py", extra=self.extra, reader=self.name)
        emd = require("rsciio.emd", extra=self.extra, reader=self.name, pip_name="rosettasciio")
        allowed = {"sum_frames", "sum_EDS_detectors", "rebin_energy", "first_frame",
                   "last_frame", "SI_dtype", "load_SI_image_stack", "select_type"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"reader 'velox' got unknown options {sorted(unknown)}; "
                            f"it accepts {sorted(allowed)}")
        if not is_velox(path):
            raise CorruptFileError(path, self.name, "is not a Velox EMD file (no /Version with "
                                   "format 'Velox'); for Berkeley EMD use reader='emd'")
        with parser_errors(path, self.name, "parsing the Velox file"):
            signals = emd.file_reader(str(path), lazy=lazy, **options)
        out: dict[str, Dataset] = {}
        for i, sig in enumerate(signals):
            with parser_errors(path, self.name, "decoding the Velox metadata"):
                ds = dataset_from_signal(sig, path, self.name, vendor="Thermo Fisher Scientific",
                                         software="Velox", index=i)
                ds = self._add_detector(ds, sig)
            key = ds.title or f"dataset_{i}"
            if key in out:
                key = f"{key}_{i}"
            out[key] = ds
        return out

    @staticmethod
    def _add_detector(ds: Dataset, sig: dict[str, Any]) -> Dataset:
        acq = ds.metadata.setdefault("acquisition", {})
        om = sig.get("original_metadata", {})
        try:
            detector = om.get("BinaryResult", {}).get("Detector")
        except AttributeError:
            detector = None
        if not acq.get("detector"):
            acq["detector"] = str(detector or ds.title)
        ds.metadata.setdefault("instrument", {}).setdefault("vendor", "Thermo Fisher Scientific")
        return ds
