"""Each picture of ``Dataset.plot`` renders headless (Agg) with the right
axes, labels in physical units, scale bars and colour bars."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402

from sidkit.core import (  # noqa: E402
    Dataset,
    Dimension,
    UnsupportedOperationError,
    plotting,  # noqa: E402
)
from sidkit.core.plotting import (  # noqa: E402
    add_scalebar,
    nice_length,
    plot_grid,
    plot_labels,
    plot_points,
)

RNG = np.random.default_rng(1)


def spatial(name: str, n: int, scale: float = 0.5, units: str = "nm") -> Dimension:
    return Dimension.linear(name, n, scale=scale, units=units, quantity="length",
                            dimension_type="spatial")


def reciprocal(name: str, n: int) -> Dimension:
    return Dimension.linear(name, n, scale=0.1, offset=-0.1 * (n // 2), units="1/nm",
                            quantity="scattering vector", dimension_type="reciprocal")


ENERGY = Dimension.linear("energy_loss", 50, scale=2.0, offset=400.0, units="eV",
                          quantity="energy", dimension_type="spectral")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def image() -> Dataset:
    return Dataset(RNG.random((16, 20)), [spatial("y", 16), spatial("x", 20)], title="HAADF",
                   quantity="intensity", units="counts")


@pytest.fixture
def spectral_image() -> Dataset:
    data = RNG.random((6, 7, 50))
    data[2, 3] += np.linspace(0, 10, 50)  # a pixel whose spectrum is easy to recognise
    return Dataset(data, [spatial("y", 6), spatial("x", 7), ENERGY], title="SI",
                   quantity="intensity", units="counts", chunks=(3, 3, 50))


@pytest.fixture
def stack() -> Dataset:
    time = Dimension.linear("time", 5, scale=0.5, units="s", quantity="time", dimension_type="temporal")
    data = np.stack([np.full((8, 9), float(k)) for k in range(5)])
    data[:, 0, 0] = -1.0
    return Dataset(data, [time, spatial("y", 8), spatial("x", 9)], title="drift",
                   quantity="intensity", units="counts")


@pytest.fixture
def stem4d() -> Dataset:
    data = RNG.random((5, 6, 12, 12))
    data[1, 4] = 0.0
    data[1, 4, 6, 6] = 100.0
    return Dataset(data, [spatial("scan_y", 5), spatial("scan_x", 6), reciprocal("ky", 12),
                          reciprocal("kx", 12)], title="4D", quantity="intensity", units="counts")


def labels_of(ax) -> tuple[str, str]:
    return ax.get_xlabel(), ax.get_ylabel()


def colorbar_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def scalebar_text(ax) -> str:
    bar = getattr(ax, "_sidkit_scalebar", None)
    assert bar is not None, "no scale bar drawn"
    return bar.txt_label.get_text()


# ---------------------------------------------------------------- image
def test_image_has_axes_in_physical_units_a_scale_bar_and_a_colour_bar(image):
    fig = image.plot()
    assert len(fig.axes) == 2
    ax, cbar = fig.axes
    assert labels_of(ax) == ("x (nm)", "y (nm)")
    assert cbar.get_ylabel() == "intensity (counts)"
    assert scalebar_text(ax) == "1 nm"  # a round fifth of the 9.5 nm width
    assert ax.get_title() == "HAADF"
    # pixel centres sit on their coordinates: x runs -0.25 .. 9.75 nm
    np.testing.assert_allclose(ax.images[0].get_extent(), [-0.25, 9.75, 7.75, -0.25])
    np.testing.assert_array_equal(ax.images[0].get_array(), np.asarray(image))


def test_image_without_units_has_no_scale_bar():
    ds = Dataset(np.ones((4, 4)), ["row", "col"])
    fig = plotting.plot_image(ds)
    assert getattr(fig.axes[0], "_sidkit_scalebar", None) is None
    assert labels_of(fig.axes[0]) == ("col (a.u.)", "row (a.u.)")


def test_image_draws_into_given_axes(image):
    fig, ax = plt.subplots()
    out = image.plot(ax=ax, colorbar=False)
    assert out is fig and ax.images and len(fig.axes) == 1


def test_complex_image_shows_magnitude(image):
    ds = image.derive(image.data * 1j)
    fig = ds.plot()
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), np.asarray(image))
    assert fig.axes[1].get_ylabel() == "|intensity (counts)|"


def test_huge_image_is_strided_for_display(monkeypatch, image):
    monkeypatch.setattr(plotting, "MAX_IMAGE_SIDE", 8)
    fig = image.plot()
    assert fig.axes[0].images[0].get_array().shape == (6, 7)  # every 3rd pixel


def test_robust_colour_range_clips_outliers(image):
    ds = image.derive(image.data.copy())
    arr = np.asarray(ds).copy()
    arr[0, 0] = 1e6
    fig = Dataset(arr, ds.dims, units="counts").plot(robust=True)
    assert fig.axes[0].images[0].get_clim()[1] < 10


# ---------------------------------------------------------------- spectrum
def test_spectrum_has_labelled_axes_with_units():
    ds = Dataset(np.linspace(0, 1, 50), [ENERGY], title="EELS", quantity="intensity", units="counts")
    fig = ds.plot()
    assert len(fig.axes) == 1
    assert labels_of(fig.axes[0]) == ("energy_loss (eV)", "intensity (counts)")
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_allclose(x, ENERGY.values)
    np.testing.assert_allclose(y, np.linspace(0, 1, 50))


def test_line_plot_family_draws_one_line_per_index_with_legend():
    temp = Dimension("temperature", [100.0, 200.0, 300.0], units="K", quantity="temperature",
                     dimension_type="temporal")
    ds = Dataset(RNG.random((3, 50)), [temp, ENERGY], data_type="line_plot_family", units="counts")
    fig = ds.plot()
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "temperature = 100 K", "temperature = 200 K", "temperature = 300 K"]
    assert labels_of(ax) == ("energy_loss (eV)", "generic (counts)")


# ---------------------------------------------------------------- spectral image
def test_spectral_image_shows_summed_image_beside_spectrum_at_chosen_pixel(spectral_image):
    fig = spectral_image.plot(position=(2, 3))
    assert len(fig.axes) == 3
    img_ax, spec_ax = fig.axes[0], fig.axes[1]
    assert len(colorbar_axes(fig)) == 1
    assert labels_of(img_ax) == ("x (nm)", "y (nm)")
    assert labels_of(spec_ax) == ("energy_loss (eV)", "intensity (counts)")
    assert colorbar_axes(fig)[0].get_ylabel() == "total intensity (counts)"
    np.testing.assert_allclose(img_ax.images[0].get_array(), np.asarray(spectral_image).sum(axis=2))
    np.testing.assert_allclose(spec_ax.lines[0].get_ydata(), np.asarray(spectral_image)[2, 3])
    assert spec_ax.get_title() == "spectrum at y = 1 nm, x = 1.5 nm"
    assert scalebar_text(img_ax) == "0.5 nm"


def test_spectral_image_position_by_coordinates(spectral_image):
    fig = spectral_image.plot(position={"x": 1.5, "y": 1.0})
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), np.asarray(spectral_image)[2, 3])


def test_clicking_a_pixel_shows_its_spectrum(spectral_image):
    fig = spectral_image.plot(interactive=True)
    fig.canvas.draw()
    img_ax = fig.axes[0]
    # click at the centre of pixel (row 2, col 3): x = 1.5 nm, y = 1.0 nm
    px, py = img_ax.transData.transform((1.5, 1.0))
    event = MouseEvent("button_press_event", fig.canvas, px, py, button=1)
    fig.canvas.callbacks.process("button_press_event", event)
    assert fig.sidkit_picker.index == [2, 3]
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), np.asarray(spectral_image)[2, 3])
    marker = img_ax.lines[0]
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (1.5, 1.0)


def test_static_spectral_image_ignores_clicks_but_select_works(spectral_image):
    fig = spectral_image.plot(interactive=False, position=(0, 0))
    fig.canvas.draw()
    px, py = fig.axes[0].transData.transform((1.5, 1.0))
    fig.canvas.callbacks.process("button_press_event",
                                 MouseEvent("button_press_event", fig.canvas, px, py, button=1))
    assert fig.sidkit_picker.index == [0, 0]
    fig.sidkit_picker.select((2, 3))
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), np.asarray(spectral_image)[2, 3])


def test_bad_position_names_the_dims(spectral_image):
    with pytest.raises(KeyError, match="energy_loss|x"):
        spectral_image.plot(position={"energy_loss": 3})
    with pytest.raises(ValueError, match="need 2"):
        spectral_image.plot(position=(1, 2, 3))


# ---------------------------------------------------------------- image stack
def test_stack_shows_chosen_frame_statically(stack):
    fig = stack.plot(frame=3, interactive=False)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert labels_of(ax) == ("x (nm)", "y (nm)")
    assert ax.images[0].get_array()[4, 4] == 3.0
    assert "frame 4/5: time = 1.5 s" in ax.get_title()
    # one colour range for the stack, not per frame
    assert ax.images[0].get_clim() == (-1.0, 3.0)


def test_stack_slider_changes_the_frame(stack):
    fig = stack.plot(interactive=True)
    assert len(fig.axes) == 3
    fig.sidkit_slider.set_val(2)
    assert fig.axes[0].images[0].get_array()[4, 4] == 2.0
    assert "frame 3/5" in fig.axes[0].get_title()


def test_stack_frame_by_coordinate(stack):
    fig = stack.plot(frame=2.0, interactive=False)
    assert fig.axes[0].images[0].get_array()[4, 4] == 4.0


# ---------------------------------------------------------------- 4D-STEM
def test_4d_shows_virtual_image_beside_pattern_at_scan_position(stem4d):
    fig = stem4d.plot(position=(1, 4), log=False)
    assert len(fig.axes) == 4
    img_ax, pat_ax = panels(fig)
    assert labels_of(img_ax) == ("scan_x (nm)", "scan_y (nm)")
    assert labels_of(pat_ax) == ("kx (1/nm)", "ky (1/nm)")
    assert scalebar_text(pat_ax).endswith("1/nm")
    np.testing.assert_allclose(img_ax.images[0].get_array(), np.asarray(stem4d).sum(axis=(2, 3)))
    pattern = pat_ax.images[0].get_array()
    assert pattern[6, 6] == 100.0 and pattern.sum() == 100.0
    assert [ax.get_ylabel() for ax in colorbar_axes(fig)] == [
        "virtual intensity (counts)", "intensity (counts)"]


def test_4d_annular_detector_in_calibrated_units(stem4d):
    fig = stem4d.plot(detector=(0.25, 0.45))
    ky = stem4d.dim("ky").values
    radius = np.hypot(ky[:, None] - ky.mean(), ky[None, :] - ky.mean())
    mask = (radius >= 0.25) & (radius < 0.45)
    expected = (np.asarray(stem4d) * mask).sum(axis=(2, 3))
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected)
    assert "0.25–0.45 1/nm" in fig.axes[0].get_title()


def test_4d_click_shows_pattern_there(stem4d):
    fig = stem4d.plot(position=(0, 0), interactive=True, log=False)
    fig.canvas.draw()
    x, y = stem4d.dim("scan_x").values[4], stem4d.dim("scan_y").values[1]
    px, py = fig.axes[0].transData.transform((x, y))
    fig.canvas.callbacks.process("button_press_event",
                                 MouseEvent("button_press_event", fig.canvas, px, py, button=1))
    assert panels(fig)[1].images[0].get_array()[6, 6] == 100.0


# ---------------------------------------------------------------- point clouds
def test_points_are_drawn_over_their_image_in_physical_units(image):
    pos = np.array([[1.0, 2.0], [3.0, 8.5], [6.5, 0.5]])  # (y, x) in nm
    pts = Dataset(pos, [Dimension("point", 3), Dimension("coordinate", 2)], title="atoms",
                  units="nm", data_type="point_cloud")
    fig = pts.plot(background=image)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert labels_of(ax) == ("x (nm)", "y (nm)")
    np.testing.assert_allclose(ax.collections[0].get_offsets(), pos[:, ::-1])
    assert ax.get_legend().get_texts()[0].get_text() == "3 points"
    # the view stays on the image
    np.testing.assert_allclose(ax.get_xlim(), (-0.25, 9.75))


def test_points_columns_named_by_string_coordinates(image):
    pos = np.array([[2.0, 1.0], [8.5, 3.0]])  # (x, y)
    pts = Dataset(pos, [Dimension("point", 2), Dimension("coordinate", np.array(["x", "y"]))],
                  units="nm", data_type="point_cloud")
    fig = plot_points(pts, background=image)
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), pos)


def test_points_without_background_label_coordinates():
    pts = Dataset(np.array([[1.0, 2.0], [3.0, 4.0]]), [Dimension("point", 2), Dimension("coordinate", 2)],
                  units="nm", data_type="point_cloud")
    fig = pts.plot()
    assert len(fig.axes) == 1
    assert labels_of(fig.axes[0]) == ("x (nm)", "y (nm)")


# ---------------------------------------------------------------- helpers
def test_grid_splits_maps_along_component_dim():
    maps = Dataset(RNG.random((6, 7, 3)), [spatial("y", 6), spatial("x", 7),
                                           Dimension("component", 3, units="")],
                   title="maps", quantity="weight", units="")
    fig = plot_grid(maps)
    maps_axes = panels(fig)
    assert len(maps_axes) == 3 and len(colorbar_axes(fig)) == 3
    assert [ax.get_title() for ax in maps_axes] == [f"component = {k}" for k in range(3)]
    assert fig._suptitle.get_text() == "maps"
    assert all(scalebar_text(ax) == "0.5 nm" for ax in maps_axes)
    np.testing.assert_allclose(maps_axes[1].images[0].get_array(), np.asarray(maps)[:, :, 1])


def test_grid_of_spectra_and_mapping_titles():
    comps = Dataset(RNG.random((2, 50)), [Dimension("component", 2), ENERGY], units="counts")
    fig = plot_grid({"a": comps[0], "b": comps[1]}, ncols=2)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert all(ax.get_xlabel() == "energy_loss (eV)" for ax in fig.axes)


def test_labels_map_has_one_legend_entry_per_label(image):
    lab = np.zeros((16, 20), dtype=int)
    lab[:8] = 1
    lab[0, 0] = -1
    ds = Dataset(lab, image.dims, title="phases", quantity="class", units="")
    fig = plot_labels(ds, names={0: "matrix", 1: "precipitate"})
    assert len(fig.axes) == 1
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["unlabelled (1 px)", "matrix (160 px)", "precipitate (159 px)"]
    assert labels_of(fig.axes[0]) == ("x (nm)", "y (nm)")


def test_labels_refuse_non_integer_values(image):
    with pytest.raises(UnsupportedOperationError, match="integer"):
        plot_labels(image)


@pytest.mark.parametrize(("span", "expected"), [(10, 2), (9.5, 1), (100, 20), (0.37, 0.05), (3e-3, 5e-4)])
def test_nice_length_is_a_round_fifth(span, expected):
    assert nice_length(span) == pytest.approx(expected)


def test_scalebar_of_explicit_length(image):
    fig = plotting.plot_image(image, scalebar=False)
    bar = add_scalebar(fig.axes[0], image.dim("x"), length=5)
    assert bar.txt_label.get_text() == "5 nm"


# ---------------------------------------------------------------- dispatch and errors
def test_unknown_data_type_falls_back_by_dims():
    ds = Dataset(RNG.random((3, 4, 5)), ["a", "b", "c"])
    fig = ds.plot(interactive=False)  # 3-D without spectral dim: a stack
    assert fig.axes[0].images and "frame 1/3" in fig.axes[0].get_title()


def test_kind_can_be_forced(spectral_image):
    fig = spectral_image.plot(kind="image")
    assert len(fig.axes) == 2 and labels_of(fig.axes[0]) == ("x (nm)", "y (nm)")


def test_unknown_kind_is_a_value_error(image):
    with pytest.raises(ValueError, match="not one of"):
        image.plot(kind="hologram")


def test_composite_picture_refuses_foreign_axes(spectral_image):
    _, ax = plt.subplots()
    with pytest.raises(UnsupportedOperationError, match="several panels"):
        spectral_image.plot(ax=ax)


def test_empty_dataset_raises_clear_error():
    with pytest.raises(UnsupportedOperationError, match="empty"):
        Dataset(np.zeros((0, 3)), ["a", "b"]).plot()


def test_figure_saves_png(spectral_image, tmp_path):
    out = tmp_path / "si.png"
    spectral_image.plot().savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explore_builds_sliders_for_navigation_dims(spectral_image):
    pytest.importorskip("ipywidgets")
    w = plotting.explore(spectral_image)
    names = [c.description for c in w.children[:-1]]
    assert names == ["y", "x"]


def test_line_family_without_spectral_dim_runs_along_longest_numeric_dim():
    frame = Dimension.linear("frame", 8, units="", dimension_type="temporal")
    axis = Dimension("axis", np.array(["y", "x"]), units="")
    shifts = Dataset(RNG.random((8, 2)), [frame, axis], title="drift", quantity="shift", units="nm",
                     data_type="line_plot_family")
    ax = shifts.plot().axes[0]
    assert len(ax.lines) == 2 and ax.get_xlabel() == "frame"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["axis = y", "axis = x"]
    assert ax.get_ylabel() == "shift (nm)"


def test_stack_of_three_spatial_dims_shows_the_last_two_as_image():
    ds = Dataset(RNG.random((4, 6, 8)), [spatial("z", 4), spatial("y", 6), spatial("x", 8)])
    fig = ds.plot(interactive=False)
    assert labels_of(fig.axes[0]) == ("x (nm)", "y (nm)")
    assert "z = 0 nm" in fig.axes[0].get_title()


def test_grid_robust_colour_range_ignores_outliers(image):
    arr = np.asarray(image).copy()
    arr[0, 0] = 1e9
    fig = plot_grid([Dataset(arr, image.dims)], robust=True)
    assert fig.axes[0].images[0].get_clim()[1] < 10
