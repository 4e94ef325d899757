"""The normalised metadata keys every reader fills, where the file has them.

``Dataset.metadata`` of a dataset read from an instrument file holds these
nested keys (SI units, named in the key); the file's own metadata stays
untouched in ``original_metadata``::

    {
      "acquisition": {"datetime": "2021-03-04T12:00:00", "exposure_s": 0.5,
                      "dwell_time_s": 1e-6, "detector": "HAADF", "frames": 10},
      "instrument": {"vendor": "FEI", "model": "Titan", "software": "Velox 3.1"},
      "beam": {"energy_eV": 300000.0, "current_A": 5e-11,
               "convergence_angle_rad": 0.025},
      "optics": {"magnification": 1e6, "camera_length_m": 0.1,
                 "mode": "STEM"},
      "calibration": {"pixel_size": [0.01, 0.01], "pixel_units": ["nm", "nm"]},
    }
"""

from __future__ import annotations

from typing import Any

__all__ = ["normalised_metadata", "KEYS"]

KEYS: dict[str, tuple[str, ...]] = {
    "acquisition": ("datetime", "exposure_s", "dwell_time_s", "detector", "frames"),
    "instrument": ("vendor", "model", "software", "serial"),
    "beam": ("energy_eV", "current_A", "convergence_angle_rad"),
    "optics": ("magnification", "camera_length_m", "mode"),
    "calibration": ("pixel_size", "pixel_units"),
}


def normalised_metadata(**sections: dict[str, Any] | None) -> dict[str, Any]:
    """Build the normalised ``metadata`` dict, dropping empty values.

    Parameters
    ----------
    **sections
        One dict per section of :data:`KEYS` (``acquisition={...}``, ...).
        Unknown sections or keys raise ``KeyError`` so spelling stays shared.

    Examples
    --------
    >>> normalised_metadata(beam={"energy_eV": 200e3, "current_A": None})
    {'beam': {'energy_eV': 200000.0}}
    """
    out: dict[str, Any] = {}
    for section, values in sections.items():
        if section not in KEYS:
            raise KeyError(f"unknown metadata section {section!r}; use one of {sorted(KEYS)}")
        kept = {}
        for key, value in (values or {}).items():
            if key not in KEYS[section]:
                raise KeyError(f"unknown key {section}.{key}; use one of {KEYS[section]}")
            if value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0):
                continue
            kept[key] = value
        if kept:
            out[section] = kept
    return out
