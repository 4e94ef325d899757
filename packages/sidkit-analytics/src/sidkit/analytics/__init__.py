"""sidkit-analytics: decomposition, clustering, classification, fitting and
image / spectral tools on sidkit Datasets, out of core on dask.

Importing this package imports numpy, dask and sidkit.core only;
scikit-learn, scipy and scikit-image are imported when a function runs.
"""

from ._samples import AnalysisError
from ._version import __version__
from .background import background
from .classification import ClassificationResult, InsufficientLabelsError, classify
from .clustering import ClusterResult, cluster
from .decomposition import DecompositionResult, decompose
from .denoising import denoise
from .fitting import FitResult, fit, fit_sho
from .fourier import fft_filter
from .models import SHO, Gaussian, Lorentzian, Model, Polynomial, PseudoVoigt
from .peaks import find_atoms, find_peaks
from .registration import RegistrationResult, register
from .spectral import find_spectral_peaks, normalize, smooth, subtract_background

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
    "Model",
    "Gaussian",
    "Lorentzian",
    "PseudoVoigt",
    "Polynomial",
    "SHO",
    "register",
    "RegistrationResult",
    "denoise",
    "fft_filter",
    "background",
    "find_peaks",
    "find_atoms",
    "subtract_background",
    "normalize",
    "smooth",
    "find_spectral_peaks",
]
