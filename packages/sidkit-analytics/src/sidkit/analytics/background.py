"""Image background subtraction: polynomial plane / surface and rolling ball."""

from __future__ import annotations

from typing import Any

import numpy as np

from sidkit.core import Dataset, require

from ._images import image_dims as _image_dims
from ._images import map_frames, to_pixels
from ._samples import AnalysisError, derive

__all__ = ["background"]

METHODS = ("plane", "polynomial", "rolling_ball")


def _poly_surface(frame: np.ndarray, order: int) -> np.ndarray:
    ny, nx = frame.shape
    y, x = np.meshgrid(np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    terms = [x**i * y**j for i in range(order + 1) for j in range(order + 1 - i)]
    a = np.stack([t.ravel() for t in terms], axis=1)
    coef, *_ = np.linalg.lstsq(a, frame.ravel().astype(np.float64), rcond=None)
    return (a @ coef).reshape(frame.shape)


def background(
    ds: Dataset,
    method: str = "plane",
    *,
    order: int = 1,
    radius: float | None = None,
    pixels: bool = False,
    return_background: bool = False,
    image_dims: Any = None,
) -> Dataset | tuple[Dataset, Dataset]:
    """Subtract a smooth background from every image of a dataset.

    Parameters
    ----------
    ds : Dataset
        An image or a stack of images.
    method : {"plane", "polynomial", "rolling_ball"}
        Least-squares plane (``order=1``), polynomial surface of ``order``,
        or rolling ball of ``radius`` (needs the ``image`` extra: scikit-image).
    order : int, default 1
        Polynomial order (``"polynomial"``).
    radius : float, optional
        Ball radius in the image's calibrated units (pixels with
        ``pixels=True``); default 20 pixels.
    return_background : bool, default False
        Also return the background.
    image_dims : pair of dim names, optional

    Returns
    -------
    Dataset or (Dataset, Dataset)
        The corrected images (and the background), lazy.
    """
    method = str(method).lower()
    if method not in METHODS:
        raise AnalysisError(f"method must be one of {METHODS}, got {method!r}")
    dims = _image_dims(ds, image_dims)
    if method == "plane":
        order = 1
    if not 0 <= int(order) <= 8:
        raise AnalysisError(f"order must be between 0 and 8, got {order}")
    if method == "rolling_ball":
        restoration = require("skimage.restoration", extra="image", package="sidkit-analytics",
                              reader="background")
        r = to_pixels(radius, ds.dim(dims[1]), pixels) if radius is not None else 20.0

        def func(f: np.ndarray) -> np.ndarray:
            return restoration.rolling_ball(f.astype(np.float64), radius=r)
    else:
        def func(f: np.ndarray) -> np.ndarray:
            return _poly_surface(f, int(order))
    dtype = ds.dtype if np.issubdtype(ds.dtype, np.floating) else np.dtype(np.float64)
    bg = map_frames(ds, func, dims, dtype)
    params = {"method": method, "order": order, "radius": radius, "pixels": pixels,
              "image_dims": list(dims)}
    corrected = derive(ds, ds.data.astype(dtype) - bg, ds.dims, "background", params,
                       data_type=ds.data_type)
    if return_background:
        bg_ds = derive(ds, bg, ds.dims, "background", params, title=f"{ds.title} background".strip(),
                       data_type=ds.data_type)
        return corrected, bg_ds
    return corrected
