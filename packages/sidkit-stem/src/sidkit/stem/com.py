"""Centre of mass (CoM) / differential phase contrast (DPC): shift maps, the
scan-detector rotation and phase by Fourier integration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionMismatchError, DimensionType

from ._axes import PACKAGE, center_pixels, detector_units, pixel_to_value, stem_data
from ._engine import detector_sums
from .detectors import Detector, as_detector

__all__ = ["center_of_mass", "dpc_phase", "estimate_rotation", "rotate_field", "scan_images"]


def _com_weights(ds: Dataset, mask: Any, center: Any, pixels: bool) -> tuple[np.ndarray, tuple[float, float]]:
    """Weights [mask, mask*c0, mask*c1] with coordinates relative to the centre."""
    _, _, det = stem_data(ds)
    n0, n1 = len(det[0]), len(det[1])
    m = np.ones((n0, n1)) if mask is None else as_detector(mask).weights(ds)
    cp = center_pixels(det, center, pixels)
    if pixels:
        c0 = np.arange(n0, dtype=float) - cp[0]
        c1 = np.arange(n1, dtype=float) - cp[1]
    else:
        c0 = det[0].values.astype(float) - float(pixel_to_value(det[0], cp[0]))
        c1 = det[1].values.astype(float) - float(pixel_to_value(det[1], cp[1]))
    w = np.stack([m, m * c0[:, None], m * c1[None, :]])
    return w, cp


def _ratio(block: np.ndarray) -> np.ndarray:
    total = block[..., :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total != 0, block[..., 1:3] / np.where(total != 0, total, 1), 0.0)
    return out.astype(block.dtype)


def rotate_field(field: np.ndarray | da.Array, degrees: float) -> Any:
    """Rotate a vector field (2, ...) by ``degrees`` (counter-clockwise in the
    (axis0, axis1) plane): g0 = cos c0 - sin c1, g1 = sin c0 + cos c1."""
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    if isinstance(field, da.Array):
        return da.stack([c * field[0] - s * field[1], s * field[0] + c * field[1]])
    return np.stack([c * field[0] - s * field[1], s * field[0] + c * field[1]])


def estimate_rotation(field: np.ndarray, spacing: tuple[float, float] = (1.0, 1.0)) -> float:
    """The rotation (degrees, in [-90, 90)) that makes a CoM field curl-free.

    The curl of the field rotated by t is ``sin t * div(c) + cos t * curl(c)``,
    so the summed squared curl is a sinusoid in 2t whose minimum is found in
    closed form. The field is only defined up to a sign by the curl, so the
    angle is returned modulo 180 degrees.
    """
    c0, c1 = np.asarray(field[0], float), np.asarray(field[1], float)
    d00 = np.gradient(c0, spacing[0], axis=0)
    d01 = np.gradient(c0, spacing[1], axis=1)
    d10 = np.gradient(c1, spacing[0], axis=0)
    d11 = np.gradient(c1, spacing[1], axis=1)
    div = d00 + d11
    curl = d10 - d01
    ok = np.isfinite(div) & np.isfinite(curl)
    a = float(np.sum(div[ok] ** 2))
    b = float(np.sum(curl[ok] ** 2))
    x = float(np.sum(div[ok] * curl[ok]))
    # E(t) = (a+b)/2 + (b-a)/2 cos 2t + x sin 2t ; minimum at 2t = atan2(x, (b-a)/2) + pi
    t = 0.5 * (np.arctan2(x, (b - a) / 2.0) + np.pi)
    deg = float(np.rad2deg(t))
    return (deg + 90.0) % 180.0 - 90.0


def _scan_spacing(scan: list[Dimension]) -> tuple[float, float]:
    return tuple(abs(d.scale) if len(d) > 1 and d.scale != 0 else 1.0 for d in scan)  # type: ignore[return-value]


def _com_dataset(ds: Dataset, field: da.Array, scan: list[Dimension], det: list[Dimension],
                 rotation: float | None, pixels: bool, params: dict[str, Any]) -> Dataset:
    comp = Dimension("component", 2, quantity="component", units="",
                     dimension_type=DimensionType.CHANNEL)
    if rotation is not None:
        field = rotate_field(field, rotation)
        names = [scan[0].name, scan[1].name]
        frame = "scan"
    else:
        names = [det[0].name, det[1].name]
        frame = "detector"
    res = ds.derive(field, [comp, *scan], process="sidkit.stem.center_of_mass",
                    parameters=params, package=PACKAGE,
                    title=f"CoM shift of {ds.title}".strip(), quantity="CoM shift",
                    units=detector_units(det, pixels), data_type=DataType.IMAGE_STACK)
    res.metadata.setdefault("stem", {}).update(
        {"components": names, "frame": frame,
         "rotation_deg": None if rotation is None else float(rotation),
         "detector_dims": [det[0].name, det[1].name]}
    )
    return res


def scan_images(ds: Dataset, detectors: Sequence[Detector | Any] = (), *, com: bool = True,
                mask: Any = None, center: Any = None, rotation: float | None = None,
                pixels: bool = False) -> dict[str, Dataset]:
    """Virtual images and the CoM shift map from ONE pass over the data.

    All weight maps (the detectors, and the three CoM moments) are stacked
    and contracted with the data together, so ``dask.compute`` of the
    results reads each pattern once. Arguments as in :func:`virtual_image`
    and :func:`center_of_mass` (geometry in calibrated detector units, or
    pixels with ``pixels=True`` for the CoM centre).

    Returns
    -------
    dict of str to Dataset
        One lazy IMAGE per detector (by its name) and, with ``com``, ``"com"``.
        Compute them together: ``dask.compute(*[r.data for r in out.values()])``.
    """
    data, scan, det = stem_data(ds)
    dets = [as_detector(d) for d in detectors]
    stacks = [d.weights(ds) for d in dets]
    cp = None
    if com:
        w, cp = _com_weights(ds, mask, center, pixels)
        stacks.extend(list(w))
    if not stacks:
        raise ValueError("scan_images needs at least one detector or com=True")
    sums = detector_sums(data, np.stack(stacks))
    out: dict[str, Dataset] = {}
    for i, d in enumerate(dets):
        name = d.name or f"detector_{i}"
        out[name] = ds.derive(sums[..., i], scan, process="sidkit.stem.virtual_image",
                              parameters={"detectors": [d.describe()]}, package=PACKAGE,
                              title=f"{name} image", data_type=DataType.IMAGE,
                              quantity="intensity")
    if com:
        k = len(dets)
        moments = sums[..., k:k + 3]
        field = moments.map_blocks(_ratio, dtype=sums.dtype,
                                   chunks=(moments.chunks[0], moments.chunks[1], (2,)))
        field = field.transpose(2, 0, 1)
        params = {"mask": None if mask is None else as_detector(mask).describe(),
                  "center_px": cp, "rotation": rotation, "pixels": pixels}
        out["com"] = _com_dataset(ds, field, scan, det, rotation, pixels, params)
    return out


def center_of_mass(ds: Dataset, mask: Any = None, *, center: Any = None,
                   rotation: float | str | None = None, pixels: bool = False) -> Dataset:
    """Centre-of-mass shift of every diffraction pattern.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data (two SPATIAL scan dims, two RECIPROCAL detector dims).
    mask : Detector or array_like, optional
        Only these detector pixels count (e.g. ``bright_field(r)``), or weights.
    center : (float, float), optional
        Reference point the shift is measured from, in calibrated detector
        units (pixels with ``pixels=True``); default the detector origin when
        it lies on the detector, else its middle.
    rotation : float, "auto" or None
        Angle in degrees that rotates detector-frame vectors into the scan
        frame (counter-clockwise in the (axis0, axis1) plane). ``"auto"``
        estimates it by minimising the curl of the field (this computes the
        CoM); ``None`` leaves the field in the detector frame.
    pixels : bool, default False
        Results (and ``center``) in detector pixels instead of calibrated units.

    Returns
    -------
    Dataset
        IMAGE_STACK (component, scan0, scan1): the two components of the
        shift, in detector units (e.g. 1/nm or mrad) or px.
        ``metadata["stem"]`` names the components, the frame and the rotation.
        Lazy unless ``rotation="auto"``.
    """
    auto = isinstance(rotation, str)
    if auto and rotation != "auto":
        raise ValueError(f"rotation must be a number of degrees, 'auto' or None, got {rotation!r}")
    res = scan_images(ds, (), com=True, mask=mask, center=center,
                      rotation=None if auto else rotation, pixels=pixels)["com"]
    if not auto:
        return res
    field = np.asarray(res.data.compute())
    scan = [res.dims[1], res.dims[2]]
    angle = estimate_rotation(field, _scan_spacing(scan))
    out = res.derive(rotate_field(field, angle), process="sidkit.stem.center_of_mass",
                     parameters={"rotation": "auto", "estimated_rotation_deg": angle},
                     package=PACKAGE)
    out.metadata["stem"].update({"components": [scan[0].name, scan[1].name], "frame": "scan",
                                 "rotation_deg": angle})
    return out


def _fourier_integrate(g0: np.ndarray, g1: np.ndarray, d0: float, d1: float,
                       regularization: float = 0.0) -> np.ndarray:
    """Integrate a gradient field by FFT with mirror (even) extension of the result."""
    n0, n1 = g0.shape
    e0 = np.block([[g0, g0[:, ::-1]], [-g0[::-1, :], -g0[::-1, ::-1]]])
    e1 = np.block([[g1, -g1[:, ::-1]], [g1[::-1, :], -g1[::-1, ::-1]]])
    k0 = np.fft.fftfreq(2 * n0, d0)[:, None]
    k1 = np.fft.fftfreq(2 * n1, d1)[None, :]
    k2 = k0**2 + k1**2
    denom = 2j * np.pi * (k2 + regularization)
    denom[0, 0] = 1.0
    f = (k0 * np.fft.fft2(e0) + k1 * np.fft.fft2(e1)) / denom
    f[0, 0] = 0.0
    phi = np.fft.ifft2(f).real[:n0, :n1]
    return phi - phi.mean()


def dpc_phase(com: Dataset, *, wavelength: float | None = None, regularization: float = 0.0) -> Dataset:
    """Phase image from a CoM shift field by Fourier integration.

    The CoM shift is proportional to the phase gradient,
    ``grad(phi) = 2 pi k`` for a shift ``k`` in 1/nm over a scan in nm. The
    field is integrated in Fourier space with a mirror extension (no
    periodic edge artefacts).

    Parameters
    ----------
    com : Dataset
        From :func:`center_of_mass` (component, scan0, scan1). Its
        components should be in the scan frame (give ``rotation``); a
        detector-frame field is integrated as is.
    wavelength : float, optional
        Electron wavelength in nm, to convert a field in mrad (default:
        ``metadata["stem"]["wavelength_nm"]`` when present).
    regularization : float, default 0
        Added to k^2 in the denominator (in (1/scan unit)^2) to damp the
        lowest frequencies.

    Returns
    -------
    Dataset
        IMAGE over the scan dims, mean zero: in rad when the field is in 1/nm
        (or mrad with a known wavelength) and the scan in nm, else in a.u.
    """
    if com.ndim != 3 or com.shape[0] != 2:
        raise DimensionMismatchError(
            f"dpc_phase needs a CoM field (component=2, scan0, scan1), got dims {list(com.dim_names)} "
            f"of shape {com.shape}"
        )
    field = np.asarray(com.data.compute(), dtype=float)
    field = np.nan_to_num(field)
    scan = [com.dims[1], com.dims[2]]
    d0, d1 = _scan_spacing(scan)
    stem_md = com.metadata.get("stem", {})
    lam = wavelength if wavelength is not None else stem_md.get("wavelength_nm")
    scan_nm = all(d.units == "nm" for d in scan)
    factor, units = 1.0, "a.u."
    if com.units == "1/nm" and scan_nm:
        factor, units = 2 * np.pi, "rad"
    elif com.units == "mrad" and lam and scan_nm:
        factor, units = 2 * np.pi * 1e-3 / float(lam), "rad"
    phi = _fourier_integrate(factor * field[0], factor * field[1], d0, d1, regularization)
    return com.derive(phi, scan, process="sidkit.stem.dpc_phase",
                      parameters={"wavelength": lam, "regularization": regularization,
                                  "factor": factor},
                      package=PACKAGE, title=f"DPC phase of {com.title}".strip(),
                      quantity="phase", units=units, data_type=DataType.IMAGE)
