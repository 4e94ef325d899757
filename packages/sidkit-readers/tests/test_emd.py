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


# --- agreement with RosettaSciIO on realistic variants -----------------------------------


def _reference_expected(path):
    """Expected datasets (schema of fixtures/real) from RosettaSciIO's reading of ``path``."""
    ref_emd = pytest.importorskip("rsciio.emd")
    out = []
    for i, sig in enumerate(ref_emd.file_reader(str(path), lazy=False)):
        data = np.asarray(sig["data"])
        axes = sorted(sig["axes"], key=lambda a: a["index_in_array"])
        v = np.abs(data).astype(float) if np.iscomplexobj(data) else data.astype(float)
        out.append({"index": i, "shape": list(data.shape), "dtype": data.dtype.name,
                    "axes": [{"name": a["name"], "size": a["size"], "scale": a["scale"], "offset": a["offset"],
                              "units": a["units"]} for a in axes],
                    "checksums": {"sum": float(v.sum()), "min": float(v.min()), "max": float(v.max())}})
    return {"datasets": out}


def _assert_matches_reference(path, **options):
    from sidkit.core.testing import match_real_expected

    expected = _reference_expected(path)
    problems = match_real_expected(load_all(path, **options), expected)
    assert not any(problems.values()), problems
    return expected


_SIM = {"E": np.float32(100.0), "c": np.full(3, 5.43, "f4"), "px": np.float32(0.25), "py": np.float32(0.25),
        "a": np.bytes_(b"m"), "F": np.int32(1)}


def _prismatic(path, outputs, **params):
    """A Prismatic output file: ``outputs`` maps group paths under ``4DSTEM_simulation/data``
    to (dataset name, data, [(dim name, units, values), ...]); ``params`` are the short
    simulation-parameter attributes (``ns``, ``s``, ``zs``, ``t``...)."""
    with h5py.File(path, "w") as fh:
        sim = fh.create_group("4DSTEM_simulation")
        sim.attrs.update({"emd_group_type": np.int32(2), "version_major": np.int32(0), "version_minor": np.int32(5)})
        for name in ("datacubes", "diffractionslices", "pointlists", "realslices"):
            sim.create_group(f"data/{name}")
        sp = sim.create_group("metadata/metadata_0/original/simulation_parameters")
        for k, v in {**_SIM, **params}.items():
            sp.attrs[k] = v
        for group, (dname, data, dims) in outputs.items():
            g = sim.create_group(f"data/{group}")
            g.attrs["emd_group_type"] = np.int32(1)
            g.create_dataset(dname, data=data)
            for i, (name, units, values) in enumerate(dims, start=1):
                d = g.create_dataset(f"dim{i}", data=values)
                if name is not None:
                    d.attrs["name"], d.attrs["units"] = np.bytes_(name.encode()), np.bytes_(units.encode())
    return path


def _rxy(n, step=0.25, units="[n_m]"):
    return [("R_x", units, (np.arange(n) * step).astype("f4")), ("R_y", units, (np.arange(n) * step).astype("f4"))]


def _virtual_detector(depths, n=6, bins=5, seed=0):
    rng = np.random.default_rng(seed)
    angles = ("bin_outer_angle", "[mrad]", (np.arange(bins) * 1e-3 + 5e-4).astype("f4"))
    return {f"realslices/virtual_detector_depth{k:04d}": ("realslice", rng.random((n, n, bins)).astype("f4"),
                                                          [*_rxy(n), angles]) for k in range(depths)}


@pytest.mark.parametrize(("z_start", "tile", "depths", "offset", "scale", "units"), [
    (5.43, 3, 3, 5.43, 5.43, "Å"),       # outputs every 4 slices of 1.3575 Å from zStart
    (0.0, 3, 3, 5.43, 5.43, "Å"),        # zStart 0: the first output is one step down
    (None, 3, 3, 0.0, 5.43, "Å"),        # no zStart recorded: the axis starts at 0
    (6.7875, 3, 2, 0.0, 1.0, ""),        # depths that do not tile the cell: an index
], ids=["zStart", "zStart-0", "no-zStart", "non-uniform"])
def test_prismatic_depth_axis_follows_the_simulation_parameters(tmp_path, z_start, tile, depths, offset, scale, units):
    params = {"ns": np.int32(4), "s": np.float32(1.3575), "t": np.array([1, 1, tile], "f4")}
    if z_start is not None:
        params["zs"] = np.float32(z_start)
    path = _prismatic(tmp_path / "depths.emd", _virtual_detector(depths), **params)
    ds = load(path)
    assert ds.shape == (depths, 6, 6, 5)
    assert ds.dims[0].offset == pytest.approx(offset) and ds.dims[0].scale == pytest.approx(scale)
    assert ds.dims[0].units == units
    _assert_matches_reference(path)


