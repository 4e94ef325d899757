"""The plugin registry: readers, writers and processes found through entry points.

Entry points are read once, on first use, and each plugin is imported only when
it is needed. A plugin that fails to import is recorded with its error and
reported by ``sidkit plugins``; it never breaks other plugins or the import of
``sidkit.core``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from .errors import (
    AmbiguousFormatError,
    PluginError,
    SidkitFileNotFoundError,
    UnknownFormatError,
)
from .plugins import HEAD_SIZE, Reader, Writer

__all__ = [
    "READERS",
    "WRITERS",
    "PROCESSES",
    "MODELS",
    "PluginInfo",
    "plugins",
    "get_reader",
    "get_writer",
    "get_process",
    "readers",
    "writers",
    "processes",
    "register_reader",
    "register_writer",
    "register_process",
    "choose_reader",
    "choose_writer",
    "refresh",
]

READERS = "sidkit.readers"
WRITERS = "sidkit.writers"
PROCESSES = "sidkit.processes"
MODELS = "sidkit.models"
GROUPS = (READERS, WRITERS, PROCESSES, MODELS)


@dataclass
class PluginInfo:
    """One plugin as the registry knows it.

    Attributes
    ----------
    group, name, value : str
        Entry-point group, name and ``module:attr`` target.
    distribution, version : str
        The package that declares it, and its version.
    error : str or None
        Why the plugin could not be loaded, or None.
    """

    group: str
    name: str
    value: str
    distribution: str = ""
    version: str = ""
    error: str | None = None
    _entry_point: EntryPoint | None = field(default=None, repr=False)
    _object: Any = field(default=None, repr=False)

    @property
    def loaded(self) -> bool:
        return self._object is not None

    def load(self) -> Any:
        """Import and return the plugin object; raise PluginError if it is broken."""
        if self._object is not None:
            return self._object
        if self.error is not None:
            raise PluginError(f"plugin '{self.name}' ({self.group}) is broken: {self.error}")
        try:
            assert self._entry_point is not None
            obj = self._entry_point.load()
            _validate(self.group, self.name, obj)
        except Exception as exc:  # any failure of third-party code is reported, not raised
            self.error = f"{type(exc).__name__}: {exc}"
            self._traceback = traceback.format_exc()
            raise PluginError(
                f"plugin '{self.name}' from {self.distribution or self.value} "
                f"failed to load: {self.error}"
            ) from exc
        self._object = obj
        return obj

    def try_load(self) -> Any | None:
        """Like :meth:`load`, but return None for a broken plugin."""
        try:
            return self.load()
        except PluginError:
            return None


def _validate(group: str, name: str, obj: Any) -> None:
    if group == READERS and not (isinstance(obj, type) and issubclass(obj, Reader)):
        raise TypeError(f"{obj!r} is not a sidkit.core.Reader subclass")
    if group == WRITERS and not (isinstance(obj, type) and issubclass(obj, Writer)):
        raise TypeError(f"{obj!r} is not a sidkit.core.Writer subclass")
    if group == PROCESSES and not callable(obj):
        raise TypeError(f"{obj!r} is not callable")


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[str, dict[str, PluginInfo]] | None = None

    def _scan(self) -> dict[str, dict[str, PluginInfo]]:
        found: dict[str, dict[str, PluginInfo]] = {g: {} for g in GROUPS}
        for group in GROUPS:
            for ep in sorted(entry_points(group=group), key=lambda e: e.name):
                dist = getattr(ep, "dist", None)
                info = PluginInfo(
                    group=group,
                    name=ep.name,
                    value=ep.value,
                    distribution=getattr(dist, "name", "") or "",
                    version=getattr(dist, "version", "") or "",
                    _entry_point=ep,
                )
                if ep.name in found[group] and found[group][ep.name].value != ep.value:
                    other = found[group][ep.name]
                    info.error = (
                        f"name '{ep.name}' is also declared by {other.distribution}; "
                        "rename one of the entry points"
                    )
                    found[group][f"{ep.name}@{info.distribution}"] = info
                    continue
                found[group][ep.name] = info
        return found

    def all(self) -> dict[str, dict[str, PluginInfo]]:
        with self._lock:
            if self._plugins is None:
                self._plugins = self._scan()
            return self._plugins

    def refresh(self) -> None:
        with self._lock:
            self._plugins = None

    def add(self, group: str, name: str, obj: Any) -> None:
        _validate(group, name, obj)
        module = getattr(obj, "__module__", "")
        info = PluginInfo(
            group=group,
            name=name,
            value=f"{module}:{getattr(obj, '__qualname__', name)}",
            distribution="(registered at run time)",
            _object=obj,
        )
        self.all()[group][name] = info


_REGISTRY = _Registry()


def refresh() -> None:
    """Forget what was found, so the next call reads the entry points again."""
    _REGISTRY.refresh()


def plugins(group: str | None = None) -> list[PluginInfo]:
    """Every plugin found, optionally of one group, sorted by group and name.

    Broken plugins are listed too: load each with :meth:`PluginInfo.try_load`
    to learn whether it works; ``sidkit plugins`` does exactly that.
    """
    found = _REGISTRY.all()
    groups = [group] if group else list(GROUPS)
    return [info for g in groups for info in found.get(g, {}).values()]


def _get(group: str, name: str, kind: str) -> Any:
    found = _REGISTRY.all().get(group, {})
    key = name.lower()
    if key not in found:
        names = ", ".join(sorted(n for n in found)) or "none installed"
        raise UnknownFormatError(f"no {kind} named '{name}'; available: {names}")
    return found[key].load()


def get_reader(name: str) -> type[Reader]:
    """The reader class registered as ``name``.

    Raises
    ------
    UnknownFormatError
        No reader has that name; the message lists those installed.
    PluginError
        The reader is installed but fails to import.
    """
    return _get(READERS, name, "reader")


def get_writer(name: str) -> type[Writer]:
    """The writer class registered as ``name`` (see :func:`get_reader`)."""
    return _get(WRITERS, name, "writer")


def get_process(name: str) -> Callable[..., Any]:
    """The analysis function registered as ``name`` in ``sidkit.processes``."""
    return _get(PROCESSES, name, "process")


def _loaded(group: str) -> list[tuple[PluginInfo, Any]]:
    out = []
    for info in plugins(group):
        obj = info.try_load()
        if obj is not None:
            out.append((info, obj))
    return out


def readers() -> dict[str, type[Reader]]:
    """Every working reader class by name."""
    return {info.name: obj for info, obj in _loaded(READERS)}


def writers() -> dict[str, type[Writer]]:
    """Every working writer class by name."""
    return {info.name: obj for info, obj in _loaded(WRITERS)}


def processes() -> dict[str, Callable[..., Any]]:
    """Every working process function by name."""
    return {info.name: obj for info, obj in _loaded(PROCESSES)}


def register_reader(cls: type[Reader], name: str | None = None) -> None:
    """Register a reader class at run time (for scripts and tests).

    Packages should declare an entry point instead.
    """
    _REGISTRY.add(READERS, (name or cls.name).lower(), cls)


def register_writer(cls: type[Writer], name: str | None = None) -> None:
    """Register a writer class at run time (see :func:`register_reader`)."""
    _REGISTRY.add(WRITERS, (name or cls.name).lower(), cls)


def register_process(func: Callable[..., Any], name: str | None = None) -> None:
    """Register an analysis function at run time (see :func:`register_reader`)."""
    _REGISTRY.add(PROCESSES, (name or func.__name__).lower(), func)


def _suffixes(path: Path) -> list[str]:
    name = path.name.lower()
    out = []
    for i, ch in enumerate(name):
        if ch == "." and i > 0:
            out.append(name[i:])
    return out  # longest first: ".tar.gz", ".gz"


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_SIZE)


def _claims(reader: Reader, path: Path, head: bytes) -> bool:
    try:
        return bool(reader.claims(path, head))
    except Exception:  # a sniff must never raise; one that does is a "no"
        return False


def _claimants(candidates: list[tuple[str, type]], path: Path, head: bytes) -> list[tuple[str, type]]:
    """The candidates that claim the file, asked from the highest priority
    down: once one claims it, readers of lower priority (which could not win)
    are not asked, so that no file is opened for a check that cannot matter."""
    out: list[tuple[str, type]] = []
    for name, cls in sorted(candidates, key=lambda nc: -nc[1].priority):
        if out and cls.priority < out[0][1].priority:
            break
        if _claims(cls(), path, head):
            out.append((name, cls))
    return out


def _pick(claimants: list[tuple[str, type]], path: Path, kind: str) -> str:
    top = max(cls.priority for _, cls in claimants)
    best = sorted(name for name, cls in claimants if cls.priority == top)
    if len(best) > 1:
        raise AmbiguousFormatError(
            path,
            None,
            f"several {kind}s claim this file with equal priority: {', '.join(best)}; "
            f"pass {kind}=<name> to choose one",
        )
    return best[0]


def choose_reader(path: str | Path, reader: str | None = None) -> Reader:
    """Decide which reader reads ``path``.

    An explicit ``reader`` wins. Otherwise the readers claiming the file's
    suffix are asked to confirm it by content (:meth:`Reader.claims`); if none
    does, every reader sniffs it (a file with a wrong extension still opens).
    Among several claimants the highest ``priority`` wins.

    Raises
    ------
    SidkitFileNotFoundError
        ``path`` does not exist.
    UnknownFormatError
        No reader claims the file; the message names the candidates tried.
    AmbiguousFormatError
        Several readers claim it with equal priority.
    """
    path = Path(path)
    if reader is not None:
        return get_reader(reader)()
    if not path.exists():
        raise SidkitFileNotFoundError(path, None, "no such file or directory")
    if path.is_dir():
        raise UnknownFormatError(path, None, "is a directory, not a file")
    head = _read_head(path)
    available = readers()
    suffixes = _suffixes(path)
    by_ext = [(n, c) for n, c in available.items() if any(s in c.extensions for s in suffixes)]
    claim = _claimants(by_ext, path, head)
    if not claim:
        others = [(n, c) for n, c in available.items() if (n, c) not in by_ext]
        claim = _claimants(others, path, head)
    if claim:
        return available[_pick(claim, path, "reader")]()
    broken = [
        f"{i.name} ({i.error})"
        for i in plugins(READERS)
        if i.error and not i.loaded
    ]
    tried = ", ".join(n for n, _ in by_ext)
    detail = "no installed reader recognises this file"
    if tried:
        detail += f"; readers for its extension ({tried}) rejected its content"
    elif suffixes:
        detail += f"; no reader is registered for '{suffixes[-1]}'"
    if broken:
        detail += f"; broken plugins: {'; '.join(broken)}"
    detail += ". Run 'sidkit plugins' to see the installed readers, or pass reader=<name>."
    raise UnknownFormatError(path, None, detail)


def choose_writer(path: str | Path, format: str | None = None) -> Writer:
    """Decide which writer writes ``path``: ``format`` by name, else by suffix.

    Raises
    ------
    UnknownFormatError
        No writer has that name or suffix.
    """
    path = Path(path)
    if format is not None:
        return get_writer(format)()
    available = writers()
    suffixes = _suffixes(path)
    cands = [(n, c) for n, c in available.items() if any(s in c.extensions for s in suffixes)]
    if not cands:
        names = ", ".join(f"{n} ({' '.join(c.extensions)})" for n, c in sorted(available.items()))
        raise UnknownFormatError(
            path,
            None,
            f"no writer for this extension; installed writers: {names or 'none'}. "
            "Install sidkit-nsid to save .h5 files, or pass format=<name>.",
        )
    return available[_pick(cands, path, "writer")]()
