"""Reading the pyUSID reference files and sidkit-written files."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

import sidkit.core
from sidkit.core import Dataset, DimensionType, UnknownFormatError
from sidkit.core.testing import fixtures_dir, reference_fixtures
from sidkit.usid import UsidReader, read_usid, write_usid

HERE = Path(__file__).resolve().parent
USID = reference_fixtures(HERE, fmt="usid")
NSID = reference_fixtures(HERE, fmt="nsid")
WHERE = fixtures_dir(HERE) / "reference"


def _params(pairs):
    if not pairs:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"no reference fixtures at {WHERE}"))]
    return [pytest.param(p, e, id=p.name) for p, e in pairs]


def _sha256(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()).hexdigest()


def _check_checksums(values: np.ndarray, want: dict) -> None:
    assert _sha256(values) == want["sha256_c_order_le"]
    acc = values.astype(np.complex128 if np.iscomplexobj(values) else np.float64)
    total = acc.sum()
    if isinstance(want["sum"], list):
        np.testing.assert_allclose([total.real, total.imag], want["sum"], rtol=want["sum_rtol"], atol=1e-9)
    else:
        np.testing.assert_allclose(total, want["sum"], rtol=want["sum_rtol"], atol=1e-9)
    np.testing.assert_allclose(np.abs(acc).sum(), want["sum_abs"], rtol=want["sum_rtol"])
    if "min" in want:
        assert float(values.min()) == want["min"]
        assert float(values.max()) == want["max"]
    for probe in want["values"]:
        got = values[tuple(probe["index"])]
        expected = complex(*probe["value"]) if isinstance(probe["value"], list) else probe["value"]
        assert got == pytest.approx(expected, rel=1e-7, abs=0)


@pytest.mark.parametrize(("path", "expected"), _params(USID))
def test_reference_file_reads_as_expected_nd_dataset(path, expected):
    result = read_usid(path)
    assert [f"/{k}" for k in result] == [m["h5_path"] for m in expected["main_datasets"]]
    for ds, main in zip(result.values(), expected["main_datasets"]):
        want = main["as_dataset"]
        assert ds.shape == tuple(want["shape"])
        assert str(ds.dtype) == main["dtype"]
        assert ds.title == want["title"]
        assert ds.quantity == want["quantity"] and ds.units == want["units"]
        for dim, wd in zip(ds.dims, want["dims"]):
            assert dim.name == wd["name"]
            assert dim.units == wd["units"]
            assert dim.dimension_type == DimensionType[wd["dimension_type"]]
            assert len(dim) == wd["size"]
            np.testing.assert_array_equal(dim.values, np.asarray(wd["values"], dtype=float))
        _check_checksums(np.asarray(ds), main["checksums_nd"])


@pytest.mark.parametrize(("path", "expected"), _params(USID))
def test_reference_file_flat_form_matches_2d_checksums(path, expected):
    for ds, main in zip(read_usid(path, flat=True).values(), expected["main_datasets"]):
        assert ds.shape == tuple(main["shape_2d"])
        assert ds.dim_names == ("position", "spectroscopic")
        _check_checksums(np.asarray(ds), main["checksums_2d"])
        usid = ds.metadata["usid"]
        assert usid["position"]["labels"] == main["position"]["labels"]
        assert usid["position"]["units"] == main["position"]["units"]
        assert usid["position"]["order_in_file"] == main["position"]["order_in_file"]
        assert usid["spectroscopic"]["order_in_file"] == main["spectroscopic"]["order_in_file"]
        # unfolding gives the slow-to-fast sorted N-D form pyUSID documents
        nd = ds.unfold("position").unfold("spectroscopic")
        assert list(nd.dim_names) == main["n_dim"]["sorted_slow_to_fast"]["dims_order"]
        assert nd.shape == tuple(main["n_dim"]["sorted_slow_to_fast"]["shape"])


@pytest.mark.parametrize(("path", "expected"), _params(USID))
def test_reference_file_metadata_comes_from_group_attributes(path, expected):
    ds = next(iter(read_usid(path).values()))
    for group, attrs in expected.get("group_attrs", {}).items():
        assert ds.original_metadata[group] == {**ds.original_metadata[group], **attrs}
        for key, value in attrs.items():
            if key not in ("pyUSID_version", "sidpy_version"):
                assert ds.metadata[key] == value
    main = expected["main_datasets"][0]
    assert ds.original_metadata[main["h5_path"]]["quantity"] == main["quantity"]
    assert "machine_id" not in ds.metadata  # pyUSID book-keeping stays in original_metadata


@pytest.mark.parametrize(("path", "expected"), _params(USID))
def test_reading_is_lazy_and_pickles_by_path(path, expected):
    ds = next(iter(read_usid(path).values()))
    assert isinstance(ds.data, da.Array)
    eager = next(iter(read_usid(path, lazy=False).values()))
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(np.asarray(clone), np.asarray(eager))


@pytest.mark.parametrize(("path", "expected"), _params(USID))
def test_reader_claims_usid_reference_files(path, expected):
    head = path.read_bytes()[:4096]
    assert UsidReader().claims(path, head)


@pytest.mark.parametrize(("path", "expected"), _params(NSID))
def test_reader_does_not_claim_nsid_files(path, expected):
    head = path.read_bytes()[:4096]
    assert not UsidReader().claims(path, head)
    with pytest.raises(UnknownFormatError, match=path.name):
        read_usid(path)


def test_sniff_rejects_foreign_and_short_bytes(tmp_path):
    reader = UsidReader()
    assert not reader.sniff(b"")
    assert not reader.sniff(b"II*\x00" + bytes(100))
    other = tmp_path / "x.h5"
    other.write_bytes(b"not hdf5 at all")
    assert not reader.claims(other, other.read_bytes())


def test_load_uses_usid_reader_for_usid_file(tmp_path, spectral_image):
    path = write_usid(spectral_image, tmp_path / "si.h5")
    ds = sidkit.core.load(path, reader="usid")
    assert isinstance(ds, Dataset)
    assert ds.dim_names == ("x", "y", "bias")


def test_load_all_returns_every_channel_and_measurement(tmp_path, spectral_image, be_dataset):
    path = tmp_path / "many.h5"
    write_usid({"first": spectral_image, "second": be_dataset}, path)
    write_usid({"third": spectral_image * 2}, path, mode="a")
    result = sidkit.core.load_all(path, reader="usid")
    assert list(result) == [
        "Measurement_000/Channel_000/first",
        "Measurement_000/Channel_001/second",
        "Measurement_001/Channel_000/third",
    ]
    np.testing.assert_array_equal(np.asarray(result["Measurement_000/Channel_001/second"]), np.asarray(be_dataset))
    np.testing.assert_allclose(np.asarray(result["Measurement_001/Channel_000/third"]),
                               2 * np.asarray(spectral_image))


def test_main_option_reads_one_dataset(tmp_path, spectral_image, be_dataset):
    path = write_usid({"a": spectral_image, "b": be_dataset}, tmp_path / "two.h5")
    only = read_usid(path, main="Measurement_000/Channel_001/b")
    assert list(only) == ["Measurement_000/Channel_001/b"]


def test_default_chunks_need_no_rechunk_for_reshape(tmp_path):
    data = np.arange(6 * 8 * 10, dtype="float32").reshape(6, 8, 10)
    ds = Dataset(data, [sidkit.core.Dimension("y", 6, dimension_type="spatial"),
                        sidkit.core.Dimension("x", 8, dimension_type="spatial"),
                        sidkit.core.Dimension("e", 10, dimension_type="spectral")])
    path = write_usid(ds, tmp_path / "c.h5")
    got = read_usid(path, chunks=(16, 10))["Measurement_000/Channel_000/Raw_Data"]
    # rows of 16 = 2 whole y rows of 8 x positions -> blocks of 2 along y
    assert got.data.chunks[0] == (2, 2, 2)
    assert not any("rechunk" in str(k) for k in dict(got.data.__dask_graph__()))
    np.testing.assert_array_equal(np.asarray(got), data)


@pytest.mark.parametrize(("path", "expected"), _params(USID))
def test_flat_form_is_lazy_and_pickles_with_its_folded_dims(path, expected):
    flat = next(iter(read_usid(path, flat=True).values()))
    assert isinstance(flat.data, da.Array)
    clone = pickle.loads(pickle.dumps(flat))
    nd = clone.unfold("position")
    assert nd.shape[:-1] == tuple(expected["main_datasets"][0]["n_dim"]["sorted_slow_to_fast"]["shape"][:-len(
        expected["main_datasets"][0]["spectroscopic"]["labels"])])
    np.testing.assert_array_equal(np.asarray(clone), np.asarray(flat))


def test_unknown_read_option_is_named(tmp_path, spectral_image):
    path = write_usid(spectral_image, tmp_path / "o.h5")
    with pytest.raises(sidkit.core.UnsupportedOperationError, match="flatten"):
        sidkit.core.load(path, reader="usid", flatten=True)
    assert sidkit.core.load(path, reader="usid", flat=True).dim_names == ("position", "spectroscopic")


def test_issue_4_two_dim_file_computes_without_refolding(tmp_path):
    """One position and one spectroscopic dim need no reshape; computing must not recurse."""
    import numpy as np

    import sidkit.core as sk

    ds = sk.Dataset(np.arange(20, dtype="int32").reshape(4, 5),
                    [sk.Dimension("x", 4, units="nm", dimension_type="spatial"),
                     sk.Dimension("e", 5, units="eV", dimension_type="spectral")])
    sk.save(ds, tmp_path / "a.h5", format="usid")
    back = sk.load(tmp_path / "a.h5", reader="usid")
    np.testing.assert_array_equal(np.asarray(back), np.asarray(ds))
    np.testing.assert_array_equal(np.asarray(back.compute()), np.asarray(ds))