def test_prismatic_stacks_without_depth_in_their_name_get_an_index_axis(tmp_path):
    # frozen-phonon S-matrices stack like depths but are not depths, even when they would tile the cell
    rng = np.random.default_rng(1)
    outputs = {f"realslices/smatrix_fp{k:04d}": ("data", rng.random((4, 4, 3)).astype("f4"),
                                                 [*_rxy(4, 1.0, "[Å]"), ("beam_number", "[none]", np.arange(3.0))])
               for k in range(2)}
    path = _prismatic(tmp_path / "fp.emd", outputs, ns=np.int32(4), s=np.float32(1.3575), zs=np.float32(0),
                      t=np.array([1, 1, 2], "f4"))
    ds = load(path)
    assert ds.shape == (2, 4, 4, 3) and ds.dims[0].name == "stack" and ds.dims[0].units == ""
    assert ds.dims[0].offset == 0 and ds.dims[0].scale == 1
    _assert_matches_reference(path)


def test_prismatic_2d_3d_dpc_and_potential_outputs_match_the_reference(tmp_path):
    rng = np.random.default_rng(2)
    outputs = _virtual_detector(2, n=8, bins=4)
    for k in range(2):
        outputs[f"realslices/annular_detector_depth{k:04d}"] = ("realslice", rng.random((8, 8)).astype("f4"), _rxy(8))
        outputs[f"realslices/DPC_CoM_depth{k:04d}"] = (
            "realslice", rng.normal(size=(8, 8, 2)).astype("f4"),
            [*_rxy(8), ("X/Y", "[none]", np.array([b"DPC_CoM_x", b"DPC_CoM_y"], dtype="S256"))])
    outputs["realslices/ppotential"] = ("realslice", rng.random((10, 10, 4)).astype("f4"),
                                        [*_rxy(10, 0.2), ("R_z", "[n_m]", (np.arange(4) * 0.13575).astype("f4"))])
    outputs["diffractionslices/probe"] = ("data", (rng.random((6, 6)) + 1j).astype("c8"),
                                          [("Q_x", "[Å^-1]", np.arange(6.0) - 3), ("Q_y", "[Å^-1]", np.arange(6.0) - 3)])
    path = _prismatic(tmp_path / "all.emd", outputs, ns=np.int32(2), s=np.float32(1.3575), zs=np.float32(0),
                      t=np.array([1, 1, 1], "f4"))
    out = load_all(path)
    assert {k: v.shape for k, v in out.items()} == {
        "DPC_CoM": (2, 8, 8, 2), "annular_detector": (2, 8, 8), "ppotential": (10, 10, 4),
        "virtual_detector": (2, 8, 8, 4), "probe": (6, 6)}
    assert out["annular_detector"].dims[0].offset == pytest.approx(2.715)
    assert out["probe"].dtype == np.complex64 and out["probe"].dims[0].units == "1/Å"
    assert len(_assert_matches_reference(path)["datasets"]) == 5


def test_float32_dim_vectors_give_exact_linear_axes(tmp_path):
    # float32 rounding of 500 + 0.01 i makes neighbouring steps differ by 0.1 %; the axis is linear
    energy = np.float32(500.0) + np.arange(2048, dtype="f4") * np.float32(0.01)
    path = _emd(tmp_path / "eels.emd", {"eels": (np.ones((2, 2048), "f4"), [
        ("y", "[n_m]", np.arange(2, dtype="f4")), ("E", "[e_V]", energy)])})
    ds = load(path)
    assert ds.dims[1].scale == pytest.approx(0.01, rel=1e-5) and ds.dims[1].offset == pytest.approx(500.0)
    assert ds.dims[1].is_uniform
    _assert_matches_reference(path)


def test_one_point_dim_vector_gives_the_offset_of_a_one_point_axis(tmp_path):
    path = _emd(tmp_path / "line.emd", {"line": (np.ones((3, 1)), [
        ("x", "[n_m]", np.arange(3.0)), ("y", "[n_m]", np.array([2.5]))])})
    ds = load(path)
    assert ds.shape == (3, 1) and ds.dims[1].offset == 2.5
    _assert_matches_reference(path)


