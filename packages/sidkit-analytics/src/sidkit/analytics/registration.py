"""Rigid drift correction of an image stack by sub-pixel phase correlation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, Dimension, DimensionType

from ._images import image_dims as _image_dims
from ._samples import AnalysisError, derive

__all__ = ["RegistrationResult", "register", "phase_correlation"]


@dataclass
class RegistrationResult:
    """What :func:`register` found.

    Attributes
    ----------
    aligned : Dataset
        The stack with every frame shifted onto the reference (lazy).
    shifts : Dataset
        ``frame dim`` x ``axis``: the drift of every frame relative to the
        reference, in the image dims' calibrated units (``axis`` values are
        the image dim names).
    """

    aligned: Dataset
    shifts: Dataset

    def plot(self, *, cmap: str = "gray", figsize: Any = None, **kwargs: Any) -> Any:
        """The drift of every frame beside the mean of the aligned frames.

        Parameters
        ----------
        cmap : str, default "gray"
            Colour map of the mean image.
        figsize : tuple of float, optional
        **kwargs
            Passed to :meth:`matplotlib.axes.Axes.plot` for the shift lines.

        Returns
        -------
        matplotlib.figure.Figure
            Axes 0: one line per image dim, the shift against the frame
            coordinate (axes labelled with their units), with a legend.
            Axes 1: the mean aligned image with a scale bar and a colour bar.

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (``pip install "sidkit-core[plot]"``).
        """
        from sidkit.core import require

        require("matplotlib", extra="plot", package="sidkit-core", reader="RegistrationResult.plot")
        import matplotlib.pyplot as plt

        from sidkit.core.plotting import axis_label, plot_image, value_label

        frame, axis = self.shifts.dims[0], self.shifts.dims[1]
        shifts = np.asarray(self.shifts.data.compute(), dtype=float)
        fx = np.asarray(frame.values)
        x = fx.astype(float) if np.issubdtype(fx.dtype, np.number) else np.arange(fx.size, dtype=float)
        fig, (left, right) = plt.subplots(1, 2, figsize=figsize or (10.5, 4.2), layout="constrained")
        for j, name in enumerate(axis.values):
            left.plot(x, shifts[:, j], marker="o", markersize=3, label=f"{name} shift", **kwargs)
        left.axhline(0.0, color="0.6", linewidth=0.8)
        left.set_xlabel(axis_label(frame))
        left.set_ylabel(value_label(self.shifts))
        left.set_title(f"drift over {len(frame)} frames")
        left.legend(fontsize="small")
        mean = self.aligned.mean(dim=frame.name)
        plot_image(mean, ax=right, cmap=cmap, title="mean of aligned frames")
        return fig


def _upsampled_dft(data: np.ndarray, region: int, factor: int, offsets: np.ndarray) -> np.ndarray:
    # matrix-multiply DFT of a small region around the peak (Guizar-Sicairos et al., 2008)
    for n, off in zip(data.shape[::-1], offsets[::-1]):
        kernel = (np.arange(region) - off)[:, None] * np.fft.fftfreq(n, factor)
        kernel = np.exp(-2j * np.pi * kernel)
        data = np.tensordot(kernel, data, axes=(1, -1))
    return data


def phase_correlation(reference: np.ndarray, moving: np.ndarray, upsample: int = 20, *,
                      window: bool = True, normalization: str | None = None) -> np.ndarray:
    """The (row, col) shift of ``moving`` relative to ``reference``, in pixels.

    ``moving`` equals ``reference`` translated by the returned shift.
    Sub-pixel precision ``1 / upsample`` by a local upsampled DFT
    (Guizar-Sicairos et al., 2008).

    Parameters
    ----------
    reference, moving : ndarray
        Two images of the same shape.
    upsample : int, default 20
        Sub-pixel precision is ``1 / upsample`` pixel.
    window : bool, default True
        Subtract each image's mean and taper its outer eighth on each side
        (a Tukey window) before the transform, so the edges of cropped
        (non-periodic) frames do not dominate the correlation.
    normalization : {None, "phase"}, default None
        ``None`` correlates the images themselves, which is the most robust
        to shot noise; ``"phase"`` whitens the cross-power spectrum (classic
        phase correlation), sharper on clean data.

    Notes
    -----
    A periodic lattice correlates equally well at every lattice translation:
    drifts larger than half a lattice period are ambiguous for any method.
    """
    if normalization not in (None, "phase"):
        raise AnalysisError(f"normalization must be None or 'phase', got {normalization!r}")
    shift = _correlation_peak(np.asarray(reference), np.asarray(moving), upsample, window, normalization)
    if window:
        # a window pulls the peak towards zero shift by an amount that grows with
        # the shift: undo the found shift and measure what is left, twice
        for _ in range(2):
            back = _shift_frame(np.asarray(moving, dtype=float), shift)
            shift = shift + _correlation_peak(np.asarray(reference), back, upsample, window, normalization)
    return shift


def _correlation_peak(ref: np.ndarray, mov: np.ndarray, upsample: int, window: bool,
                      normalization: str | None) -> np.ndarray:
    if window:
        from scipy.signal.windows import tukey

        w = np.outer(tukey(ref.shape[0], 0.25), tukey(ref.shape[1], 0.25))
        ref = (ref - ref.mean()) * w
        mov = (mov - mov.mean()) * w
    cross = np.fft.fft2(ref) * np.fft.fft2(mov).conj()
    if normalization == "phase":
        cross /= np.maximum(np.abs(cross), 100 * np.finfo(float).eps)
    cc = np.fft.ifft2(cross)
    peak = np.array(np.unravel_index(np.argmax(np.abs(cc)), cc.shape), dtype=float)
    shape = np.array(cc.shape)
    peak[peak > shape // 2] -= shape[peak > shape // 2]
    if upsample > 1:
        peak = np.round(peak * upsample) / upsample
        region = int(np.ceil(upsample * 1.5))
        centre = np.fix(region / 2.0)
        offsets = centre - peak * upsample
        up = np.conj(_upsampled_dft(cross.conj(), region, upsample, offsets))
        m = np.array(np.unravel_index(np.argmax(np.abs(up)), up.shape), dtype=float)
        peak = peak + (m - centre) / upsample
    return -peak


def _shift_frame(frame: np.ndarray, shift: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    out = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(frame), -shift))
    return out if np.iscomplexobj(frame) else out.real


def register(
    stack: Dataset,
    dim: Any = None,
    *,
    reference: int | str = 0,
    upsample: int = 100,
    image_dims: Any = None,
) -> RegistrationResult:
    """Correct rigid drift in an image stack.

    Parameters
    ----------
    stack : Dataset
        Three dims: two image dims and one stack dim (time, frame, ...).
    dim : dim name or index, optional
        The stack dim; by default the one dim that is not an image dim.
    reference : int or "mean", default 0
        Frame index to align to, or ``"mean"`` for the mean image.
    upsample : int, default 100
        Sub-pixel precision is ``1 / upsample`` pixel.
    image_dims : pair of dim names, optional
        The image dims; by default the two spatial dims.

    Returns
    -------
    RegistrationResult
        ``.aligned`` (same dims as ``stack``) and ``.shifts`` in calibrated units.
    """
    idims = _image_dims(stack, image_dims)
    rest = [n for n in stack.dim_names if n not in idims]
    if dim is None:
        if len(rest) != 1:
            raise AnalysisError(f"register needs one stack dim besides {idims}; got {rest}; pass dim=")
        dim = rest[0]
    sdim = stack.dim(dim).name
    if stack.ndim != 3 or sdim in idims:
        raise AnalysisError(f"register needs a 3-D stack (frame + image dims), got {list(stack.dim_names)}")
    t = stack.transpose(sdim, *idims)
    arr = t.data.rechunk({0: "auto", 1: -1, 2: -1})
    if isinstance(reference, str) and reference != "mean":
        raise AnalysisError(f"reference must be a frame index or 'mean', got {reference!r}")
    first = 0 if isinstance(reference, str) else int(reference)
    if not -arr.shape[0] <= first < arr.shape[0]:
        raise AnalysisError(f"reference frame {first} is out of range for {arr.shape[0]} frames")
    ref = np.asarray(arr[first].compute())

    def shifts_to(reference_image: np.ndarray) -> np.ndarray:
        r = reference_image.astype(np.complex128 if np.iscomplexobj(reference_image) else np.float64)

        def shifts_of(block: np.ndarray) -> np.ndarray:
            return np.stack([phase_correlation(r, f, upsample) for f in block])

        return np.asarray(arr.map_blocks(shifts_of, chunks=(arr.chunks[0], (2,)), drop_axis=2,
                                         dtype=float).compute())

    def aligned_by(px: np.ndarray) -> da.Array:
        def align(block: np.ndarray, block_info: Any = None) -> np.ndarray:
            start = block_info[0]["array-location"][0][0]
            out = np.empty(block.shape, dtype=out_dtype)
            for i, f in enumerate(block):
                out[i] = _shift_frame(f, px[start + i])
            return out

        return arr.map_blocks(align, dtype=out_dtype)

    out_dtype = arr.dtype if np.issubdtype(arr.dtype, np.inexact) else np.dtype(np.float64)
    px = shifts_to(ref)
    if reference == "mean":
        # align to the first frame, then re-register to the mean of the aligned frames
        ref = np.asarray(aligned_by(px).mean(axis=0).compute())
        px = shifts_to(ref)
    aligned = aligned_by(px)
    dy, dx = (stack.dim(n) for n in idims)
    scale = np.array([dy.scale, dx.scale])
    params = {"dim": sdim, "reference": reference, "upsample": upsample, "image_dims": list(idims)}
    inverse = [list(t.dim_names).index(n) for n in stack.dim_names]
    aligned_ds = derive(stack, aligned.transpose(inverse), stack.dims, "register", params,
                        data_type=stack.data_type)
    axis = Dimension("axis", np.array(list(idims)), quantity="axis", units="",
                     dimension_type=DimensionType.CHANNEL)
    units = dy.units if dy.units == dx.units else f"{dy.units}|{dx.units}"
    shifts_ds = derive(stack, da.from_array(px * scale), (stack.dim(sdim), axis), "register", params,
                       title="drift", quantity="shift", units=units, data_type="LINE_PLOT_FAMILY")
    return RegistrationResult(aligned_ds, shifts_ds)
