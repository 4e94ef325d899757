"""Models for :func:`sidkit.analytics.fit`, evaluated for many pixels at once.

A model maps coordinates ``x`` (shape ``(n,)``) and parameters ``p`` (shape
``(pixels, k)``) to values of shape ``(pixels, n)``, guesses starting
parameters from data ``y`` (``(pixels, n)``), and may give an analytic
Jacobian ``(pixels, n, k)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "Model",
    "Gaussian",
    "Lorentzian",
    "PseudoVoigt",
    "Polynomial",
    "SHO",
    "FunctionModel",
    "get_model",
    "MODELS",
]

_FWHM_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


class Model:
    """Base class of vectorised fit models.

    Subclasses set ``name`` and ``param_names`` and implement :meth:`__call__`
    and :meth:`guess`; :meth:`jacobian` returning None means finite
    differences; :meth:`clip` keeps parameters in range after each step.
    """

    name: str = "model"
    param_names: tuple[str, ...] = ()
    is_complex: bool = False

    def __call__(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray | None:
        return None

    def clip(self, p: np.ndarray) -> np.ndarray:
        return p

    def finalize(self, p: np.ndarray) -> np.ndarray:
        """Bring fitted parameters to a canonical form (e.g. positive widths)."""
        return p

    def param_units(self, x_units: str, y_units: str) -> tuple[str, ...]:
        return ("a.u.",) * len(self.param_names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.param_names)})"


def _peak_guess(x: np.ndarray, y: np.ndarray, baseline: bool) -> tuple[np.ndarray, ...]:
    off = np.min(y, axis=1) if baseline else np.zeros(y.shape[0])
    yy = y - off[:, None]
    i = np.argmax(yy, axis=1)
    amp = yy[np.arange(y.shape[0]), i]
    center = x[i]
    dx = np.abs(np.gradient(x)) if x.size > 1 else np.ones(1)
    above = yy >= 0.5 * amp[:, None]
    fwhm = np.maximum((above * dx[None, :]).sum(axis=1), dx.min())
    return amp, center, fwhm, off


class _Peak(Model):
    def __init__(self, baseline: bool = False) -> None:
        self.baseline = bool(baseline)
        if baseline:
            self.param_names = self.param_names + ("offset",)

    def _shape(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        out = p[:, 0:1] * self._shape(x, p)
        if self.baseline:
            out = out + p[:, -1:]
        return out

    def param_units(self, x_units: str, y_units: str) -> tuple[str, ...]:
        units = (y_units, x_units) + (x_units,) * (len(self.param_names) - 2 - self.baseline)
        if self.name == "voigt":
            units = (y_units, x_units, x_units, "")
        return units + ((y_units,) if self.baseline else ())

    def finalize(self, p: np.ndarray) -> np.ndarray:
        p = p.copy()
        p[:, 2] = np.abs(p[:, 2])
        return p


class Gaussian(_Peak):
    """``amplitude * exp(-(x - center)**2 / (2 sigma**2)) [+ offset]``."""

    name = "gaussian"
    param_names = ("amplitude", "center", "sigma")

    def _shape(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((x[None, :] - p[:, 1:2]) / p[:, 2:3]) ** 2)

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        amp, c, fwhm, off = _peak_guess(x, y, self.baseline)
        cols = [amp, c, fwhm / _FWHM_SIGMA] + ([off] if self.baseline else [])
        return np.stack(cols, axis=1)


class Lorentzian(_Peak):
    """``amplitude * gamma**2 / ((x - center)**2 + gamma**2) [+ offset]`` (gamma = HWHM)."""

    name = "lorentzian"
    param_names = ("amplitude", "center", "gamma")

    def _shape(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        g2 = p[:, 2:3] ** 2
        return g2 / ((x[None, :] - p[:, 1:2]) ** 2 + g2)

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        amp, c, fwhm, off = _peak_guess(x, y, self.baseline)
        return np.stack([amp, c, fwhm / 2] + ([off] if self.baseline else []), axis=1)


class PseudoVoigt(_Peak):
    """Voigt-like peak: ``amplitude * (eta L + (1 - eta) G)`` with a shared FWHM."""

    name = "voigt"
    param_names = ("amplitude", "center", "fwhm", "eta")

    def _shape(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        d = x[None, :] - p[:, 1:2]
        w = p[:, 2:3]
        g = np.exp(-0.5 * (d * _FWHM_SIGMA / w) ** 2)
        lor = (0.5 * w) ** 2 / (d**2 + (0.5 * w) ** 2)
        eta = p[:, 3:4]
        return eta * lor + (1 - eta) * g

    def clip(self, p: np.ndarray) -> np.ndarray:
        p[:, 3] = np.clip(p[:, 3], 0.0, 1.0)
        return p

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        amp, c, fwhm, off = _peak_guess(x, y, self.baseline)
        return np.stack([amp, c, fwhm, np.full_like(amp, 0.5)] + ([off] if self.baseline else []), axis=1)


class Polynomial(Model):
    """``c0 + c1 x + ... + c_order x**order`` (a polynomial background)."""

    name = "polynomial"

    def __init__(self, order: int = 2) -> None:
        self.order = int(order)
        if not 0 <= self.order <= 12:
            raise ValueError(f"polynomial order must be between 0 and 12, got {order}")
        self.param_names = tuple(f"c{i}" for i in range(self.order + 1))

    def _vander(self, x: np.ndarray) -> np.ndarray:
        return np.vander(x, self.order + 1, increasing=True)

    def __call__(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return p @ self._vander(x).T

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._vander(x)[None], (p.shape[0], x.size, self.order + 1))

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        coef, *_ = np.linalg.lstsq(self._vander(x), y.T, rcond=None)
        return coef.T

    def param_units(self, x_units: str, y_units: str) -> tuple[str, ...]:
        return tuple(y_units if i == 0 else f"{y_units}/({x_units})^{i}" for i in range(self.order + 1))


class SHO(Model):
    """Simple harmonic oscillator response of band-excitation SPM (complex).

    ``amplitude * exp(1j phase) * f0**2 / (f**2 - 1j f f0 / Q - f0**2)``
    with parameters ``amplitude``, ``frequency`` (resonance f0, in the units
    of the frequency dim), ``quality_factor`` Q and ``phase`` (rad), the
    convention of BGlib's ``SHO_fit_flattened``. At resonance the response
    is ``amplitude * Q`` at phase ``phase + pi/2``.
    """

    name = "sho"
    param_names = ("amplitude", "frequency", "quality_factor", "phase")
    is_complex = True

    def __call__(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        a, f0, q, ph = (p[:, i : i + 1] for i in range(4))
        w = x[None, :]
        return a * np.exp(1j * ph) * f0**2 / (w**2 - 1j * w * f0 / q - f0**2)

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        a, f0, q, ph = (p[:, i : i + 1] for i in range(4))
        w = x[None, :]
        d = w**2 - 1j * w * f0 / q - f0**2
        e = np.exp(1j * ph)
        base = e * f0**2 / d
        f = a * base
        dd_df0 = -1j * w / q - 2 * f0
        dd_dq = 1j * w * f0 / q**2
        d_f0 = a * e * (2 * f0 * d - f0**2 * dd_df0) / d**2
        d_q = -a * e * f0**2 * dd_dq / d**2
        return np.stack([base, d_f0, d_q, 1j * f], axis=2)

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        mag = np.abs(y)
        i = np.argmax(mag, axis=1)
        rows = np.arange(y.shape[0])
        peak = mag[rows, i]
        f0 = x[i]
        dx = np.abs(np.gradient(x)) if x.size > 1 else np.ones(1)
        width = (mag >= peak[:, None] / np.sqrt(2.0)) * dx[None, :]
        fwhm = np.maximum(width.sum(axis=1), dx.min())
        q = np.clip(np.abs(f0) / fwhm, 1.0, 1e5)
        amp = peak / q
        phase = np.angle(y[rows, i]) - np.pi / 2
        return np.stack([amp, f0, q, np.angle(np.exp(1j * phase))], axis=1)

    def finalize(self, p: np.ndarray) -> np.ndarray:
        p = p.copy()
        # the model is invariant under (A, f0, Q) -> (-A, f0, Q) with phase + pi; and f0 -> -f0, Q -> -Q
        neg_a = p[:, 0] < 0
        p[neg_a, 0] *= -1
        p[neg_a, 3] += np.pi
        neg = p[:, 1] < 0
        p[neg, 1] *= -1
        p[neg, 2] *= -1
        p[:, 3] = np.angle(np.exp(1j * p[:, 3]))
        return p

    def param_units(self, x_units: str, y_units: str) -> tuple[str, ...]:
        return (y_units, x_units, "", "rad")


class FunctionModel(Model):
    """Wrap a plain function ``f(x, *params)`` written with numpy broadcasting.

    It is called with ``x`` of shape ``(1, n)`` and each parameter of shape
    ``(pixels, 1)``. A starting guess must be given to :func:`fit`.
    """

    def __init__(self, func: Callable[..., Any], param_names: tuple[str, ...] | None = None,
                 is_complex: bool = False) -> None:
        self.func = func
        self.name = getattr(func, "__name__", "function")
        if param_names is None:
            sig = list(inspect.signature(func).parameters)[1:]
            param_names = tuple(sig)
        self.param_names = tuple(param_names)
        self.is_complex = bool(is_complex)

    def __call__(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        out = self.func(x[None, :], *(p[:, i : i + 1] for i in range(p.shape[1])))
        return np.broadcast_to(out, (p.shape[0], x.size))

    def guess(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise ValueError(f"model {self.name!r} has no automatic guess; pass guess= to fit()")


MODELS: dict[str, Callable[..., Model]] = {
    "gaussian": Gaussian,
    "lorentzian": Lorentzian,
    "voigt": PseudoVoigt,
    "pseudo_voigt": PseudoVoigt,
    "polynomial": Polynomial,
    "sho": SHO,
}


def get_model(model: str | Model | Callable[..., Any], **options: Any) -> Model:
    """A :class:`Model` from a name (``"gaussian"``, ``"sho"``, ...), an instance or a function."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        try:
            return MODELS[model.lower()](**options)
        except KeyError:
            raise ValueError(f"unknown model {model!r}; known: {sorted(MODELS)}") from None
    if callable(model):
        return FunctionModel(model, **options)
    raise ValueError(f"{model!r} is not a model name, Model or function")
