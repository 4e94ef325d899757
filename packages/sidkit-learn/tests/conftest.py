from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import DataType
from sidkit.learn import Model, make_atom_images


class OracleModel(Model):
    """A model without torch whose 'prediction' is a given probability map.

    It lets the tests without torch run the whole find_atoms pipeline.
    """

    name = "oracle"

    def __init__(self, prob: np.ndarray) -> None:
        self.prob = np.asarray(prob, dtype=np.float32)
        self.options: dict = {}

    def predict(self, image, **options):
        self.options = options
        return image.derive(self.prob, quantity="probability", units="", data_type=DataType.IMAGE)


@pytest.fixture(scope="session")
def small_set():
    return make_atom_images(6, (64, 80), seed=11, pixel_size=0.025)


@pytest.fixture
def oracle():
    """The :class:`OracleModel` class."""
    return OracleModel
