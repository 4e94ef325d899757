"""sidkit-readers: instrument file formats as ``sidkit.readers`` plugins.

Each format lives in its own module and is found by ``sidkit.core.load``
through its entry point; importing this package imports no parser.
"""

from ._version import __version__

__all__ = ["__version__"]
