import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.core import (
    Dataset,
    DataType,
    Dimension,
    DimensionMismatchError,
    DimensionType,
    SidkitError,
    UnsupportedOperationError,
)


# ---------------------------------------------------------------- construction
def test_from_array_without_dims_gives_generic_index_dims():
    ds = Dataset.from_array(np.zeros((2, 3)))
    assert ds.dim_names == ("dim_0", "dim_1")
    np.testing.assert_array_equal(ds.dims[1].values, [0, 1, 2])
    assert isinstance(ds.data, da.Array)


def test_from_array_records_provenance():
    ds = Dataset.from_array(np.zeros(3))
    assert ds.provenance[-1]["process"] == "sidkit.core.Dataset.from_array"
    assert ds.provenance[-1]["package"] == "sidkit-core"


def test_dim_of_wrong_length_raises_sidkit_error():
    with pytest.raises(DimensionMismatchError, match="axis 1 has length 3"):
        Dataset.from_array(np.zeros((2, 3)), dims=[Dimension("a", 2), Dimension("b", 4)])
    with pytest.raises(SidkitError):
        Dataset.from_array(np.zeros((2, 3)), dims=[Dimension("a", 2)])


def test_duplicate_dim_names_are_rejected():
    with pytest.raises(DimensionMismatchError, match="unique"):
        Dataset.from_array(np.zeros((2, 2)), dims=["a", "a"])


def test_data_type_is_guessed_from_dim_types(spectral_image):
    assert spectral_image.data_type is DataType.SPECTRAL_IMAGE
    assert spectral_image[0, 0].data_type is DataType.SPECTRUM
    assert spectral_image[:, :, 0].data_type is DataType.IMAGE
    four = Dataset(np.zeros((2, 2, 3, 3)), [
        Dimension("x", 2, dimension_type="spatial"), Dimension("y", 2, dimension_type="spatial"),
        Dimension("kx", 3, dimension_type="reciprocal"), Dimension("ky", 3, dimension_type="reciprocal")])
    assert four.data_type is DataType.IMAGE_4D


def test_data_type_accepts_string(spectral_image):
    ds = Dataset.from_array(np.zeros((2, 2)), data_type="image_stack")
    assert ds.data_type is DataType.IMAGE_STACK


def test_attributes(spectral_image):
    ds = spectral_image
    assert ds.shape == (4, 3, 5) and ds.ndim == 3 and ds.dtype == np.float32
    assert ds.chunks == ((2, 2), (3,), (5,))
    assert ds.dim("energy").units == "eV" and ds.dim(0).name == "x"
    assert ds.title == "SI" and ds.quantity == "intensity" and ds.units == "counts"


# ---------------------------------------------------------------- laziness
def test_nothing_computes_before_asked():
    calls = []

    def record(block):
        calls.append(1)
        return block

    data = da.ones((4, 4), chunks=2).map_blocks(record, meta=np.empty((0, 0)))
    calls.clear()  # dask may probe the function on empty arrays
    ds = Dataset(data, ["y", "x"])
    out = ((ds + 1) * 2)[1:, :].sum("x").mean()
    out = np.sqrt(out.transpose())
    assert [c for c in calls] == []
    assert float(out) == pytest.approx(4.0)  # each row sums four values of (1 + 1) * 2 = 16
    assert calls


# ---------------------------------------------------------------- indexing
def test_integer_drops_dim_and_slice_slices_values(spectral_image):
    ds = spectral_image[1, 0:2]
    assert ds.dim_names == ("y", "energy")
    np.testing.assert_allclose(ds.dim("y").values, [0.0, 0.5])
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(spectral_image)[1, 0:2])


def test_ellipsis_and_negative_index(spectral_image):
    ds = spectral_image[..., -1]
    assert ds.dim_names == ("x", "y")
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(spectral_image)[..., -1])


