"""Plugin protocols: what a reader, a writer and a process declare.

Third parties publish a plugin with nothing but an entry point in their
package's ``pyproject.toml``::

    [project.entry-points."sidkit.readers"]
    myformat = "mypkg.reader:MyFormatReader"

A plugin module imports only the standard library, numpy and ``sidkit.core`` at
its top; its parser is imported inside :meth:`Reader.read` with :func:`require`,
so listing plugins stays cheap and a missing parser breaks only its own format.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import MissingDependencyError

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["Reader", "Writer", "require", "module_available", "HEAD_SIZE"]

#: Number of leading bytes handed to :meth:`Reader.sniff`.
HEAD_SIZE = 4096


def module_available(module: str) -> bool:
    """True when ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(
    module: str,
    *,
    extra: str | None = None,
    package: str = "sidkit-readers",
    reader: str | None = None,
    pip_name: str | None = None,
) -> ModuleType:
    """Import an optional dependency, or explain how to install it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"mrcfile"``.
    extra : str, optional
        The extra of ``package`` that installs it, e.g. ``"mrc"``.
    package : str, default "sidkit-readers"
        Distribution that declares ``extra``.
    reader : str, optional
        Name of the reader or function that needs it, for the message.
    pip_name : str, optional
        Name on PyPI when it differs from ``module``.

    Returns
    -------
    module

    Raises
    ------
    MissingDependencyError
        The module is not installed; the message says what to ``pip install``.
    """
    if not module_available(module):
        who = f"reader '{reader}'" if reader else "this feature"
        target = f"'{package}[{extra}]'" if extra else (pip_name or module.split(".")[0])
        raise MissingDependencyError(
            f"{who} needs {pip_name or module.split('.')[0]}, which is not installed: "
            f"pip install {target}"
        )
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is installed but failed to import ({exc}); reinstall it"
        ) from exc


class Reader:
    """Base class of reader plugins (entry-point group ``sidkit.readers``).

    Subclasses set the class attributes and implement :meth:`read`; they
    usually implement :meth:`sniff` and, when the first bytes are not enough
    (several layouts inside HDF5, for example), :meth:`claims`.

    Attributes
    ----------
    name : str
        Lower-case name users pass as ``reader=``; the entry-point name.
    extensions : tuple of str
        File suffixes, lower case with the dot: ``(".mrc", ".mrcs")``.
    extra : str or None
        Extra of :attr:`package` that installs the parser.
    package : str
        Distribution that provides the reader (for messages).
    priority : int
        When several readers claim one file, the highest priority wins; a tie
        raises :class:`~sidkit.core.AmbiguousFormatError`.
    description : str
        One line shown by ``sidkit plugins``.
    """

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    description: ClassVar[str] = ""

    def sniff(self, head: bytes) -> bool:
        """Cheap content check on the first :data:`HEAD_SIZE` bytes.

        Must never raise, whatever the bytes (short, empty, foreign).
        """
        return False

    def claims(self, path: Path, head: bytes) -> bool:
        """Whether this reader can read ``path``; may look inside the file.

        The default is :meth:`sniff`. Must never raise.
        """
        return self.sniff(head)

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        """Read every dataset of ``path``, main dataset first.

        Parameters
        ----------
        path : pathlib.Path
            File to read.
        lazy : bool, default True
            Return dask arrays that read on demand where the format allows.
        **options
            Reader-specific options.

        Returns
        -------
        dict of str to Dataset
            Datasets by name, in file order; the first is the main one.
        """
        raise NotImplementedError


class Writer:
    """Base class of writer plugins (entry-point group ``sidkit.writers``).

    Attributes
    ----------
    name : str
        Format name users pass as ``format=``.
    extensions : tuple of str
        Suffixes this writer is chosen for when no format is given.
    priority : int
        Among writers sharing a suffix, the highest priority is the default.
    """

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    description: ClassVar[str] = ""

    def write(
        self,
        datasets: Mapping[str, Dataset],
        path: Path,
        *,
        mode: str = "w",
        **options: Any,
    ) -> None:
        """Write ``datasets`` (name to Dataset) to ``path``.

        ``mode="w"`` replaces the file, ``mode="a"`` adds to it. A failed
        write must leave any previous file intact (see
        :func:`sidkit.core.atomic.replace_atomically`).
        """
        raise NotImplementedError

