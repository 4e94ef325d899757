import numpy as np
import pytest

from sidkit.core import Dimension, DimensionMismatchError, DimensionType


def test_length_gives_index_values():
    d = Dimension("x", 4)
    np.testing.assert_array_equal(d.values, [0, 1, 2, 3])
    assert (d.quantity, d.units, d.dimension_type) == ("generic", "a.u.", DimensionType.UNKNOWN)


def test_linear_dimension_has_scale_and_offset():
    d = Dimension.linear("e", 5, scale=0.25, offset=100, units="eV", dimension_type="spectral")
    assert d.scale == pytest.approx(0.25)
    assert d.offset == pytest.approx(100)
    assert d.is_uniform
    assert d.dimension_type is DimensionType.SPECTRAL


def test_values_are_read_only_copies():
    src = np.arange(3.0)
    d = Dimension("x", src)
    src[0] = 99
    assert d.values[0] == 0
    with pytest.raises(ValueError):
        d.values[0] = 5


def test_two_dimensional_values_are_rejected():
    with pytest.raises(DimensionMismatchError, match="1-D"):
        Dimension("x", np.zeros((2, 2)))


def test_equality_compares_every_field():
    a = Dimension("x", 3, units="nm")
    assert a == Dimension("x", 3, units="nm")
    assert a != Dimension("x", 3, units="um")
    assert a != Dimension("x", 3, units="nm", dimension_type="spatial")
    assert a != Dimension("x", [0, 1, 3], units="nm")


def test_index_of_exact_and_nearest():
    d = Dimension.linear("x", 10, scale=0.1)
    assert d.index_of(0.3) == 3
    with pytest.raises(KeyError, match="nearest"):
        d.index_of(0.33)
    assert d.index_of(0.33, method="nearest") == 3


def test_dict_round_trip():
    d = Dimension("k", [0.5, 1.0, 2.0], quantity="reciprocal length", units="1/nm",
                  dimension_type="reciprocal")
    assert Dimension.from_dict(d.to_dict()) == d


def test_non_uniform_values_are_detected():
    assert not Dimension("v", [0.0, 1.0, 3.0, 4.0]).is_uniform


def test_labelled_dimension_has_no_scale_or_offset():
    d = Dimension("parameter", np.array(["Z (m)", "Bias (V)"]), dimension_type="channel")
    assert np.isnan(d.scale) and np.isnan(d.offset)
    assert d.values.tolist() == ["Z (m)", "Bias (V)"] and len(d) == 2
