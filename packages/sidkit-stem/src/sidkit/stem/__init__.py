"""sidkit-stem: 4D-STEM and atomic-resolution STEM tools.

Every function takes and returns :class:`sidkit.core.Dataset` objects with
calibrated dims; 4D-STEM datasets are recognised by their two SPATIAL (scan)
and two RECIPROCAL (detector) dims, in any axis order. Work is lazy (dask)
and chunk-parallel, so datasets larger than memory stream through, also on
a ``dask.distributed`` cluster.
"""

from ._version import __version__
from .atoms import ATOM_FIELDS, column_intensity_map, nearest_neighbour_map, refine_atom_positions
from .bragg import DISK_FIELDS, find_bragg_disks, probe_kernel
from .calibration import calibrate_camera_length, calibrate_reflection, electron_wavelength
from .center import center_patterns, find_center
from .com import center_of_mass, dpc_phase, estimate_rotation, rotate_field, scan_images
from .detectors import Detector, annular, bright_field, mask_detector, rectangle
from .strain import guess_lattice, lattice_vectors, strain_map
from .virtual import max_diffraction, mean_diffraction, virtual_image

__all__ = [
    "__version__",
    "Detector",
    "bright_field",
    "annular",
    "rectangle",
    "mask_detector",
    "virtual_image",
    "scan_images",
    "mean_diffraction",
    "max_diffraction",
    "find_center",
    "center_patterns",
    "center_of_mass",
    "estimate_rotation",
    "rotate_field",
    "dpc_phase",
    "find_bragg_disks",
    "probe_kernel",
    "DISK_FIELDS",
    "lattice_vectors",
    "guess_lattice",
    "strain_map",
    "refine_atom_positions",
    "column_intensity_map",
    "nearest_neighbour_map",
    "ATOM_FIELDS",
    "electron_wavelength",
    "calibrate_camera_length",
    "calibrate_reflection",
]
