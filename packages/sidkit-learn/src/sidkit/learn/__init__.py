"""sidkit-learn: deep-learning models for microscopy (torch optional)."""
from ._version import __version__
__all__ = ["__version__"]
