"""``Dataset.plot``: the picture that suits a dataset (matplotlib, the ``plot`` extra).

:func:`plot` chooses the picture from the dataset's :class:`~sidkit.core.DataType`
and the types of its dims:

===================  ==========================================================
kind                 picture
===================  ==========================================================
``"image"``          image in physical units with a scale bar and a colour bar
``"spectrum"``       line with labelled axes (quantity and units)
``"lines"``          a family of lines (one per index of the other dim)
``"spectral_image"`` summed image beside the spectrum at a chosen pixel
``"stack"``          one frame of an image stack (a frame slider when interactive)
``"4d"``             virtual image beside the diffraction pattern at a scan position
``"points"``         a point cloud, over its image when given ``background=``
===================  ==========================================================

Every function returns the :class:`matplotlib.figure.Figure` and works headless
(the ``Agg`` backend). On an interactive backend (``%matplotlib widget`` with
ipympl in Jupyter, Qt, Tk) clicking the image of a spectral image or a 4D-STEM
dataset shows the spectrum or pattern there, and image stacks get a frame
slider. :func:`explore` gives the same in Jupyter's default inline backend
through ipywidgets sliders.

The helpers :func:`plot_grid` (components, maps, any set of datasets),
:func:`plot_labels` (label maps with a legend) and :func:`add_scalebar` are
public so that result objects of other sidkit packages can draw themselves
with them.

matplotlib is imported inside the functions only: ``import sidkit.core`` never
imports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .enums import DataType, DimensionType
from .errors import UnsupportedOperationError
from .plugins import require

if TYPE_CHECKING:
    from .dataset import Dataset
    from .dimension import Dimension

__all__ = [
    "KINDS",
    "plot",
    "plot_image",
    "plot_spectrum",
    "plot_lines",
    "plot_spectral_image",
    "plot_stack",
    "plot_4d",
    "plot_points",
    "plot_grid",
    "plot_labels",
    "explore",
    "add_scalebar",
    "nice_length",
    "axis_label",
    "value_label",
]

#: The picture kinds :func:`plot` knows, by name.
KINDS = ("image", "spectrum", "lines", "spectral_image", "stack", "4d", "points")

#: Images larger than this many pixels per side are shown strided (a plot
#: never needs more, and striding bounds the memory a plot takes).
MAX_IMAGE_SIDE = 2048

_KIND_OF_TYPE = {
    DataType.SPECTRUM: "spectrum",
    DataType.LINE_PLOT: "spectrum",
    DataType.LINE_PLOT_FAMILY: "lines",
    DataType.IMAGE: "image",
    DataType.IMAGE_MAP: "image",
    DataType.IMAGE_STACK: "stack",
    DataType.SPECTRAL_IMAGE: "spectral_image",
    DataType.IMAGE_4D: "4d",
    DataType.POINT_CLOUD: "points",
}
_IMAGE_TYPES = (DimensionType.SPATIAL, DimensionType.RECIPROCAL)
_NO_UNITS = {"", "a.u.", "generic"}
_STATIC_BACKENDS = {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}


# ---------------------------------------------------------------------------- labels
def axis_label(dim: Dimension) -> str:
    """Axis label of a dim: ``"x (nm)"``, or the bare name without units."""
    return f"{dim.name} ({dim.units})" if dim.units else dim.name


def value_label(ds: Dataset, *, prefix: str = "") -> str:
    """Label of a dataset's values: ``"intensity (counts)"``."""
    quantity = f"{prefix}{ds.quantity}" if ds.quantity else prefix.strip() or "value"
    return f"{quantity} ({ds.units})" if ds.units else quantity


def _where(dims: Sequence[Dimension], index: Sequence[int]) -> str:
    """``"x = 1.5 nm, y = 0.5 nm"`` for a position given by indices."""
    parts = []
    for d, i in zip(dims, index):
        v = d.values[i]
        text = f"{v:.4g}" if np.issubdtype(d.values.dtype, np.number) else str(v)
        units = "" if d.units in _NO_UNITS else d.units
        parts.append(f"{d.name} = {text} {units}".rstrip())
    return ", ".join(parts)


# ---------------------------------------------------------------------------- matplotlib
def _pyplot() -> Any:
    require("matplotlib", extra="plot", package="sidkit-core", reader="Dataset.plot")
    import matplotlib.pyplot as plt

    return plt


def _interactive(flag: bool | None) -> bool:
    """Whether to wire up clicks and sliders: ``flag``, or the backend decides."""
    if flag is not None:
        return bool(flag)
    import matplotlib

    backend = str(matplotlib.get_backend()).lower()
    return backend not in _STATIC_BACKENDS and "inline" not in backend


def _keep(fig: Any, obj: Any) -> None:
    """Keep widgets and handlers alive as long as their figure."""
    if not hasattr(fig, "_sidkit_keep"):
        fig._sidkit_keep = []
    fig._sidkit_keep.append(obj)


# ---------------------------------------------------------------------------- data
def _coords(dim: Dimension) -> np.ndarray:
    """Numeric coordinates of a dim (indices when its values are not numbers)."""
    v = dim.values
    if v.size and np.issubdtype(v.dtype, np.number) and not np.iscomplexobj(v):
        return v.astype(float)
    return np.arange(v.size, dtype=float)


