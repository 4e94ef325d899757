"""Reading the pyNSID reference files and bad input."""

from __future__ import annotations

import hashlib
import pickle
import shutil

import h5py
import numpy as np
import pytest
from conftest import NSID_FIXTURES, USID_FIXTURES, needs_fixtures, normalise

import sidkit.core as sk
from sidkit.core import CorruptFileError, SidkitError, UnknownFormatError, UnsafeFileError
from sidkit.nsid import NsidReader, read_nsid, write_nsid

IDS = [p.name for p, _ in NSID_FIXTURES]


def _sha(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()).hexdigest()


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), NSID_FIXTURES, ids=IDS)
def test_reference_file_matches_expected_json(path, expected):
    out = sk.load_all(path)
    assert len(out) == len(expected["datasets"])
    for ds, exp in zip(out.values(), expected["datasets"]):
        assert list(ds.shape) == exp["shape"]
        assert ds.dtype == np.dtype(exp["dtype"])  # on-disk dtype, no float64 upcast
        for attr in ("title", "quantity", "units", "modality", "source"):
            assert getattr(ds, attr) == exp[attr], attr
        assert ds.data_type.name == exp["data_type"]
        assert len(ds.dims) == len(exp["dims"])
        for dim, ed in zip(ds.dims, exp["dims"]):
            assert dim.name == ed["name"]
            assert dim.quantity == ed["quantity"]
            assert dim.units == ed["units"]
            assert dim.dimension_type.name == ed["dimension_type"]
            assert len(dim) == ed["size"]
            assert dim.values.dtype == np.dtype(ed["dtype_on_disk"])
            assert dim.values[0] == ed["first"] and dim.values[-1] == ed["last"]
            if ed.get("values") is not None:
                assert dim.values.tolist() == ed["values"]
            if ed.get("uniform_step") is not None:
                assert dim.is_uniform and dim.scale == pytest.approx(ed["uniform_step"], rel=1e-9)
            assert float(np.sum(dim.values)) == pytest.approx(ed["values_sum"], rel=1e-12)
        assert normalise(ds.metadata) == normalise(exp["metadata"])
        assert normalise(ds.original_metadata) == normalise(exp["original_metadata"])
        values = np.asarray(ds)
        sums = exp["checksums"]
        assert _sha(values) == sums["sha256_c_order_le"]
        total = values.astype(np.complex128 if np.iscomplexobj(values) else np.float64).sum()
        if isinstance(sums["sum"], list):
            assert [total.real, total.imag] == pytest.approx(sums["sum"], rel=sums["sum_rtol"])
        else:
            assert float(total) == pytest.approx(sums["sum"], rel=sums["sum_rtol"])
        for probe in sums["values"]:
            got = values[tuple(probe["index"])]
            want = probe["value"]
            if isinstance(want, list):
                assert [got.real, got.imag] == want
            else:
                assert got == want


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), NSID_FIXTURES, ids=IDS)
def test_sidpy_provenance_is_kept_as_records(path, expected):
    for ds, exp in zip(sk.load_all(path).values(), expected["datasets"]):
        records = {r["process"]: r["record"] for r in ds.provenance}
        assert records == (exp["provenance"] or {})
        assert all(r["package"] == "sidpy" for r in ds.provenance)


@needs_fixtures
def test_load_all_returns_every_main_dataset_by_group_name_in_file_order():
    path = next(p for p, _ in NSID_FIXTURES if p.name == "nsid_two_datasets.h5")
    out = sk.load_all(path)
    assert list(out) == ["image", "spectrum"]
    assert out["spectrum"].title == "EDS spectrum"
    assert sk.load(path).title == "survey image"


@needs_fixtures
def test_legacy_junk_groups_are_ignored():
    path = next(p for p, _ in NSID_FIXTURES if p.name.startswith("legacy"))
    ds = sk.load(path)
    assert ds.metadata == {} and ds.original_metadata == {} and ds.provenance == []
    assert ds.dim_names == ("y", "x")


@needs_fixtures
@pytest.mark.parametrize("path", [p for p, _ in NSID_FIXTURES], ids=IDS)
def test_reader_claims_nsid_files(path):
    head = path.read_bytes()[:4096]
    assert NsidReader().claims(path, head)


@pytest.mark.skipif(not USID_FIXTURES, reason="USID reference fixtures not found")
@pytest.mark.parametrize("path", [p for p, _ in USID_FIXTURES], ids=[p.name for p, _ in USID_FIXTURES])
def test_reader_rejects_usid_files(path):
    assert not NsidReader().claims(path, path.read_bytes()[:4096])
    with pytest.raises(UnknownFormatError, match=path.name):
        read_nsid(path)


