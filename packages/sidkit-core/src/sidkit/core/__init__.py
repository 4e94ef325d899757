"""sidkit-core: the N-dimensional Dataset, its dimensions, errors, plugin
registry and ``load`` / ``save``.

Importing this package imports numpy and dask only; plugins are found through
entry points when first needed.
"""

from ._version import __version__
from .dataset import Dataset, guess_data_type
from .dimension import Dimension
from .enums import DataType, DimensionType
from .errors import (
    AmbiguousFormatError,
    CorruptFileError,
    DimensionMismatchError,
    FileError,
    MissingDependencyError,
    PluginError,
    SidkitError,
    SidkitFileNotFoundError,
    TruncatedFileError,
    UnknownFormatError,
    UnsafeFileError,
    UnsupportedOperationError,
)
from .io import load, load_all, save
from .plugins import HEAD_SIZE, Reader, Writer, module_available, require
from .provenance import make_record
from .registry import (
    PluginInfo,
    choose_reader,
    choose_writer,
    get_process,
    get_reader,
    get_writer,
    plugins,
    processes,
    readers,
    register_process,
    register_reader,
    register_writer,
    writers,
)

__all__ = [
    "__version__",
    "Dataset",
    "Dimension",
    "DimensionType",
    "DataType",
    "guess_data_type",
    "load",
    "load_all",
    "save",
    "Reader",
    "Writer",
    "HEAD_SIZE",
    "require",
    "module_available",
    "make_record",
    "PluginInfo",
    "plugins",
    "readers",
    "writers",
    "processes",
    "get_reader",
    "get_writer",
    "get_process",
    "register_reader",
    "register_writer",
    "register_process",
    "choose_reader",
    "choose_writer",
    "SidkitError",
    "FileError",
    "UnknownFormatError",
    "AmbiguousFormatError",
    "CorruptFileError",
    "TruncatedFileError",
    "UnsafeFileError",
    "SidkitFileNotFoundError",
    "MissingDependencyError",
    "PluginError",
    "DimensionMismatchError",
    "UnsupportedOperationError",
]