def _real(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Magnitude of complex values (with a label prefix), else the values as float."""
    if np.iscomplexobj(values):
        return np.abs(values), "|"
    if values.dtype == bool:
        return values.astype(float), ""
    return values, ""


def _compute(arr: Any) -> np.ndarray:
    return np.asarray(arr.compute() if hasattr(arr, "compute") else arr)


def _check_not_empty(ds: Dataset) -> None:
    if ds.size == 0:
        raise UnsupportedOperationError(
            f"dataset {ds.title!r} of shape {ds.shape} is empty; there is nothing to plot"
        )


def _image_axes(ds: Dataset, exclude: Sequence[int] = ()) -> tuple[int, int]:
    """Axes of the two dims that form an image: the last two spatial (or
    reciprocal) dims, else the last two dims not excluded."""
    free = [i for i in range(ds.ndim) if i not in exclude]
    for kinds in ((DimensionType.SPATIAL,), (DimensionType.RECIPROCAL,), _IMAGE_TYPES):
        found = [i for i in free if ds.dims[i].dimension_type in kinds]
        if len(found) >= 2:
            return found[-2], found[-1]
    if len(free) < 2:
        raise UnsupportedOperationError(
            f"dataset {ds.title!r} with dims {list(ds.dim_names)} has no two dims to form an image"
        )
    return free[-2], free[-1]


def _line_axis(ds: Dataset) -> int:
    """The x axis of a family of lines: the spectral dim, else the longest numeric dim."""
    if any(d.dimension_type == DimensionType.SPECTRAL for d in ds.dims):
        return _spectral_axis(ds)
    numeric = [i for i, d in enumerate(ds.dims) if np.issubdtype(d.values.dtype, np.number)]
    return max(numeric or range(ds.ndim), key=lambda i: (ds.shape[i], -i))


def _spectral_axis(ds: Dataset) -> int:
    found = [i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.SPECTRAL]
    return found[0] if found else ds.ndim - 1


def _index_of(dim: Dimension, value: Any) -> int:
    """Index along ``dim``: an int is an index, a float a coordinate (nearest)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        i = int(value)
        if not -len(dim) <= i < len(dim):
            raise IndexError(f"index {i} is out of range for dim '{dim.name}' of length {len(dim)}")
        return i % len(dim)
    return dim.index_of(float(value), method="nearest")


def _position(ds: Dataset, axes: Sequence[int], position: Any) -> list[int]:
    """Indices along ``axes`` for ``position``.

    ``position`` is None (the centre), a sequence of ints (indices) or floats
    (coordinates in the dims' units) in the order of ``axes``, or a mapping of
    dim name to index (int) or coordinate (float).
    """
    dims = [ds.dims[a] for a in axes]
    if position is None:
        return [len(d) // 2 for d in dims]
    if isinstance(position, Mapping):
        unknown = set(position) - {d.name for d in dims}
        if unknown:
            raise KeyError(f"position names {sorted(unknown)}; the dims here are {[d.name for d in dims]}")
        return [_index_of(d, position[d.name]) if d.name in position else len(d) // 2 for d in dims]
    values = [position] if np.ndim(position) == 0 else list(position)
    if len(values) != len(dims):
        raise ValueError(
            f"position {position!r} has {len(values)} values; dims {[d.name for d in dims]} need {len(dims)}"
        )
    return [_index_of(d, v) for d, v in zip(dims, values)]


def _take(ds: Dataset, fixed: Mapping[int, int], keep: Sequence[int]) -> Any:
    """The dask array of ``ds`` with the axes in ``fixed`` indexed, the others
    at 0 unless in ``keep``, transposed to the order of ``keep``."""
    key = tuple(
        slice(None) if i in keep else fixed.get(i, 0) for i in range(ds.ndim)
    )
    arr = ds.data[key]
    remaining = [i for i in range(ds.ndim) if i in keep]
    order = [remaining.index(i) for i in keep]
    return arr.transpose(order) if order != list(range(len(order))) else arr


def _strided(arr: Any, rows: Dimension, cols: Dimension) -> tuple[Any, Dimension, Dimension]:
    """Stride an image larger than :data:`MAX_IMAGE_SIDE` so a plot stays small."""
    step = max(1, math.ceil(max(arr.shape) / MAX_IMAGE_SIDE))
    if step == 1:
        return arr, rows, cols
    return (arr[::step, ::step], rows.replace(values=rows.values[::step]),
            cols.replace(values=cols.values[::step]))


def _extent(rows: Dimension, cols: Dimension) -> list[float]:
    """imshow extent putting every pixel centre on its coordinate."""
    def edges(d: Dimension) -> tuple[float, float]:
        c = _coords(d)
        half = 0.5 * (abs(c[-1] - c[0]) / (len(c) - 1) if len(c) > 1 else 1.0)
        lo, hi = (c[0], c[-1])
        sign = 1.0 if hi >= lo else -1.0
        return lo - sign * half, hi + sign * half

    x0, x1 = edges(cols)
    y0, y1 = edges(rows)
    return [x0, x1, y1, y0]


# ---------------------------------------------------------------------------- scale bar
def nice_length(span: float, fraction: float = 0.2) -> float:
    """A round length (1, 2 or 5 times a power of ten) near ``fraction * span``."""
    target = abs(float(span)) * fraction
    if not np.isfinite(target) or target <= 0:
        return 1.0
    exp = math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * 10**exp <= target:
            return float(m * 10**exp)
    return float(10**exp)


def add_scalebar(
    ax: Any,
    dim: Dimension,
    *,
    length: float | None = None,
    location: str = "lower right",
    color: str = "white",
) -> Any:
    """Draw a scale bar in the physical units of ``dim`` (the horizontal dim).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes holding an image drawn with the coordinates of ``dim`` on x.
    dim : Dimension
        The horizontal dim; its units label the bar.
    length : float, optional
        Bar length in the units of ``dim``; a round fifth of the width by default.
    location : str, default "lower right"
        A matplotlib legend location.
    color : str, default "white"
        Bar and label colour.

    Returns
    -------
    mpl_toolkits.axes_grid1.anchored_artists.AnchoredSizeBar or None
        The bar (its label in ``.txt_label``), or None when ``dim`` has no
        physical units.
    """
    if dim.units in _NO_UNITS:
        return None
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    c = _coords(dim)
    span = abs(c[-1] - c[0]) if len(c) > 1 else 1.0
    length = nice_length(span) if length is None else float(length)
    label = f"{length:g} {dim.units}"
    x0, x1 = ax.get_xlim()
    bar = AnchoredSizeBar(
        ax.transData, length if x1 >= x0 else -length, label, location,
        pad=0.4, borderpad=0.4, sep=3, frameon=False, color=color, label_top=True,
        size_vertical=0.012 * abs(ax.get_ylim()[1] - ax.get_ylim()[0]),
    )
    ax.add_artist(bar)
    ax._sidkit_scalebar = bar
    return bar


# ---------------------------------------------------------------------------- drawing
def _draw_image(
    ax: Any,
    values: Any,
    rows: Dimension,
    cols: Dimension,
    *,
    label: str,
    fig: Any,
    cmap: str = "gray",
    scalebar: bool = True,
    colorbar: bool = True,
    robust: bool = False,
    ticks: bool = True,
    **kwargs: Any,
) -> Any:
    """Draw a 2-D array with physical axes; returns the AxesImage."""
    values, rows, cols = _strided(values, rows, cols)
    arr, prefix = _real(_compute(values))
    if robust and "vmin" not in kwargs and "vmax" not in kwargs and np.isfinite(arr).any():
        kwargs["vmin"], kwargs["vmax"] = np.nanpercentile(arr[np.isfinite(arr)], [2, 98])
    aspect = "equal" if rows.units == cols.units else "auto"
    im = ax.imshow(arr, extent=_extent(rows, cols), cmap=cmap, aspect=aspect,
                   interpolation=kwargs.pop("interpolation", "nearest"), **kwargs)
    ax.set_xlabel(axis_label(cols))
    ax.set_ylabel(axis_label(rows))
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])
    if colorbar:
        fig.colorbar(im, ax=ax, label=(f"|{label}|" if prefix else label), fraction=0.046, pad=0.04)
    if scalebar:
        add_scalebar(ax, cols)
    return im


def _draw_line(ax: Any, values: Any, dim: Dimension, *, ylabel: str, **kwargs: Any) -> Any:
    arr, prefix = _real(_compute(values))
    (line,) = ax.plot(_coords(dim), arr, **kwargs)
    ax.set_xlabel(axis_label(dim))
    ax.set_ylabel(f"|{ylabel}|" if prefix else ylabel)
    if not np.issubdtype(dim.values.dtype, np.number) and len(dim) <= 30:
        ax.set_xticks(np.arange(len(dim)), [str(v) for v in dim.values], rotation=45)
    return line


def _figure(ax: Any, ncols: int = 1, *, figsize: Any = None, nrows: int = 1) -> tuple[Any, Any]:
    plt = _pyplot()
    if ax is not None:
        if ncols * nrows != 1:
            raise UnsupportedOperationError(
                "this picture has several panels and draws its own figure; "
                "pass no ax=, or plot a reduced dataset (e.g. ds.sum('energy')) into your axes"
            )
        return ax.figure, ax
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (4.8 * ncols, 4.0 * nrows),
                             squeeze=False, layout="constrained")
    if ncols > 1:
        fig.get_layout_engine().set(wspace=0.12)
    return fig, (axes[0, 0] if ncols * nrows == 1 else axes)


