"""Labelled synthetic training data: atomic-resolution images with their atoms.

Each image is a crystal lattice (square, hexagonal, rectangular or honeycomb)
at a random orientation and origin, whose atom columns are Gaussian peaks of
varying brightness, with vacancies, optional blur, scan distortions (linear
drift shear, a slow sinusoidal wobble and line jitter along the fast scan, a
stretch along the slow scan), a background, Poisson (shot) noise and Gaussian
(read-out) noise. The labels are the atoms' true positions, corrected for the
distortions, and binary masks of a small disk around each atom.

Every image depends only on ``(seed, index)``, so a set is reproduced exactly
from its recipe, and ``n_images`` can grow without changing earlier images::

    >>> data = make_atom_images(8, shape=(64, 64), seed=1)
    >>> data.images.shape, len(data.positions)
    ((8, 64, 64), 8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sidkit.core import Dataset, DataType, Dimension, make_record

from ._version import __version__

__all__ = ["SyntheticData", "make_atom_images", "LATTICES", "DEFAULTS"]

LATTICES = ("square", "hexagonal", "rectangular", "honeycomb")

#: Default recipe; a number is used as is, a ``(low, high)`` pair is drawn
#: uniformly per image, a list of lattice names is chosen from per image.
DEFAULTS: dict[str, Any] = {
    "lattice": list(LATTICES),
    "spacing": (8.0, 12.0),          # nearest-neighbour distance, px
    "rotation": (0.0, 360.0),        # lattice orientation, degrees
    "sigma": (1.1, 1.8),             # Gaussian width of an atom column, px
    "intensity_spread": 0.15,        # relative spread of column brightness
    "sublattice_contrast": (0.55, 1.0),  # brightness of the 2nd sublattice (honeycomb)
    "vacancy_rate": (0.0, 0.08),     # fraction of sites left empty
    "background": (0.0, 0.3),        # constant background, in units of a column peak
    "gradient": (0.0, 0.2),          # background ramp across the image
    "blur": (0.0, 0.8),              # extra Gaussian blur, px
    "dose": (20.0, 400.0),           # counts at a column peak (Poisson noise)
    "read_noise": (0.01, 0.08),      # Gaussian noise, in units of a column peak
    "drift": (-0.03, 0.03),          # fast-scan shift per row (shear), px/row
    "wobble": (0.0, 0.6),            # amplitude of a slow sinusoidal fast-scan shift, px
    "wobble_period": (20.0, 80.0),   # its period, rows
    "jitter": (0.0, 0.25),           # random fast-scan shift per row, px (std)
    "stretch": (-0.03, 0.03),        # relative stretch along the slow scan
    "mask_radius": None,             # label disk radius, px; None: 0.28 * spacing, 1.5..3
}

_MAX_PIXELS = 2**26  # 64 Mpx per set: refuse absurd requests before allocating


@dataclass
class SyntheticData:
    """A labelled synthetic set.

    Attributes
    ----------
    images : Dataset
        ``(frame, y, x)`` image stack, float32, spatial dims in physical units.
    masks : Dataset
        Same dims, uint8: 1 on a disk around every atom, else 0.
    positions : list of numpy.ndarray
        Per image, the ``(n_atoms, 2)`` true atom positions in pixels as
        ``(row, column)``: the intensity-weighted centre of each column as
        drawn, for atoms whose centre lies inside the image.
    coordinates : list of numpy.ndarray
        The same positions in the images' physical units, ``(y, x)``.
    recipe : dict
        Everything needed to make the set again, with the parameters drawn
        for each image under ``"images"``.
    """

    images: Dataset
    masks: Dataset
    positions: list[np.ndarray]
    coordinates: list[np.ndarray]
    recipe: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.positions)

    def image(self, i: int) -> Dataset:
        """Image ``i`` as a 2-D Dataset."""
        return self.images[i]

    def mask(self, i: int) -> Dataset:
        """Mask ``i`` as a 2-D Dataset."""
        return self.masks[i]


def _draw(rng: np.random.Generator, spec: Any) -> Any:
    if spec is None or isinstance(spec, (int, float)):
        return spec
    if isinstance(spec, str):
        return spec
    if isinstance(spec, (list,)) and spec and all(isinstance(s, str) for s in spec):
        return str(spec[int(rng.integers(len(spec)))])
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        lo, hi = float(spec[0]), float(spec[1])
        if hi < lo:
            raise ValueError(f"range {spec!r} has high < low")
        return float(rng.uniform(lo, hi))
    raise ValueError(f"cannot draw a value from {spec!r}; give a number, a (low, high) pair "
                     "or a list of names")


def _lattice_sites(kind: str, d: float, theta: float, origin: np.ndarray,
                   extent: tuple[float, float], margin: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sites ``(n, 2)`` as (x, y) covering the box, and their sublattice (0/1)."""
    if kind == "square":
        a1, a2, basis = (d, 0.0), (0.0, d), [(0.0, 0.0)]
    elif kind == "hexagonal":
        a1, a2, basis = (d, 0.0), (d / 2, d * math.sqrt(3) / 2), [(0.0, 0.0)]
    elif kind == "rectangular":
        a1, a2, basis = (d, 0.0), (0.0, 1.35 * d), [(0.0, 0.0)]
    elif kind == "honeycomb":
        a = d * math.sqrt(3)
        a1, a2 = (a, 0.0), (a / 2, a * math.sqrt(3) / 2)
        basis = [(0.0, 0.0), (a / 2, d / 2)]
    else:
        raise ValueError(f"unknown lattice {kind!r}; use one of {', '.join(LATTICES)}")
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    A = rot @ np.array([a1, a2]).T           # columns: rotated lattice vectors
    B = (rot @ np.array(basis).T).T
    w, h = extent
    span = math.hypot(w, h) + 2 * margin
    n = int(math.ceil(span / min(np.linalg.norm(A[:, 0]), np.linalg.norm(A[:, 1])) * 1.3)) + 2
    ij = np.stack(np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij"), -1)
    ij = ij.reshape(-1, 2).astype(float)
    centre = np.array([w / 2, h / 2]) + origin
    pts, sub = [], []
    for k, b in enumerate(B):
        p = ij @ A.T + b + centre
        keep = ((p[:, 0] > -margin) & (p[:, 0] < w + margin)
                & (p[:, 1] > -margin) & (p[:, 1] < h + margin))
        pts.append(p[keep])
        sub.append(np.full(int(keep.sum()), k))
    return np.concatenate(pts), np.concatenate(sub)


def _render(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, amp: np.ndarray,
            sigma: float, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw Gaussian columns at (rows, cols) with a per-row fast-scan shift.

    Returns the image and each column's drawn centre column (the
    intensity-weighted mean of ``col + shift[row]`` over its rows).
    """
    h, w = shape
    img = np.zeros(shape, dtype=np.float64)
    R = int(math.ceil(4 * sigma))
    off = np.arange(-R, R + 1)
    r = np.rint(rows).astype(np.int64)[:, None] + off[None, :]            # (n, K)
    in_r = (r >= 0) & (r < h)
    rc = np.clip(r, 0, h - 1)
    wy = np.exp(-((r - rows[:, None]) ** 2) / (2 * sigma**2))            # (n, K)
    centre = cols[:, None] + shift[rc]                                    # (n, K) drawn centre per row
    c = np.rint(centre).astype(np.int64)[:, :, None] + off[None, None, :]  # (n, K, K)
    wx = np.exp(-((c - centre[:, :, None]) ** 2) / (2 * sigma**2))
    val = amp[:, None, None] * wy[:, :, None] * wx
    ok = in_r[:, :, None] & (c >= 0) & (c < w)
    rr = np.broadcast_to(rc[:, :, None], c.shape)
    np.add.at(img, (rr[ok], c[ok]), val[ok])
    # drawn centre column: weight each row by its Gaussian weight (rows outside count too,
    # the specimen is continuous; the shift there is extrapolated by clipping)
    drawn = (wy * centre).sum(1) / wy.sum(1)
    return img, drawn


def _disk_mask(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, radius: float) -> np.ndarray:
    h, w = shape
    mask = np.zeros(shape, dtype=np.uint8)
    R = int(math.ceil(radius)) + 1
    off = np.arange(-R, R + 1)
    r = np.rint(rows).astype(np.int64)[:, None, None] + off[None, :, None]
    c = np.rint(cols).astype(np.int64)[:, None, None] + off[None, None, :]
    inside = (r - rows[:, None, None]) ** 2 + (c - cols[:, None, None]) ** 2 <= radius**2
    ok = inside & (r >= 0) & (r < h) & (c >= 0) & (c < w)
    rr = np.broadcast_to(r, ok.shape)
    cc = np.broadcast_to(c, ok.shape)
    mask[rr[ok], cc[ok]] = 1
    return mask


def _one_image(shape: tuple[int, int], rng: np.random.Generator, spec: dict[str, Any]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    from scipy import ndimage

    h, w = shape
    p = {k: _draw(rng, v) for k, v in spec.items()}
    d, sigma = p["spacing"], p["sigma"]
    if d <= 0 or sigma <= 0:
        raise ValueError("spacing and sigma must be positive")
    # scan distortions: fast-scan (column) shift per row; slow-scan stretch
    rows_idx = np.arange(h, dtype=float)
    phase = rng.uniform(0, 2 * np.pi)
    shift = (p["drift"] * (rows_idx - h / 2)
             + p["wobble"] * np.sin(2 * np.pi * rows_idx / p["wobble_period"] + phase)
             + p["jitter"] * rng.standard_normal(h))
    margin = 4 * sigma + 2
    # the specimen box that maps onto the image
    extent = (w + 2 * float(np.abs(shift).max()), h / (1 + p["stretch"]))
    origin = rng.uniform(-d, d, 2)
    sites, sub = _lattice_sites(p["lattice"], d, math.radians(p["rotation"]), origin,
                                extent, margin)
    sites[:, 0] -= float(np.abs(shift).max())          # x back into image columns
    sites[:, 1] *= 1 + p["stretch"]                    # slow-scan stretch
    keep = rng.random(len(sites)) >= p["vacancy_rate"]
    sites, sub = sites[keep], sub[keep]
    amp = 1.0 + p["intensity_spread"] * rng.standard_normal(len(sites))
    amp = np.clip(amp, 0.4, None) * np.where(sub == 1, p["sublattice_contrast"], 1.0)
    rows, cols = sites[:, 1], sites[:, 0]
    img, drawn_cols = _render(shape, rows, cols, amp, sigma, shift)
    if p["blur"] and p["blur"] > 0:
        img = ndimage.gaussian_filter(img, p["blur"], mode="nearest")
    peak = float(np.median(amp))
    ramp = p["gradient"] * (np.cos(rng.uniform(0, 2 * np.pi)) * (np.arange(w) / w)[None, :]
                            + np.sin(rng.uniform(0, 2 * np.pi)) * (np.arange(h) / h)[:, None])
    img = img + peak * (p["background"] + ramp - ramp.min())
    dose = p["dose"]
    img = rng.poisson(np.clip(img, 0, None) * dose / peak).astype(np.float64) * peak / dose
    img += p["read_noise"] * peak * rng.standard_normal(shape)
    radius = p["mask_radius"]
    if radius is None:
        radius = float(np.clip(0.28 * d, 1.5, 3.0))
    p["mask_radius"] = radius
    mask = _disk_mask(shape, rows, drawn_cols, radius)
    inside = (rows >= -0.5) & (rows < h - 0.5) & (drawn_cols >= -0.5) & (drawn_cols < w - 0.5)
    pos = np.stack([rows[inside], drawn_cols[inside]], axis=1)
    p["n_atoms"] = int(inside.sum())
    return img.astype(np.float32), mask, pos, p


def make_atom_images(
    n_images: int = 16,
    shape: int | Sequence[int] = (64, 64),
    *,
    seed: int = 0,
    pixel_size: float = 0.02,
    units: str = "nm",
    **recipe: Any,
) -> SyntheticData:
    """Make labelled atomic-resolution images.

    Parameters
    ----------
    n_images : int, default 16
        Number of images.
    shape : int or (int, int), default (64, 64)
        Image size in pixels (rows, columns).
    seed : int, default 0
        Seed; image ``i`` depends only on ``(seed, i)`` and the recipe.
    pixel_size : float, default 0.02
        Size of a pixel in ``units``; sets the dims' scale and the
        coordinates' units.
    units : str, default "nm"
        Units of the spatial dims.
    **recipe
        Overrides of :data:`DEFAULTS`: a number fixes a parameter, a
        ``(low, high)`` pair draws it uniformly per image, ``lattice`` takes a
        name or a list of names. Pixel-valued parameters (spacing, sigma,
        blur, jitter, ...) are in pixels.

    Returns
    -------
    SyntheticData
        Images, masks, true positions (pixels) and coordinates (``units``),
        and the recipe. ``images.metadata["synthetic"]`` holds the recipe too.

    Raises
    ------
    ValueError
        An unknown recipe key, an unknown lattice, a bad range or a set
        larger than 2**26 pixels.
    """
    unknown = set(recipe) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown recipe parameters {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    h, w = (int(shape), int(shape)) if np.ndim(shape) == 0 else (int(shape[0]), int(shape[1]))
    n = int(n_images)
    if n < 1 or h < 8 or w < 8:
        raise ValueError(f"need at least one image of at least 8 x 8 pixels, got {n} x {h} x {w}")
    if n * h * w > _MAX_PIXELS:
        raise ValueError(f"{n} images of {h} x {w} exceed the {_MAX_PIXELS} pixel limit; "
                         "make several smaller sets")
    spec = {**DEFAULTS, **recipe}
    lat = spec["lattice"]
    if isinstance(lat, str):
        lat = [lat]
    for name in lat:
        if name not in LATTICES:
            raise ValueError(f"unknown lattice {name!r}; use one of {', '.join(LATTICES)}")
    spec["lattice"] = list(lat)
    images = np.empty((n, h, w), dtype=np.float32)
    masks = np.empty((n, h, w), dtype=np.uint8)
    positions: list[np.ndarray] = []
    drawn: list[dict[str, Any]] = []
    for i in range(n):
        rng = np.random.default_rng([int(seed), i])
        img, mask, pos, params = _one_image((h, w), rng, spec)
        images[i], masks[i] = img, mask
        positions.append(pos)
        drawn.append(params)
    full_recipe = {
        "generator": "sidkit.learn.synthetic.make_atom_images",
        "version": __version__,
        "n_images": n,
        "shape": [h, w],
        "seed": int(seed),
        "pixel_size": float(pixel_size),
        "units": units,
        "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.items()},
        "images": drawn,
    }
    dims = [
        Dimension("frame", n, quantity="index", units="", dimension_type="unknown"),
        Dimension.linear("y", h, scale=pixel_size, units=units, quantity="length",
                         dimension_type="spatial"),
        Dimension.linear("x", w, scale=pixel_size, units=units, quantity="length",
                         dimension_type="spatial"),
    ]
    record = make_record("sidkit.learn.synthetic.make_atom_images",
                         {k: v for k, v in full_recipe.items() if k != "images"},
                         package="sidkit-learn")
    common = {"modality": "STEM", "source": "sidkit.learn.synthetic", "provenance": [record]}
    img_ds = Dataset(images, dims, title="synthetic lattice images", quantity="intensity",
                     units="counts", data_type=DataType.IMAGE_STACK,
                     metadata={"synthetic": full_recipe}, chunks=(1, h, w), **common)
    mask_ds = Dataset(masks, dims, title="synthetic atom masks", quantity="label", units="",
                      data_type=DataType.IMAGE_STACK, metadata={"synthetic": full_recipe},
                      chunks=(1, h, w), **common)
    coords = [pos * float(pixel_size) for pos in positions]
    return SyntheticData(img_ds, mask_ds, positions, coords, full_recipe)
