"""Berkeley EMD files (NCEM electron microscopy dataset, HDF5).

Every group with ``emd_group_type = 1`` is one dataset: its data array plus
``dim1`` ... ``dimN`` datasets giving the coordinates of each axis (``name``
and ``units`` attributes). Read with h5py directly
(``pip install "sidkit-readers[emd]"``); data are read lazily chunk by chunk
through picklable proxies. Velox files share the ``.emd`` suffix; the
readers tell them apart by content.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Dimension, DimensionType, Reader, require
from sidkit.core.hdf5 import attr_to_python, check_storage, is_hdf5, lazy_array, open_h5

from ._em import (
    clean_units,
    dimension_type_for_units,
    parser_errors,
    plain,
    read_record,
    unique_names,
)
from ._metadata import normalised_metadata

__all__ = ["BerkeleyEMDReader", "is_berkeley_emd"]

_MAX_GROUPS = 10_000
_MAX_DIM_VALUES = 1 << 24


def is_berkeley_emd(path: Path) -> bool:
    """True when the HDF5 file at ``path`` has a group with ``emd_group_type``
    (or EMD version attributes at its root). Returns False on any error."""
    try:
        import h5py
    except ImportError:
        return False
    try:
        with h5py.File(path, "r", locking=False) as fh:
            if "version_major" in fh.attrs and "Version" not in fh:
                return True
            found = []

            def visit(name: str, obj: Any) -> Any:
                if "emd_group_type" in obj.attrs:
                    found.append(name)
                    return True
                return None

            fh.visititems(visit)
            return bool(found)
    except Exception:  # noqa: BLE001 - claims never raise
        return False


def _attrs(obj: Any) -> dict[str, Any]:
    out = {}
    for k, v in obj.attrs.items():
        try:
            out[str(k)] = plain(attr_to_python(v))
        except Exception:  # noqa: BLE001 - an unreadable attribute is skipped
            out[str(k)] = "<unreadable>"
    return out


def _tree(group: Any, depth: int = 0) -> dict[str, Any]:
    """Attributes of a group and its subgroups (no datasets' data)."""
    out: dict[str, Any] = dict(_attrs(group))
    if depth > 16:
        return out
    for key in list(group.keys())[:1000]:
        try:
            child = group[key]
        except Exception:  # noqa: BLE001 - broken links are skipped
            continue
        if hasattr(child, "keys"):
            out[key] = _tree(child, depth + 1)
    return out


def _dim_kind(name: str, units: str) -> DimensionType:
    kind = dimension_type_for_units(units, name)
    n = name.lower()
    if kind is DimensionType.UNKNOWN:
        if n.startswith(("r_", "x", "y")):
            return DimensionType.SPATIAL
        if n.startswith(("q_", "k_", "qx", "qy", "kx", "ky")):
            return DimensionType.RECIPROCAL
    return kind


class BerkeleyEMDReader(Reader):
    """Read Berkeley EMD (NCEM, py4DSTEM, Prismatic) ``.emd`` files.

    One Dataset per ``emd_group_type = 1`` group, dims in file order with the
    coordinates of the ``dimN`` datasets (uniform or not), their names and
    units. Attributes of the root, the data group and the ``microscope``,
    ``sample``, ``user``, ``comments`` and ``metadata`` groups are in
    ``original_metadata``.
    """

    name: ClassVar[str] = "emd"
    extensions: ClassVar[tuple[str, ...]] = (".emd", ".h5", ".hdf5")
    extra: ClassVar[str] = "emd"
    package: ClassVar[str] = "sidkit-readers"
    priority: ClassVar[int] = 10
    description: ClassVar[str] = "Berkeley EMD (NCEM / Prismatic / py4DSTEM) via h5py"

    def sniff(self, head: bytes) -> bool:
        return is_hdf5(head)

    def claims(self, path: Path, head: bytes) -> bool:
        return is_hdf5(head) and is_berkeley_emd(path)

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every EMD data group of the file.

        Parameters
        ----------
        path : pathlib.Path
            The ``.emd`` file.
        lazy : bool, default True
            Read chunk by chunk on demand.
        **options
            ``allow_external`` (default False): read datasets whose data
            live in other files.

        Returns
        -------
        dict of str to Dataset
            Named after each group's path (last component).
        """
        require("h5py", extra=self.extra, reader=self.name)
        allow_external = bool(options.get("allow_external", False))
        out: dict[str, Dataset] = {}
        with open_h5(path, self.name) as fh, parser_errors(path, self.name, "reading the EMD groups"):
            groups: list[str] = []

            def visit(name: str, obj: Any) -> None:
                if len(groups) < _MAX_GROUPS and hasattr(obj, "keys"):
                    try:
                        kind = int(np.asarray(obj.attrs.get("emd_group_type", 0)).reshape(-1)[0])
                    except (TypeError, ValueError, IndexError):
                        kind = 0
                    if kind == 1:
                        groups.append(name)

            fh.visititems(visit)
            root = _tree(fh) if len(fh.keys()) < 1000 else _attrs(fh)
            for index, gname in enumerate(groups):
                ds = self._read_group(path, fh, gname, root, index, lazy, allow_external)
                if ds is None:
                    continue
                key = gname.rstrip("/").split("/")[-1]
                if key in out:
                    key = gname.replace("/", "_")
                out[key] = ds
        if not out:
            raise CorruptFileError(path, self.name, "holds no EMD data group (emd_group_type = 1) "
                                   "with a data array; is it a Berkeley EMD file?")
        return out

    def _read_group(self, path: Path, fh: Any, gname: str, root: dict[str, Any], index: int,
                    lazy: bool, allow_external: bool) -> Dataset | None:
        group = fh[gname]
        arrays = [k for k in group.keys()
                  if not re.fullmatch(r"dim\d+", k) and hasattr(group[k], "shape")]
        if not arrays:
            return None
        data_name = "data" if "data" in arrays else arrays[0]
        dset = group[data_name]
        check_storage(dset, path, self.name, allow_external=allow_external)
        shape = tuple(int(n) for n in dset.shape)
        dims = []
        for axis, n in enumerate(shape):
            dname = f"dim{axis + 1}"
            name, units, values = f"dim_{axis}", "", None
            if dname in group:
                d = group[dname]
                a = _attrs(d)
                name = str(a.get("name") or name)
                units = clean_units(a.get("units"))
                if d.shape == (n,) and n <= _MAX_DIM_VALUES and d.dtype.kind in "iuf":
                    values = np.asarray(d[()], dtype=float)
            kind = _dim_kind(name, units)
            dims.append(Dimension(name, values if values is not None else n, units=units,
                                  dimension_type=kind,
                                  quantity={"SPATIAL": "length", "RECIPROCAL": "reciprocal length",
                                            "SPECTRAL": "energy", "TEMPORAL": "time"}.get(kind.name, "generic")))
        dims = unique_names(dims)
        data = lazy_array(path, dset, self.name)
        if not lazy:
            data = data.persist()
        title = str(_attrs(group).get("title") or gname.rstrip("/").split("/")[-1])
        original = {"group": gname, "attrs": _attrs(group), "file": root}
        spatial = [d for d in dims if d.dimension_type is DimensionType.SPATIAL]
        beam = self._beam_energy(root)
        metadata = normalised_metadata(
            beam={"energy_eV": beam},
            calibration={"pixel_size": [d.scale for d in spatial[:2]],
                         "pixel_units": [d.units for d in spatial[:2]]},
            instrument={"software": "Prismatic" if "4DSTEM_simulation" in fh else None},
        )
        return Dataset(data, dims, title=title, quantity="intensity", units="a.u.",
                       source=str(path), metadata=metadata, original_metadata=original,
                       provenance=[read_record(self.name, path, group=gname, index=index)])

    @staticmethod
    def _beam_energy(root: dict[str, Any]) -> float | None:
        """Beam energy in eV from ``microscope`` attributes or Prismatic's ``E`` (keV)."""
        mic = root.get("microscope") if isinstance(root.get("microscope"), dict) else {}
        for key in ("voltage", "high_tension", "accelerating_voltage", "beam_energy"):
            v = mic.get(key)
            if isinstance(v, (int, float)) and v > 0:
                return float(v) if v > 1e3 else float(v) * 1e3
        sim = root.get("4DSTEM_simulation", {})
        try:
            params = sim["metadata"]["metadata_0"]["original"]["simulation_parameters"]
            e = params.get("E")
            if isinstance(e, (int, float)) and e > 0:
                return float(e) * 1e3
        except (KeyError, TypeError):
            pass
        return None
