"""Fit a model along one dim at every other position, vectorised over pixels.

Every dask block of pixels is fitted at once by a batched Levenberg-Marquardt
solver written in numpy (one small linear solve per pixel per iteration, all
pixels together), so a band-excitation map is fitted in seconds rather than
with a per-pixel ``curve_fit`` loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionType

from ._samples import AnalysisError, check_same_samples, derive, layout, matrix
from .models import SHO, Model, get_model

__all__ = ["FitResult", "fit", "fit_sho", "levenberg_marquardt"]


def levenberg_marquardt(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    p0: np.ndarray,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of ``model`` to every row of ``y`` at once.

    Parameters
    ----------
    model : Model
    x : ndarray, shape (n,)
    y : ndarray, shape (pixels, n), real or complex
    p0 : ndarray, shape (pixels, k)
    max_iter : int
        Iterations at most.
    tol : float
        A pixel stops when a step lowers its cost by less than ``tol`` times the cost.

    Returns
    -------
    params : ndarray, shape (pixels, k)
    cost : ndarray, shape (pixels,)
        Sum of squared residuals (``|r|**2`` for complex data).
    """
    x = np.asarray(x, dtype=float)
    p = np.array(p0, dtype=float, copy=True)
    npix, k = p.shape
    complex_data = np.iscomplexobj(y) or model.is_complex

    def residual(pp: np.ndarray, yy: np.ndarray) -> np.ndarray:
        r = model(x, pp) - yy
        if complex_data:
            return np.concatenate([r.real, r.imag], axis=1)
        return r

    def jacobian(pp: np.ndarray, rr: np.ndarray, yy: np.ndarray) -> np.ndarray:
        j = model.jacobian(x, pp)
        if j is None:
            j = np.empty((pp.shape[0], rr.shape[1], k))
            h = 1.5e-8 * np.where(pp != 0, np.abs(pp), 1.0)
            for i in range(k):
                q = pp.copy()
                q[:, i] += h[:, i]
                j[:, :, i] = (residual(q, yy) - rr) / h[:, i : i + 1]
            return j
        if complex_data:
            j = np.concatenate([j.real, j.imag], axis=1)
        return np.asarray(j, dtype=float)

    with np.errstate(all="ignore"):
        r = residual(p, y)
        cost = np.einsum("ij,ij->i", r, r)
        lam = np.full(npix, 1e-3)
        active = np.isfinite(cost)
        for _ in range(int(max_iter)):
            idx = np.nonzero(active)[0]
            if idx.size == 0:
                break
            pa, ra, ya = p[idx], r[idx], y[idx]
            j = jacobian(pa, ra, ya)
            g = np.einsum("pmk,pm->pk", j, ra)
            h = np.einsum("pmk,pml->pkl", j, j)
            d = np.einsum("pkk->pk", h)
            d = np.where(d > 0, d, 1e-30)
            a = h + (lam[idx, None] * d)[:, :, None] * np.eye(k)[None]
            a[~np.isfinite(a)] = 0.0
            g[~np.isfinite(g)] = 0.0
            try:
                step = np.linalg.solve(a, -g[..., None])[..., 0]
            except np.linalg.LinAlgError:
                step = np.stack([np.linalg.lstsq(ai, -gi, rcond=None)[0] for ai, gi in zip(a, g)])
            pn = model.clip(pa + step)
            rn = residual(pn, ya)
            cn = np.einsum("ij,ij->i", rn, rn)
            better = np.isfinite(cn) & (cn < cost[idx])
            gain = np.where(better, cost[idx] - cn, 0.0)
            b = idx[better]
            p[b], r[b], cost[b] = pn[better], rn[better], cn[better]
            lam[idx] = np.where(better, np.maximum(lam[idx] / 5.0, 1e-12), lam[idx] * 4.0)
            done = (better & (gain <= tol * np.maximum(cost[idx], 1e-300))) | (lam[idx] > 1e12) | (cost[idx] == 0)
            active[idx[done]] = False
    return p, cost


def _r_squared(y: np.ndarray, cost: np.ndarray) -> np.ndarray:
    yc = y - y.mean(axis=1, keepdims=True)
    ss = np.einsum("ij,ij->i", yc.real, yc.real)
    if np.iscomplexobj(y):
        ss = ss + np.einsum("ij,ij->i", yc.imag, yc.imag)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss > 0, 1.0 - cost / ss, np.where(cost == 0, 1.0, 0.0))


def _fit_block(y: np.ndarray, p0: np.ndarray | None, x: np.ndarray, model: Model,
               max_iter: int, tol: float) -> np.ndarray:
    yy = np.asarray(y, dtype=np.complex128 if np.iscomplexobj(y) else np.float64)
    start = model.guess(x, yy) if p0 is None else np.asarray(p0, dtype=float)
    p, cost = levenberg_marquardt(model, x, yy, start, max_iter=max_iter, tol=tol)
    p = model.finalize(p)
    return np.concatenate([p, _r_squared(yy, cost)[:, None]], axis=1)


