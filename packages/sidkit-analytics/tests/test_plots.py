"""The result objects draw themselves: axes, labels with units, legends and the data drawn."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from conftest import endmembers, phase_map, spatial  # noqa: E402
from scipy import ndimage  # noqa: E402

from sidkit.analytics import SHO, classify, cluster, decompose, fit_sho, register  # noqa: E402
from sidkit.core import Dataset, Dimension  # noqa: E402


def _sho_dataset(nx: int, ny: int, nf: int = 48, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    f = np.linspace(300e3, 340e3, nf)
    truth = np.stack([rng.uniform(1e-3, 2e-3, (ny, nx)), rng.uniform(312e3, 328e3, (ny, nx)),
                      rng.uniform(60, 200, (ny, nx)), rng.uniform(-2.5, 2.5, (ny, nx))], axis=-1)
    y = SHO()(f, truth.reshape(-1, 4)).reshape(ny, nx, nf)
    dims = [Dimension.linear("y", ny, scale=0.1, units="um", dimension_type="spatial"),
            Dimension.linear("x", nx, scale=0.1, units="um", dimension_type="spatial"),
            Dimension("frequency", f, units="Hz", quantity="frequency", dimension_type="spectral")]
    return Dataset(y.astype(np.complex64), dims, title="BE", units="V")


def _stack(n: int, size: int, scale: float = 0.25, seed: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((size, size)), 2.5)
    shifts = rng.uniform(-4, 4, (n, 2))
    shifts[0] = 0
    frames = [np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(img), s)).real for s in shifts]
    dims = [Dimension.linear("time", n, scale=2.0, units="s", dimension_type="temporal"),
            Dimension.linear("y", size, scale=scale, units="nm", dimension_type="spatial"),
            Dimension.linear("x", size, scale=scale, units="nm", dimension_type="spatial")]
    return Dataset(np.stack(frames).astype(np.float32), dims, title="drift", units="counts")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small_si() -> dict:
    """A 24 x 20 spectral image of 3 pure phases (no noise)."""
    k, ny, nx, ne = 3, 24, 20, 48
    energy = np.linspace(100.0, 195.0, ne)
    truth = phase_map((ny, nx), k, seed=3)
    data = (np.eye(k)[truth] @ endmembers(energy, k)).astype(np.float32)
    dims = [spatial("y", ny), spatial("x", nx),
            Dimension("energy", energy, units="eV", quantity="energy", dimension_type="spectral")]
    ds = Dataset.from_array(data, dims=dims, title="SI", quantity="intensity", units="counts",
                            chunks=(12, 20, 48))
    return {"ds": ds, "truth": truth, "k": k}


def _images(ax):
    return ax.get_images()


def _panels(fig):
    """Axes that are panels (not colour bars)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


# ---------------------------------------------------------------------------- decomposition
def test_decomposition_plot_puts_each_component_above_its_map(small_si):
    res = decompose(small_si["ds"], 3, method="pca")
    fig = res.plot()
    panels = _panels(fig)
    assert len(panels) == 6
    assert len(fig.axes) == 9  # one colour bar per map image
    top, bottom = panels[:3], panels[3:]
    comps = np.asarray(res.components.data.compute())
    maps = np.asarray(res.maps.data.compute())
    ratio = np.asarray(res.explained_variance_ratio.data.compute())
    for i, ax in enumerate(top):
        assert ax.get_title() == f"component {i} ({100 * ratio[i]:.1f} %)"
        assert ax.get_xlabel() == "energy (eV)"
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_xdata(), small_si["ds"].dim("energy").values)
        np.testing.assert_allclose(line.get_ydata(), comps[i], rtol=1e-6)
    for i, ax in enumerate(bottom):
        assert ax.get_title() == f"map {i}"
        assert ax.get_xlabel() == "x (nm)" and ax.get_ylabel() == "y (nm)"
        (im,) = _images(ax)
        np.testing.assert_allclose(np.asarray(im.get_array()), maps[:, :, i], rtol=1e-6)
    assert fig._suptitle.get_text() == "PCA: 3 of 3 components"


def test_decomposition_plot_shows_the_first_n_components_only(small_si):
    res = decompose(small_si["ds"], 3, method="nmf")
    fig = res.plot(n=2)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == ["component 0", "component 1", "map 0", "map 1"]


def test_decomposition_plot_refuses_an_impossible_number_of_components(small_si):
    from sidkit.analytics import AnalysisError

    res = decompose(small_si["ds"], 2)
    with pytest.raises(AnalysisError, match="between 1 and 2"):
        res.plot(n=3)