def _title(ds: Dataset, title: str | None) -> str:
    return title if title is not None else (ds.title or ds.data_type.name.lower().replace("_", " "))


# ---------------------------------------------------------------------------- public kinds
def plot_image(
    ds: Dataset,
    *,
    ax: Any = None,
    cmap: str = "gray",
    scalebar: bool = True,
    colorbar: bool = True,
    robust: bool = False,
    title: str | None = None,
    figsize: Any = None,
    **kwargs: Any,
) -> Any:
    """An image in physical units with a scale bar and a colour bar.

    Parameters
    ----------
    ds : Dataset
        A dataset with at least two dims; the image dims are its (last) two
        spatial or reciprocal dims, every other dim is shown at index 0.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.
    cmap : str, default "gray"
        Colour map.
    scalebar, colorbar : bool, default True
        Draw a scale bar (in the horizontal dim's units) and a colour bar
        labelled with the values' quantity and units.
    robust : bool, default False
        Set the colour range to the 2nd–98th percentile of the values.
    title : str, optional
        Axes title; the dataset's title by default.
    figsize : tuple of float, optional
        Size of a new figure in inches.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow` (``vmin``, ``vmax``, ``norm``...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_not_empty(ds)
    r, c = _image_axes(ds)
    fig, ax = _figure(ax, figsize=figsize)
    _draw_image(ax, _take(ds, {}, (r, c)), ds.dims[r], ds.dims[c], label=value_label(ds),
                fig=fig, cmap=cmap, scalebar=scalebar, colorbar=colorbar, robust=robust, **kwargs)
    ax.set_title(_title(ds, title))
    return fig


def plot_spectrum(
    ds: Dataset,
    *,
    ax: Any = None,
    title: str | None = None,
    figsize: Any = None,
    **kwargs: Any,
) -> Any:
    """A spectrum or line plot with both axes labelled with quantity and units.

    A dataset with more than one dim shows the line along its spectral dim
    (or last dim) at index 0 of the others.

    Parameters
    ----------
    ds : Dataset
    ax : matplotlib.axes.Axes, optional
        Draw into these axes.
    title : str, optional
        Axes title; the dataset's title by default.
    figsize : tuple of float, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_not_empty(ds)
    e = _spectral_axis(ds) if ds.ndim > 1 else 0
    fig, ax = _figure(ax, figsize=figsize or (6, 3.6))
    _draw_line(ax, _take(ds, {}, (e,)), ds.dims[e], ylabel=value_label(ds), **kwargs)
    ax.set_title(_title(ds, title))
    return fig