@dataclass
class FitResult:
    """What :func:`fit` found.

    Attributes
    ----------
    parameters : Dataset
        Sample dims x ``parameter`` (values are the parameter names).
    r_squared : Dataset
        Sample dims: coefficient of determination of every fit.
    model : Model
    units : dict
        Units of every parameter.
    """

    parameters: Dataset
    r_squared: Dataset
    model: Model
    units: dict[str, str]
    dim: Dimension

    def parameter(self, name: str) -> Dataset:
        """One parameter map (sample dims) with its units."""
        if name not in self.model.param_names:
            raise AnalysisError(f"no parameter {name!r}; parameters are {list(self.model.param_names)}")
        out = self.parameters.isel(parameter=self.model.param_names.index(name))
        out.title, out.quantity, out.units = name, name, self.units[name]
        return out

    def evaluate(self) -> Dataset:
        """The fitted model at every position: sample dims x the fitted dim (lazy)."""
        x = np.asarray(self.dim.values, dtype=float)
        p = self.parameters.data
        model = self.model
        n = x.size

        def curve(block: np.ndarray) -> np.ndarray:
            flat = block.reshape(-1, block.shape[-1])
            return model(x, flat).reshape(block.shape[:-1] + (n,))

        dtype = np.complex128 if model.is_complex else np.float64
        data = p.rechunk({p.ndim - 1: -1}).map_blocks(curve, chunks=p.chunks[:-1] + ((n,),), dtype=dtype)
        dims = list(self.parameters.dims[:-1]) + [self.dim]
        return self.parameters.derive(data, dims, process="sidkit.analytics.FitResult.evaluate",
                                      parameters={}, package="sidkit-analytics",
                                      title=f"{model.name} fit", data_type=None)

    def plot(self, *, r_squared: bool = True, robust: bool = True, cmap: str = "viridis",
             **kwargs: Any) -> Any:
        """A grid of the parameter maps (and the R² map), each in its units.

        Parameters
        ----------
        r_squared : bool, default True
            Add the map of the coefficient of determination as a last panel.
        robust : bool, default True
            Colour range of every map from its 2nd to 98th percentile, so a few
            failed fits do not hide the rest.
        cmap : str, default "viridis"
        **kwargs
            Passed to :func:`sidkit.core.plotting.plot_grid` (``ncols``,
            ``figsize``, ``suptitle``, ``colorbar``).

        Returns
        -------
        matplotlib.figure.Figure
            One panel per parameter (an image over two sample dims, a line
            along one), titled ``"name (units)"``, with a colour bar labelled
            the same way.

        Raises
        ------
        MissingDependencyError
            matplotlib is not installed (``pip install "sidkit-core[plot]"``).
        """
        from sidkit.core import require

        require("matplotlib", extra="plot", package="sidkit-core", reader="FitResult.plot")
        from sidkit.core.plotting import plot_grid

        panels: dict[str, Dataset] = {}
        for name in self.model.param_names:
            units = self.units.get(name, "")
            panels[f"{name} ({units})" if units else name] = self.parameter(name)
        if r_squared:
            r2 = self.r_squared.copy()
            r2.quantity, r2.units = "R²", ""
            panels["R²"] = r2
        kwargs.setdefault("suptitle", f"{self.model.name} fit along {self.dim.name}")
        return plot_grid(panels, robust=robust, cmap=cmap, max_panels=len(panels), **kwargs)


def _guess_array(guess: Any, ds: Dataset, lay: Any, model: Model) -> tuple[np.ndarray | None, da.Array | None]:
    k = len(model.param_names)
    if guess is None:
        return None, None
    if isinstance(guess, Mapping):
        missing = [n for n in model.param_names if n not in guess]
        if missing:
            raise AnalysisError(f"guess lacks parameters {missing}")
        return np.array([float(guess[n]) for n in model.param_names]), None
    if isinstance(guess, Dataset):
        if "parameter" not in guess.dim_names:
            raise AnalysisError(f"a guess Dataset needs a 'parameter' dim, got {list(guess.dim_names)}")
        check_same_samples(ds, guess.isel(parameter=0), lay, "guess")
        g = guess.transpose(*lay.sample_names, "parameter").data.reshape(lay.n_samples, k)
        return None, g
    g = np.asarray(guess, dtype=float)
    if g.shape == (k,):
        return g, None
    if g.shape == lay.sample_shape + (k,):
        return None, da.from_array(g.reshape(lay.n_samples, k))
    raise AnalysisError(f"guess must have {k} values or shape {lay.sample_shape + (k,)}, got {g.shape}")