def test_integer_array_and_mask_index(spectral_image):
    idx = spectral_image[:, :, [0, 2, 4]]
    np.testing.assert_allclose(idx.dim("energy").values, [100, 120, 140])
    mask = np.array([True, False, True, False])
    m = spectral_image[mask]
    np.testing.assert_allclose(m.dim("x").values, [0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(m), np.asarray(spectral_image)[mask])


def test_two_arrays_in_one_index_raise(spectral_image):
    with pytest.raises(UnsupportedOperationError):
        spectral_image[[0, 1], [0, 1]]


def test_out_of_range_index_raises_index_error(spectral_image):
    with pytest.raises(IndexError):
        spectral_image[4]


def test_isel_by_name(spectral_image):
    ds = spectral_image.isel(energy=2, x=slice(1, 3))
    assert ds.dim_names == ("x", "y")
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(spectral_image)[1:3, :, 2])


def test_sel_value_slice_is_inclusive_at_both_ends(spectral_image):
    ds = spectral_image.sel(energy=slice(110.0, 130.0))
    np.testing.assert_allclose(ds.dim("energy").values, [110, 120, 130])


def test_sel_value_exact_and_nearest(spectral_image):
    assert spectral_image.sel(energy=120.0).dim_names == ("x", "y")
    with pytest.raises(KeyError):
        spectral_image.sel(energy=121.0)
    ds = spectral_image.sel(energy=121.0, method="nearest")
    np.testing.assert_array_equal(np.asarray(ds), np.asarray(spectral_image)[:, :, 2])


# ---------------------------------------------------------------- arithmetic
def test_arithmetic_keeps_dims_and_is_lazy(spectral_image):
    out = spectral_image * 2 + 1
    assert isinstance(out, Dataset) and isinstance(out.data, da.Array)
    assert out.dims == spectral_image.dims and out.units == "counts"
    np.testing.assert_allclose(np.asarray(out), np.asarray(spectral_image) * 2 + 1)


def test_ufunc_returns_dataset(spectral_image):
    out = np.sqrt(spectral_image)
    assert isinstance(out, Dataset)
    np.testing.assert_allclose(np.asarray(out), np.sqrt(np.asarray(spectral_image)))
    assert out.provenance[-1]["process"] == "numpy.sqrt"


def test_combining_datasets_with_different_dims_raises(spectral_image):
    other = spectral_image.transpose("y", "x", "energy")
    with pytest.raises(DimensionMismatchError):
        spectral_image + other
    shifted = spectral_image.set_dim("energy", spectral_image.dim("energy").replace(
        values=spectral_image.dim("energy").values + 1))
    with pytest.raises(DimensionMismatchError, match="energy"):
        spectral_image - shifted


def test_two_datasets_on_one_grid_combine(spectral_image):
    out = spectral_image - spectral_image
    assert float(abs(out).max()) == 0.0


def test_comparison_gives_boolean_dataset(spectral_image):
    out = spectral_image > 0.5
    assert out.dtype == bool and out.dims == spectral_image.dims


def test_array_function_reductions_and_unsupported(spectral_image):
    assert np.sum(spectral_image, axis=2).dim_names == ("x", "y")
    assert float(np.mean(spectral_image)) == pytest.approx(np.asarray(spectral_image).mean(), rel=1e-6)
    assert np.clip(spectral_image, 0, 0.5).dims == spectral_image.dims
    with pytest.raises(UnsupportedOperationError, match="ds.data"):
        np.concatenate([spectral_image, spectral_image])


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize("op", ["sum", "mean", "std", "var", "min", "max"])
def test_reduction_by_name_index_tuple_and_type(spectral_image, op):
    arr = np.asarray(spectral_image).astype(float)
    ref = getattr(np, op)
    by_name = getattr(spectral_image, op)("energy")
    assert by_name.dim_names == ("x", "y")
    np.testing.assert_allclose(np.asarray(by_name), ref(arr, axis=2), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(getattr(spectral_image, op)(-1)), ref(arr, axis=2), rtol=1e-5)
    both = getattr(spectral_image, op)(("x", "y"))
    np.testing.assert_allclose(np.asarray(both), ref(arr, axis=(0, 1)), rtol=1e-5)
    by_type = getattr(spectral_image, op)(DimensionType.SPATIAL)
    assert by_type.dim_names == ("energy",)
    assert float(getattr(spectral_image, op)()) == pytest.approx(ref(arr), rel=1e-5)


