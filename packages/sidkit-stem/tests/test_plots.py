"""Virtual detectors draw themselves over the mean pattern, beside their virtual image."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from sidkit.core import Dataset, DimensionMismatchError, MissingDependencyError  # noqa: E402
from sidkit.stem import annular, bright_field, mask_detector, mean_diffraction, virtual_image  # noqa: E402
from sidkit.stem.synthetic import stem_dims  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def small_4d() -> Dataset:
    """Poisson counts on a 5 x 6 scan with a 16 x 18 detector in 1/nm."""
    rng = np.random.default_rng(3)
    data = rng.poisson(40, size=(5, 6, 16, 18)).astype(np.uint16)
    dims = stem_dims((5, 6), (16, 18), det_step=0.5, det_units="1/nm")
    return Dataset(data, dims, title="counts", quantity="intensity", units="counts", chunks=(3, 3, 16, 18))


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_detector_plot_draws_the_mean_pattern_with_the_detector_and_the_virtual_image(small_4d):
    det = annular(1.0, 3.0, name="ADF")
    fig = det.plot(small_4d)
    panels = _panels(fig)
    assert len(panels) == 2 and len(fig.axes) == 4  # two images, two colour bars
    left, right = panels
    assert left.get_title() == "ADF on the mean pattern"
    assert left.get_xlabel() == "kx (1/nm)" and left.get_ylabel() == "ky (1/nm)"
    pattern_im, overlay_im = left.get_images()
    np.testing.assert_allclose(np.asarray(pattern_im.get_array()),
                               np.asarray(mean_diffraction(small_4d).data.compute()))
    weights = det.weights(small_4d)
    overlay = np.asarray(overlay_im.get_array())
    np.testing.assert_allclose(overlay[..., 3], 0.4 * weights)
    np.testing.assert_allclose(overlay[weights > 0][:, :3], np.tile(to_rgba("tab:red")[:3], (int((weights > 0).sum()), 1)))
    assert overlay_im.get_extent() == pattern_im.get_extent()
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["ADF"]
    assert right.get_title() == "ADF image"
    assert right.get_xlabel() == "x (nm)" and right.get_ylabel() == "y (nm)"
    (im,) = right.get_images()
    np.testing.assert_allclose(np.asarray(im.get_array()), np.asarray(virtual_image(small_4d, det).data.compute()))
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [cb.get_ylabel() for cb in colorbars] == ["intensity (counts)", "intensity (counts)"]
    assert right._sidkit_scalebar.txt_label.get_text().endswith("nm")


def test_detector_plot_without_the_image_has_one_panel_and_a_named_legend(small_4d):
    fig = bright_field(2.0, name="").plot(small_4d, image=False, color="tab:blue")
    panels = _panels(fig)
    assert len(panels) == 1
    assert [t.get_text() for t in panels[0].get_legend().get_texts()] == ["bright field"]


def test_detector_plot_of_a_weighted_mask_shades_by_weight(small_4d):
    mask = np.zeros((16, 18))
    mask[2:5, 3:9] = 0.5
    mask[10, 10] = 2.0
    fig = mask_detector(mask, name="custom").plot(small_4d, image=False, alpha=0.8)
    overlay = np.asarray(_panels(fig)[0].get_images()[1].get_array())
    np.testing.assert_allclose(overlay[..., 3], 0.8 * mask / 2.0)


def test_detector_plot_refuses_data_that_is_not_4d_stem(small_4d):
    image = mean_diffraction(small_4d)
    with pytest.raises(DimensionMismatchError):
        annular(1.0, 3.0).plot(image)


def test_detector_plot_without_matplotlib_names_the_plot_extra(small_4d, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match="plot"):
        annular(1.0, 3.0).plot(small_4d)
