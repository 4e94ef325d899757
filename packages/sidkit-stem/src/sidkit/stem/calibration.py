"""Detector calibration: from a camera length and pixel size, or from a
known reflection."""

from __future__ import annotations

import numpy as np

from sidkit.core import Dataset

from ._axes import PACKAGE, stem_axes

__all__ = ["electron_wavelength", "calibrate_camera_length", "calibrate_reflection"]

_H = 6.62607015e-34
_M = 9.1093837015e-31
_E = 1.602176634e-19
_C = 299792458.0


def electron_wavelength(energy_kev: float) -> float:
    """Relativistic electron wavelength in nm for a beam energy in keV
    (e.g. 200 keV -> 0.002508 nm)."""
    if not energy_kev > 0:
        raise ValueError(f"beam energy must be positive, got {energy_kev}")
    v = energy_kev * 1e3
    lam = _H / np.sqrt(2 * _M * _E * v * (1 + _E * v / (2 * _M * _C**2)))
    return float(lam * 1e9)


def _set_detector(ds: Dataset, step: float, units: str, center: tuple[float, float] | None,
                  process: str, params: dict, extra_md: dict) -> Dataset:
    _, det = stem_axes(ds)
    dims = list(ds.dims)
    for k, ax in enumerate(det):
        d = dims[ax]
        n = len(d)
        c = (n // 2) if center is None else float(center[k])
        q = "scattering angle" if units == "mrad" else "reciprocal length"
        dims[ax] = d.replace(values=(np.arange(n) - c) * step, units=units, quantity=q)
    out = ds.derive(dims=dims, process=process, parameters=params, package=PACKAGE,
                    data_type=ds.data_type)
    out.metadata.setdefault("stem", {}).update(extra_md)
    return out


def calibrate_camera_length(ds: Dataset, camera_length: float, pixel_size: float, *,
                            beam_energy: float | None = None, units: str = "mrad",
                            center: tuple[float, float] | None = None) -> Dataset:
    """Set the detector dims from the camera length and detector pixel size.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data.
    camera_length : float
        Camera length in mm.
    pixel_size : float
        Detector pixel size in micrometres (after binning).
    beam_energy : float, optional
        Beam energy in keV; needed for ``units="1/nm"``.
    units : {"mrad", "1/nm"}
        Scattering angle, or reciprocal length ``theta / lambda``.
    center : (float, float), optional
        Pixel of the optical axis along (det0, det1); default n // 2.

    Returns
    -------
    Dataset
        The same (lazy) data with calibrated detector dims.
    """
    if not camera_length > 0 or not pixel_size > 0:
        raise ValueError("camera_length and pixel_size must be positive")
    mrad = pixel_size * 1e-3 / camera_length * 1e3  # (um -> mm) / mm -> rad -> mrad
    md = {"camera_length_mm": camera_length, "detector_pixel_um": pixel_size}
    if beam_energy is not None:
        md.update(beam_energy_kev=beam_energy, wavelength_nm=electron_wavelength(beam_energy))
    if units == "mrad":
        step = mrad
    elif units == "1/nm":
        if beam_energy is None:
            raise ValueError("units='1/nm' needs beam_energy (keV) for the wavelength")
        step = mrad * 1e-3 / md["wavelength_nm"]
    else:
        raise ValueError(f"units must be 'mrad' or '1/nm', got {units!r}")
    return _set_detector(ds, step, units, center, "sidkit.stem.calibrate_camera_length",
                         {"camera_length": camera_length, "pixel_size": pixel_size,
                          "beam_energy": beam_energy, "units": units, "center": center}, md)


def calibrate_reflection(ds: Dataset, distance_px: float, d_spacing: float, *,
                         beam_energy: float | None = None, units: str = "1/nm",
                         center: tuple[float, float] | None = None) -> Dataset:
    """Set the detector dims from a reflection of known lattice spacing.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data.
    distance_px : float
        Measured distance, in detector pixels, from the direct beam to the
        reflection.
    d_spacing : float
        The reflection's lattice-plane spacing in nm (it lies at 1/d in 1/nm).
    beam_energy : float, optional
        Beam energy in keV; needed for ``units="mrad"``.
    units : {"1/nm", "mrad"}
    center : (float, float), optional
        Pixel of the direct beam along (det0, det1); default n // 2.

    Returns
    -------
    Dataset
        The same (lazy) data with calibrated detector dims.
    """
    if not distance_px > 0 or not d_spacing > 0:
        raise ValueError("distance_px and d_spacing must be positive")
    step = (1.0 / d_spacing) / distance_px
    md = {"reference_d_spacing_nm": d_spacing, "reference_distance_px": distance_px}
    if beam_energy is not None:
        md.update(beam_energy_kev=beam_energy, wavelength_nm=electron_wavelength(beam_energy))
    if units == "mrad":
        if beam_energy is None:
            raise ValueError("units='mrad' needs beam_energy (keV) for the wavelength")
        step = step * md["wavelength_nm"] * 1e3
    elif units != "1/nm":
        raise ValueError(f"units must be '1/nm' or 'mrad', got {units!r}")
    return _set_detector(ds, step, units, center, "sidkit.stem.calibrate_reflection",
                         {"distance_px": distance_px, "d_spacing": d_spacing,
                          "beam_energy": beam_energy, "units": units, "center": center}, md)