def fit(
    ds: Dataset,
    model: str | Model | Callable[..., Any],
    guess: Any = None,
    dim: Any = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    pixels_per_block: int = 4096,
    model_options: Mapping[str, Any] | None = None,
) -> FitResult:
    """Fit ``model`` along ``dim`` at every other position.

    Parameters
    ----------
    ds : Dataset
        Real or complex data, e.g. a band-excitation map (x, y, frequency).
    model : str, Model or callable
        ``"gaussian"``, ``"lorentzian"``, ``"voigt"``, ``"polynomial"``,
        ``"sho"``, a :class:`~sidkit.analytics.models.Model`, or a function
        ``f(x, *params)`` written with numpy broadcasting (needs ``guess``).
    guess : None, dict, sequence, array or Dataset
        Starting parameters: None for the model's automatic guess at every
        pixel; one value per parameter (dict by name or sequence) for all
        pixels; or a per-pixel array / Dataset (sample dims x parameter).
    dim : dim name or index, optional
        The dim to fit along; by default the only spectral dim (else the last dim).
        ``x`` is that dim's values, in its units.
    max_iter, tol : int, float
        Levenberg-Marquardt iteration limit and relative cost tolerance.
    pixels_per_block : int, default 4096
        Pixels fitted together in one dask task.
    model_options : dict, optional
        Passed to the model class when ``model`` is a name (e.g. ``{"order": 3}``).

    Returns
    -------
    FitResult
        ``.parameters`` (sample dims x parameter), ``.parameter(name)``,
        ``.r_squared`` and ``.evaluate()``; lazy until computed.
    """
    try:
        mdl = get_model(model, **dict(model_options or {}))
    except (ValueError, TypeError) as exc:
        raise AnalysisError(str(exc)) from exc
    if dim is None:
        spectral = ds.dims_of_type(DimensionType.SPECTRAL)
        dim = spectral[0].name if len(spectral) == 1 else ds.dim_names[-1]
    fdim = ds.dim(dim)
    lay = layout(ds, feature_dims=[fdim.name])
    if not np.issubdtype(fdim.values.dtype, np.number):
        raise AnalysisError(f"dim '{fdim.name}' has non-numeric values; cannot fit along it")
    x = np.asarray(fdim.values, dtype=float)
    k = len(mdl.param_names)
    y = matrix(ds, lay, row_chunks=int(pixels_per_block))
    p0, p0_dask = _guess_array(guess, ds, lay, mdl)
    if p0 is None and p0_dask is None:
        try:
            mdl.guess(x, np.ones((1, x.size)))
        except ValueError as exc:
            raise AnalysisError(str(exc)) from exc
    if p0_dask is not None:
        p0_dask = p0_dask.astype(float).rechunk((y.chunks[0], (k,)))
        out = da.map_blocks(
            lambda yb, pb: _fit_block(yb, pb, x, mdl, max_iter, tol),
            y, p0_dask, chunks=(y.chunks[0], (k + 1,)), dtype=np.float64,
        )
    else:
        def block_fn(yb: np.ndarray) -> np.ndarray:
            start = None if p0 is None else np.broadcast_to(p0, (yb.shape[0], k))
            return _fit_block(yb, start, x, mdl, max_iter, tol)

        out = y.map_blocks(block_fn, chunks=(y.chunks[0], (k + 1,)), dtype=np.float64)
    units = dict(zip(mdl.param_names, mdl.param_units(fdim.units, ds.units)))
    pdim = Dimension("parameter", np.array(mdl.param_names), quantity="parameter", units="",
                     dimension_type=DimensionType.CHANNEL)
    params = {"model": repr(mdl), "dim": fdim.name, "guess": guess if guess is None or np.ndim(guess) <= 1
              and not isinstance(guess, Dataset) else "<per-pixel>", "max_iter": max_iter, "tol": tol}
    image = DataType.IMAGE_STACK if len(lay.sample_dims) == 2 else None
    pars = derive(ds, out[:, :k].reshape(lay.sample_shape + (k,)), lay.sample_dims + (pdim,), "fit", params,
                  title=f"{mdl.name} parameters", quantity="parameter", units="", data_type=image)
    pars.metadata = {**pars.metadata, "fit": {"model": mdl.name, "parameter_units": units, "dim": fdim.name}}
    r2 = derive(ds, out[:, k].reshape(lay.sample_shape), lay.sample_dims, "fit", params,
                title=f"{mdl.name} fit R^2", quantity="R^2", units="",
                data_type=DataType.IMAGE if len(lay.sample_dims) == 2 else None)
    return FitResult(pars, r2, mdl, units, fdim)


def fit_sho(ds: Dataset, guess: Any = None, dim: Any = None, **kwargs: Any) -> FitResult:
    """Fit the simple harmonic oscillator to complex band-excitation data.

    Shorthand for ``fit(ds, SHO(), guess, dim, **kwargs)``; parameters are
    ``amplitude`` (data units), ``frequency`` (resonance, units of the
    frequency dim), ``quality_factor`` and ``phase`` (rad). See
    :class:`sidkit.analytics.models.SHO` for the formula.

    Raises
    ------
    AnalysisError
        The data are not complex.
    """
    if not np.issubdtype(ds.dtype, np.complexfloating):
        raise AnalysisError(f"SHO fits need complex data (amplitude and phase); got {ds.dtype}")
    return fit(ds, SHO(), guess, dim, **kwargs)
