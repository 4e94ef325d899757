from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import Dataset, Dimension


@pytest.fixture
def spectral_image() -> Dataset:
    """x 4 (nm) x y 3 (nm) x energy 5 (eV), float32, with metadata."""
    rng = np.random.default_rng(0)
    data = rng.random((4, 3, 5)).astype("float32")
    dims = [
        Dimension.linear("x", 4, scale=0.5, units="nm", quantity="length", dimension_type="spatial"),
        Dimension.linear("y", 3, scale=0.5, units="nm", quantity="length", dimension_type="spatial"),
        Dimension.linear("energy", 5, scale=10.0, offset=100.0, units="eV", quantity="energy",
                         dimension_type="spectral"),
    ]
    return Dataset.from_array(data, dims=dims, title="SI", quantity="intensity", units="counts",
                              metadata={"beam": {"energy_eV": 2e5}}, chunks=(2, 3, 5))
