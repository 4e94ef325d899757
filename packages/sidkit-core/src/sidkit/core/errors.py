"""The one error hierarchy of sidkit.

Every error raised by a sidkit package is a :class:`SidkitError`, and also the
builtin exception a caller would expect (``ValueError``, ``ImportError``, ...),
so ``except ValueError`` keeps working for people who do not know sidkit.

Errors about a file carry ``path`` and ``reader`` attributes and name both in
their message::

    raise CorruptFileError(path, "mrc", "header is unreadable") from exc
"""

from __future__ import annotations

import os

__all__ = [
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


class SidkitError(Exception):
    """Base class of every error raised by sidkit."""


class FileError(SidkitError):
    """An error about one file, naming the file and the reader or writer.

    Parameters
    ----------
    path_or_message : str or os.PathLike
        The file's path, or the full message when it is the only argument.
    reader : str, optional
        Name of the reader or writer that found the problem.
    detail : str, optional
        What is wrong and, where possible, what to do about it.
    """

    def __init__(
        self,
        path_or_message: str | os.PathLike[str],
        reader: str | None = None,
        detail: str | None = None,
    ) -> None:
        if reader is None and detail is None:
            self.path: str | None = None
            self.reader: str | None = None
            message = str(path_or_message)
        else:
            self.path = os.fspath(path_or_message)
            self.reader = reader
            who = f"reader '{reader}'" if reader else "sidkit"
            message = f"{self.path}: {who}: {detail or 'cannot be read'}"
        super().__init__(message)


class UnknownFormatError(FileError, ValueError):
    """No installed reader (or writer) recognises the file or format."""


class AmbiguousFormatError(UnknownFormatError):
    """Several readers claim a file with the same priority; pass ``reader=``."""


class CorruptFileError(FileError, ValueError):
    """The file is damaged or does not follow its format's specification."""


class TruncatedFileError(CorruptFileError):
    """The file ends before the data its header declares."""


class UnsafeFileError(CorruptFileError):
    """The file points outside itself (external links, virtual datasets) or
    declares sizes beyond sidkit's safety caps."""


class SidkitFileNotFoundError(FileError, FileNotFoundError):
    """The path does not exist."""


class MissingDependencyError(SidkitError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


class PluginError(SidkitError, RuntimeError):
    """A plugin failed to import or does not follow the plugin protocol."""


class DimensionMismatchError(SidkitError, ValueError):
    """Dimensions disagree with the data or with another dataset."""


class UnsupportedOperationError(SidkitError, TypeError):
    """The operation is not defined on a Dataset; the message says what to use."""