def test_ncem_files_written_by_the_reference_writer_are_read_alike(tmp_path):
    ref_emd = pytest.importorskip("rsciio.emd")
    axes = [("x", "nm", 10, 2, True), ("y", "µm", 20, 3, True), ("E", "keV", -0.2, 0.01, False)]
    data = np.random.default_rng(3).integers(0, 99, (2, 1, 40)).astype(np.int32)
    ref_emd.file_writer(str(tmp_path / "w.emd"), {
        "data": data,
        "axes": [dict(name=n, units=u, size=data.shape[i], offset=o, scale=s, navigate=nav)
                 for i, (n, u, o, s, nav) in enumerate(axes)],
        "metadata": {"General": {"title": "written"}, "Signal": {"signal_type": ""}},
        "original_metadata": {"microscope": {"name": "Titan", "voltage": "300kV"}, "user": {"name": "J. Doe"}}})
    ds = load(tmp_path / "w.emd")
    # the writer stores the transposed array with two-point dims, one for each axis
    assert sorted(ds.shape) == [1, 2, 40] and {d.units for d in ds.dims} == {"nm", "µm", "keV"}
    assert ds.original_metadata["file"]["microscope"]["name"] == "Titan"
    _assert_matches_reference(tmp_path / "w.emd")


def test_string_data_are_returned_as_text_arrays(tmp_path):
    path = tmp_path / "text.emd"
    with h5py.File(path, "w") as fh:
        fh.attrs["version_major"], fh.attrs["version_minor"] = 0, 2
        g = fh.create_group("signals/labels")
        g.attrs["emd_group_type"] = 1
        g.create_dataset("data", data=np.array([["a, 2, test1", "a, 2, test1"]], dtype=object),
                         dtype=h5py.string_dtype())
        g.create_dataset("dim1", data=[0.0])
        g.create_dataset("dim2", data=[0.0, 1.0])
    ds = load(path)
    assert ds.shape == (1, 2) and ds.dtype.kind == "U"
    np.testing.assert_array_equal(np.asarray(ds), [["a, 2, test1", "a, 2, test1"]])
    ref = pytest.importorskip("rsciio.emd").file_reader(str(path))[0]["data"]
    np.testing.assert_array_equal(np.asarray(ds).T, ref)  # the reference transposes EMD 0.x data


def _py4dstem(path, *, image="bf", scalar=False):
    """An EMD 1.0 file as py4DSTEM / emdfile write it: a 4D datacube with a virtual image in
    its own subtree and a calibration metadata node."""
    rng = np.random.default_rng(4)
    with h5py.File(path, "w") as fh:
        fh.attrs.update({"emd_group_type": "file", "version_major": 1, "version_minor": 0,
                         "authoring_program": "emdfile"})
        root = fh.create_group("py4DSTEM_root")
        root.attrs["emd_group_type"] = "root"
        nodes = {"datacube": (rng.random((2, 3, 4, 5)).astype("f4"),
                              [("Rx", "nm", 0.126796875), ("Ry", "nm", 0.126796875),
                               ("Qx", "A^-1", 0.04425), ("Qy", "A^-1", 0.04425)]),
                 f"datacube/{image}": (rng.random((20, 30)), [("dim0", "pixels", 1), ("dim1", "pixels", 1)])}
        for name, (data, dims) in nodes.items():
            g = root.create_group(name)
            g.attrs.update({"emd_group_type": "array", "python_class": "Array"})
            g.create_dataset("data", data=data).attrs["units"] = "pixel intensity"
            for i, (dim, units, step) in enumerate(dims):
                d = g.create_dataset(f"dim{i}", data=np.array([0, step]))
                d.attrs["name"], d.attrs["units"] = dim, units
        cal = root.create_group("metadatabundle/calibration")
        root["metadatabundle"].attrs["emd_group_type"] = "metadatabundle"
        cal.attrs.update({"emd_group_type": "metadata", "python_class": "Metadata"})
        cal.create_dataset("R_pixel_size", data=0.126796875).attrs["type"] = "number"
        if scalar:  # a metadata value whose name starts like a data array
            cal.create_dataset("data_origin", data=1.5)
    return path


def test_py4dstem_emd1_file_matches_the_reference(tmp_path):
    path = _py4dstem(tmp_path / "py4d.h5")
    out = load_all(path)
    assert {k: v.shape for k, v in out.items()} == {"bf": (20, 30), "datacube": (2, 3, 4, 5)}
    assert [d.units for d in out["datacube"].dims] == ["nm", "nm", "1/Å", "1/Å"]
    _assert_matches_reference(path)


def test_scalar_metadata_named_like_data_is_not_a_dataset(tmp_path):
    out = load_all(_py4dstem(tmp_path / "py4d.h5", scalar=True))
    assert set(out) == {"bf", "datacube"}


def test_stack_members_of_other_shape_are_returned_on_their_own(tmp_path):
    # the reference stacks every data path that contains the first group's path; a nested
    # node of another shape cannot join the stack and is read on its own, not dropped
    out = load_all(_py4dstem(tmp_path / "py4d.h5", image="virtual_bf"))
    assert {k: v.shape for k, v in out.items()} == {"datacube": (2, 3, 4, 5), "virtual_bf": (20, 30)}
