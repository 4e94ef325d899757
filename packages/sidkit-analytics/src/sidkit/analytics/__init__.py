"""sidkit-analytics: decomposition, clustering, classification, fitting and
image / spectral tools on sidkit Datasets, out of core on dask.

Importing this package imports numpy, dask and sidkit.core only;
scikit-learn, scipy and scikit-image are imported when a function runs.
"""

from ._samples import AnalysisError
from ._version import __version__
from .classification import ClassificationResult, InsufficientLabelsError, classify
from .clustering import ClusterResult, cluster
from .decomposition import DecompositionResult, decompose
from .fitting import FitResult, fit, fit_sho

__all__ = [
    "__version__",
    "AnalysisError",
    "InsufficientLabelsError",
    "decompose",
    "DecompositionResult",
    "cluster",
    "ClusterResult",
    "classify",
    "ClassificationResult",
    "fit",
    "fit_sho",
    "FitResult",
]
