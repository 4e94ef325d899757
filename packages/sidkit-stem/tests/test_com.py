import dask
import numpy as np
import pytest
from conftest import phase_and_shifts

from sidkit.core import DimensionMismatchError
from sidkit.stem import (
    annular,
    bright_field,
    center_of_mass,
    dpc_phase,
    estimate_rotation,
    rotate_field,
    scan_images,
    virtual_image,
)
from sidkit.stem.synthetic import shifted_disks


def test_center_of_mass_recovers_known_shift_field_in_pixels(disks_with_field):
    ds, shifts, _ = disks_with_field
    com = center_of_mass(ds, pixels=True)
    assert com.units == "px"
    assert com.shape == (2, *shifts.shape[1:])
    err = np.abs(np.asarray(com.data.compute()) - shifts).max()
    assert err < 0.05


def test_center_of_mass_is_in_calibrated_detector_units():
    _, sh = phase_and_shifts(12, 10)
    ds = shifted_disks(sh, (32, 32), radius=6.0, det_step=0.02, det_units="1/nm")
    com = center_of_mass(ds)
    assert com.units == "1/nm"
    assert com.dim_names == ("component", "y", "x")
    assert com.dims[1].units == "nm"
    np.testing.assert_allclose(np.asarray(com.data.compute()) / 0.02, sh, atol=0.05)
    assert com.provenance[-1]["process"] == "sidkit.stem.center_of_mass"


def test_center_of_mass_with_bright_field_mask_ignores_outside_signal():
    _, sh = phase_and_shifts(8, 8)
    ds = shifted_disks(sh, (40, 40), radius=6.0)
    data = np.asarray(ds.data.compute())
    data[..., 0:3, 0:3] += 50.0  # a hot corner far outside the disk
    from sidkit.core import Dataset
    noisy = Dataset(data, ds.dims)
    free = np.asarray(center_of_mass(noisy, pixels=True).data.compute())
    masked = np.asarray(center_of_mass(noisy, bright_field(10.0), pixels=True).data.compute())
    assert np.abs(free - sh).max() > 0.5
    assert np.abs(masked - sh).max() < 0.05


def test_given_rotation_turns_detector_frame_into_scan_frame(disks_with_field):
    _, shifts, _ = disks_with_field
    # the detector is rotated by -30 deg against the scan: rotate the true field by -30 to make data
    det_field = rotate_field(shifts, -30.0)
    ds = shifted_disks(det_field, (32, 32), radius=6.0)
    com = center_of_mass(ds, rotation=30.0, pixels=True)
    assert com.metadata["stem"]["frame"] == "scan"
    np.testing.assert_allclose(np.asarray(com.data.compute()), shifts, atol=0.05)


@pytest.mark.parametrize("angle", [-50.0, 25.0, 70.0])
def test_auto_rotation_minimises_curl_and_finds_the_angle(angle):
    _, shifts = phase_and_shifts(24, 20)
    det_field = rotate_field(shifts, -angle)
    assert estimate_rotation(det_field) == pytest.approx(angle, abs=0.5)


def test_center_of_mass_auto_rotation_returns_scan_frame_field(disks_with_field):
    _, shifts, _ = disks_with_field
    ds = shifted_disks(rotate_field(shifts, -40.0), (32, 32), radius=6.0)
    com = center_of_mass(ds, rotation="auto", pixels=True)
    assert com.metadata["stem"]["rotation_deg"] == pytest.approx(40.0, abs=0.5)
    # the curl leaves a 180 degree ambiguity (the sign); 40 is inside [-90, 90) so it is resolved here
    np.testing.assert_allclose(np.asarray(com.data.compute()), shifts, atol=0.06)


def test_dpc_phase_correlates_with_known_phase(disks_with_field):
    ds, _, phi = disks_with_field
    phase = dpc_phase(center_of_mass(ds, pixels=True))
    assert phase.dim_names == ("y", "x")
    r = np.corrcoef(np.asarray(phase.data.compute()).ravel(), phi.ravel())[0, 1]
    assert r >= 0.95
    assert phase.provenance[-1]["process"] == "sidkit.stem.dpc_phase"


def test_dpc_phase_in_radians_from_a_field_in_inverse_nm():
    # grad(phi) = 2 pi k: a field k = grad(phi) / (2 pi) must integrate back to phi (rad)
    ny, nx, step = 32, 28, 0.2
    yy, xx = np.mgrid[:ny, :nx] * step
    phi = 0.3 * np.exp(-((yy - 3.0) ** 2 + (xx - 2.5) ** 2) / 0.8)
    g0, g1 = np.gradient(phi, step)
    from sidkit.core import Dataset, Dimension
    dims = [Dimension("component", 2, dimension_type="channel"),
            Dimension.linear("y", ny, scale=step, units="nm", dimension_type="spatial"),
            Dimension.linear("x", nx, scale=step, units="nm", dimension_type="spatial")]
    com = Dataset(np.stack([g0, g1]) / (2 * np.pi), dims, units="1/nm")
    phase = dpc_phase(com)
    assert phase.units == "rad"
    got = np.asarray(phase.data.compute())
    np.testing.assert_allclose(got, phi - phi.mean(), atol=0.01)


def test_dpc_phase_refuses_something_that_is_not_a_com_field(counts_4d):
    with pytest.raises(DimensionMismatchError):
        dpc_phase(counts_4d)


def test_scan_images_computes_detectors_and_com_in_one_pass(disks_with_field):
    ds, shifts, _ = disks_with_field
    out = scan_images(ds, [annular(8, 14, pixels=True)], pixels=True)
    adf, com = dask.compute(out["ADF"].data, out["com"].data)
    np.testing.assert_allclose(adf, virtual_image(ds, annular(8, 14, pixels=True)).data.compute(), rtol=1e-6)
    assert np.abs(com - shifts).max() < 0.05
    graph = dict(dask.array.Array.__dask_graph__(out["com"].data))
    sums = [k for k in graph if isinstance(k, tuple) and str(k[0]).startswith("stem-detector-sums")]
    assert len(sums) == len(ds.data.blocks.ravel())


def test_bad_rotation_argument_raises(disks_with_field):
    ds, _, _ = disks_with_field
    with pytest.raises(ValueError, match="rotation"):
        center_of_mass(ds, rotation="sideways")
