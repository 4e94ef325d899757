from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import Dataset, Dimension


@pytest.fixture
def spectral_image() -> Dataset:
    """x 4 (nm, slow) x y 3 (nm) x bias 5 (V), float32, with metadata."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 3, 5)).astype("float32")
    dims = [
        Dimension.linear("x", 4, scale=0.5, units="nm", quantity="length", dimension_type="spatial"),
        Dimension.linear("y", 3, scale=0.5, units="nm", quantity="length", dimension_type="spatial"),
        Dimension("bias", np.array([0.0, 1.0, 2.0, 1.0, 0.0]), units="V", quantity="voltage",
                  dimension_type="spectral"),
    ]
    return Dataset(data, dims, title="IV map", quantity="current", units="nA",
                   metadata={"tip": {"radius_nm": 20.0, "name": "PtIr"}, "rows": [1, 2, 3]},
                   original_metadata={"vendor": {"gain": 3}}, chunks=(2, 3, 5))


@pytest.fixture
def be_dataset() -> Dataset:
    """Band-excitation-like: row 4 x col 5 x dc 6 (repeated values) x freq 7, complex64."""
    rng = np.random.default_rng(1)
    shape = (4, 5, 6, 7)
    data = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype("complex64")
    dims = [
        Dimension.linear("row", 4, scale=0.1, units="um", dimension_type="spatial"),
        Dimension.linear("col", 5, scale=0.1, units="um", dimension_type="spatial"),
        Dimension("dc_offset", np.array([0.0, 2.0, 4.0, 2.0, 0.0, -2.0]), units="V", dimension_type="spectral"),
        Dimension.linear("frequency", 7, scale=5.0, offset=300.0, units="kHz", dimension_type="spectral"),
    ]
    return Dataset(data, dims, title="BE", quantity="Piezoresponse", units="V", chunks=(2, 5, 3, 7))