def test_decomposition_plot_of_a_line_scan_draws_maps_as_lines(small_si):
    line = small_si["ds"].isel(y=5)
    res = decompose(line, 2)
    fig = res.plot()
    panels = _panels(fig)
    assert len(fig.axes) == 4 and len(panels) == 4
    (map_line,) = panels[2].get_lines()
    assert panels[2].get_xlabel() == "x (nm)"
    np.testing.assert_allclose(map_line.get_ydata(), np.asarray(res.maps.data.compute())[:, 0], rtol=1e-6)


# ---------------------------------------------------------------------------- clustering
def test_cluster_plot_draws_the_label_map_with_a_legend_and_coloured_centres(small_si):
    res = cluster(small_si["ds"], 3)
    fig = res.plot()
    assert len(fig.axes) == 2
    labels_ax, centres_ax = fig.axes
    labels = np.asarray(res.labels.data.compute())
    counts = {k: int(np.count_nonzero(labels == k)) for k in range(3)}
    assert _legend_texts(labels_ax) == [f"cluster {k} ({counts[k]} px)" for k in range(3)]
    assert labels_ax.get_xlabel() == "x (nm)" and labels_ax.get_ylabel() == "y (nm)"
    (im,) = _images(labels_ax)
    # the label map is drawn as indices into the labels present, which here are 0, 1, 2
    np.testing.assert_array_equal(np.asarray(im.get_array()), labels)
    assert centres_ax.get_xlabel() == "energy (eV)"
    assert centres_ax.get_ylabel() == "intensity (counts)"
    assert _legend_texts(centres_ax) == ["cluster 0", "cluster 1", "cluster 2"]
    centres = np.asarray(res.centers.data.compute())
    tab10 = plt.get_cmap("tab10")
    for k, line in enumerate(centres_ax.get_lines()):
        np.testing.assert_allclose(line.get_ydata(), centres[k], rtol=1e-6)
        assert matplotlib.colors.to_rgba(line.get_color()) == tab10(k)


def test_cluster_plot_of_image_centres_draws_one_panel_per_centre():
    rng = np.random.default_rng(0)
    det = [Dimension.linear(n, 8, scale=0.1, units="1/nm", dimension_type="reciprocal") for n in ("ky", "kx")]
    a, b = np.zeros((8, 8)), np.zeros((8, 8))
    a[2, 2], b[5, 5] = 1.0, 1.0
    which = (np.arange(6 * 5) % 2).reshape(6, 5)
    data = np.where(which[..., None, None] == 0, a, b) + 0.01 * rng.random((6, 5, 8, 8))
    dims = [spatial("y", 6), spatial("x", 5), *det]
    ds = Dataset(data, dims, title="4D", units="counts")
    res = cluster(ds, 2)
    fig = res.plot()
    panels = _panels(fig)
    assert len(panels) == 3
    assert [ax.get_title() for ax in panels[1:]] == ["centre: cluster 0", "centre: cluster 1"]
    for k, ax in enumerate(panels[1:]):
        assert ax.get_xlabel() == "kx (1/nm)"
        (im,) = _images(ax)
        np.testing.assert_allclose(np.asarray(im.get_array()), np.asarray(res.centers.data.compute())[k])


# ---------------------------------------------------------------------------- classification
def test_classification_plot_draws_predicted_map_with_legend_and_probability_maps(small_si):
    truth = small_si["truth"]
    sparse = -np.ones_like(truth)
    sparse[::3, ::3] = truth[::3, ::3]
    res = classify(small_si["ds"], sparse)
    fig = res.plot(names=["alpha", "beta", "gamma"])
    panels = _panels(fig)
    assert len(panels) == 4 and len(fig.axes) == 7  # label map, 3 probability maps, 3 colour bars
    labels = np.asarray(res.labels.data.compute())
    counts = [int(np.count_nonzero(labels == c)) for c in res.classes]
    assert _legend_texts(panels[0]) == [f"{n} ({c} px)" for n, c in zip(("alpha", "beta", "gamma"), counts)]
    assert [ax.get_title() for ax in panels[1:]] == ["P(alpha)", "P(beta)", "P(gamma)"]
    proba = np.asarray(res.probabilities.data.compute())
    for i, ax in enumerate(panels[1:]):
        assert ax.get_xlabel() == "x (nm)"
        (im,) = _images(ax)
        np.testing.assert_allclose(np.asarray(im.get_array()), proba[:, :, i])
        assert im.get_clim() == (0.0, 1.0)
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert all(cb.get_ylabel() == "probability" for cb in colorbars)


def test_classification_plot_names_classes_by_their_label_values(small_si):
    truth = small_si["truth"] + 4  # labels 4, 5, 6
    sparse = -np.ones_like(truth)
    sparse[::3, ::3] = truth[::3, ::3]
    res = classify(small_si["ds"], sparse)
    fig = res.plot()
    assert [t.split(" (")[0] for t in _legend_texts(fig.axes[0])] == ["class 4", "class 5", "class 6"]


