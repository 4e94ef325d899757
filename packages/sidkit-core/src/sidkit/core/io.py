"""``load``, ``load_all`` and ``save``: files in and out through the plugins."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .dataset import Dataset
from .errors import CorruptFileError, PluginError, SidkitError, UnknownFormatError
from .registry import choose_reader, choose_writer

__all__ = ["load", "load_all", "save"]


def load_all(
    path: str | os.PathLike[str],
    *,
    reader: str | None = None,
    lazy: bool = True,
    **options: Any,
) -> dict[str, Dataset]:
    """Load every dataset of a file.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.
    reader : str, optional
        Reader name from ``sidkit plugins``; skips detection.
    lazy : bool, default True
        Return dask-backed Datasets; nothing is read until computed.
    **options
        Passed to the reader (see its documentation).

    Returns
    -------
    dict of str to Dataset
        Datasets by name in file order; the first is the main dataset.

    Raises
    ------
    SidkitFileNotFoundError
        The file does not exist.
    UnknownFormatError
        No installed reader claims the file; the message lists candidates.
    AmbiguousFormatError
        Several readers claim it equally; pass ``reader=``.
    MissingDependencyError
        The reader's parser is not installed; the message names the extra.
    CorruptFileError
        The file is damaged, truncated or hostile.
    """
    path = Path(os.fspath(path)).expanduser()
    plugin = choose_reader(path, reader)
    if reader is not None and not path.exists():
        from .errors import SidkitFileNotFoundError

        raise SidkitFileNotFoundError(path, reader, "no such file or directory")
    try:
        result = plugin.read(path, lazy=lazy, **options)
    except SidkitError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise CorruptFileError(path, plugin.name, f"declares more than can be read ({type(exc).__name__})") from exc
    except Exception as exc:  # a plugin bug must not escape as a bare internal error
        raise CorruptFileError(
            path, plugin.name, f"could not be read: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, Mapping) or not all(isinstance(v, Dataset) for v in result.values()):
        raise PluginError(f"reader '{plugin.name}' returned {type(result).__name__}, not a dict of Datasets")
    if not result:
        raise UnknownFormatError(path, plugin.name, "the file holds no dataset this reader understands")
    return dict(result)


def load(
    path: str | os.PathLike[str],
    *,
    reader: str | None = None,
    lazy: bool = True,
    **options: Any,
) -> Dataset:
    """Load the main dataset of a file (see :func:`load_all` for parameters).

    Examples
    --------
    >>> ds = sidkit.core.load("spectrum_image.dm4")      # doctest: +SKIP
    >>> ds.sel(energy_loss=slice(400, 600)).sum("energy_loss").plot()  # doctest: +SKIP
    """
    return next(iter(load_all(path, reader=reader, lazy=lazy, **options).values()))


def save(
    data: Dataset | Mapping[str, Dataset],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    **options: Any,
) -> Path:
    """Save a Dataset, or several by name, to a file.

    Parameters
    ----------
    data : Dataset or mapping of str to Dataset
        What to write; a single dataset is named after its title.
    path : str or os.PathLike
        Destination. ``.h5`` writes NSID (needs sidkit-nsid); USID needs
        ``format="usid"``.
    format : str, optional
        Writer name from ``sidkit plugins``.
    **options
        Passed to the writer, e.g. ``mode="a"``, ``compression="gzip"``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    UnknownFormatError
        No installed writer for the format or extension.
    """
    path = Path(os.fspath(path)).expanduser()
    if isinstance(data, Dataset):
        mapping = {data.title or "dataset": data}
    elif isinstance(data, Mapping) and all(isinstance(v, Dataset) for v in data.values()):
        mapping = dict(data)
    else:
        raise TypeError(f"save() takes a Dataset or a mapping of name to Dataset, not {type(data).__name__}")
    writer = choose_writer(path, format)
    writer.write(mapping, path, **options)
    return path
