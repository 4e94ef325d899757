"""Virtual detectors: bright field disks, annuli, rectangles and arbitrary
masks, turned into weights on a dataset's detector grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sidkit.core import Dataset, DimensionMismatchError

from ._axes import center_pixels, stem_data

__all__ = ["Detector", "bright_field", "annular", "rectangle", "mask_detector"]


@dataclass(frozen=True)
class Detector:
    """A virtual detector: a recipe for a weight map on the detector plane.

    Build one with :func:`bright_field`, :func:`annular`, :func:`rectangle` or
    :func:`mask_detector`; :meth:`weights` evaluates it on a dataset's grid.

    Attributes
    ----------
    kind : str
        ``"bright_field"``, ``"annular"``, ``"rectangle"`` or ``"mask"``.
    params : dict
        The geometry, in calibrated detector units unless ``pixels`` is True.
    pixels : bool
        Geometry given in detector pixels rather than calibrated units.
    name : str
        Label used for results.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    pixels: bool = False
    name: str = ""

    def weights(self, ds: Dataset) -> np.ndarray:
        """The detector's weights on ``ds``'s detector grid (det0, det1), as float64.

        Pixels count when their centre lies inside the shape (boundary included).
        """
        _, _, det = stem_data(ds)
        n0, n1 = len(det[0]), len(det[1])
        if self.kind == "mask":
            m = np.asarray(self.params["mask"])
            if m.shape != (n0, n1):
                raise DimensionMismatchError(
                    f"mask of shape {m.shape} does not match the detector ({n0}, {n1}) "
                    f"of dims {det[0].name}, {det[1].name}"
                )
            return m.astype(np.float64)
        p0 = np.arange(n0, dtype=float)[:, None]
        p1 = np.arange(n1, dtype=float)[None, :]
        if self.kind == "rectangle":
            lo, hi = self.params["start"], self.params["stop"]
            if self.pixels:
                a0, b0, a1, b1 = lo[0], hi[0], lo[1], hi[1]
                c0, c1 = p0, p1
            else:
                c0 = det[0].values.astype(float)[:, None]
                c1 = det[1].values.astype(float)[None, :]
                a0, b0, a1, b1 = lo[0], hi[0], lo[1], hi[1]
            m = (c0 >= min(a0, b0)) & (c0 <= max(a0, b0)) & (c1 >= min(a1, b1)) & (c1 <= max(a1, b1))
            return m.astype(np.float64)
        cy, cx = center_pixels(det, self.params.get("center"), self.pixels)
        if self.pixels:
            d0, d1 = p0 - cy, p1 - cx
            r = np.hypot(d0, d1)
            inner = self.params.get("inner", 0.0)
            outer = self.params.get("outer", self.params.get("radius"))
        else:
            v0 = det[0].values.astype(float)
            v1 = det[1].values.astype(float)
            c0 = np.interp(cy, np.arange(n0), v0) if not det[0].is_uniform else det[0].offset + det[0].scale * cy
            c1 = np.interp(cx, np.arange(n1), v1) if not det[1].is_uniform else det[1].offset + det[1].scale * cx
            r = np.hypot(v0[:, None] - c0, v1[None, :] - c1)
            inner = self.params.get("inner", 0.0)
            outer = self.params.get("outer", self.params.get("radius"))
        if self.kind == "bright_field":
            m = r <= outer
        else:
            m = (r >= inner) & (r <= outer)
        return m.astype(np.float64)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description for provenance."""
        d = {"kind": self.kind, "pixels": self.pixels, "name": self.name}
        d.update({k: v for k, v in self.params.items() if k != "mask"})
        if "mask" in self.params:
            d["mask"] = f"<mask {np.shape(self.params['mask'])}>"
        return d

    def plot(self, ds: Dataset, *, image: bool = True, color: str = "tab:red", alpha: float = 0.4,
             cmap: str = "gray", figsize: Any = None, **kwargs: Any) -> Any:
        """The detector over the mean diffraction pattern of ``ds``, beside
        the virtual image it gives.

        Parameters
        ----------
        ds : Dataset
            4D-STEM data; its detector grid places the detector.
        image : bool, default True
            Also draw the virtual image of this detector (reads the data once).
        color : str, default "tab:red"
            Colour of the detector region.
        alpha : float, default 0.4
            Opacity of the detector region at full weight.
        cmap : str, default "gray"
            Colour map of the pattern and the virtual image.
        figsize : tuple of float, optional
        **kwargs
            Passed to :func:`sidkit.core.plotting.plot_image` for the mean
            pattern (``robust``, ``vmin``, ``vmax``, ``norm``...).

        Returns
        -------
        matplotlib.figure.Figure
            Axes 0: the mean pattern in the detector's calibrated units with
            the detector region tinted (alpha proportional to its weights)
            and a legend entry naming it. Axes 1 (with ``image=True``): the
            virtual image over the scan dims with a scale bar. Each image has
            a colour bar labelled with quantity and units.

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (``pip install "sidkit-core[plot]"``).
        DimensionMismatchError
            ``ds`` is not 4D-STEM data, or a mask does not fit its detector.
        """
        from sidkit.core import require

        require("matplotlib", extra="plot", package="sidkit-core", reader="Detector.plot")
        import matplotlib.pyplot as plt
        from matplotlib.colors import to_rgba
        from matplotlib.patches import Patch

        from sidkit.core.plotting import plot_image

        from .virtual import mean_diffraction, virtual_image

        weights = self.weights(ds)
        label = self.name or self.kind.replace("_", " ")
        ncols = 2 if image else 1
        fig, axes = plt.subplots(1, ncols, figsize=figsize or (5.2 * ncols, 4.4), squeeze=False,
                                 layout="constrained")
        left = axes[0, 0]
        pattern = mean_diffraction(ds)
        plot_image(pattern, ax=left, cmap=cmap, title=f"{label} on the mean pattern", **kwargs)
        extent = left.get_images()[0].get_extent()
        peak = float(np.max(np.abs(weights))) or 1.0
        overlay = np.zeros(weights.shape + (4,))
        overlay[..., :3] = to_rgba(color)[:3]
        overlay[..., 3] = float(alpha) * np.abs(weights) / peak
        left.imshow(overlay, extent=extent, interpolation="nearest", aspect=left.get_aspect())
        left.legend(handles=[Patch(facecolor=color, alpha=alpha, edgecolor=color, label=label)],
                    loc="upper right", fontsize="small")
        if image:
            plot_image(virtual_image(ds, self), ax=axes[0, 1], cmap=cmap, title=f"{label} image")
        return fig


def _check_positive(**values: float) -> None:
    for k, v in values.items():
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{k} must be a finite, non-negative number, got {v!r}")


def bright_field(radius: float, center: Any = None, *, pixels: bool = False,
                 name: str = "BF") -> Detector:
    """A disk detector.

    Parameters
    ----------
    radius : float
        Disk radius in calibrated detector units (e.g. mrad or 1/nm), or in
        pixels when ``pixels=True``.
    center : (float, float), optional
        Centre (det0, det1) in the same units; default the origin of the
        detector dims when it lies on the detector, else its middle.
    pixels : bool, default False
        Geometry in detector pixels.
    name : str
        Label of the result.
    """
    _check_positive(radius=radius)
    return Detector("bright_field", {"radius": float(radius), "center": center}, pixels, name)


def annular(inner: float, outer: float, center: Any = None, *, pixels: bool = False,
            name: str = "ADF") -> Detector:
    """An annular detector (ABF, ADF, HAADF) from ``inner`` to ``outer`` radius.

    Radii and centre are in calibrated detector units, or pixels with
    ``pixels=True`` (see :func:`bright_field`).
    """
    _check_positive(inner=inner, outer=outer)
    if outer < inner:
        raise ValueError(f"outer radius {outer} is smaller than inner radius {inner}")
    return Detector("annular", {"inner": float(inner), "outer": float(outer), "center": center},
                    pixels, name)


def rectangle(start: tuple[float, float], stop: tuple[float, float], *, pixels: bool = False,
              name: str = "rectangle") -> Detector:
    """A rectangular detector between corners ``start`` and ``stop`` (det0, det1),
    inclusive, in calibrated detector units or pixels with ``pixels=True``."""
    s = tuple(float(v) for v in start)
    e = tuple(float(v) for v in stop)
    if len(s) != 2 or len(e) != 2:
        raise ValueError("rectangle corners need two coordinates each (det0, det1)")
    return Detector("rectangle", {"start": s, "stop": e}, pixels, name)


def mask_detector(mask: Any, *, name: str = "mask") -> Detector:
    """A detector from a boolean or weighted mask of the detector's shape (det0, det1)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a detector mask must be 2-D, got shape {m.shape}")
    if not (np.issubdtype(m.dtype, np.number) or m.dtype == bool):
        raise ValueError(f"a detector mask must be boolean or numeric, got {m.dtype}")
    return Detector("mask", {"mask": m}, True, name)


def as_detector(obj: Any) -> Detector:
    """A :class:`Detector` from a detector or a mask array."""
    if isinstance(obj, Detector):
        return obj
    if isinstance(obj, Dataset):
        return mask_detector(np.asarray(obj.data), name=obj.title or "mask")
    return mask_detector(obj)
