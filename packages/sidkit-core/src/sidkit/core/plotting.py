"""``Dataset.plot``: the picture that suits a dataset (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .enums import DataType, DimensionType
from .plugins import require

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["plot"]


def _label(dim: Any) -> str:
    return f"{dim.name} ({dim.units})" if dim.units else dim.name


def _extent(ds: Dataset) -> list[float]:
    y, x = ds.dims
    return [float(x.values[0]), float(x.values[-1]), float(y.values[-1]), float(y.values[0])]


def _image(ax: Any, ds: Dataset, fig: Any) -> None:
    values = np.asarray(ds)
    if np.iscomplexobj(values):
        values = np.abs(values)
    im = ax.imshow(values, extent=_extent(ds), cmap="gray", aspect="equal")
    ax.set_xlabel(_label(ds.dims[1]))
    ax.set_ylabel(_label(ds.dims[0]))
    fig.colorbar(im, ax=ax, label=f"{ds.quantity} ({ds.units})")


def _line(ax: Any, ds: Dataset) -> None:
    d = ds.dims[0]
    values = np.asarray(ds)
    ax.plot(d.values, np.abs(values) if np.iscomplexobj(values) else values)
    ax.set_xlabel(_label(d))
    ax.set_ylabel(f"{ds.quantity} ({ds.units})")


def _frame(ds: Dataset) -> Dataset:
    """A 2-D (or 1-D) view: the first index of every extra dim."""
    keep = [i for i, d in enumerate(ds.dims)
            if d.dimension_type in (DimensionType.SPATIAL, DimensionType.RECIPROCAL)][-2:]
    if len(keep) < 2:
        keep = list(range(ds.ndim))[-2:]
    key = tuple(slice(None) if i in keep else 0 for i in range(ds.ndim))
    return ds[key]


def plot(ds: Dataset, *, ax: Any = None, **kwargs: Any) -> Any:
    """Plot ``ds`` and return the matplotlib Figure.

    Images get physical axes and a colour bar, spectra labelled axes; other
    kinds show their first image or spectrum.
    """
    require("matplotlib", extra="plot", package="sidkit-core", reader="Dataset.plot")
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=kwargs.pop("figsize", (5, 4)))
    else:
        fig = ax.figure
    view = ds if ds.ndim <= 2 else _frame(ds)
    if view.ndim == 1 or ds.data_type in (DataType.SPECTRUM, DataType.LINE_PLOT):
        if view.ndim != 1:
            view = view[(0,) * (view.ndim - 1)]
        _line(ax, view)
    elif view.ndim == 2:
        _image(ax, view, fig)
    ax.set_title(ds.title or ds.data_type.name.lower())
    return fig
