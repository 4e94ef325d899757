"""sidkit-stem placeholder"""
from ._version import __version__
