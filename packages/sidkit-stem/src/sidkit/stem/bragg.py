"""Bragg disk detection by template matching (cross-correlation with a vacuum
probe), with sub-pixel peak positions from a locally upsampled DFT."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
from scipy import ndimage

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError, DimensionType

from ._axes import PACKAGE, detector_units, full_detector_chunks, length_to_pixels, pixel_to_value, stem_data
from ._threads import single_threaded_blas

__all__ = ["find_bragg_disks", "probe_kernel", "DISK_FIELDS"]

#: fields of the last axis of :func:`find_bragg_disks` results
DISK_FIELDS = ("k0", "k1", "intensity")


def probe_kernel(probe: Any) -> np.ndarray:
    """A template from a vacuum probe image: the probe moved (sub-pixel, by a
    Fourier phase ramp) so its centre of mass is at pixel (0, 0) of a
    periodic grid, and normalised to unit sum.

    ``probe`` is a 2-D array or Dataset of the detector's shape, or a 4D-STEM
    Dataset of a vacuum scan (its mean pattern is used).
    """
    if isinstance(probe, Dataset):
        if probe.ndim == 4:
            data, _, _ = stem_data(probe)
            probe = data.mean(axis=(0, 1)).compute()
        else:
            probe = probe.data.compute()
    p = np.asarray(probe, dtype=float)
    if p.ndim != 2:
        raise DimensionMismatchError(f"a probe must be a 2-D image, got shape {p.shape}")
    total = p.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("the probe image has no positive intensity")
    c0 = (p.sum(axis=1) @ np.arange(p.shape[0])) / total
    c1 = (p.sum(axis=0) @ np.arange(p.shape[1])) / total
    f0 = np.fft.fftfreq(p.shape[0])[:, None]
    f1 = np.fft.fftfreq(p.shape[1])[None, :]
    ramp = np.exp(2j * np.pi * (f0 * c0 + f1 * c1))
    k = np.fft.ifft2(np.fft.fft2(p) * ramp).real
    return k / k.sum()


def _upsampled_peaks(spec: np.ndarray, peaks: np.ndarray, upsample: int) -> np.ndarray:
    """Refine correlation peaks (P, 2) by evaluating the inverse DFT of
    ``spec`` on grids ``upsample`` times finer around each (matrix DFT,
    batched over peaks), then a parabola through each finest maximum.

    Returns (P, 3): position (2) and correlation value.
    """
    n0, n1 = spec.shape
    npk = len(peaks)
    m = int(np.ceil(1.5 * upsample)) | 1
    off = (np.arange(m) - m // 2) / upsample
    y = peaks[:, :1] + off[None, :]
    x = peaks[:, 1:2] + off[None, :]
    e0 = np.exp(2j * np.pi * y.reshape(-1, 1) * np.fft.fftfreq(n0)[None, :])
    e1 = np.exp(2j * np.pi * np.fft.fftfreq(n1)[None, :, None] * x[:, None, :])
    up = np.matmul((e0 @ spec).reshape(npk, m, n1), e1).real / (n0 * n1)
    out = np.empty((npk, 3))
    for p in range(npk):
        u = up[p]
        i, j = np.unravel_index(int(np.argmax(u)), u.shape)
        di = dj = 0.0
        if 0 < i < m - 1:
            a, b, c = u[i - 1, j], u[i, j], u[i + 1, j]
            d = a - 2 * b + c
            di = 0.5 * (a - c) / d if d < 0 else 0.0
        if 0 < j < m - 1:
            a, b, c = u[i, j - 1], u[i, j], u[i, j + 1]
            d = a - 2 * b + c
            dj = 0.5 * (a - c) / d if d < 0 else 0.0
        out[p] = (peaks[p, 0] + (i - m // 2 + di) / upsample,
                  peaks[p, 1] + (j - m // 2 + dj) / upsample, u[i, j])
    return out


def _disks_block(block: np.ndarray, kernel_ft: np.ndarray, threshold: float, min_distance: float,
                 max_peaks: int, edge: int, upsample: int) -> np.ndarray:
    with single_threaded_blas():
        return _disks_loop(block, kernel_ft, threshold, min_distance, max_peaks, edge, upsample)


def _disks_loop(block: np.ndarray, kernel_ft: np.ndarray, threshold: float, min_distance: float,
                max_peaks: int, edge: int, upsample: int) -> np.ndarray:
    a, b, n0, n1 = block.shape
    out = np.full((a, b, max_peaks, 3), np.nan)
    size = max(3, 2 * int(np.ceil(min_distance)) + 1)
    for i in range(a):
        for j in range(b):
            pat = np.asarray(block[i, j], dtype=float)
            spec = np.fft.fft2(pat) * kernel_ft
            cc = np.fft.ifft2(spec).real
            top = cc.max()
            if not np.isfinite(top) or top <= 0:
                continue
            local = (cc == ndimage.maximum_filter(cc, size=size, mode="constant", cval=-np.inf))
            local &= cc >= threshold * top
            if edge > 0:
                local[:edge] = local[-edge:] = False
                local[:, :edge] = local[:, -edge:] = False
            idx = np.argwhere(local)
            if idx.size == 0:
                continue
            vals = cc[idx[:, 0], idx[:, 1]]
            order = np.argsort(-vals, kind="stable")
            kept: list[int] = []
            for k in order:
                p = idx[k]
                if any((p[0] - idx[q][0]) ** 2 + (p[1] - idx[q][1]) ** 2 < min_distance ** 2 for q in kept):
                    continue
                kept.append(int(k))
                if len(kept) == max_peaks:
                    break
            pk = idx[kept].astype(float)
            if upsample > 1:
                res = _upsampled_peaks(spec, pk, upsample)
            else:
                res = np.column_stack([pk, vals[kept]])
            res = res[np.argsort(-res[:, 2], kind="stable")]
            out[i, j, : len(kept)] = res
    return out


def find_bragg_disks(ds: Dataset, probe: Any, *, threshold: float = 0.1, min_distance: float | None = None,
                     max_peaks: int = 64, edge: float | None = None, upsample: int = 16,
                     pixels: bool = False) -> Dataset:
    """Bragg disk positions and intensities in every pattern, lazily.

    Each pattern is cross-correlated with the vacuum probe (template
    matching); local maxima above ``threshold`` times the strongest one are
    disks. Positions are refined to sub-pixel precision by evaluating the
    correlation on a grid ``upsample`` times finer around each peak.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data.
    probe : array_like or Dataset
        Vacuum probe image (det0, det1), or a vacuum 4D-STEM scan.
    threshold : float, default 0.1
        Minimum correlation, relative to the pattern's strongest peak.
    min_distance : float, optional
        Minimum distance between disks, in calibrated detector units (pixels
        with ``pixels=True``); default 4 px.
    max_peaks : int, default 64
        At most this many disks (the strongest) per pattern.
    edge : float, optional
        Ignore peaks closer than this to the detector edge (calibrated units,
        or px with ``pixels=True``); default 2 px.
    upsample : int, default 16
        Sub-pixel upsampling factor; 1 gives integer positions.
    pixels : bool, default False
        Arguments and results in detector pixels instead of calibrated units.

    Returns
    -------
    Dataset
        POINT_CLOUD of shape (scan0, scan1, peak, field): per scan position
        up to ``max_peaks`` disks, strongest first, NaN-padded; fields
        ``(k0, k1, intensity)`` are the position along the two detector dims
        (calibrated units, or px) and the correlation intensity.
    """
    data, scan, det = stem_data(ds)
    data = full_detector_chunks(data)
    n0, n1 = len(det[0]), len(det[1])
    kernel = probe_kernel(probe)
    if kernel.shape != (n0, n1):
        raise DimensionMismatchError(f"probe of shape {kernel.shape} does not match the detector ({n0}, {n1})")
    kernel_ft = np.conj(np.fft.fft2(kernel))
    if max_peaks < 1:
        raise ValueError(f"max_peaks must be at least 1, got {max_peaks}")
    md = 4.0 if min_distance is None else (min_distance if pixels else length_to_pixels(det[0], min_distance))
    eg = 2 if edge is None else int(np.ceil(edge if pixels else length_to_pixels(det[0], edge)))
    raw = da.map_blocks(
        _disks_block, data, kernel_ft, float(threshold), float(md), int(max_peaks), eg, int(upsample),
        dtype=float, chunks=(data.chunks[0], data.chunks[1], (max_peaks,), (3,)),
    )
    if pixels:
        table = raw
    else:
        table = raw.map_blocks(_calibrate, det[0], det[1], dtype=float)
    peak = Dimension("peak", max_peaks, quantity="index", units="", dimension_type=DimensionType.UNKNOWN)
    fld = Dimension("field", 3, quantity="field", units="", dimension_type=DimensionType.CHANNEL)
    res = ds.derive(table, [*scan, peak, fld], process="sidkit.stem.find_bragg_disks",
                    parameters={"threshold": threshold, "min_distance_px": md, "max_peaks": max_peaks,
                                "edge_px": eg, "upsample": upsample, "pixels": pixels},
                    package=PACKAGE, title=f"Bragg disks of {ds.title}".strip(),
                    quantity="disk position", units=detector_units(det, pixels),
                    data_type=DataType.POINT_CLOUD)
    res.metadata.setdefault("stem", {}).update(
        {"fields": [det[0].name, det[1].name, "intensity"], "detector_dims": [det[0].name, det[1].name]}
    )
    return res


def _calibrate(block: np.ndarray, d0: Dimension, d1: Dimension) -> np.ndarray:
    out = block.copy()
    out[..., 0] = pixel_to_value(d0, block[..., 0])
    out[..., 1] = pixel_to_value(d1, block[..., 1])
    return out