def test_sniff_never_raises_on_foreign_bytes():
    r = NsidReader()
    for head in (b"", b"\x89HDF", b"II*\x00" + bytes(100), bytes(range(256)) * 16):
        assert r.sniff(head) is False


def test_plain_hdf5_without_nsid_dataset_raises_unknown_format(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as fh:
        fh["data"] = np.arange(10)
    assert not NsidReader().claims(path, path.read_bytes()[:4096])
    with pytest.raises(UnknownFormatError, match="plain.h5"):
        read_nsid(path)


def test_load_is_lazy_and_reads_only_what_is_asked(tmp_path, image):
    path = write_nsid(image, tmp_path / "a.h5")
    ds = sk.load(path)
    import dask.array as da

    assert isinstance(ds.data, da.Array)
    assert float(ds[3, 4]) == pytest.approx(float(np.asarray(image)[3, 4]))


def test_eager_read_returns_the_same_values(tmp_path, image):
    path = write_nsid(image, tmp_path / "a.h5")
    ds = sk.load(path, lazy=False)
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(image))


def test_file_can_be_deleted_and_overwritten_after_reading(tmp_path, image, spectrum):
    path = write_nsid(image, tmp_path / "a.h5")
    ds = sk.load(path)
    first = np.asarray(ds)
    path.unlink()  # no handle kept open
    write_nsid(spectrum, path)
    assert sk.load(path).shape == (128,)
    np.testing.assert_array_equal(first, np.asarray(image))


def test_lazy_dataset_pickles_by_path(tmp_path, image):
    path = write_nsid(image, tmp_path / "a.h5")
    ds = sk.load(path)
    blob = pickle.dumps(ds.data)
    assert len(blob) < 20_000  # the graph holds a path, not the data
    np.testing.assert_array_equal(pickle.loads(blob).compute(), np.asarray(image))


def test_lazy_dataset_computes_in_distributed_worker_processes(tmp_path, image):
    distributed = pytest.importorskip("distributed")
    path = write_nsid(image, tmp_path / "a.h5")
    ds = sk.load(path, chunks=(10, 30))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        total = client.compute(ds.data.sum()).result()
    assert total == pytest.approx(float(np.asarray(image, dtype=np.float64).sum()), rel=1e-5)


# ---------------------------------------------------------------- bad input

def test_truncated_file_raises_error_naming_file(tmp_path, image):
    path = write_nsid(image, tmp_path / "trunc.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="trunc.h5"):
        sk.load(path, reader="nsid")


def test_corrupted_file_raises_sidkit_error_naming_file(tmp_path, image):
    path = write_nsid(image, tmp_path / "bad.h5")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for i in rng.integers(8, min(len(data), 4000), 400):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SidkitError, match="bad.h5"):
        ds = sk.load(path, reader="nsid")
        np.asarray(ds)