def test_reduction_by_type_name_string(spectral_image):
    assert spectral_image.sum("spatial").dim_names == ("energy",)


def test_reduction_over_missing_type_raises(spectral_image):
    with pytest.raises(KeyError, match="RECIPROCAL"):
        spectral_image.sum(DimensionType.RECIPROCAL)


# ---------------------------------------------------------------- reshaping
def test_transpose_by_names_moves_dims_with_data(spectral_image):
    t = spectral_image.transpose("energy", "x", "y")
    assert t.dim_names == ("energy", "x", "y")
    np.testing.assert_array_equal(np.asarray(t), np.asarray(spectral_image).transpose(2, 0, 1))
    assert spectral_image.transpose().dim_names == ("energy", "y", "x")


def test_squeeze_drops_length_one_dims(spectral_image):
    ds = spectral_image[0:1, :, 1:2].squeeze()
    assert ds.dim_names == ("y",)


def test_rechunk_astype_compute_persist(spectral_image):
    r = spectral_image.rechunk({"x": 1})
    assert r.chunks[0] == (1, 1, 1, 1)
    assert spectral_image.astype("float64").dtype == np.float64
    c = spectral_image.compute()
    assert isinstance(c, Dataset) and c.dims == spectral_image.dims
    np.testing.assert_array_equal(np.asarray(c), np.asarray(spectral_image))
    p = spectral_image.persist()
    np.testing.assert_array_equal(np.asarray(p), np.asarray(spectral_image))


def test_copy_is_deep_for_metadata(spectral_image):
    c = spectral_image.copy()
    c.metadata["beam"]["energy_eV"] = 1
    assert spectral_image.metadata["beam"]["energy_eV"] == 2e5


def test_variance_travels_with_slices_and_transposes(spectral_image):
    spectral_image.variance = np.asarray(spectral_image) * 0.1
    part = spectral_image[1:, 0].transpose("energy", "x")
    np.testing.assert_allclose(np.asarray(part.variance),
                               (np.asarray(spectral_image) * 0.1)[1:, 0].T)
    with pytest.raises(DimensionMismatchError):
        spectral_image.variance = np.zeros(3)


# ---------------------------------------------------------------- fold / unfold
def test_fold_makes_samples_by_features_matrix(spectral_image):
    flat = spectral_image.fold(("x", "y"), "position")
    assert flat.dim_names == ("position", "energy") and flat.shape == (12, 5)
    np.testing.assert_array_equal(np.asarray(flat), np.asarray(spectral_image).reshape(12, 5))
    assert flat.dim("position").dimension_type is DimensionType.SPATIAL


def test_unfold_restores_dims_exactly(spectral_image):
    back = spectral_image.fold(("x", "y"), "position").unfold("position")
    assert back.dims == spectral_image.dims
    np.testing.assert_array_equal(np.asarray(back), np.asarray(spectral_image))


def test_fold_of_non_adjacent_dims_restores_original_order(spectral_image):
    flat = spectral_image.fold(("energy", "x"), "ex")
    assert flat.dim_names == ("y", "ex")
    back = flat.unfold("ex")
    assert back.dim_names == ("x", "y", "energy")
    np.testing.assert_array_equal(np.asarray(back), np.asarray(spectral_image))


def test_unfold_after_slicing_the_folded_dim_raises(spectral_image):
    flat = spectral_image.fold(("x", "y"), "position")[:5]
    with pytest.raises(ValueError, match="sliced"):
        flat.unfold("position")


def test_unfold_of_plain_dim_raises(spectral_image):
    with pytest.raises(ValueError, match="fold"):
        spectral_image.unfold("x")


