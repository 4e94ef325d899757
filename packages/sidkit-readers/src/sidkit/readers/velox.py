"""FEI / Thermo Fisher Velox EMD files (HDF5 with ``/Version`` = Velox).

Images, image stacks, EDS maps, spectra and spectrum images (decoded from
Velox's spectrum streams) are parsed by RosettaSciIO
(``pip install "sidkit-readers[velox]"``; spectrum streams also need sparse:
``pip install "sidkit-readers[velox-eds]"``). Berkeley EMD files share the
``.emd`` suffix; :meth:`VeloxReader.claims` tells them apart by content.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, MissingDependencyError, Reader, module_available, require
from sidkit.core.hdf5 import is_hdf5

from ._em import dataset_from_signal, parser_errors
from ._raw import SMALL_ARRAY_BYTES, SMALL_TOTAL_BYTES

__all__ = ["VeloxReader", "is_velox"]


def _is_velox_open(fh: Any) -> bool:
    """True when the open HDF5 file has ``/Data`` and a ``/Version`` JSON
    whose ``format`` is Velox (or Thermo's DevelopersKit)."""
    import h5py

    if "Version" not in fh or "Data" not in fh:
        return False
    dset = fh["Version"]
    if not isinstance(dset, h5py.Dataset) or dset.ndim != 1 or not 1 <= dset.shape[0] <= 16:
        return False  # RosettaSciIO reads Version[0]
    # the dataset's own read into an array of its dtype: h5py's indexing
    # machinery costs about 0.1 ms more, on every open of every .emd
    raw = np.empty(dset.shape, dtype=dset.dtype)
    dset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, raw)
    item = raw[0]
    item = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    version = json.loads(item)
    return isinstance(version, dict) and version.get("format") in ("Velox", "DevelopersKit")


def _inspect(fh: Any) -> tuple[bool, bool, bool]:
    """(is a Velox file, has a non-empty ``/Data/SpectrumStream``, is best
    parsed at once: see :func:`_parse_at_once`) of an open HDF5 file.
    Returns ``(False, False, False)`` on any error."""
    try:
        if not _is_velox_open(fh):
            return False, False, False
        grp = fh.get("Data/SpectrumStream")
        stream = bool(grp is not None and len(grp) > 0)
        return True, stream, _parse_at_once(fh["Data"], stream)
    except Exception:  # noqa: BLE001 - a damaged file is "not Velox" here; read() says why
        return False, False, False


def _parse_at_once(data: Any, stream: bool) -> bool:
    """Whether RosettaSciIO should parse ``/Data`` in memory rather than lazily.

    - A file of nothing but small images (and the ``Text`` notes, which
      RosettaSciIO does not read), at most ``SMALL_ARRAY_BYTES`` each and
      ``SMALL_TOTAL_BYTES`` in all: one pass is cheaper than lazy graphs.
    - An image or spectrum stored without HDF5 chunks: RosettaSciIO's lazy
      parse takes the dataset's chunks as dask chunks and fails on such
      (valid) files; its in-memory parse reads them.

    One walk over the image and spectrum groups decides both.
    """
    keys = set(data.keys())
    small = not stream and "Image" in keys and keys <= {"Image", "Text"}
    total = 0
    for kind in ("Image", "Spectrum"):
        groups = data.get(kind)
        for group in groups.values() if groups is not None else ():
            dset = group.get("Data") if hasattr(group, "get") else None
            if dset is None or not hasattr(dset, "shape"):
                small = False
                continue
            if dset.chunks is None:
                return True
            if small:
                nbytes = int(np.prod(dset.shape, dtype=np.int64)) * dset.dtype.itemsize
                total += nbytes
                small = not dset.dtype.names and nbytes <= SMALL_ARRAY_BYTES and total <= SMALL_TOTAL_BYTES
    return small


def is_velox(path: Path) -> bool:
    """True when ``path`` is an HDF5 file whose ``/Version`` says Velox.

    Opens with HDF5's default locking, as RosettaSciIO does: HDF5 refuses to
    open one file twice with different locking flags, and a lazy read keeps
    the file open. Returns False on any error.
    """
    try:
        import h5py

        with h5py.File(path, "r") as fh:
            return _is_velox_open(fh)
    except Exception:  # noqa: BLE001 - claims never raise
        return False


