"""Finding NSID main datasets."""

from __future__ import annotations

import h5py
import numpy as np

from sidkit.nsid import find_main_datasets, is_nsid_main, write_nsid
from sidkit.nsid.layout import safe_name


def test_main_dataset_found_and_scales_and_helpers_are_not(tmp_path, image, spectrum):
    path = write_nsid({"image": image, "spectrum": spectrum}, tmp_path / "f.h5")
    with h5py.File(path, "r") as fh:
        mains, external = find_main_datasets(fh)
        assert mains == ["/Measurement_000/Channel_000/image/image",
                         "/Measurement_000/Channel_001/spectrum/spectrum"]
        assert external == []
        assert not is_nsid_main(fh["Measurement_000/Channel_000/image/x"])
        assert not is_nsid_main(fh["Measurement_000/Channel_000/image/_sidkit_encoding"])
        assert not is_nsid_main(fh["Measurement_000/Channel_000/image"])
        first, _ = find_main_datasets(fh, first_only=True)
        assert first == mains[:1]


def test_usid_style_dataset_is_not_main(tmp_path):
    path = tmp_path / "u.h5"
    with h5py.File(path, "w") as fh:
        d = fh.create_dataset("Raw_Data", data=np.zeros((4, 3)))
        idx = fh.create_dataset("Position_Indices", data=np.zeros((4, 1), dtype=np.uint32))
        d.attrs["quantity"], d.attrs["units"], d.attrs["data_type"] = "q", "u", "x"
        d.attrs["Position_Indices"] = idx.ref
        assert not is_nsid_main(d)


def test_soft_links_are_not_visited_twice(tmp_path, image):
    path = write_nsid({"image": image}, tmp_path / "s.h5")
    with h5py.File(path, "a") as fh:
        fh["alias"] = h5py.SoftLink("/Measurement_000")
        fh["hard"] = fh["Measurement_000"]  # a second hard link to the same group
        mains, _ = find_main_datasets(fh)
    assert len(mains) == 1


def test_external_links_are_reported_not_followed(tmp_path, image):
    target = write_nsid({"image": image}, tmp_path / "t.h5")
    path = tmp_path / "l.h5"
    with h5py.File(path, "w") as fh:
        fh["ext"] = h5py.ExternalLink(str(target), "/Measurement_000")
    with h5py.File(path, "r") as fh:
        mains, external = find_main_datasets(fh)
        assert mains == [] and "t.h5" in external[0]
        mains, _ = find_main_datasets(fh, allow_external=True)
        assert mains == ["/ext/Channel_000/image/image"]


def test_safe_name_makes_valid_hdf5_names():
    assert safe_name("a/b") == "a\u2215b"
    assert safe_name("") == "dataset" and safe_name(".") == "dataset"
    assert safe_name("EELS spectrum") == "EELS spectrum"
