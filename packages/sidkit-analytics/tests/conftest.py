"""Synthetic datasets with known truth for the sidkit-analytics tests."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import Dataset, Dimension


def spatial(name: str, n: int, scale: float = 0.5, units: str = "nm") -> Dimension:
    return Dimension.linear(name, n, scale=scale, units=units, quantity="length", dimension_type="spatial")


def phase_map(shape: tuple[int, int], k: int, seed: int = 0) -> np.ndarray:
    """An integer map of ``k`` blob-shaped phases."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    fields = np.stack([ndimage.gaussian_filter(rng.normal(size=shape), 4) for _ in range(k)])
    return np.argmax(fields, axis=0)


def endmembers(energy: np.ndarray, k: int) -> np.ndarray:
    centres = np.linspace(energy[0], energy[-1], k + 2)[1:-1]
    width = (energy[-1] - energy[0]) / (3 * k)
    spectra = np.exp(-0.5 * ((energy[None, :] - centres[:, None]) / width) ** 2)
    return spectra + 0.05


@pytest.fixture(scope="session")
def phase_image() -> dict:
    """A 48 x 40 spectral image of 3 known end-members, known phase map, 1 % noise."""
    rng = np.random.default_rng(42)
    k, ny, nx, ne = 3, 48, 40, 96
    energy = np.linspace(100.0, 195.0, ne)
    truth = phase_map((ny, nx), k, seed=3)
    ab = np.eye(k)[truth]  # (ny, nx, k), pure pixels
    em = endmembers(energy, k)
    data = ab @ em
    data = data + rng.normal(0, 0.01 * data.max(), data.shape)
    data = np.clip(data, 0, None).astype(np.float32)
    dims = [spatial("y", ny), spatial("x", nx),
            Dimension("energy", energy, units="eV", quantity="energy", dimension_type="spectral")]
    ds = Dataset.from_array(data, dims=dims, title="SI", quantity="intensity", units="counts",
                            chunks=(16, 40, 96))
    return {"ds": ds, "labels": truth, "endmembers": em, "k": k}


@pytest.fixture
def counted_reads(phase_image, monkeypatch) -> tuple[Dataset, list, int]:
    """The phase image as 6 row blocks of 8 x 40 pixels that record every read.

    Returns the dataset, the list of block locations read so far and the
    number of blocks; the samples x features matrix gets the same row blocks.
    """
    import dask.array as da

    from sidkit.analytics import _samples

    reads: list = []
    arr = da.from_array(np.asarray(phase_image["ds"]), chunks=(8, 40, -1))
    monkeypatch.setattr(_samples, "BLOCK_BYTES", 8 * 40 * 96 * arr.dtype.itemsize)

    def count(block, block_info=None):
        if block_info is not None:
            reads.append(block_info[0]["chunk-location"])
        return block

    ds = phase_image["ds"].derive(arr.map_blocks(count, dtype=arr.dtype), process="count")
    return ds, reads, arr.numblocks[0]
