"""The ``.toy`` text format: a third-party sidkit plugin used by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import CorruptFileError, Dataset, Dimension, Reader, Writer

__all__ = ["ToyReader", "ToyWriter", "invert"]

MAGIC = b"TOY 1"


class ToyReader(Reader):
    """Read ``.toy`` text files (1-D or 2-D)."""

    name: ClassVar[str] = "toy"
    extensions: ClassVar[tuple[str, ...]] = (".toy",)
    package: ClassVar[str] = "sidkit-toyformat"
    description: ClassVar[str] = "made-up text format of the integration tests"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def read(self, path: Path, *, lazy: bool = True, **options: Any) -> dict[str, Dataset]:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        if not lines or lines[0].strip() != MAGIC.decode():
            raise CorruptFileError(path, self.name, "missing 'TOY 1' header")
        attrs: dict[str, str] = {}
        dims: list[tuple[str, str, float, float]] = []
        rows: list[list[float]] = []
        for n, line in enumerate(lines[1:], start=2):
            if line.startswith("dim:"):
                parts = line[4:].split()
                try:
                    dims.append((parts[0], parts[1], float(parts[2]), float(parts[3])))
                except (IndexError, ValueError) as exc:
                    raise CorruptFileError(path, self.name, f"line {n}: bad dim line") from exc
            elif ":" in line:
                key, _, value = line.partition(":")
                attrs[key.strip()] = value.strip()
            elif line.strip():
                try:
                    rows.append([float(v) for v in line.split()])
                except ValueError as exc:
                    raise CorruptFileError(path, self.name, f"line {n}: not numbers") from exc
        if not rows or len({len(r) for r in rows}) != 1:
            raise CorruptFileError(path, self.name, "data rows are missing or ragged")
        data = np.array(rows)
        if len(dims) == 1:
            data = data.ravel()
        if len(dims) != data.ndim:
            raise CorruptFileError(path, self.name, f"{len(dims)} dim lines for {data.ndim}-D data")
        dimensions = [
            Dimension.linear(name, data.shape[i], scale=scale, offset=offset, units=units,
                             quantity="length", dimension_type="spatial")
            for i, (name, units, offset, scale) in enumerate(dims)
        ]
        ds = Dataset(data, dimensions, title=attrs.get("title", Path(path).stem),
                     units=attrs.get("units", "a.u."), source=str(path),
                     original_metadata=attrs)
        return {ds.title: ds}


class ToyWriter(Writer):
    """Write 1-D or 2-D datasets as ``.toy`` text."""

    name: ClassVar[str] = "toy"
    extensions: ClassVar[tuple[str, ...]] = (".toy",)
    package: ClassVar[str] = "sidkit-toyformat"

    def write(self, datasets: Mapping[str, Dataset], path: Path, *, mode: str = "w", **options: Any) -> None:
        (name, ds), = datasets.items()
        lines = ["TOY 1", f"title: {ds.title or name}", f"units: {ds.units}"]
        lines += [f"dim: {d.name} {d.units} {d.offset!r} {d.scale!r}" for d in ds.dims]
        values = np.atleast_2d(np.asarray(ds))
        lines += [" ".join(repr(float(v)) for v in row) for row in values]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def invert(ds: Dataset) -> Dataset:
    """Negate a dataset (a process plugin for ``sidkit run``)."""
    return ds.derive(-ds.data, process="sidkit_toyformat.invert", package="sidkit-toyformat")
