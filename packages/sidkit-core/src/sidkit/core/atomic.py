"""Writing files so that a failure never loses data.

Writers produce the new file beside the target under a temporary name and
swap it in with :func:`os.replace`, which is atomic on POSIX and Windows: the
previous file stays complete until the new one is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replace_atomically"]


@contextlib.contextmanager
def replace_atomically(path: str | os.PathLike[str], *, mode: str = "w") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    Parameters
    ----------
    path : path-like
        The file to create or update.
    mode : {"w", "a"}
        ``"w"`` starts from an empty temporary file; ``"a"`` starts from a copy
        of the existing file (if any), so appending works on the copy.

    Yields
    ------
    pathlib.Path
        Where to write. On an exception (or interrupt) it is deleted and
        ``path`` is untouched.
    """
    if mode not in ("w", "a"):
        raise ValueError(f"mode must be 'w' or 'a', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if mode == "a" and target.exists():
            shutil.copyfile(target, tmp)
        else:
            tmp.unlink()
        yield tmp
        if target.exists():
            shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
