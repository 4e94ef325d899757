import numpy as np
import pytest

from sidkit.core import Dataset, Dimension
from sidkit.core.testing import compare_real, normalise_units


@pytest.mark.parametrize(("a", "b"), [("1/nm", "1 / nm"), ("1/nm", "nm^-1"), ("um", "µm"), ("μm", "µm"),
                                   ("sec", "s")])
def test_units_are_compared_up_to_spelling(a, b):
    assert normalise_units(a) == normalise_units(b)


def test_units_that_differ_stay_different():
    assert normalise_units("nm") != normalise_units("1/nm")


def _expected(arr, scale):
    return {"shape": list(arr.shape), "dtype": str(arr.dtype),
            "axes": [{"name": "y", "size": arr.shape[0], "scale": scale, "offset": 0.0, "units": "nm"},
                     {"name": "x", "size": arr.shape[1], "scale": scale, "offset": 0.0, "units": "nm"}],
            "checksums": {"sum": float(arr.sum()), "min": float(arr.min()), "max": float(arr.max())}}


def test_compare_real_accepts_a_matching_dataset_in_another_axis_order():
    arr = np.arange(6, dtype="float32").reshape(2, 3)
    ds = Dataset(arr.T, [Dimension.linear("x", 3, scale=0.1, units="nm"),
                         Dimension.linear("y", 2, scale=0.1, units="nm")],
                 original_metadata={"a": 1})
    assert compare_real(ds, _expected(arr, 0.1)) == []


def test_compare_real_reports_wrong_scale_and_empty_metadata():
    arr = np.arange(6, dtype="float32").reshape(2, 3)
    ds = Dataset(arr, [Dimension.linear("y", 2, scale=0.2, units="nm"),
                       Dimension.linear("x", 3, scale=0.2, units="nm")])
    problems = compare_real(ds, _expected(arr, 0.1))
    assert any("scale" in p for p in problems) and "original_metadata is empty" in problems


def test_compare_real_takes_nan_checksums_of_nan_padded_data_as_equal():
    arr = np.array([[1.0, np.nan, 2.0], [3.0, 4.0, np.nan]])
    ds = Dataset(arr, [Dimension.linear("y", 2, scale=0.1, units="nm"),
                       Dimension.linear("x", 3, scale=0.1, units="nm")], original_metadata={"a": 1})
    assert compare_real(ds, _expected(arr, 0.1)) == []
    assert compare_real(Dataset(np.nan_to_num(arr), ds.dims, original_metadata={"a": 1}), _expected(arr, 0.1))
