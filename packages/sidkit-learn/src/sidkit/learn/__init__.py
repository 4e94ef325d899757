"""sidkit-learn: deep-learning models for microscopy, torch optional.

- :class:`AtomSegmenter`: a compact U-Net that segments atom columns
  (needs ``pip install 'sidkit-learn[torch]'``).
- :func:`find_atoms`: image + model -> point-cloud Dataset of atom coordinates.
- :mod:`sidkit.learn.synthetic`: labelled training images, no download needed.
- :class:`Model`, :func:`models`, :func:`get_model`, :func:`load_model`: the
  ``sidkit.models`` plugin interface.

Importing this package never imports torch.
"""

from . import synthetic
from ._deps import select_device, torch_available
from ._version import __version__
from .atoms import find_atoms, pixels_to_coordinates, positions_from_probability, refine_positions
from .card import read_model_card, write_model_card
from .metrics import PointMatch, match_points
from .model import MODELS, Model, get_model, load_model, models
from .segmenter import AtomSegmenter
from .synthetic import SyntheticData, make_atom_images
from .tiling import predict_tiled

__all__ = [
    "__version__",
    "AtomSegmenter",
    "Model",
    "MODELS",
    "models",
    "get_model",
    "load_model",
    "find_atoms",
    "positions_from_probability",
    "refine_positions",
    "pixels_to_coordinates",
    "match_points",
    "PointMatch",
    "synthetic",
    "make_atom_images",
    "SyntheticData",
    "read_model_card",
    "write_model_card",
    "predict_tiled",
    "select_device",
    "torch_available",
]
