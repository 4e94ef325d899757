"""Writing NSID: layout, round trips, metadata of every kind, compression,
append, atomicity."""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np
import pytest
from conftest import NSID_FIXTURES, needs_fixtures
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sidkit.core as sk
from sidkit.core import Dataset, Dimension, UnsupportedOperationError
from sidkit.nsid import NsidWriter, read_nsid, write_nsid
from sidkit.nsid.writer import hdf5_chunks


def _same(a: Dataset, b: Dataset) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for attr in ("title", "quantity", "units", "data_type", "modality", "source"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert a.dims == b.dims
    for da_, db in zip(a.dims, b.dims):
        assert da_.values.dtype == db.values.dtype


def test_save_h5_uses_nsid_writer_and_round_trips(tmp_path, image):
    path = sk.save(image, tmp_path / "x.h5")
    back = sk.load(path)
    _same(back, image)
    assert back.metadata == image.metadata
    assert back.original_metadata == image.original_metadata


@pytest.mark.parametrize("dtype", ["uint16", "int8", "float32", "float64", "complex64", "complex128", "bool"])
def test_dtype_is_kept(tmp_path, dtype):
    data = (np.arange(24).reshape(2, 3, 4) % 2).astype(dtype)
    ds = Dataset(data, title="d")
    path = write_nsid({"d": ds}, tmp_path / "d.h5")
    _same(read_nsid(path)["d"], ds)


def test_layout_is_the_pynsid_layout(tmp_path, image):
    path = write_nsid({"image": image}, tmp_path / "l.h5")
    with h5py.File(path, "r") as fh:
        grp = fh["Measurement_000/Channel_000/image"]
        dset = grp["image"]
        for k in ("quantity", "units", "main_data_name", "data_type", "modality", "source", "pyNSID_version"):
            assert h5py.check_string_dtype(dset.attrs.get_id(k).dtype).encoding == "utf-8", k
        assert dset.attrs["main_data_name"] == "HAADF image"
        assert dset.attrs["data_type"] == "IMAGE"
        assert [d.label for d in dset.dims] == ["x", "y"]
        for name in ("x", "y"):
            scale = grp[name]
            assert scale.is_scale and scale.dtype == np.float64
            assert scale.attrs["dimension_type"] == "SPATIAL" and scale.attrs["units"] == "nm"
            assert scale.attrs["quantity"] == "length" and scale.attrs["name"] == name
        assert grp["metadata/experiment"].attrs["detector"] == "HAADF"
        assert grp["metadata/experiment"].attrs["voltage_V"] == 200000
        assert grp["original_metadata/Vendor"].attrs["Version"] == "1.0"
        assert dset.chunks is not None


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), NSID_FIXTURES, ids=[p.name for p, _ in NSID_FIXTURES])
def test_reference_files_survive_read_write_read(tmp_path, path, expected):
    first = sk.load_all(path)
    out = sk.save(first, tmp_path / "copy.h5")
    second = sk.load_all(out)
    assert list(second) == list(first)
    for a, b in zip(first.values(), second.values()):
        _same(a, b)
        assert repr(a.metadata) == repr(b.metadata)
        assert repr(a.original_metadata) == repr(b.original_metadata)
        assert a.provenance == b.provenance


@pytest.mark.parametrize("compression", [None, "gzip", "lzf"])
def test_compression_and_chunks(tmp_path, compression):
    ds = Dataset(np.arange(100 * 80, dtype=np.int32).reshape(100, 80), title="c")
    path = write_nsid({"c": ds}, tmp_path / "c.h5", compression=compression, chunks=(25, 40))
    with h5py.File(path, "r") as fh:
        dset = fh["Measurement_000/Channel_000/c/c"]
        assert dset.compression == compression and dset.chunks == (25, 40)
    _same(read_nsid(path)["c"], ds)


def test_unknown_compression_is_refused_before_touching_the_file(tmp_path, image):
    with pytest.raises(ValueError, match="compression"):
        write_nsid(image, tmp_path / "x.h5", compression="zstd")
    assert not (tmp_path / "x.h5").exists()