class _FramesFirst:
    """Picklable view of a Velox image dataset, stored ``(y, x, frames)``, as
    ``(frames, y, x)`` (or ``(y, x)`` for ``single`` frame images)."""

    __slots__ = ("proxy", "single", "axes", "shape", "dtype", "ndim")

    def __init__(self, proxy: Any, single: bool) -> None:
        self.proxy = proxy
        self.single = single
        self.axes = (0, 1) if single else (2, 0, 1)  # stored axis of each axis here
        self.shape = tuple(proxy.shape[i] for i in self.axes)
        self.dtype = proxy.dtype
        self.ndim = len(self.shape)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("sidkit-velox-frames", self.proxy.__dask_tokenize__(), self.single)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) != self.ndim or not all(isinstance(k, slice) for k in key):
            return self.read_all()[key]
        if self.single:
            return np.asarray(self.proxy[(key[0], key[1], 0)])
        return np.transpose(np.asarray(self.proxy[(key[1], key[2], key[0])]), (2, 0, 1))

    def __repr__(self) -> str:
        return f"_FramesFirst({self.proxy!r}, single={self.single})"

    def read_all(self) -> np.ndarray:
        """Every value, in one HDF5 read."""
        return self[(slice(None),) * self.ndim]

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)


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
        if not is_hdf5(head):
            return False
        if not module_available("h5py"):
            # cannot look inside: claim .emd so that read() names the extra to install
            return path.suffix.lower() == ".emd"
        return is_velox(path)

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
        if not module_available("h5py"):
            raise MissingDependencyError(
                f"{path}: reading .emd files needs h5py, which is not installed: "
                "pip install 'sidkit-readers[velox]' (Thermo Fisher Velox) or "
                "'sidkit-readers[emd]' (Berkeley EMD)"
            )
        velox_api = require("rsciio.emd._emd_velox", extra=self.extra, reader=self.name,
                            pip_name="rosettasciio")
        allowed = {"sum_frames", "sum_EDS_detectors", "rebin_energy", "first_frame",
                   "last_frame", "SI_dtype", "load_SI_image_stack", "select_type"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"reader 'velox' got unknown options {sorted(unknown)}; "
                            f"it accepts {sorted(allowed)}")
        import h5py

        try:
            fh = h5py.File(path, "r")  # one open for the checks and RosettaSciIO's parse
        except Exception:  # noqa: BLE001 - diagnosed below
            fh = None
        velox, stream, at_once = _inspect(fh) if fh is not None else (False, False, False)
        if not velox:
            if fh is not None:
                fh.close()  # HDF5 would refuse open_h5's second open with other locking
            from sidkit.core.hdf5 import open_h5

            with open_h5(path, self.name):  # a damaged HDF5 file gets HDF5's diagnosis
                pass
            raise CorruptFileError(path, self.name, "is not a Velox EMD file (no /Version with "
                                   "format 'Velox'); for Berkeley EMD use reader='emd'")
        try:
            if (options.get("select_type") not in ("images", "single_spectrum")
                    and stream and not module_available("sparse")):
                raise MissingDependencyError(
                    f"{path}: reader 'velox': this file holds an EDS spectrum stream, whose "
                    "decoding needs sparse: pip install 'sidkit-readers[velox-eds]' "
                    "(or pass select_type='images' to read only its images)"
                )
            # small-file fast path: a file of a few small images is read now, in
            # RosettaSciIO's one pass; so are datasets stored without chunks
            # (see _parse_at_once)
            eager = not lazy or at_once
            with parser_errors(path, self.name, "parsing the Velox file"):
                # what rsciio.emd.file_reader does once it knows the file is Velox
                parser = velox_api.FeiEMDReader(lazy=not eager, **options)
                parser.read_file(fh)
                signals = parser.dictionaries
        except BaseException:
            fh.close()
            raise
        if eager:
            fh.close()  # a lazy parse keeps it open for RosettaSciIO's arrays
        own = self._own_arrays(path, signals) if not eager else [None] * len(signals)
        out: dict[str, Dataset] = {}
        for i, (sig, mine) in enumerate(zip(signals, own)):
            if mine is not None:
                sig = {**sig, "data": mine}
            with parser_errors(path, self.name, "decoding the Velox metadata"):
                ds = dataset_from_signal(sig, path, self.name, vendor="Thermo Fisher Scientific",
                                         software="Velox", index=i, guard=mine is None)
                ds = self._add_detector(ds, sig)
            key = ds.title or f"dataset_{i}"
            if key in out:
                key = f"{key}_{i}"
            out[key] = ds
        return out

    def _own_arrays(self, path: Path, signals: list[dict[str, Any]]) -> list[Any]:
        """Replace RosettaSciIO's lazy image arrays by picklable ones.

        RosettaSciIO's lazy images are dask arrays over an open h5py dataset
        (``/Data/Image/<uuid>/Data``, stored (y, x, frames)), which keeps the
        file open and cannot be sent to worker processes. Where a signal is
        such an image, sidkit builds the same array from a path-based proxy
        (:class:`sidkit.core.hdf5.H5ArrayProxy`); when every signal was
        replaced, RosettaSciIO's file handle is closed. Signals it cannot
        match (spectrum streams, FFT/DPC compound data) keep RosettaSciIO's
        array, and then all signals keep RosettaSciIO's arrays (HDF5 refuses to
        open one file with two locking settings at once).
        """
        import dask.array as da
        import h5py
        from dask.array.core import normalize_chunks
        from dask.base import tokenize

        from sidkit.core.fastpath import register_direct_read
        from sidkit.core.hdf5 import H5ArrayProxy, auto_chunks

        out: list[Any] = []
        handles = []
        for sig in signals:
            data = sig["data"]
            mine = None
            try:
                graph = dict(data.__dask_graph__()) if hasattr(data, "__dask_graph__") else {}
                dsets = {v.name: v for v in graph.values() if isinstance(v, h5py.Dataset)}
                if len(dsets) == 1:
                    dset = next(iter(dsets.values()))
                    handles.append(dset.file)
                    if dset.ndim == 3 and not dset.dtype.names and dset.name.startswith("/Data/Image/"):
                        proxy = H5ArrayProxy(path, dset.name, dset.shape, dset.dtype, dset.chunks, self.name)
                        chunks = auto_chunks(proxy.shape, proxy.dtype.itemsize, dset.chunks)
                        if isinstance(chunks, str):
                            chunks = normalize_chunks(chunks, proxy.shape, dtype=proxy.dtype)
                        frames = _FramesFirst(proxy, single=tuple(data.shape) == tuple(dset.shape[:2]))
                        chunks = tuple(chunks[i] for i in frames.axes)
                        name = (f"velox-{path.name}-"
                                f"{tokenize(str(path), dset.name, path.stat().st_mtime_ns, frames.single)}")
                        arr = da.from_array(frames, chunks=chunks, name=name, lock=False, asarray=True,
                                            meta=np.empty((0,) * frames.ndim, dtype=frames.dtype))
                        if tuple(arr.shape) == tuple(data.shape) and arr.dtype == data.dtype:
                            mine = register_direct_read(arr, frames.read_all)
            except Exception:  # noqa: BLE001 - keep RosettaSciIO's array
                mine = None
            out.append(mine)
        if not all(m is not None for m in out):
            # RosettaSciIO's handle stays open (default locking) for the signals
            # it keeps; HDF5 would refuse sidkit's unlocked reads of the same file
            return [None] * len(out)
        for fh in {id(h): h for h in handles}.values():
            try:
                fh.close()
            except Exception:  # noqa: BLE001
                pass
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
        try:
            dwell = float(om.get("Scan", {}).get("DwellTime"))
        except (AttributeError, TypeError, ValueError):
            dwell = None
        try:
            index = om["BinaryResult"]["DetectorIndex"]
            scanning = om["Detectors"][f"Detector-{index}"]["DetectorType"] == "ScanningDetector"
        except (KeyError, TypeError):
            scanning = False
        if scanning and dwell and dwell > 0 and "dwell_time_s" not in acq:
            acq["dwell_time_s"] = dwell
        ds.metadata.setdefault("instrument", {}).setdefault("vendor", "Thermo Fisher Scientific")
        return ds