def test_classification_plot_without_probabilities_is_the_label_map_alone(small_si):
    res = classify(small_si["ds"], np.where(np.arange(small_si["truth"].size).reshape(small_si["truth"].shape) % 5,
                                            -1, small_si["truth"]))
    res.probabilities = None
    fig = res.plot()
    assert len(fig.axes) == 1


# ---------------------------------------------------------------------------- fitting
def test_fit_plot_draws_one_map_per_parameter_and_r_squared_with_units():
    ds = _sho_dataset(nx=10, ny=8)
    res = fit_sho(ds)
    fig = res.plot()
    panels = _panels(fig)
    assert len(panels) == 5 and len(fig.axes) == 10
    titles = [ax.get_title() for ax in panels]
    assert titles == ["amplitude (V)", "frequency (Hz)", "quality_factor", "phase (rad)", "R²"]
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [cb.get_ylabel() for cb in colorbars] == titles
    params = np.asarray(res.parameters.data.compute())
    for i, ax in enumerate(panels[:4]):
        assert ax.get_xlabel() == "x (um)" and ax.get_ylabel() == "y (um)"
        (im,) = _images(ax)
        np.testing.assert_allclose(np.asarray(im.get_array()), params[:, :, i], rtol=1e-6)
    (im,) = _images(panels[4])
    np.testing.assert_allclose(np.asarray(im.get_array()), np.asarray(res.r_squared.data.compute()))
    assert fig._suptitle.get_text().endswith("along frequency")


def test_fit_plot_can_leave_out_r_squared():
    ds = _sho_dataset(nx=6, ny=5)
    fig = fit_sho(ds).plot(r_squared=False)
    assert len(_panels(fig)) == 4


# ---------------------------------------------------------------------------- registration
def test_registration_plot_draws_shifts_per_frame_and_the_mean_aligned_image():
    ds = _stack(n=6, size=32)
    res = register(ds)
    fig = res.plot()
    panels = _panels(fig)
    assert len(panels) == 2 and len(fig.axes) == 3
    left, right = panels
    assert left.get_xlabel() == "time (s)"
    assert left.get_ylabel() == "shift (nm)"
    assert _legend_texts(left) == ["y shift", "x shift"]
    shifts = np.asarray(res.shifts.data.compute())
    lines = [ln for ln in left.get_lines() if ln.get_label() in ("y shift", "x shift")]
    for j, line in enumerate(lines):
        np.testing.assert_allclose(line.get_xdata(), ds.dim("time").values)
        np.testing.assert_allclose(line.get_ydata(), shifts[:, j])
    assert right.get_title() == "mean of aligned frames"
    assert right.get_xlabel() == "x (nm)" and right.get_ylabel() == "y (nm)"
    (im,) = _images(right)
    np.testing.assert_allclose(np.asarray(im.get_array()), np.asarray(res.aligned.data.compute()).mean(axis=0),
                               rtol=1e-5, atol=1e-6)
    assert right._sidkit_scalebar.txt_label.get_text().endswith("nm")


# ---------------------------------------------------------------------------- no matplotlib
def test_plot_without_matplotlib_raises_missing_dependency_naming_the_extra(small_si, monkeypatch):
    import sys

    from sidkit.core import MissingDependencyError

    res = decompose(small_si["ds"], 2)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match="plot"):
        res.plot()


def test_cluster_and_classification_plots_of_a_line_scan_draw_points_and_lines(small_si):
    line = small_si["ds"].isel(y=6)
    res = cluster(line, 2)
    fig = res.plot()
    labels_ax = fig.axes[0]
    assert labels_ax.get_xlabel() == "x (nm)"
    labels = np.asarray(res.labels.data.compute())
    drawn = np.concatenate([np.asarray(c.get_offsets())[:, 1] for c in labels_ax.collections])
    np.testing.assert_array_equal(np.sort(drawn), np.sort(labels))
    assert len(_legend_texts(labels_ax)) == len(np.unique(labels))
    truth = small_si["truth"][6]
    sparse = np.where(np.arange(truth.size) % 2 == 0, truth, -1)
    cres = classify(line, sparse)
    cfig = cres.plot()
    assert len(cfig.axes) == 2
    prob_ax = cfig.axes[1]
    assert prob_ax.get_ylabel() == "probability" and prob_ax.get_xlabel() == "x (nm)"
    proba = np.asarray(cres.probabilities.data.compute())
    for i, ln in enumerate(prob_ax.get_lines()):
        np.testing.assert_allclose(ln.get_ydata(), proba[:, i])