def test_automatic_chunks_stay_near_target():
    chunks = hdf5_chunks((16384, 8192), 4)
    assert np.prod(chunks) * 4 <= 4 * 2**20
    assert hdf5_chunks((0, 5), 4) is None and hdf5_chunks((), 8) is None


def test_streams_a_dask_array_block_by_block(tmp_path):
    seen = []

    def make(block_info=None):
        seen.append(block_info[None]["chunk-location"])
        return np.full(block_info[None]["chunk-shape"], block_info[None]["chunk-location"][0], np.float32)

    arr = da.map_blocks(make, dtype=np.float32, chunks=((64,) * 8, (256,)))
    ds = Dataset(arr, title="s")
    path = write_nsid({"s": ds}, tmp_path / "s.h5", chunks=(64, 256))
    assert len(seen) == 8  # every block computed once, never the whole array at once
    back = np.asarray(read_nsid(path)["s"])
    assert back[::64, 0].tolist() == list(range(8))


def test_several_datasets_in_one_file(tmp_path, image, spectrum):
    path = write_nsid({"image": image, "spectrum": spectrum}, tmp_path / "m.h5")
    out = read_nsid(path)
    assert list(out) == ["image", "spectrum"]
    _same(out["image"], image)
    _same(out["spectrum"], spectrum)


def test_append_mode_adds_without_touching_existing_datasets(tmp_path, image, spectrum):
    path = write_nsid({"image": image}, tmp_path / "a.h5")
    with h5py.File(path, "r") as fh:
        before = fh["Measurement_000/Channel_000/image/image"][()]
    sk.save({"spectrum": spectrum}, path, mode="a")
    with h5py.File(path, "r") as fh:
        assert sorted(fh["Measurement_000"]) == ["Channel_000", "Channel_001"]
        np.testing.assert_array_equal(fh["Measurement_000/Channel_000/image/image"][()], before)
    out = read_nsid(path)
    assert list(out) == ["image", "spectrum"]
    _same(out["image"], image)


