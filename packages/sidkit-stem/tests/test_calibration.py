import numpy as np
import pytest

from sidkit.stem import calibrate_camera_length, calibrate_reflection, center_of_mass, electron_wavelength
from sidkit.stem.synthetic import shifted_disks


def test_electron_wavelength_matches_tabulated_values():
    assert electron_wavelength(200) == pytest.approx(0.0025079, rel=1e-4)
    assert electron_wavelength(300) == pytest.approx(0.0019687, rel=1e-4)
    with pytest.raises(ValueError):
        electron_wavelength(0)


def _ds():
    return shifted_disks(np.zeros((2, 3, 4)), (20, 20), radius=4.0)


def test_camera_length_sets_detector_in_mrad():
    # 55 um pixels at 110 mm: 0.5 mrad per pixel
    ds = calibrate_camera_length(_ds(), 110.0, 55.0, beam_energy=200.0)
    ky = ds.dim("ky")
    assert ky.units == "mrad"
    assert ky.scale == pytest.approx(0.5)
    assert ky.values[10] == pytest.approx(0.0)
    assert ds.metadata["stem"]["wavelength_nm"] == pytest.approx(0.0025079, rel=1e-4)
    assert ds.provenance[-1]["process"] == "sidkit.stem.calibrate_camera_length"


def test_camera_length_in_inverse_nm_uses_the_wavelength():
    ds = calibrate_camera_length(_ds(), 110.0, 55.0, beam_energy=200.0, units="1/nm")
    assert ds.dim("kx").scale == pytest.approx(0.5e-3 / 0.0025079, rel=1e-4)
    with pytest.raises(ValueError, match="beam_energy"):
        calibrate_camera_length(_ds(), 110.0, 55.0, units="1/nm")


def test_known_reflection_calibrates_reciprocal_units():
    # a 0.2 nm spacing (5 1/nm) measured 25 px from the beam: 0.2 1/nm per px
    ds = calibrate_reflection(_ds(), 25.0, 0.2)
    assert ds.dim("ky").units == "1/nm"
    assert ds.dim("ky").scale == pytest.approx(0.2)
    mrad = calibrate_reflection(_ds(), 25.0, 0.2, beam_energy=200.0, units="mrad")
    assert mrad.dim("ky").scale == pytest.approx(0.2 * 0.0025079 * 1e3, rel=1e-4)


def test_results_follow_the_calibration():
    sh = np.zeros((2, 2, 3))
    sh[0] = 1.0
    ds = calibrate_reflection(shifted_disks(sh, (24, 24), radius=5.0), 25.0, 0.2)
    com = center_of_mass(ds)
    assert com.units == "1/nm"
    np.testing.assert_allclose(np.asarray(com.data.compute())[0], 0.2, atol=0.01)
