"""sidkit-nsid: read and write NSID, the HDF5 layout of pyNSID / sidpy.

Importing this package imports numpy, dask and ``sidkit.core`` only; h5py is
imported when a file is read or written.

>>> import sidkit.core as sk
>>> ds = sk.load("image.h5")            # doctest: +SKIP
>>> sk.save(ds, "copy.h5", compression="gzip")   # doctest: +SKIP
"""

from ._version import __version__
from .layout import find_main_datasets, is_nsid_main
from .reader import NsidReader, read_nsid
from .writer import NsidWriter, write_nsid

__all__ = [
    "__version__",
    "NsidReader",
    "NsidWriter",
    "read_nsid",
    "write_nsid",
    "find_main_datasets",
    "is_nsid_main",
]