def test_failed_write_leaves_previous_file_intact(tmp_path, image):
    path = write_nsid({"image": image}, tmp_path / "keep.h5")
    before = path.read_bytes()

    def explode(block_info=None):
        if block_info[None]["chunk-location"][0] == 3:
            raise RuntimeError("disk on fire")
        return np.ones(block_info[None]["chunk-shape"])

    bad = Dataset(da.map_blocks(explode, dtype=float, chunks=((10,) * 6,)), title="bad")
    for mode in ("w", "a"):
        with pytest.raises(RuntimeError, match="disk on fire"):
            write_nsid({"bad": bad}, path, mode=mode, chunks=(10,))
        assert path.read_bytes() == before
        _same(read_nsid(path)["image"], image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5"]  # no temporary left


def test_interrupt_mid_write_leaves_previous_file_intact(tmp_path, image, spectrum, monkeypatch):
    path = write_nsid({"image": image}, tmp_path / "keep.h5")
    before = path.read_bytes()
    import sidkit.nsid.writer as w

    real = w.write_tree

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(w, "write_tree", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_nsid({"image2": image}, path, mode="a")
    assert path.read_bytes() == before


def test_string_data_is_refused(tmp_path):
    with pytest.raises(UnsupportedOperationError):
        write_nsid(Dataset(np.array(["a", "b"]), title="s"), tmp_path / "s.h5")


def test_variance_and_string_dim_values_round_trip(tmp_path):
    ds = Dataset(np.arange(6.0).reshape(2, 3),
                 [Dimension("channel", np.array(["Ti", "O"])), Dimension.linear("x", 3)],
                 title="v", variance=np.full((2, 3), 0.5))
    back = read_nsid(write_nsid({"v": ds}, tmp_path / "v.h5"))["v"]
    assert back.dims[0].values.tolist() == ["Ti", "O"]
    np.testing.assert_array_equal(np.asarray(back.variance), np.full((2, 3), 0.5))


def test_dim_named_like_the_dataset_is_stored_beside_it(tmp_path):
    ds = Dataset(np.arange(5.0), [Dimension.linear("x", 5)], title="x")
    back = read_nsid(write_nsid({"x": ds}, tmp_path / "x.h5"))
    assert list(back) == ["x"] and back["x"].dims[0].name == "x"


ALL_KINDS = {
    "str": "plain",
    "unicode": "Zoë Ångström 温度 ✓",
    "int": 7,
    "negative": -3,
    "big": 2**80,
    "float": 0.1,
    "nan_free": -1e300,
    "complex": 1 + 2j,
    "true": True,
    "false": False,
    "none": None,
    "empty_dict": {},
    "empty_list": [],
    "ints": [1, 2, 3],
    "floats": [0.5, 1.5],
    "strs": ["Sr", "Ti", "Ø"],
    "bools": [True, False],
    "mixed": [1, "a", None, 2.5, True, {"k": "v"}, [1, [2, []]]],
    "nested_lists": [[1, 2], [3, 4]],
    "list_of_dicts": [{"a": 1}, {"b": {"c": [None]}}],
    "tuple": (1, "two"),
    "np_f32": np.float32(1.25),
    "np_f64": np.float64(2.5),
    "np_i16": np.int16(-4),
    "np_u8": np.uint8(200),
    "np_bool": np.bool_(True),
    "np_array": np.arange(6, dtype=np.int16).reshape(2, 3),
    "np_array_0d": np.array(3.5),
    "np_str_array": np.array(["a", "bc"]),
    "bytes": b"\x00\x01binary\x00",
    "key/with/slash": 1,
    "": "empty key",
    "nested": {"deeper": {"deepest": {"x": [1.0, None]}}},
}


def _assert_identical(a, b, where="root"):
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(sorted(a, key=str)) == list(sorted(b, key=str)), where
        for k in a:
            _assert_identical(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f"{where}/{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a == b, where
    else:
        assert a == b, where


def test_metadata_of_every_kind_round_trips_exactly(tmp_path, image):
    image.metadata = dict(ALL_KINDS)
    image.original_metadata = {"copy": dict(ALL_KINDS)}
    image.provenance = [{"process": "p", "parameters": {"sigma": 1.5, "axes": [0, 1]}}]
    back = sk.load(sk.save(image, tmp_path / "m.h5"))
    _assert_identical(image.metadata, back.metadata)
    _assert_identical(image.original_metadata, back.original_metadata)
    assert back.provenance == image.provenance


json_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
json_like = st.recursive(
    json_leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(md=st.dictionaries(st.text(max_size=6), json_like, max_size=5))
def test_any_json_like_metadata_round_trips(tmp_path, md):
    ds = Dataset(np.zeros(3), title="h", metadata=md)
    path = write_nsid({"h": ds}, tmp_path / "h.h5")
    _assert_identical(md, read_nsid(path)["h"].metadata)


def test_writer_plugin_is_the_default_for_h5():
    assert NsidWriter.priority == 10
    assert sk.choose_writer("x.h5", None).name == "nsid"


@needs_fixtures
def test_append_to_a_pynsid_file_keeps_its_dataset(tmp_path):
    import shutil

    src = next(p for p, _ in NSID_FIXTURES if p.name == "nsid_image_2d.h5")
    path = tmp_path / "app.h5"
    shutil.copyfile(src, path)
    before = sk.load(path)
    big = "x" * 100_000  # larger than a compact HDF5 attribute
    sk.save({"extra": Dataset(np.arange(5.0), ["e"], title="e", metadata={"big": big})}, path, mode="a")
    out = sk.load_all(path)
    assert list(out) == ["image", "extra"]
    _same(out["image"], before)
    assert out["image"].metadata == before.metadata
    assert out["extra"].metadata["big"] == big
