"""Berkeley EMD reader: files written with h5py after the EMD 0.2 layout
(groups with ``emd_group_type = 1`` holding ``data`` and ``dimN``)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from sidkit.core import DimensionType, SidkitError, UnsafeFileError, load, load_all
from sidkit.readers.emd import BerkeleyEMDReader, is_berkeley_emd


def _emd(path, groups, *, microscope=None):
    """``groups``: name -> (data, [(name, units, values), ...])."""
    with h5py.File(path, "w") as fh:
        fh.attrs["version_major"] = 0
        fh.attrs["version_minor"] = 2
        data_root = fh.create_group("data")
        for name, (data, dims) in groups.items():
            g = data_root.create_group(name)
            g.attrs["emd_group_type"] = 1
            g.create_dataset("data", data=data, chunks=True)
            for i, (dname, units, values) in enumerate(dims, start=1):
                d = g.create_dataset(f"dim{i}", data=values)
                d.attrs["name"] = np.bytes_(dname)
                d.attrs["units"] = np.bytes_(units)
        if microscope:
            m = fh.create_group("microscope")
            for k, v in microscope.items():
                m.attrs[k] = v
    return path


def test_claims_by_emd_group_type_not_by_extension(tmp_path):
    path = _emd(tmp_path / "a.emd", {"img": (np.zeros((2, 3)), [("y", "[n_m]", np.arange(2.0)), ("x", "[n_m]", np.arange(3.0))])})
    plain = tmp_path / "plain.emd"
    with h5py.File(plain, "w") as fh:
        fh.create_dataset("x", data=np.zeros(3))
    assert BerkeleyEMDReader().claims(path, path.read_bytes()[:4096])
    assert not is_berkeley_emd(plain)
    assert not BerkeleyEMDReader().claims(plain, plain.read_bytes()[:4096])


def test_dims_take_names_units_and_values_from_dim_datasets(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    dims = [("R_y", "[n_m]", np.arange(4) * 0.5), ("R_x", "[n_m]", np.arange(5) * 0.5),
            ("energy", "[eV]", 100.0 + np.arange(6) * 2.0)]
    ds = load(_emd(tmp_path / "si.emd", {"cube": (data, dims)}, microscope={"voltage": 300.0}))
    np.testing.assert_array_equal(np.asarray(ds), data)
    assert [d.name for d in ds.dims] == ["R_y", "R_x", "energy"]
    assert [d.units for d in ds.dims] == ["nm", "nm", "eV"]
    assert [d.dimension_type for d in ds.dims] == [DimensionType.SPATIAL, DimensionType.SPATIAL, DimensionType.SPECTRAL]
    assert ds.dims[2].offset == pytest.approx(100.0) and ds.dims[2].scale == pytest.approx(2.0)
    assert ds.metadata["beam"]["energy_eV"] == pytest.approx(300e3)
    assert ds.original_metadata["file"]["microscope"]["voltage"] == 300.0


def test_group_attributes_form_the_metadata_tree(tmp_path):
    path = _emd(tmp_path / "a.emd", {"img": (np.zeros((2, 3)), [("y", "nm", np.arange(2.0)), ("x", "nm", np.arange(3.0))])},
                microscope={"voltage": 300e3})
    with h5py.File(path, "a") as fh:
        fh["data/img"].attrs["title"] = "scan"
        fh["data/img"].create_group("notes").attrs["by"] = "me"
        fh.create_group("user/deep/er").attrs["name"] = "A. User"
        fh["link"] = h5py.SoftLink("/user")  # links are not followed: each group once
    ds = load(path, reader="emd")
    tree = ds.original_metadata["file"]
    assert tree["version_major"] == 0 and tree["microscope"] == {"voltage": 300e3}
    assert tree["user"]["deep"]["er"] == {"name": "A. User"} and "link" not in tree
    assert tree["data"]["img"]["notes"] == {"by": "me"}
    assert ds.original_metadata["attrs"] == {"emd_group_type": 1, "title": "scan"}  # its own attributes only
    assert ds.metadata["beam"]["energy_eV"] == pytest.approx(300e3)


def test_emd_1_0_array_groups_with_two_point_dims_are_read(tmp_path):
    # the py4DSTEM / emdfile layout: emd_group_type names the node, dim0.. hold [start, next]
    path = tmp_path / "cube.h5"
    data = np.arange(3 * 4 * 5 * 6, dtype=np.float32).reshape(3, 4, 5, 6)
    with h5py.File(path, "w") as fh:
        fh.attrs.update({"emd_group_type": "file", "version_major": 1, "version_minor": 0})
        root = fh.create_group("experiment")
        root.attrs["emd_group_type"] = "root"
        cube = root.create_group("datacube")
        cube.attrs["emd_group_type"] = "array"
        cube.create_dataset("data", data=data)
        for i, (name, units, step) in enumerate([("Rx", "pixels", 1.0), ("Ry", "pixels", 1.0),
                                                 ("Qx", "A^-1", 0.1), ("Qy", "A^-1", 0.1)]):
            dim = cube.create_dataset(f"dim{i}", data=np.array([0.5, 0.5 + step]))
            dim.attrs["name"], dim.attrs["units"] = name, units
        root.create_group("metadata_0").attrs["emd_group_type"] = "metadata"
    ds = load(path)
    np.testing.assert_array_equal(np.asarray(ds), data)
    assert [d.name for d in ds.dims] == ["Rx", "Ry", "Qx", "Qy"] and ds.title == "datacube"
    assert [d.units for d in ds.dims] == ["pixel", "pixel", "1/Å", "1/Å"]
    assert [d.dimension_type for d in ds.dims] == [DimensionType.SPATIAL] * 2 + [DimensionType.RECIPROCAL] * 2
    np.testing.assert_allclose(ds.dims[3].values, 0.5 + 0.1 * np.arange(6))


def test_non_uniform_dim_values_are_kept(tmp_path):
    values = np.array([0.0, 1.0, 3.0, 7.0])
    ds = load(_emd(tmp_path / "nu.emd", {"line": (np.ones(4), [("t", "[s]", values)])}))
    np.testing.assert_array_equal(ds.dims[0].values, values)
    assert ds.dims[0].dimension_type is DimensionType.TEMPORAL


def test_every_data_group_is_returned(tmp_path):
    groups = {"first": (np.zeros((2, 2)), [("y", "", np.arange(2.0)), ("x", "", np.arange(2.0))]),
              "second": (np.ones(5), [("e", "[eV]", np.arange(5.0))])}
    out = load_all(_emd(tmp_path / "two.emd", groups))
    assert set(out) == {"first", "second"}
    assert out["second"].shape == (5,)


def test_lazy_data_pickles_by_path(tmp_path):
    data = np.random.default_rng(0).random((8, 8))
    ds = load(_emd(tmp_path / "p.emd", {"img": (data, [("y", "", np.arange(8.0)), ("x", "", np.arange(8.0))])}))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds.data)).compute(), data)


def test_external_storage_is_refused(tmp_path):
    raw = tmp_path / "raw.bin"
    np.arange(4, dtype="<f8").tofile(raw)
    path = tmp_path / "ext.emd"
    with h5py.File(path, "w") as fh:
        g = fh.create_group("data/ext")
        g.attrs["emd_group_type"] = 1
        g.create_dataset("data", shape=(4,), dtype="<f8", external=[(str(raw), 0, 32)])
    with pytest.raises(UnsafeFileError, match="ext.emd"):
        load(path)


def test_no_data_group_raises_sidkit_error(tmp_path):
    path = tmp_path / "empty.emd"
    with h5py.File(path, "w") as fh:
        fh.attrs["version_major"] = 0
    with pytest.raises(SidkitError, match="empty.emd"):
        load(path, reader="emd")


def _stacked(path):
    with h5py.File(path, "w") as fh:
        fh.attrs["version_major"] = 0
        fh.attrs["version_minor"] = 5
        for i in range(3):
            g = fh.create_group(f"data/signal{i:04d}")
            g.attrs["emd_group_type"] = 1
            g.create_dataset("data", data=np.full((4, 5), i, dtype=np.float32))
            for k, (n, step) in enumerate([(4, 0.5), (5, 0.25)], start=1):
                d = g.create_dataset(f"dim{k}", data=np.arange(n) * step + 1.0)
                d.attrs["name"] = np.bytes_("xy"[k - 1])
                d.attrs["units"] = np.bytes_("[n_m]")
    return path


def _dim0(path):
    with h5py.File(path, "w") as fh:
        fh.attrs["version_major"] = 1
        fh.attrs["version_minor"] = 0
        g = fh.create_group("root/cube")
        g.attrs["emd_group_type"] = 1
        g.create_dataset("data", data=np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4))
        for k, (n, step, u) in enumerate([(2, 1.0, "[n_m]"), (3, 1.0, "[n_m]"), (4, 0.1, "[m_r_a_d]")]):
            d = g.create_dataset(f"dim{k}", data=np.arange(n) * step)
            d.attrs["name"] = np.bytes_(f"a{k}")
            d.attrs["units"] = np.bytes_(u)
    return path


def test_numbered_groups_are_stacked_like_the_reference_reader(tmp_path):
    ref_emd = pytest.importorskip("rsciio.emd")
    for path in (_stacked(tmp_path / "stack.emd"), _dim0(tmp_path / "dim0.emd"),
                 _emd(tmp_path / "v02.emd", {"img": (np.arange(6.0).reshape(2, 3),
                                                     [("y", "[n_m]", np.arange(2) * 0.5 + 3),
                                                      ("x", "[n_m]", np.arange(3) * 0.25)])})):
        ours = list(load_all(path).values())
        refs = ref_emd.file_reader(str(path))
        assert len(ours) == len(refs), path.name
        for ds, ref in zip(ours, refs):
            assert sorted(ds.shape) == sorted(ref["data"].shape), path.name
            assert float(ds.sum().compute()) == pytest.approx(float(np.sum(ref["data"])))
            for ax in ref["axes"]:
                assert any(len(d) == ax["size"] and d.offset == pytest.approx(ax["offset"])
                           and (len(d) == 1 or d.scale == pytest.approx(ax["scale"])) for d in ds.dims), (path.name, ax)


def test_stacking_can_be_turned_off(tmp_path):
    out = load_all(_stacked(tmp_path / "s.emd"), stack_groups=False)
    assert len(out) == 3 and all(ds.shape == (4, 5) for ds in out.values())


def test_arrays_above_the_small_file_threshold_stay_lazy_and_pickle_by_path(tmp_path, monkeypatch):
    import sidkit.readers.emd as emd

    data = np.random.default_rng(0).random((8, 8))
    path = _emd(tmp_path / "p.emd", {"img": (data, [("y", "", np.arange(8.0)), ("x", "", np.arange(8.0))])})
    small = load(path)
    monkeypatch.setattr(emd, "SMALL_ARRAY_BYTES", 0)  # every array counts as large
    lazy = load(path)
    assert "H5ArrayProxy" in repr(dict(lazy.data.__dask_graph__()))
    blob = pickle.dumps(lazy.data)
    assert data.tobytes() not in blob
    np.testing.assert_array_equal(pickle.loads(blob).compute(), data)
    np.testing.assert_array_equal(np.asarray(small), data)
    assert small.dims == lazy.dims and small.original_metadata == lazy.original_metadata
