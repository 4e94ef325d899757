"""Berkeley EMD files (NCEM electron microscopy dataset, HDF5).

Every group with ``emd_group_type = 1`` is one dataset: its data array plus
``dim1`` ... ``dimN`` datasets giving the coordinates of each axis (``name``
and ``units`` attributes). Read with h5py directly
(``pip install "sidkit-readers[emd]"``); data are read lazily chunk by chunk
through picklable proxies. Velox files share the ``.emd`` suffix; the
readers tell them apart by content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Dimension, DimensionType, Reader, require
from sidkit.core.hdf5 import attr_to_python, check_storage, h5_file, is_hdf5, lazy_array, open_h5

from ._em import (
    clean_units,
    dimension_type_for_units,
    parser_errors,
    plain,
    read_record,
    unique_names,
)
from ._metadata import normalised_metadata
from ._raw import SMALL_ARRAY_BYTES, SMALL_TOTAL_BYTES

__all__ = ["BerkeleyEMDReader", "is_berkeley_emd"]

_MAX_GROUPS = 10_000
_MAX_OBJECTS = 100_000
_MAX_CHILDREN = 1000
_MAX_DEPTH = 17
_MAX_DIM_VALUES = 1 << 24
#: string data (RosettaSciIO returns them as text arrays) are read whole, up to this many
_MAX_TEXT_ELEMENTS = 1 << 16
_DATA_NAMES = ("data", "counted_datacube", "datacube", "diffractionslice", "realslice",
               "pointlistarray", "pointlist")
_QUANTITY = {"SPATIAL": "length", "RECIPROCAL": "reciprocal length", "SPECTRAL": "energy",
             "TEMPORAL": "time"}
_UNIT_SPELLING = {"degree": "deg", "degrees": "deg", "us": "µs", "usec": "µs"}
#: Prismatic's short simulation-parameter names, as RosettaSciIO spells them out
_PRISMATIC_KEYS = {"ns": "numSlices", "s": "sliceThickness", "zs": "zStart", "E": "E0",
                   "c": "cellDimension", "t": "tile", "px": "realspacePixelSizeX",
                   "py": "realspacePixelSizeY", "d": "detectorAngleStep", "sa": "probeSemiangle",
                   "df": "probeDefocus", "F": "numFP", "a": "algorithm", "i": "filenameAtoms",
                   "fx": "interpolationFactorX", "fy": "interpolationFactorY", "P": "potBound",
                   "A": "alphaBeamMax", "rx": "probeStepX", "ry": "probeStepY", "tx": "probeXtilt",
                   "ty": "probeYtilt", "wx": "scanWindowX", "wy": "scanWindowY", "2D": "integrationAngle",
                   "3D": "save3DOutput", "4D": "save4DOutput", "DPC": "saveDPC_CoM",
                   "ps": "savePotentialSlices", "nqs": "nyquistSampling", "oc": "includeOccupancy",
                   "te": "includeThermalEffects"}


def _walk(fh: Any) -> list[tuple[str, str, int]]:
    """``(path, "group" | "dataset" | "other", number of attributes)`` of the objects under ``fh``
    (hard links, each object once, in name order), from HDF5's own visit:
    no h5py object is built for them. Stops after ``_MAX_OBJECTS``."""
    import h5py

    out: list[tuple[str, str, int]] = []
    kinds = {h5py.h5o.TYPE_GROUP: "group", h5py.h5o.TYPE_DATASET: "dataset"}

    def visit(name: bytes, info: Any) -> int | None:
        out.append((name.decode("utf-8", "replace"), kinds.get(info.type, "other"), int(info.num_attrs)))
        return 1 if len(out) >= _MAX_OBJECTS else None

    h5py.h5o.visit(fh.id, visit, info=True)
    return out


def is_berkeley_emd(path: Path) -> bool:
    """True when the HDF5 file at ``path`` has a group with ``emd_group_type``
    (or EMD version attributes at its root). Returns False on any error."""
    try:
        import h5py

        with h5_file(path, "r") as fh:
            if "Version" in fh and "Data" in fh:
                return False  # a Velox file (same suffix); not Berkeley EMD
            if "version_major" in fh.attrs:
                return True
            return any(kind == "group" and n_attrs
                       and h5py.h5a.exists(fh.id, b"emd_group_type", obj_name=name.encode())
                       for name, kind, n_attrs in _walk(fh))
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


def _tree(fh: Any, walk: list[tuple[str, str, int]]) -> dict[str, dict[str, Any]]:
    """Attributes of the root and its groups (no datasets' data) as one nested
    tree: ``{"": root node, "<group path>": its node, ...}``, each node the
    group's attributes plus its subgroups' nodes. Groups deeper than
    ``_MAX_DEPTH`` or past the ``_MAX_CHILDREN``-th member of their parent
    are left out."""
    nodes: dict[str, dict[str, Any]] = {"": _attrs(fh)}
    members: dict[str, int] = {}
    for name, kind, n_attrs in walk:
        parent, _, key = name.rpartition("/")
        members[parent] = members.get(parent, 0) + 1
        node = nodes.get(parent)
        if kind != "group" or node is None or members[parent] > _MAX_CHILDREN or name.count("/") >= _MAX_DEPTH:
            continue
        try:
            child = _attrs(fh[name]) if n_attrs else {}
        except Exception:  # noqa: BLE001 - a broken group is skipped
            continue
        node[key] = child
        nodes[name] = child
    return nodes


def _is_emd_group(value: Any) -> bool:
    """Whether an ``emd_group_type`` attribute marks a data group: 1 in EMD
    0.x, a name such as ``"array"`` in EMD 1.0 (py4DSTEM, emdfile); any true
    value, as RosettaSciIO reads it."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value)
    try:
        return bool(np.asarray(value).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return False


def _dim_values(vector: np.ndarray, n: int) -> np.ndarray | None:
    """Coordinates of an axis of ``n`` points from its ``dimN`` vector.

    A vector of ``n`` values is kept as it is unless it is linear to within
    the rounding of its dtype (Prismatic and ncempy write float32 vectors),
    which gives the exact linear axis through its end points. A shorter
    vector starts a linear axis (EMD 1.0 writes its first two points; a
    single point gives only the start). None when not finite.
    """
    values = np.asarray(vector, dtype=float)
    if values.size == 0 or not np.isfinite(values).all():
        return None
    if len(values) == n and not _is_linear(values, vector.dtype):
        return values
    # one point gives only the start: unit steps from it
    step = (values[-1] - values[0]) / (len(values) - 1) if len(values) > 1 else 1.0
    return float(values[0]) + step * np.arange(n, dtype=float)


def _is_linear(values: np.ndarray, dtype: np.dtype) -> bool:
    """Whether ``values`` (at least two) lie on the line through their end points
    to within a few units of the last place of ``dtype`` (float64 for integers)."""
    if len(values) < 3:
        return len(values) == 2
    eps = np.finfo(dtype).eps if np.dtype(dtype).kind == "f" else np.finfo(float).eps
    line = np.linspace(values[0], values[-1], len(values))
    return bool(np.max(np.abs(values - line)) <= 8 * eps * float(np.max(np.abs(values))))


def _is_text(dset: Any) -> bool:
    """Whether an HDF5 dataset holds strings (fixed or variable length)."""
    import h5py

    return h5py.check_string_dtype(dset.dtype) is not None


def _layout(dset: Any) -> tuple[Any, ...] | None:
    """Shape and dtype of a dataset (None for anything else), to tell stackable data."""
    return (dset.shape, dset.dtype) if hasattr(dset, "shape") and hasattr(dset, "dtype") else None


def _units(value: Any) -> str:
    """Axis units as :func:`clean_units` spells them, with the spellings RosettaSciIO's
    unit parser gives for a few long forms (``degrees`` is ``deg``, ``us`` is ``µs``)."""
    units = clean_units(value)
    return _UNIT_SPELLING.get(units, units)


def _own_attrs(nodes: dict[str, dict[str, Any]], group: str) -> dict[str, Any]:
    """The attributes of ``group`` from :func:`_tree`'s nodes (its subgroups' nodes left out)."""
    path = group.strip("/")
    node = nodes.get(path, {})
    return {k: v for k, v in node.items() if v is not nodes.get(f"{path}/{k}" if path else k)}


def _dim_kind(name: str, units: str) -> DimensionType:
    kind = dimension_type_for_units(units, name)
    n = name.lower()
    if kind is DimensionType.UNKNOWN:
        if n.startswith(("r_", "rx", "ry", "x", "y")):
            return DimensionType.SPATIAL
        if n.startswith(("q_", "k_", "qx", "qy", "kx", "ky")):
            return DimensionType.RECIPROCAL
    return kind


def _unique_key(out: dict[str, Any], title: str, stem: str) -> str:
    """``title``, else the stem's path joined by ``_``, else that with a counter: a new key of ``out``."""
    key = title if title not in out else stem.strip("/").replace("/", "_")
    base, i = key, 1
    while key in out:
        key, i = f"{base}_{i}", i + 1
    return key


class BerkeleyEMDReader(Reader):
    """Read Berkeley EMD (NCEM, py4DSTEM, Prismatic) ``.emd`` files.

    One Dataset per data array of a group with ``emd_group_type`` (1 in EMD
    0.x, ``"array"`` in EMD 1.0), dims in file order with the coordinates of
    the ``dimN`` datasets (uniform or not; a shorter vector starts a linear
    axis), their names and units. Numbered groups (Prismatic's output depths)
    are stacked along a leading axis, with the depth in Å where the
    simulation parameters give it. String data come back as text arrays;
    point lists and scalar metadata values are skipped. Attributes of the
    root, the data group and the ``microscope``, ``sample``, ``user``,
    ``comments`` and ``metadata`` groups are in ``original_metadata``.
    """

    name: ClassVar[str] = "emd"
    extensions: ClassVar[tuple[str, ...]] = (".emd", ".h5", ".hdf5")
    extra: ClassVar[str] = "emd"
    package: ClassVar[str] = "sidkit-readers"
    # below NSID (10) and USID (20): an NSID file keeps converted EMD/Nion metadata
    priority: ClassVar[int] = 5
    description: ClassVar[str] = "Berkeley EMD (NCEM / Prismatic / py4DSTEM) via h5py"

    def sniff(self, head: bytes) -> bool:
        return is_hdf5(head)

    def claims(self, path: Path, head: bytes) -> bool:
        return is_hdf5(head) and is_berkeley_emd(path)

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every EMD dataset of the file.

        Parameters
        ----------
        path : pathlib.Path
            The ``.emd`` file.
        lazy : bool, default True
            Read chunk by chunk on demand.
        **options
            ``stack_groups`` (default True): stack the data of groups
            whose path contains an earlier group's path (in Prismatic
            files, less its counter: ``..._depth0000``, ``..._depth0001``)
            into one dataset with a leading axis, as RosettaSciIO does;
            ``allow_external`` (default False): read datasets whose data
            live in other files.

        Returns
        -------
        dict of str to Dataset
            Named after each group (the common stem for stacked groups).
        """
        require("h5py", extra=self.extra, reader=self.name)
        allow_external = bool(options.get("allow_external", False))
        stack = bool(options.get("stack_groups", True))
        out: dict[str, Dataset] = {}
        with open_h5(path, self.name) as fh, parser_errors(path, self.name, "reading the EMD groups"):
            walk = _walk(fh)
            nodes = _tree(fh, walk)
            root = nodes[""]
            paths = self._dataset_paths(walk, nodes)
            prismatic = "4DSTEM_simulation" in fh
            simulation = self._simulation_parameters(fh, root) if prismatic else {}
            budget = [SMALL_TOTAL_BYTES]  # small arrays are read now, while the file is open
            index = 0
            for members, dname, stem in self._groupings(fh, paths, prismatic and stack, stack):
                title = stem.split("/")[-1].replace("_depth", "") or dname
                depth = "depth" in stem.split("/")[-1]
                ds = self._read_groups(path, fh, members, dname, title, nodes, simulation, index,
                                       lazy, allow_external, budget, depth=depth)
                if ds is None:
                    continue
                out[_unique_key(out, title, stem)] = ds
                index += 1
        if not out:
            raise CorruptFileError(path, self.name, "holds no EMD data group (emd_group_type = 1) "
                                   "with a data array; is it a Berkeley EMD file?")
        return out

    @staticmethod
    def _dataset_paths(walk: list[tuple[str, str, int]], nodes: dict[str, dict[str, Any]]) -> list[str]:
        """Datasets named like EMD data inside groups with ``emd_group_type``."""
        found: list[str] = []
        for name, kind, _ in walk:
            if kind != "dataset" or not name.rpartition("/")[2].startswith(_DATA_NAMES):
                continue
            if _is_emd_group(nodes.get(name.rpartition("/")[0], {}).get("emd_group_type")):
                found.append(name)
                if len(found) >= _MAX_GROUPS:
                    break
        return found

    @staticmethod
    def _groupings(fh: Any, paths: list[str], prismatic: bool, stack: bool) -> list[tuple[list[str], str, str]]:
        """``(member groups, dataset name, stem)`` of each dataset to return.

        With ``stack``, the data of every later path that contains a group's
        path (Prismatic: the group path less its four-digit counter, except
        for potential slices) join that group, as RosettaSciIO stacks them;
        members whose data differ in name, shape or dtype from the first are
        returned on their own instead.
        """
        paths = list(paths)
        out: list[tuple[list[str], str, str]] = []
        while paths:
            first = paths.pop(0)
            group, _, dname = first.rpartition("/")
            stem = group[:-4] if prismatic and "ppotential" not in first else group
            others = [o for o in paths if stem in o] if stack else []
            layout = _layout(fh.get(first))
            same = [o for o in others if o.rpartition("/")[2] == dname and _layout(fh.get(o)) == layout]
            for other in others:
                paths.remove(other)
            out.append(([group] + [o.rpartition("/")[0] for o in same], dname, stem if same else group))
            out.extend(([o.rpartition("/")[0]], o.rpartition("/")[2], o.rpartition("/")[0])
                       for o in others if o not in same)
        return out

    @staticmethod
    def _simulation_parameters(fh: Any, root: dict[str, Any] | None = None) -> dict[str, Any]:
        where = "4DSTEM_simulation/metadata/metadata_0/original/simulation_parameters"
        grp = fh.get(where)
        if grp is None:
            return {}
        # the root tree holds this group's attributes already when the group
        # has no members (its node is then exactly its attributes)
        node: Any = root
        for part in where.split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if not (isinstance(node, dict) and hasattr(grp, "keys") and len(grp) == 0):
            node = _attrs(grp)
        return {_PRISMATIC_KEYS.get(k, k): v for k, v in node.items()}

    def _read_groups(self, path: Path, fh: Any, members: list[str], dname: str, title: str,
                     nodes: dict[str, dict[str, Any]], simulation: dict[str, Any], index: int, lazy: bool,
                     allow_external: bool, budget: list[int] | None = None, *,
                     depth: bool = False) -> Dataset | None:
        import dask.array as da

        dsets = [fh.get(f"{g}/{dname}") for g in members]
        if any(d is None or not hasattr(d, "shape") or not d.shape for d in dsets):
            return None  # absent, or a scalar (a metadata value, not an array)
        for d in dsets:
            check_storage(d, path, self.name, allow_external=allow_external)
        text = _is_text(dsets[0])
        if dsets[0].dtype.kind not in "biufc" and not text:
            return None  # compound tables (point lists) are not arrays
        if text and sum(d.size for d in dsets) > _MAX_TEXT_ELEMENTS:
            return None
        group = fh[members[0] or "/"]  # data may sit at the root
        shape = tuple(int(n) for n in dsets[0].shape)
        base = 0 if f"{members[0]}/dim0" in fh else 1
        dims = []
        for axis, n in enumerate(shape):
            dname_axis = f"dim{axis + base}"
            name, units, values = f"dim_{axis}", "", None
            if dname_axis in group:
                dd = group[dname_axis]
                a = _attrs(dd)
                name = str(a.get("name") or name)
                units = _units(a.get("units"))
                if dd.ndim == 1 and 1 <= dd.shape[0] <= _MAX_DIM_VALUES and dd.dtype.kind in "iuf":
                    values = _dim_values(np.asarray(dd[()]), n)
            kind = _dim_kind(name, units)
            dims.append(Dimension(name, values if values is not None else n, units=units,
                                  dimension_type=kind, quantity=_QUANTITY.get(kind.name, "generic")))
        nbytes = sum(int(np.prod(d.shape, dtype=np.int64)) * d.dtype.itemsize for d in dsets)
        if text:
            arrays = [np.asarray(d.asstr(errors="replace")[()], dtype=str) for d in dsets]
        elif budget is not None and nbytes <= min(SMALL_ARRAY_BYTES, budget[0]):
            # small-file fast path: one read now beats a lazy graph over a few kB
            budget[0] -= nbytes
            arrays = [np.asarray(d[()]) for d in dsets]
        else:
            arrays = [lazy_array(path, d, self.name) for d in dsets]
        if len(arrays) > 1:
            data = np.stack(arrays) if isinstance(arrays[0], np.ndarray) else da.stack(arrays)
            dims.insert(0, self._stack_dim(len(arrays), simulation if depth else {}))
            keep = [i for i, n in enumerate(data.shape) if n != 1]
            if len(keep) != data.ndim:  # RosettaSciIO squeezes stacked data
                data = data.reshape(tuple(data.shape[i] for i in keep))
                dims = [dims[i] for i in keep]
        else:
            data = arrays[0]
        dims = unique_names(dims)
        if not lazy and not isinstance(data, np.ndarray):
            data = data.persist()
        root = nodes[""]
        original = {"groups": members, "dataset": dname, "attrs": _own_attrs(nodes, members[0]), "file": root}
        if simulation:
            original["simulation_parameters"] = simulation
        spatial = [d for d in dims if d.dimension_type is DimensionType.SPATIAL]
        metadata = normalised_metadata(
            beam={"energy_eV": self._beam_energy(root)},
            calibration={"pixel_size": [d.scale for d in spatial[:2]],
                         "pixel_units": [d.units for d in spatial[:2]]},
            instrument={"software": "Prismatic" if simulation else None},
        )
        return Dataset(data, dims, title=title, quantity="intensity", units="a.u.",
                       source=str(path), metadata=metadata, original_metadata=original,
                       provenance=[read_record(self.name, path, groups=members, index=index)])

    @staticmethod
    def _stack_dim(n: int, simulation: dict[str, Any]) -> Dimension:
        """The stacking axis: Prismatic output depth in Å when the depths tile
        the cell uniformly, else an index.

        Each output lies ``numSlices * sliceThickness`` deeper than the last,
        the first at ``zStart`` (or one step down when ``zStart`` is 0); as
        RosettaSciIO reads it, a missing ``numSlices`` gives unit steps and a
        missing ``zStart`` a start at 0.
        """
        try:
            scale = 1.0
            if "numSlices" in simulation:
                scale = float(simulation["numSlices"]) * float(simulation.get("sliceThickness", 1.0))
            offset = float(simulation["zStart"]) if "zStart" in simulation else 0.0
            if "zStart" in simulation and offset == 0:
                offset = scale
            total = float(np.asarray(simulation["tile"]).reshape(-1)[2]) * float(
                np.asarray(simulation["cellDimension"]).reshape(-1)[0])
            if np.isclose(total, n * scale, rtol=1e-4):
                return Dimension.linear("depth", n, scale=scale, offset=offset, units="Å",
                                        quantity="length", dimension_type=DimensionType.SPATIAL)
        except (KeyError, TypeError, ValueError, IndexError):
            pass
        return Dimension("stack", n, quantity="index", units="", dimension_type=DimensionType.UNKNOWN)

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