def test_not_hdf5_raises_corrupt_error(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("hello")
    with pytest.raises(CorruptFileError, match="text.h5"):
        read_nsid(path)


def _detach_scale(path, axis=1):
    with h5py.File(path, "a") as fh:
        dset = fh["Measurement_000/Channel_000/image/image"]
        scale = dset.dims[axis][0]
        dset.dims[axis].detach_scale(scale)


def test_missing_dimension_scale_raises_corrupt_error(tmp_path, image):
    path = write_nsid({"image": image}, tmp_path / "nodim.h5")
    _detach_scale(path)
    with pytest.raises(CorruptFileError, match="nodim.h5.*axis 1"):
        read_nsid(path)


def test_missing_dimension_scale_with_strict_false_uses_index_values(tmp_path, image):
    path = write_nsid({"image": image}, tmp_path / "nodim.h5")
    _detach_scale(path)
    with pytest.warns(UserWarning, match="axis 1"):
        ds = read_nsid(path, strict=False)["image"]
    assert ds.dims[1].name == "dim_1" and ds.dims[0].name == "x"


def test_inconsistent_dimension_scale_raises_corrupt_error(tmp_path):
    path = tmp_path / "incons.h5"
    with h5py.File(path, "w") as fh:
        g = fh.create_group("Measurement_000/Channel_000/img")
        d = g.create_dataset("img", data=np.zeros((4, 5)))
        for k, v in {"quantity": "q", "units": "u", "main_data_name": "t", "data_type": "IMAGE",
                     "modality": "", "source": ""}.items():
            d.attrs[k] = v
        for i, n in enumerate((4, 7)):  # second scale has the wrong length
            s = g.create_dataset(f"d{i}", data=np.arange(n, dtype=float))
            s.make_scale(f"d{i}")
            d.dims[i].attach_scale(s)
    with pytest.raises(CorruptFileError, match="incons.h5.*shape"):
        read_nsid(path)


def test_absurd_declared_size_raises_unsafe_error(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as fh:
        d = fh.create_dataset("big", shape=(2**40, 2**40), dtype="f8", chunks=(1, 1))
        for k in ("quantity", "units", "main_data_name", "data_type"):
            d.attrs[k] = "x"
    with pytest.raises(UnsafeFileError, match="huge.h5"):
        read_nsid(path)


def test_external_link_is_refused_unless_allowed(tmp_path, image):
    target = write_nsid(image, tmp_path / "target.h5")
    path = tmp_path / "linker.h5"
    with h5py.File(path, "w") as fh:
        fh["linked"] = h5py.ExternalLink(str(target), "/Measurement_000")
    with pytest.raises(UnsafeFileError, match="linker.h5.*allow_external"):
        sk.load(path)
    ds = read_nsid(path, allow_external=True)["HAADF image"]
    assert ds.metadata == image.metadata
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(image))


def test_virtual_dataset_is_refused_unless_allowed(tmp_path, image):
    src = write_nsid(image, tmp_path / "src.h5")
    path = tmp_path / "virtual.h5"
    shutil.copy(src, path)
    with h5py.File(path, "a") as fh:
        g = fh["Measurement_000/Channel_000/HAADF image"]
        old = g["HAADF image"]
        attrs = dict(old.attrs)
        layout = h5py.VirtualLayout(shape=old.shape, dtype=old.dtype)
        layout[:] = h5py.VirtualSource(str(src), old.name, shape=old.shape)
        scales = [old.dims[i][0] for i in range(old.ndim)]
        del g["HAADF image"]
        new = g.create_virtual_dataset("HAADF image", layout)
        for k, v in attrs.items():
            if k not in ("DIMENSION_LIST", "DIMENSION_LABELS"):
                new.attrs[k] = v
        for i, s in enumerate(scales):
            new.dims[i].attach_scale(s)
    with pytest.raises(UnsafeFileError, match="virtual.h5.*virtual"):
        read_nsid(path)
    ds = read_nsid(path, allow_external=True)["HAADF image"]
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(image))


def test_external_raw_storage_is_refused(tmp_path):
    raw = tmp_path / "raw.bin"
    np.arange(12, dtype="<f8").tofile(raw)
    path = tmp_path / "ext.h5"
    with h5py.File(path, "w") as fh:
        g = fh.create_group("m")
        d = g.create_dataset("m", shape=(12,), dtype="<f8", external=[(str(raw), 0, h5py.h5f.UNLIMITED)])
        for k in ("quantity", "units", "main_data_name", "data_type"):
            d.attrs[k] = "x"
        s = g.create_dataset("i", data=np.arange(12.0))
        s.make_scale("i")
        d.dims[0].attach_scale(s)
    with pytest.raises(UnsafeFileError, match="ext.h5.*external"):
        read_nsid(path)
    assert np.asarray(read_nsid(path, allow_external=True)["m"]).tolist() == list(range(12))


def test_huge_declared_dataset_loads_lazily_without_allocating(tmp_path):
    path = tmp_path / "big.h5"
    n = 2**17  # 2**17 x 2**17 float32 = 64 GiB declared, nothing stored
    with h5py.File(path, "w") as fh:
        g = fh.create_group("Measurement_000/Channel_000/big")
        d = g.create_dataset("big", shape=(n, n), dtype="f4", chunks=(1024, 1024), fillvalue=2.0)
        for k, v in {"quantity": "q", "units": "u", "main_data_name": "big", "data_type": "IMAGE",
                     "modality": "", "source": ""}.items():
            d.attrs[k] = v
        for i, name in enumerate("yx"):
            s = g.create_dataset(name, data=np.arange(n, dtype=float))
            s.make_scale(name)
            d.dims[i].attach_scale(s)
    assert path.stat().st_size < 10 * 2**20
    ds = sk.load(path)
    assert ds.shape == (n, n) and ds.nbytes == 2**36
    assert np.asarray(ds[:2, :3]).tolist() == [[2.0] * 3] * 2
    with pytest.raises(UnsafeFileError, match="lazy=True"):
        read_nsid(path, lazy=False)


def test_metadata_behind_an_external_link_is_refused(tmp_path, image):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as fh:
        fh.create_group("md").attrs["secret"] = 1
    path = write_nsid({"image": image}, tmp_path / "mdlink.h5")
    with h5py.File(path, "a") as fh:
        grp = fh["Measurement_000/Channel_000/image"]
        del grp["metadata"]
        grp["metadata"] = h5py.ExternalLink(str(other), "/md")
    with pytest.raises(UnsafeFileError, match="mdlink.h5.*external link"):
        read_nsid(path)
    assert read_nsid(path, allow_external=True)["image"].metadata == {"secret": 1}
