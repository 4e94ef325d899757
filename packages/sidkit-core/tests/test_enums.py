import pytest

from sidkit.core import DataType, DimensionType


@pytest.mark.parametrize("text", ["spatial", "SPATIAL", "Spatial", " spatial ", "DimensionType.SPATIAL"])
def test_dimension_type_accepts_names_in_any_case(text):
    assert DimensionType(text) is DimensionType.SPATIAL


def test_data_type_accepts_names_and_sidpy_values():
    assert DataType("image_4d") is DataType.IMAGE_4D
    assert DataType("spectral-image") is DataType.SPECTRAL_IMAGE
    assert DataType(4) is DataType.IMAGE
    assert DimensionType(3) is DimensionType.SPECTRAL


def test_required_members_exist():
    for name in ["SPATIAL", "RECIPROCAL", "SPECTRAL", "TEMPORAL", "CHANNEL", "UNKNOWN"]:
        assert DimensionType[name].name == name
    for name in ["IMAGE", "SPECTRUM", "SPECTRAL_IMAGE", "IMAGE_STACK", "IMAGE_4D", "LINE_PLOT",
                 "POINT_CLOUD", "UNKNOWN"]:
        assert DataType[name].name == name


def test_coerce_rejects_unknown_name_listing_valid_ones():
    with pytest.raises(ValueError, match="spatial"):
        DimensionType.coerce("sideways")
