"""Virtual images and summary diffraction patterns of 4D-STEM datasets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sidkit.core import Dataset, DataType, Dimension, DimensionType

from ._axes import PACKAGE, result_dtype, stem_data
from ._engine import detector_sums
from .detectors import Detector, as_detector

__all__ = ["virtual_image", "mean_diffraction", "max_diffraction"]


def _detector_list(detector: Any) -> tuple[list[Detector], bool]:
    if isinstance(detector, (list, tuple)) and detector and all(
        isinstance(d, (Detector, np.ndarray, Dataset)) for d in detector
    ):
        return [as_detector(d) for d in detector], True
    return [as_detector(detector)], False


def virtual_image(ds: Dataset, detector: Detector | Any | Sequence[Detector | Any]) -> Dataset:
    """Virtual detector image(s) of a 4D-STEM dataset, lazily, in one pass.

    Each pattern is multiplied by each detector's weights and summed. All
    detectors are evaluated together in a single pass over the data: the
    detector axes are flattened and contracted (tensordot) against the stack
    of weight maps chunk by chunk, so a file is read once however many
    detectors are asked for.

    Parameters
    ----------
    ds : Dataset
        4D-STEM data: two SPATIAL (scan) and two RECIPROCAL (detector) dims,
        in any axis order.
    detector : Detector, array_like or a list of them
        From :func:`bright_field`, :func:`annular`, :func:`rectangle`, or a
        boolean / weighted mask of the detector's shape (det0, det1) in the
        dataset's axis order of the detector dims. Detector geometry is in
        calibrated detector units (see the factories).

    Returns
    -------
    Dataset
        Lazy. For one detector an IMAGE over the scan dims (scan units kept);
        for a list, an IMAGE_STACK with a leading ``detector`` dim whose names
        are in ``metadata["stem"]["detectors"]``. Sums are float32 for float32
        data, float64 otherwise (exact for counts).
    """
    data, scan, det = stem_data(ds)
    dets, many = _detector_list(detector)
    weights = np.stack([d.weights(ds) for d in dets])
    sums = detector_sums(data, weights)
    names = [d.name or f"detector_{i}" for i, d in enumerate(dets)]
    params = {"detectors": [d.describe() for d in dets]}
    if many:
        out = sums.transpose(2, 0, 1)
        ddim = Dimension("detector", len(dets), quantity="detector", units="",
                         dimension_type=DimensionType.CHANNEL)
        res = ds.derive(out, [ddim, *scan], process="sidkit.stem.virtual_image",
                        parameters=params, package=PACKAGE, title=f"virtual images of {ds.title}".strip(),
                        data_type=DataType.IMAGE_STACK, quantity="intensity")
        res.metadata.setdefault("stem", {})["detectors"] = names
        return res
    return ds.derive(sums[..., 0], scan, process="sidkit.stem.virtual_image", parameters=params,
                     package=PACKAGE, title=f"{names[0]} image".strip(),
                     data_type=DataType.IMAGE, quantity="intensity")


def mean_diffraction(ds: Dataset) -> Dataset:
    """Mean diffraction pattern over the scan, lazily.

    Returns
    -------
    Dataset
        IMAGE over the detector dims (calibrated units kept).
    """
    data, _, det = stem_data(ds)
    out = data.astype(result_dtype(data.dtype)).mean(axis=(0, 1))
    return ds.derive(out, det, process="sidkit.stem.mean_diffraction", parameters={},
                     package=PACKAGE, title=f"mean diffraction of {ds.title}".strip(),
                     data_type=DataType.IMAGE)


def max_diffraction(ds: Dataset) -> Dataset:
    """Maximum of every detector pixel over the scan (the 'max pattern'), lazily.

    Returns
    -------
    Dataset
        IMAGE over the detector dims, in the data's dtype.
    """
    data, _, det = stem_data(ds)
    return ds.derive(data.max(axis=(0, 1)), det, process="sidkit.stem.max_diffraction",
                     parameters={}, package=PACKAGE,
                     title=f"max diffraction of {ds.title}".strip(), data_type=DataType.IMAGE)
