from __future__ import annotations

import numpy as np
import pytest

from sidkit.analytics import SHO, AnalysisError, Gaussian, fit, fit_sho
from sidkit.analytics.fitting import levenberg_marquardt
from sidkit.core import Dataset, Dimension


def _sho_dataset(nx: int = 24, ny: int = 20, nf: int = 64, noise: float = 0.002, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = np.linspace(300e3, 340e3, nf)
    truth = np.stack([
        rng.uniform(1e-3, 2e-3, (ny, nx)),        # amplitude (V)
        rng.uniform(312e3, 328e3, (ny, nx)),      # resonance (Hz)
        rng.uniform(60, 200, (ny, nx)),           # Q
        rng.uniform(-2.5, 2.5, (ny, nx)),         # phase (rad)
    ], axis=-1)
    y = SHO()(f, truth.reshape(-1, 4)).reshape(ny, nx, nf)
    scale = noise * np.abs(y).max(axis=-1, keepdims=True)
    y = y + scale * (rng.normal(size=y.shape) + 1j * rng.normal(size=y.shape))
    dims = [Dimension.linear("y", ny, scale=0.1, units="um", dimension_type="spatial"),
            Dimension.linear("x", nx, scale=0.1, units="um", dimension_type="spatial"),
            Dimension("frequency", f, units="Hz", quantity="frequency", dimension_type="spectral")]
    return Dataset(y.astype(np.complex64), dims, title="BE", units="V", chunks=(8, 20, 64)), truth


def test_fit_sho_recovers_amplitude_frequency_q_and_phase_within_2_percent():
    ds, truth = _sho_dataset()
    res = fit_sho(ds)
    p = np.asarray(res.parameters)
    assert res.parameters.dim_names == ("y", "x", "parameter")
    for i in range(3):
        rel = np.abs(p[..., i] - truth[..., i]) / truth[..., i]
        assert rel.max() < 0.02, (res.model.param_names[i], rel.max())
    dphase = np.angle(np.exp(1j * (p[..., 3] - truth[..., 3])))
    assert np.abs(dphase).max() < 0.02 * np.pi
    assert float(res.r_squared.min()) > 0.99


def test_fit_sho_parameter_maps_have_units():
    ds, _ = _sho_dataset(nx=4, ny=4)
    res = fit_sho(ds)
    assert res.parameter("frequency").units == "Hz"
    assert res.parameter("amplitude").units == "V"
    assert res.parameter("phase").units == "rad"
    assert res.parameter("frequency").dim_names == ("y", "x")
    assert res.parameters.provenance[-1]["process"] == "sidkit.analytics.fit"


def test_evaluate_reproduces_the_data_where_the_fit_is_good():
    ds, _ = _sho_dataset(nx=4, ny=4, noise=0.0)
    res = fit_sho(ds)
    curve = np.asarray(res.evaluate())
    np.testing.assert_allclose(curve, np.asarray(ds), atol=1e-4 * np.abs(np.asarray(ds)).max())


def test_fit_sho_refuses_real_data():
    ds = Dataset(np.ones((2, 2, 8)), [Dimension("y", 2, dimension_type="spatial"),
                                      Dimension("x", 2, dimension_type="spatial"),
                                      Dimension("f", 8, dimension_type="spectral")])
    with pytest.raises(AnalysisError, match="complex"):
        fit_sho(ds)


def _peaks_dataset(model, truth, n=80):
    x = np.linspace(-10, 10, n)
    y = model(x, truth.reshape(-1, truth.shape[-1])).reshape(truth.shape[:-1] + (n,))
    dims = [Dimension("row", truth.shape[0], dimension_type="spatial"),
            Dimension("energy", x, units="eV", dimension_type="spectral")]
    return Dataset(y, dims, units="counts")


@pytest.mark.parametrize("name", ["gaussian", "lorentzian", "voigt"])
def test_peak_models_recover_known_parameters(name):
    from sidkit.analytics.models import get_model

    model = get_model(name)
    rng = np.random.default_rng(1)
    n = 30
    cols = [rng.uniform(1, 5, n), rng.uniform(-3, 3, n), rng.uniform(0.8, 2.0, n)]
    if name == "voigt":
        cols.append(rng.uniform(0.2, 0.8, n))
    truth = np.stack(cols, axis=1)
    res = fit(_peaks_dataset(model, truth), name)
    np.testing.assert_allclose(np.asarray(res.parameters), truth, rtol=1e-4, atol=1e-6)
    assert res.units["center"] == "eV" and res.units["amplitude"] == "counts"


def test_polynomial_background_model_is_exact():
    x = np.linspace(0, 1, 50)
    coef = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
    ds = Dataset(coef @ np.vander(x, 3, increasing=True).T,
                 [Dimension("pixel", 2, dimension_type="spatial"), Dimension("t", x, dimension_type="spectral")])
    res = fit(ds, "polynomial", model_options={"order": 2})
    np.testing.assert_allclose(np.asarray(res.parameters), coef, atol=1e-8)
    np.testing.assert_allclose(np.asarray(res.r_squared), 1.0)


def test_a_plain_function_with_a_guess_is_fitted_everywhere():
    def decay(t, a, tau):
        return a * np.exp(-t / tau)

    t = np.linspace(0, 5, 40)
    a = np.array([1.0, 2.0, 3.0])
    tau = np.array([0.5, 1.0, 2.0])
    ds = Dataset(a[:, None] * np.exp(-t[None] / tau[:, None]),
                 [Dimension("pixel", 3, dimension_type="spatial"),
                  Dimension("time", t, units="s", dimension_type="temporal")])
    res = fit(ds, decay, guess={"a": 1.0, "tau": 1.0}, dim="time")
    np.testing.assert_allclose(np.asarray(res.parameters), np.stack([a, tau], 1), rtol=1e-6)
    assert list(res.parameters.dim("parameter").values) == ["a", "tau"]


def test_a_function_without_guess_raises():
    ds = Dataset(np.ones((2, 5)), [Dimension("p", 2, dimension_type="spatial"),
                                   Dimension("e", 5, dimension_type="spectral")])
    with pytest.raises(AnalysisError, match="guess"):
        fit(ds, lambda x, a: a * x)


def test_per_pixel_guess_array_is_used():
    model = Gaussian()
    truth = np.array([[2.0, 1.0, 1.0], [3.0, -1.0, 1.5]])
    ds = _peaks_dataset(model, truth)
    res = fit(ds, model, guess=truth * 1.05)
    np.testing.assert_allclose(np.asarray(res.parameters), truth, rtol=1e-5)


def test_levenberg_marquardt_handles_many_pixels_at_once():
    model = Gaussian()
    x = np.linspace(-5, 5, 30)
    truth = np.tile([1.0, 0.3, 0.7], (500, 1))
    p, cost = levenberg_marquardt(model, x, model(x, truth), truth * [1.2, 1.0, 1.3])
    np.testing.assert_allclose(p, truth, rtol=1e-6)
    assert cost.max() < 1e-12
