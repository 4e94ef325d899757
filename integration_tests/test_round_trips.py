"""Every real and reference fixture survives the trip through the common type:
read -> Dataset -> NSID -> load -> USID (where the dims allow) -> load, and
-> xarray -> back, with identical data, dims, units and metadata."""

from __future__ import annotations

import numpy as np
import pytest

import sidkit.core as sk
from sidkit.core import DimensionMismatchError, DimensionType
from sidkit.core.provenance import jsonable

from .conftest import ALL_FIXTURES, fixture_id, needs_fixtures

CASES = [pytest.param(p, e, id=fixture_id(p, e)) for p, e in ALL_FIXTURES]


def _norm(meta):
    """Metadata compared as the fixtures README says: arrays as lists, numpy scalars as Python."""
    return jsonable(meta, max_array=10**9)


def assert_same(a: sk.Dataset, b: sk.Dataset) -> None:
    assert b.shape == a.shape
    assert b.dtype == a.dtype
    np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
    assert [d.name for d in b.dims] == [d.name for d in a.dims]
    for da_, db in zip(a.dims, b.dims):
        assert db.units == da_.units, da_.name
        assert db.dimension_type == da_.dimension_type, da_.name
        np.testing.assert_array_equal(db.values, da_.values)
    assert (b.title, b.quantity, b.units) == (a.title, a.quantity, a.units)
    assert _norm(b.metadata) == _norm(a.metadata)
    assert _norm(b.original_metadata) == _norm(a.original_metadata)


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), CASES)
def test_fixture_round_trips_through_nsid(tmp_path, path, expected):
    for ds in sk.load_all(path).values():
        out = tmp_path / "rt.h5"
        sk.save(ds, out)
        back = sk.load(out)
        assert_same(ds, back)
        assert back.data_type == ds.data_type


def _usid_ok(ds: sk.Dataset) -> bool:
    kinds = {d.dimension_type for d in ds.dims}
    return ds.ndim >= 2 and bool(kinds & {DimensionType.SPATIAL, DimensionType.TEMPORAL})


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), CASES)
def test_fixture_round_trips_nsid_then_usid(tmp_path, path, expected):
    tried = 0
    for ds in sk.load_all(path).values():
        sk.save(ds, tmp_path / "a.h5")
        via_nsid = sk.load(tmp_path / "a.h5")
        if not _usid_ok(via_nsid):
            continue
        try:
            sk.save(via_nsid, tmp_path / "b.h5", format="usid")
        except DimensionMismatchError:
            continue  # dims that USID cannot express (e.g. two non-position dims only)
        tried += 1
        back = sk.load(tmp_path / "b.h5", reader="usid")
        # USID keeps position dims then spectroscopic dims, as the file has them
        order = [d.name for d in back.dims]
        assert sorted(order) == sorted(via_nsid.dim_names)
        assert_same(via_nsid.transpose(*order), back)
        (tmp_path / "b.h5").unlink()
    if any(_usid_ok(d) for d in sk.load_all(path).values()):
        assert tried >= 1


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), CASES)
def test_fixture_round_trips_through_xarray(path, expected):
    pytest.importorskip("xarray")
    for ds in sk.load_all(path).values():
        back = sk.Dataset.from_xarray(ds.to_xarray())
        assert_same(ds, back)
        assert back.data_type == ds.data_type
