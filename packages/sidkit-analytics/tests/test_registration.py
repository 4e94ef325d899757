from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sidkit.analytics import AnalysisError, register
from sidkit.analytics.registration import phase_correlation
from sidkit.core import Dataset, Dimension


def _stack(n=8, size=64, scale=0.25, seed=1):
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((size, size)), 2.5)
    shifts = rng.uniform(-6, 6, (n, 2))
    shifts[0] = 0
    frames = [np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(img), s)).real for s in shifts]
    data = np.stack(frames) + rng.normal(0, 0.02 * img.std(), (n, size, size))
    dims = [Dimension.linear("time", n, scale=2.0, units="s", dimension_type="temporal"),
            Dimension.linear("y", size, scale=scale, units="nm", dimension_type="spatial"),
            Dimension.linear("x", size, scale=scale, units="nm", dimension_type="spatial")]
    return Dataset(data.astype(np.float32), dims, title="drift", units="counts", chunks=(3, size, size)), shifts, img


def test_register_recovers_subpixel_shifts_within_01_px():
    ds, shifts, _ = _stack()
    res = register(ds)
    found_px = np.asarray(res.shifts) / 0.25
    assert np.abs(found_px - shifts).max() < 0.1
    assert res.shifts.units == "nm"
    assert res.shifts.dim_names == ("time", "axis")


def test_aligned_frames_match_the_reference():
    ds, _, _ = _stack()
    aligned = np.asarray(register(ds).aligned)
    inner = (slice(None), slice(10, -10), slice(10, -10))
    diff = np.abs(aligned[inner] - aligned[0][inner[1:]]).max()
    assert diff < 0.2 * np.asarray(ds).std()
    assert register(ds).aligned.dim_names == ds.dim_names


def test_register_finds_the_stack_dim_in_any_axis_order():
    ds, shifts, _ = _stack(n=4)
    moved = ds.transpose("y", "time", "x")
    res = register(moved)
    assert np.abs(np.asarray(res.shifts) / 0.25 - shifts).max() < 0.1
    assert res.aligned.dim_names == ("y", "time", "x")


def test_register_to_the_mean_image_gives_shifts_relative_to_the_mean():
    ds, shifts, _ = _stack(n=4)
    found = np.asarray(register(ds, reference="mean").shifts) / 0.25
    rel = found - found[0]
    assert np.abs(rel - (shifts - shifts[0])).max() < 0.15


def test_phase_correlation_sign_convention():
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.random((32, 32)), 2)
    moved = np.roll(img, (3, -2), axis=(0, 1))
    np.testing.assert_allclose(phase_correlation(img, moved), [3, -2], atol=0.02)


def test_register_needs_a_stack():
    ds = Dataset(np.ones((8, 8)), [Dimension("y", 8, dimension_type="spatial"),
                                   Dimension("x", 8, dimension_type="spatial")])
    with pytest.raises(AnalysisError):
        register(ds)


def test_register_recovers_shifts_of_cropped_noisy_frames():
    """Real drift: frames cut from a larger field of view (edges not periodic) with shot noise."""
    rng = np.random.default_rng(3)
    blobs = ndimage.gaussian_filter(rng.random((200, 200)), 2.0)
    field = 200 + 60 * (blobs - blobs.mean()) / blobs.std()  # contrast 60 counts over shot noise of ~14
    shifts = np.array([[0, 0], [1.5, -2.25], [3.3, 0.7], [-4.6, 5.2], [0.25, 0.4]])
    frames = [rng.poisson(ndimage.shift(field, s, order=3)[30:158, 30:158].clip(0)) for s in shifts]
    dims = [Dimension("frame", len(frames), dimension_type="temporal"),
            Dimension.linear("y", 128, scale=0.1, units="nm", dimension_type="spatial"),
            Dimension.linear("x", 128, scale=0.1, units="nm", dimension_type="spatial")]
    ds = Dataset(np.stack(frames).astype(np.float32), dims)
    found_px = np.asarray(register(ds).shifts) / 0.1
    assert np.abs(found_px - shifts).max() < 0.1