def plot_lines(
    ds: Dataset,
    *,
    ax: Any = None,
    max_lines: int = 12,
    title: str | None = None,
    figsize: Any = None,
    **kwargs: Any,
) -> Any:
    """A family of lines: one line along the spectral dim (else the longest
    numeric dim) per index of the first other dim, with a legend (at most ``max_lines`` lines, evenly
    picked).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_not_empty(ds)
    if ds.ndim == 1:
        return plot_spectrum(ds, ax=ax, title=title, figsize=figsize, **kwargs)
    e = _line_axis(ds)
    other = next(i for i in range(ds.ndim) if i != e)
    fig, ax = _figure(ax, figsize=figsize or (6, 3.6))
    n = ds.shape[other]
    picks = np.unique(np.linspace(0, n - 1, min(n, max_lines)).round().astype(int))
    values = _compute(_take(ds, {}, (other, e))[picks.tolist()])
    dim = ds.dims[other]
    for k, i in enumerate(picks):
        _draw_line(ax, values[k], ds.dims[e], ylabel=value_label(ds),
                   label=_where([dim], [int(i)]), **kwargs)
    ax.legend(fontsize="small", title=(f"{len(picks)} of {n}" if len(picks) < n else None))
    ax.set_title(_title(ds, title))
    return fig


class _PixelPicker:
    """Click (or :meth:`select`) a position on the left image; the right panel
    shows the data there."""

    def __init__(self, fig: Any, ds: Dataset, nav: tuple[int, int], show: Any, marker: Any,
                 image_ax: Any, detail_ax: Any, index: list[int]) -> None:
        self.fig, self.ds, self.nav = fig, ds, nav
        self._show, self._marker = show, marker
        self.image_ax, self.detail_ax = image_ax, detail_ax
        self.index = list(index)
        self._cid = None

    def connect(self) -> None:
        self._cid = self.fig.canvas.mpl_connect("button_press_event", self.on_click)

    def on_click(self, event: Any) -> None:
        if event.inaxes is not self.image_ax or event.xdata is None or event.ydata is None:
            return
        rows, cols = (self.ds.dims[a] for a in self.nav)
        i = int(np.argmin(np.abs(_coords(rows) - event.ydata)))
        j = int(np.argmin(np.abs(_coords(cols) - event.xdata)))
        self.select((i, j))

    def select(self, index: Sequence[int]) -> None:
        """Show the data at ``index`` (row, column indices of the image)."""
        rows, cols = (self.ds.dims[a] for a in self.nav)
        i, j = (_index_of(rows, int(index[0])), _index_of(cols, int(index[1])))
        self.index = [i, j]
        self._marker.set_data([_coords(cols)[j]], [_coords(rows)[i]])
        self._show(i, j)
        self.fig.canvas.draw_idle()


def plot_spectral_image(
    ds: Dataset,
    *,
    position: Any = None,
    interactive: bool | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    figsize: Any = None,
    **kwargs: Any,
) -> Any:
    """A spectral image: the image summed over the spectral dim beside the
    spectrum at one pixel.

    Parameters
    ----------
    ds : Dataset
        Two image dims (spatial preferred) and a spectral dim (the first
        SPECTRAL dim, else the last dim); other dims are shown at index 0.
    position : sequence or mapping, optional
        The pixel: indices (ints) or coordinates in the dims' units (floats)
        in the image dims' order, or ``{"x": 1.5, "y": 3}``; the centre by default.
    interactive : bool, optional
        Clicking the image shows the spectrum there; on by default on
        interactive backends (ipympl's ``%matplotlib widget``, Qt, Tk).
        The figure's ``sidkit_picker.select((row, col))`` does the same from code.
    cmap : str, default "viridis"
    title : str, optional
    figsize : tuple of float, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.imshow`.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: image, its colour bar, spectrum.
    """
    _check_not_empty(ds)
    e = _spectral_axis(ds)
    r, c = _image_axes(ds, exclude=(e,))
    i, j = _position(ds, (r, c), position)
    fig, axes = _figure(None, 2, figsize=figsize or (10, 4))
    ax_img, ax_spec = axes[0]
    rows, cols, energy = ds.dims[r], ds.dims[c], ds.dims[e]
    summed = _take(ds, {}, (r, c, e)).sum(axis=2)
    _draw_image(ax_img, summed, rows, cols, label=value_label(ds, prefix="total "),
                fig=fig, cmap=cmap, **kwargs)
    ax_img.set_title(f"{_title(ds, title)}: sum over {energy.name}")
    (marker,) = ax_img.plot([_coords(cols)[j]], [_coords(rows)[i]], "+", color="red",
                            markersize=14, markeredgewidth=2)
    line = _draw_line(ax_spec, _take(ds, {r: i, c: j}, (e,)), energy, ylabel=value_label(ds),
                      color="C3")

    def show(i: int, j: int) -> None:
        arr, _ = _real(_compute(_take(ds, {r: i, c: j}, (e,))))
        line.set_ydata(arr)
        ax_spec.relim()
        ax_spec.autoscale_view()
        ax_spec.set_title(f"spectrum at {_where((rows, cols), (i, j))}", fontsize="medium")

    show(i, j)
    picker = _PixelPicker(fig, ds, (r, c), show, marker, ax_img, ax_spec, [i, j])
    fig.sidkit_picker = picker
    if _interactive(interactive):
        picker.connect()
    _keep(fig, picker)
    return fig


def plot_stack(
    ds: Dataset,
    *,
    frame: Any = 0,
    interactive: bool | None = None,
    cmap: str = "gray",
    title: str | None = None,
    figsize: Any = None,
    **kwargs: Any,
) -> Any:
    """One frame of an image stack, with a frame slider when interactive.

    Parameters
    ----------
    ds : Dataset
        Two image dims (spatial preferred) and a frame dim (the temporal dim,
        else the first other dim); other dims are shown at index 0.
    frame : int or float, default 0
        Frame index (int) or coordinate along the frame dim (float).
    interactive : bool, optional
        Add a :class:`matplotlib.widgets.Slider` below the image; on by
        default on interactive backends. The figure's ``sidkit_slider``
        is the slider.
    cmap, title, figsize, **kwargs
        As for :func:`plot_image`.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (image, colour bar), three with the slider.
    """
    _check_not_empty(ds)
    if ds.ndim < 3:
        return plot_image(ds, cmap=cmap, title=title, figsize=figsize, **kwargs)
    r, c = _image_axes(ds)
    temporal = [i for i, d in enumerate(ds.dims)
                if d.dimension_type == DimensionType.TEMPORAL and i not in (r, c)]
    f = temporal[0] if temporal else next(i for i in range(ds.ndim) if i not in (r, c))
    fdim, rows, cols = ds.dims[f], ds.dims[r], ds.dims[c]
    k = _index_of(fdim, frame)
    fig, ax = _figure(None, figsize=figsize or (5.5, 5))
    data = _take(ds, {}, (f, r, c))
    # one colour range for every frame, from the strided first and chosen frames
    if "vmin" not in kwargs and "vmax" not in kwargs and "norm" not in kwargs:
        step = max(1, math.ceil(max(data.shape[1:]) / MAX_IMAGE_SIDE))
        sample, _ = _real(_compute(data[[0, k], ::step, ::step]))
        finite = sample[np.isfinite(sample)]
        if finite.size:
            kwargs["vmin"], kwargs["vmax"] = float(finite.min()), float(finite.max())
    im = _draw_image(ax, data[k], rows, cols, label=value_label(ds), fig=fig, cmap=cmap, **kwargs)
    base = _title(ds, title)

    def show(k: int) -> None:
        arr, _ = _real(_compute(_strided(data[k], rows, cols)[0]))
        im.set_data(arr)
        ax.set_title(f"{base}\nframe {k + 1}/{len(fdim)}: {_where([fdim], [k])}", fontsize="medium")

    show(k)
    fig.sidkit_show_frame = show
    if _interactive(interactive):
        from matplotlib.widgets import Slider

        # the slider sits below the image in its own axes, outside the layout
        engine = fig.get_layout_engine()
        if engine is not None and hasattr(engine, "set"):
            engine.set(rect=(0, 0.07, 1, 0.93))
        slider_ax = fig.add_axes((0.2, 0.015, 0.6, 0.03))
        slider = Slider(slider_ax, fdim.name, 0, len(fdim) - 1, valinit=k, valstep=1)

        def changed(value: float) -> None:
            show(int(value))
            fig.canvas.draw_idle()

        slider.on_changed(changed)
        fig.sidkit_slider = slider
        _keep(fig, slider)
    return fig


def _virtual(ds: Dataset, scan: tuple[int, int], det: tuple[int, int], detector: Any) -> tuple[Any, str]:
    """Virtual image over the detector dims: a sum, or an annular detector."""
    data = _take(ds, {}, (*scan, *det))
    if detector is None:
        return data.sum(axis=(2, 3)), "sum over the pattern"
    inner, outer = (float(v) for v in detector)
    ky, kx = (_coords(ds.dims[a]) for a in det)
    cy, cx = 0.5 * (ky[0] + ky[-1]), 0.5 * (kx[0] + kx[-1])
    radius = np.hypot(ky[:, None] - cy, kx[None, :] - cx)
    mask = (radius >= inner) & (radius < outer)
    units = ds.dims[det[1]].units
    return (data * mask).sum(axis=(2, 3)), f"detector {inner:g}–{outer:g} {units}".rstrip()


def plot_4d(
    ds: Dataset,
    *,
    position: Any = None,
    detector: tuple[float, float] | None = None,
    log: bool = True,
    interactive: bool | None = None,
    cmap: str = "gray",
    pattern_cmap: str = "inferno",
    title: str | None = None,
    figsize: Any = None,
) -> Any:
    """4D-STEM: a virtual image beside the diffraction pattern at one scan position.

    Parameters
    ----------
    ds : Dataset
        Two SPATIAL (scan) and two RECIPROCAL (detector) dims, found by type
        (else the first two and last two dims).
    position : sequence or mapping, optional
        Scan position as for :func:`plot_spectral_image`; the centre by default.
    detector : (float, float), optional
        Inner and outer radius of an annular virtual detector in the
        detector dims' calibrated units, measured from the pattern centre;
        by default the virtual image sums the whole pattern.
    log : bool, default True
        Show the pattern as ``log(1 + I)``.
    interactive : bool, optional
        Clicking the virtual image shows the pattern there (see
        :func:`plot_spectral_image`).
    cmap, pattern_cmap : str
        Colour maps of the virtual image and the pattern.
    title : str, optional
    figsize : tuple of float, optional

    Returns
    -------
    matplotlib.figure.Figure
        Four axes: virtual image, its colour bar, pattern, its colour bar.
    """
    _check_not_empty(ds)
    if ds.ndim < 4:
        raise UnsupportedOperationError(f"4D-STEM plot needs 4 dims, {ds.title!r} has {ds.ndim}")
    sp = [i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.SPATIAL]
    rc = [i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.RECIPROCAL]
    scan = (sp[0], sp[1]) if len(sp) >= 2 else (0, 1)
    det = (rc[0], rc[1]) if len(rc) >= 2 else (ds.ndim - 2, ds.ndim - 1)
    i, j = _position(ds, scan, position)
    fig, axes = _figure(None, 2, figsize=figsize or (10, 4.2))
    ax_img, ax_pat = axes[0]
    rows, cols = ds.dims[scan[0]], ds.dims[scan[1]]
    krows, kcols = ds.dims[det[0]], ds.dims[det[1]]
    virtual, how = _virtual(ds, scan, det, detector)
    _draw_image(ax_img, virtual, rows, cols, label=value_label(ds, prefix="virtual "), fig=fig, cmap=cmap)
    ax_img.set_title(f"{_title(ds, title)}: virtual image ({how})", fontsize="medium")
    (marker,) = ax_img.plot([_coords(cols)[j]], [_coords(rows)[i]], "+", color="red",
                            markersize=14, markeredgewidth=2)

    def pattern(i: int, j: int) -> np.ndarray:
        arr, _ = _real(_compute(_take(ds, {scan[0]: i, scan[1]: j}, det)))
        return np.log1p(np.clip(arr, 0, None)) if log else arr

    label = f"log(1 + {value_label(ds)})" if log else value_label(ds)
    im = _draw_image(ax_pat, pattern(i, j), krows, kcols, label=label, fig=fig, cmap=pattern_cmap)

    def show(i: int, j: int) -> None:
        arr = pattern(i, j)
        im.set_data(arr)
        im.set_clim(float(np.nanmin(arr)), float(np.nanmax(arr)))
        ax_pat.set_title(f"pattern at {_where((rows, cols), (i, j))}", fontsize="medium")

    show(i, j)
    picker = _PixelPicker(fig, ds, scan, show, marker, ax_img, ax_pat, [i, j])
    fig.sidkit_picker = picker
    if _interactive(interactive):
        picker.connect()
    _keep(fig, picker)
    return fig


def _point_columns(points: Dataset, background: Dataset | None) -> tuple[int, int]:
    """Columns of the (vertical, horizontal) coordinates of a point cloud.

    The coordinate dim (the last) may name its columns by string values or
    through ``metadata["columns"]``; names matching the background's image
    dims, or ``y``/``x``, ``row``/``col``, are used. Without names, column 0
    is the vertical (row) and column 1 the horizontal coordinate, as in the
    dims order of the image.
    """
    names: list[str] = []
    coord = points.dims[-1]
    if not np.issubdtype(coord.values.dtype, np.number):
        names = [str(v) for v in coord.values]
    elif isinstance(points.metadata.get("columns"), (list, tuple)):
        names = [str(v) for v in points.metadata["columns"]]
    wanted = []
    if background is not None:
        r, c = _image_axes(background)
        wanted.append((background.dims[r].name, background.dims[c].name))
    wanted += [("y", "x"), ("row", "col"), ("row", "column")]
    for vert, horiz in wanted:
        if vert in names and horiz in names:
            return names.index(vert), names.index(horiz)
    return 0, 1


def plot_points(
    points: Dataset,
    *,
    background: Dataset | None = None,
    ax: Any = None,
    color: str = "C1",
    marker: str = "o",
    size: float = 16,
    title: str | None = None,
    figsize: Any = None,
    **kwargs: Any,
) -> Any:
    """A point cloud, over its image when ``background`` is given.

    Parameters
    ----------
    points : Dataset
        ``(points, coordinate)``: one row per point, its coordinates in the
        image's calibrated units (see :func:`_point_columns` for which column
        is which: by default column 0 is the vertical and column 1 the
        horizontal coordinate, as in the image's dims order).
    background : Dataset, optional
        The image the points belong to, drawn beneath them with a scale bar.
    ax : matplotlib.axes.Axes, optional
    color, marker, size : matplotlib marker style
    title : str, optional
    figsize : tuple of float, optional
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.scatter`.

    Returns
    -------
    matplotlib.figure.Figure
        With a background: image, its colour bar; without: one axes.
    """
    _check_not_empty(points)
    if points.ndim != 2 or points.shape[1] < 2:
        raise UnsupportedOperationError(
            f"a point cloud is (points, coordinate) with at least 2 coordinates; "
            f"{points.title!r} has shape {points.shape}"
        )
    v, h = _point_columns(points, background)
    xy = _compute(points.data[:, [v, h]]).astype(float)
    fig, ax = _figure(ax, figsize=figsize or (5.5, 5))
    if background is not None:
        r, c = _image_axes(background)
        _draw_image(ax, _take(background, {}, (r, c)), background.dims[r], background.dims[c],
                    label=value_label(background), fig=fig)
        xlim, ylim = ax.get_xlim(), ax.get_ylim()
    else:
        unit = points.units if points.units not in _NO_UNITS else ""
        names = _column_names(points)
        ax.set_xlabel(f"{names[h]} ({unit})" if unit else names[h])
        ax.set_ylabel(f"{names[v]} ({unit})" if unit else names[v])
        ax.set_aspect("equal")
        ax.invert_yaxis()
        xlim = ylim = None
    ax.scatter(xy[:, 1], xy[:, 0], s=size, c=color, marker=marker,
               edgecolors="black", linewidths=0.5, label=f"{len(xy)} points", **kwargs)
    if xlim is not None:
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(_title(points, title))
    return fig


def _column_names(points: Dataset) -> list[str]:
    coord = points.dims[-1]
    if not np.issubdtype(coord.values.dtype, np.number):
        return [str(v) for v in coord.values]
    cols = points.metadata.get("columns")
    if isinstance(cols, (list, tuple)) and len(cols) == len(coord):
        return [str(v) for v in cols]
    return ["y", "x", *[f"{coord.name} {k}" for k in range(2, len(coord))]]


# ---------------------------------------------------------------------------- grids and labels
def _panels(datasets: Any, dim: Any) -> list[tuple[str, Dataset]]:
    from .dataset import Dataset

    if isinstance(datasets, Dataset):
        ds = datasets
        if dim is None:
            generic = [i for i, d in enumerate(ds.dims)
                       if d.dimension_type not in (*_IMAGE_TYPES, DimensionType.SPECTRAL)]
            axis = generic[0] if generic else 0
        else:
            axis = ds.axis(dim)
        d = ds.dims[axis]
        key = [slice(None)] * ds.ndim
        out = []
        for k in range(len(d)):
            key[axis] = k
            out.append((_where([d], [k]), ds[tuple(key)]))
        return out
    if isinstance(datasets, Mapping):
        return [(str(k), v) for k, v in datasets.items()]
    return [(v.title or f"#{k}", v) for k, v in enumerate(datasets)]


def plot_grid(
    datasets: Any,
    *,
    dim: Any = None,
    ncols: int | None = None,
    titles: Sequence[str] | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    robust: bool = False,
    max_panels: int = 36,
    figsize: Any = None,
    suptitle: str | None = None,
) -> Any:
    """A grid of panels: images for 2-D datasets, lines for 1-D ones.

    Meant for decomposition components and maps, cluster centres, parameter
    maps: anything that is a set of images or spectra.

    Parameters
    ----------
    datasets : Dataset, sequence of Dataset or mapping of str to Dataset
        The panels. A single Dataset is split along ``dim``.
    dim : str or int, optional
        The dim to split a single Dataset along; by default its first dim
        that is not spatial, reciprocal or spectral (e.g. ``component``), else
        its first dim.
    ncols : int, optional
        Columns of the grid; about square by default.
    titles : sequence of str, optional
        Panel titles; by default the mapping keys, the split coordinate or
        the datasets' titles.
    cmap : str, default "viridis"
    colorbar : bool, default True
        A colour bar beside each image panel.
    robust : bool, default False
        Colour range of each image from its 2nd to 98th percentile (keeps
        a few outliers, e.g. failed fits, from hiding the rest).
    max_panels : int, default 36
        At most this many panels are drawn.
    figsize : tuple of float, optional
    suptitle : str, optional
        Title of the figure; a single Dataset's title by default.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel (plus one colour bar per image panel).
    """
    from .dataset import Dataset

    panels = _panels(datasets, dim)[:max_panels]
    if suptitle is None and isinstance(datasets, Dataset) and datasets.title:
        suptitle = datasets.title
    if not panels:
        raise UnsupportedOperationError("plot_grid got no datasets to draw")
    if titles is not None:
        panels = [(str(t), ds) for t, (_, ds) in zip(titles, panels)]
    n = len(panels)
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (3.6 * ncols, 3.0 * nrows),
                             squeeze=False, layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    for ax, (name, ds) in zip(flat, panels):
        _check_not_empty(ds)
        ds = ds.squeeze() if 1 in ds.shape and ds.ndim > 1 else ds
        if ds.ndim >= 2:
            r, c = _image_axes(ds)
            _draw_image(ax, _take(ds, {}, (r, c)), ds.dims[r], ds.dims[c], label=value_label(ds),
                        fig=fig, cmap=cmap, colorbar=colorbar, ticks=False, robust=robust)
        else:
            _draw_line(ax, ds.data, ds.dims[0], ylabel=value_label(ds))
        ax.set_title(name, fontsize="medium")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_labels(
    labels: Dataset,
    *,
    names: Mapping[int, str] | Sequence[str] | None = None,
    ax: Any = None,
    cmap: str = "tab10",
    title: str | None = None,
    figsize: Any = None,
) -> Any:
    """A label map (integer classes) in distinct colours with a legend.

    Parameters
    ----------
    labels : Dataset
        Integer labels over two image dims; ``-1`` (unlabelled) is shown
        white and named "unlabelled".
    names : mapping of int to str or sequence of str, optional
        Class names by label; ``"class k"`` by default.
    ax : matplotlib.axes.Axes, optional
    cmap : str, default "tab10"
        A qualitative colour map.
    title : str, optional
    figsize : tuple of float, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes, with a scale bar and one legend entry per label present.
    """
    _pyplot()  # MissingDependencyError naming the extra when matplotlib is absent
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    _check_not_empty(labels)
    r, c = _image_axes(labels)
    rows, cols = labels.dims[r], labels.dims[c]
    values, rows, cols = _strided(_take(labels, {}, (r, c)), rows, cols)
    arr = _compute(values)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.allclose(arr, np.round(arr)):
            raise UnsupportedOperationError(f"label map {labels.title!r} does not hold integer labels")
        arr = np.round(arr).astype(int)
    present = np.unique(arr)
    if present.size > 256:
        raise UnsupportedOperationError(
            f"label map {labels.title!r} has {present.size} distinct labels; plot it as an image"
        )
    plt = _pyplot()
    base = plt.get_cmap(cmap)
    n_base = getattr(base, "N", 10)
    colors = []
    for k in present:
        colors.append((1.0, 1.0, 1.0, 1.0) if k < 0 else base(int(k) % n_base))
    index = np.searchsorted(present, arr)
    fig, ax = _figure(ax, figsize=figsize or (5.5, 5))
    ax.imshow(index, extent=_extent(rows, cols), cmap=ListedColormap(colors),
              norm=BoundaryNorm(np.arange(len(present) + 1) - 0.5, len(present)),
              interpolation="nearest", aspect="equal" if rows.units == cols.units else "auto")
    ax.set_xlabel(axis_label(cols))
    ax.set_ylabel(axis_label(rows))
    add_scalebar(ax, cols, color="black")

    def name(k: int) -> str:
        if k < 0:
            return "unlabelled"
        if isinstance(names, Mapping):
            return str(names.get(k, f"class {k}"))
        if names is not None and 0 <= k < len(names):
            return str(names[k])
        return f"class {k}"

    counts = {int(k): int(np.count_nonzero(arr == k)) for k in present}
    handles = [Patch(facecolor=col, edgecolor="black", label=f"{name(int(k))} ({counts[int(k)]} px)")
               for k, col in zip(present, colors)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small",
              borderaxespad=0)
    ax.set_title(_title(labels, title))
    return fig


# ---------------------------------------------------------------------------- dispatch
def _kind(ds: Dataset) -> str:
    kind = _KIND_OF_TYPE.get(ds.data_type)
    n_img = sum(d.dimension_type in _IMAGE_TYPES for d in ds.dims)
    has_spec = any(d.dimension_type == DimensionType.SPECTRAL for d in ds.dims)
    fits = {
        "spectrum": ds.ndim >= 1, "lines": ds.ndim >= 1, "image": ds.ndim >= 2,
        "stack": ds.ndim >= 3, "spectral_image": ds.ndim >= 3, "4d": ds.ndim >= 4,
        "points": ds.ndim == 2,
    }
    if kind is not None and fits[kind]:
        return kind
    if ds.ndim == 1:
        return "spectrum"
    if ds.ndim == 2:
        return "lines" if has_spec and n_img == 0 else "image"
    rc = sum(d.dimension_type == DimensionType.RECIPROCAL for d in ds.dims)
    if ds.ndim >= 4 and rc >= 2:
        return "4d"
    return "spectral_image" if has_spec else "stack"


def plot(ds: Dataset, *, kind: str | None = None, ax: Any = None, **kwargs: Any) -> Any:
    """Plot ``ds`` with the picture that suits it and return the Figure.

    Parameters
    ----------
    ds : Dataset
        Any dataset; its :class:`~sidkit.core.DataType` and dim types choose
        the picture (see the module documentation).
    kind : {"image", "spectrum", "lines", "spectral_image", "stack", "4d", "points"}, optional
        Force a picture.
    ax : matplotlib.axes.Axes, optional
        Draw a single-panel picture (image, spectrum, lines, points) into
        these axes.
    **kwargs
        Passed to the picture's function: :func:`plot_image`,
        :func:`plot_spectrum`, :func:`plot_lines`, :func:`plot_spectral_image`
        (``position=``), :func:`plot_stack` (``frame=``), :func:`plot_4d`
        (``position=``, ``detector=``) or :func:`plot_points` (``background=``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed (``pip install "sidkit-core[plot]"``).
    UnsupportedOperationError
        The dataset is empty, or the picture cannot show it.

    Examples
    --------
    >>> fig = ds.plot()                                   # doctest: +SKIP
    >>> fig = si.plot(position={"x": 12.5, "y": 3.0})     # doctest: +SKIP
    >>> fig.savefig("si.png")                             # doctest: +SKIP
    """
    _pyplot()
    kind = _kind(ds) if kind is None else str(kind).lower()
    funcs = {
        "image": plot_image, "spectrum": plot_spectrum, "lines": plot_lines,
        "spectral_image": plot_spectral_image, "stack": plot_stack, "4d": plot_4d,
        "points": plot_points,
    }
    if kind not in funcs:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if ax is not None:
        if kind in ("spectral_image", "stack", "4d"):
            raise UnsupportedOperationError(
                f"the {kind} picture has several panels and draws its own figure; "
                "pass no ax=, or plot a reduced dataset into your axes"
            )
        kwargs["ax"] = ax
    return funcs[kind](ds, **kwargs)


def explore(ds: Dataset, **kwargs: Any) -> Any:
    """Sliders for the position or frame of :func:`plot`, for Jupyter's inline backend.

    With ipympl (``%matplotlib widget``) :func:`plot` itself is interactive;
    this gives the same with the default inline backend: an
    :func:`ipywidgets.interactive` with one integer slider per navigation dim
    (spectral image, 4D-STEM) or for the frame (image stack) that redraws
    the static picture.

    Parameters
    ----------
    ds : Dataset
    **kwargs
        Passed to :func:`plot`.

    Returns
    -------
    ipywidgets.interactive
        Display it (it is the cell's value) to use it; ``.result`` holds
        the last Figure.

    Raises
    ------
    MissingDependencyError
        ipywidgets is not installed (``pip install "sidkit-core[plot]"``).
    """
    widgets = require("ipywidgets", extra="plot", package="sidkit-core", reader="explore")
    plt = _pyplot()
    kind = kwargs.pop("kind", None) or _kind(ds)
    sliders: dict[str, Any] = {}
    if kind in ("spectral_image", "4d"):
        if kind == "4d":
            sp = [i for i, d in enumerate(ds.dims) if d.dimension_type == DimensionType.SPATIAL]
            nav = (sp[0], sp[1]) if len(sp) >= 2 else (0, 1)
        else:
            nav = _image_axes(ds, exclude=(_spectral_axis(ds),))
        for a in nav:
            d = ds.dims[a]
            sliders[d.name] = widgets.IntSlider(value=len(d) // 2, min=0, max=len(d) - 1,
                                                description=d.name)
    elif kind == "stack" and ds.ndim >= 3:
        r, c = _image_axes(ds)
        temporal = [i for i, d in enumerate(ds.dims)
                    if d.dimension_type == DimensionType.TEMPORAL and i not in (r, c)]
        f = temporal[0] if temporal else next(i for i in range(ds.ndim) if i not in (r, c))
        d = ds.dims[f]
        sliders["frame"] = widgets.IntSlider(value=0, min=0, max=len(d) - 1, description=d.name)

    def draw(**values: int) -> Any:
        extra = dict(kwargs)
        if kind == "stack" and "frame" in values:
            extra["frame"] = int(values["frame"])
        elif values:
            extra["position"] = {k: int(v) for k, v in values.items()}
        fig = plot(ds, kind=kind, interactive=False, **extra) if kind in (
            "spectral_image", "stack", "4d") else plot(ds, kind=kind, **extra)
        plt.show()
        return fig

    return widgets.interactive(draw, **sliders)
