"""Optional dependencies of sidkit-learn: torch and safetensors.

Nothing here imports torch at module import; every function that needs it asks
:func:`require_torch` first, which raises
:class:`~sidkit.core.MissingDependencyError` naming ``sidkit-learn[torch]``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sidkit.core import MissingDependencyError, module_available, require

__all__ = ["torch_available", "require_torch", "require_safetensors", "select_device"]

PACKAGE = "sidkit-learn"
EXTRA = "torch"


def torch_available() -> bool:
    """True when torch can be imported (checked without importing it)."""
    return module_available("torch")


def _require(module: str, feature: str) -> ModuleType:
    try:
        return require(module, extra=EXTRA, package=PACKAGE)
    except MissingDependencyError as exc:
        msg = (
            f"{feature} needs {module.split('.')[0]}, which is not installed: "
            f"pip install '{PACKAGE}[{EXTRA}]' (on CPU-only machines install a CPU "
            "build of torch first, e.g. pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu)"
        )
        raise MissingDependencyError(msg) from exc


def require_torch(feature: str) -> ModuleType:
    """Import torch or raise a MissingDependencyError naming the extra.

    Parameters
    ----------
    feature : str
        What needs torch, for the message (``"AtomSegmenter.fit"``).

    Returns
    -------
    module
        The ``torch`` module.

    Raises
    ------
    MissingDependencyError
        torch is not installed; the message says ``pip install 'sidkit-learn[torch]'``.
    """
    return _require("torch", feature)


def require_safetensors(feature: str) -> ModuleType:
    """Import ``safetensors.torch`` or raise a MissingDependencyError naming the extra."""
    require_torch(feature)
    return _require("safetensors.torch", feature)


def select_device(device: str | Any = "auto") -> Any:
    """The torch device to run on.

    Parameters
    ----------
    device : str or torch.device, default "auto"
        ``"auto"`` takes CUDA when available, then Apple MPS, else CPU;
        anything else is passed to :class:`torch.device` (``"cpu"``, ``"cuda:1"``).

    Returns
    -------
    torch.device

    Raises
    ------
    MissingDependencyError
        torch is not installed.
    ValueError
        ``device`` names no device torch knows, or one that is not available.
    """
    torch = require_torch("choosing a device")
    if isinstance(device, torch.device):
        return device
    if device is None or str(device).lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(str(device))
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available; use 'auto' or 'cpu'")
    return dev
