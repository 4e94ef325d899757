"""sidkit-usid: read and write USID HDF5 files (pyUSID's layout).

>>> import sidkit.core
>>> ds = sidkit.core.load("band_excitation.h5")                 # doctest: +SKIP
>>> sidkit.core.save(ds, "copy.h5", format="usid")             # doctest: +SKIP

Importing this package imports numpy, dask and ``sidkit.core`` only; h5py is
imported when a file is read or written.
"""

from ._version import __version__
from .ancillary import AncillaryDim, AncillaryLayout, analyse_index_table, index_table_block
from .reader import UsidReader, find_main_datasets, read_usid
from .writer import POSITION_TYPES, SPECTROSCOPIC_TYPES, UsidWriter, split_dims, write_usid

__all__ = [
    "__version__",
    "UsidReader",
    "UsidWriter",
    "read_usid",
    "write_usid",
    "find_main_datasets",
    "split_dims",
    "analyse_index_table",
    "index_table_block",
    "AncillaryDim",
    "AncillaryLayout",
    "POSITION_TYPES",
    "SPECTROSCOPIC_TYPES",
]