def test_fold_survives_a_derived_result(spectral_image):
    flat = spectral_image.fold(("x", "y"), "position")
    labels = flat.derive(flat.data.argmax(axis=1), [flat.dim("position")])
    back = labels.unfold("position")
    assert back.dim_names == ("x", "y")
    np.testing.assert_array_equal(np.asarray(back), np.asarray(spectral_image).argmax(axis=2))


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), data=st.data())
def test_fold_unfold_round_trip_property(shape, data):
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    ds = Dataset(arr, [Dimension(f"d{i}", np.arange(n) * (i + 1.0), units=f"u{i}") for i, n in enumerate(shape)])
    k = data.draw(st.integers(1, len(shape)))
    chosen = data.draw(st.permutations(range(len(shape))))[:k]
    names = [f"d{i}" for i in chosen]
    flat = ds.fold(names, "folded")
    assert flat.ndim == len(shape) - k + 1
    back = flat.unfold("folded")
    assert back.dims == ds.dims
    np.testing.assert_array_equal(np.asarray(back), arr)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_indexing_matches_numpy_property(data):
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    ds = Dataset(arr, [Dimension(f"d{i}", np.arange(n) + 10 * i) for i, n in enumerate(shape)])
    key = []
    for n in shape:
        kind = data.draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            a = data.draw(st.integers(0, n))
            b = data.draw(st.integers(0, n))
            step = data.draw(st.sampled_from([None, 1, 2]))
            key.append(slice(a, b, step))
        else:
            key.append(slice(None))
    out = ds[tuple(key)]
    np.testing.assert_array_equal(np.asarray(out), arr[tuple(key)])
    kept = [i for i, k in enumerate(key) if isinstance(k, slice)]
    assert out.dim_names == tuple(f"d{i}" for i in kept)
    for i, d in zip(kept, out.dims):
        np.testing.assert_array_equal(d.values, (np.arange(shape[i]) + 10 * i)[key[i]])


# ---------------------------------------------------------------- xarray
def test_xarray_round_trip_keeps_everything(spectral_image):
    pytest.importorskip("xarray")
    xa = spectral_image.to_xarray()
    assert xa.dims == ("x", "y", "energy")
    assert xa.coords["energy"].attrs["units"] == "eV"
    assert isinstance(xa.data, da.Array)
    back = Dataset.from_xarray(xa)
    assert back.dims == spectral_image.dims
    for attr in ("title", "quantity", "units", "data_type", "metadata"):
        assert getattr(back, attr) == getattr(spectral_image, attr)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(spectral_image))


# ---------------------------------------------------------------- display
def test_repr_shows_title_shape_dtype_chunks_and_dims(spectral_image):
    text = repr(spectral_image)
    for part in ("'SI'", "(4, 3, 5)", "float32", "chunks=(2, 3, 5)", "energy", "eV", "SPATIAL"):
        assert part in text


def test_html_repr_has_dims_table(spectral_image):
    html = spectral_image._repr_html_()
    assert "<table" in html and "energy" in html and "eV" in html and "metadata" in html


def test_derive_appends_provenance_and_keeps_attributes(spectral_image):
    out = spectral_image.derive(spectral_image.data * 2, process="mypkg.double",
                                parameters={"factor": 2, "arr": np.arange(3)}, package="sidkit-core")
    assert out.title == "SI" and out.metadata == spectral_image.metadata
    rec = out.provenance[-1]
    assert rec["process"] == "mypkg.double" and rec["parameters"] == {"factor": 2, "arr": [0, 1, 2]}
    assert len(out.provenance) == len(spectral_image.provenance) + 1


def test_small_numpy_data_are_wrapped_in_dask_only_when_data_is_asked_for():
    values = np.arange(12.0).reshape(3, 4)
    ds = Dataset(values, ["y", "x"])
    assert ds._dask is None  # building a dask array costs more than a small file's read
    assert (ds.shape, ds.ndim, ds.size, ds.dtype, ds.nbytes) == ((3, 4), 2, 12, values.dtype, 96)
    assert np.asarray(ds) is values
    assert ds._dask is None
    arr = ds.data
    assert isinstance(arr, da.Array) and arr.chunks == ((3,), (4,))
    assert ds.data is arr
    np.testing.assert_array_equal(arr.compute(), values)


def test_numpy_data_of_several_chunks_are_wrapped_at_once():
    ds = Dataset(np.zeros((8, 8)), ["y", "x"], chunks=(4, 4))
    assert ds._dask is not None and ds.chunks == ((4, 4), (4, 4))
