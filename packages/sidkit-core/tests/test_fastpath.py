import dask.array as da
import numpy as np

from sidkit.core import Dataset
from sidkit.core.fastpath import chain_direct_read, direct_read, register_direct_read, wrap_numpy


def test_registered_direct_read_serves_asarray_and_compute():
    calls = []
    values = np.arange(12.0).reshape(3, 4)
    arr = da.from_array(values, chunks=2)

    def read():
        calls.append(1)
        return values.copy()

    register_direct_read(arr, read)
    ds = Dataset(arr, ["y", "x"])
    np.testing.assert_array_equal(np.asarray(ds), values)
    assert len(calls) == 1
    computed = ds.compute()
    assert len(calls) == 2
    np.testing.assert_array_equal(np.asarray(computed), values)


def test_direct_read_is_not_used_once_the_array_changes():
    arr = da.from_array(np.ones(4), chunks=2)
    register_direct_read(arr, lambda: np.full(4, 99.0))
    ds = Dataset(arr, ["x"])
    np.testing.assert_array_equal(np.asarray(ds * 2), np.full(4, 2.0))
    np.testing.assert_array_equal(np.asarray(ds[1:]), np.ones(3))


def test_direct_read_of_wrong_shape_is_ignored():
    arr = da.from_array(np.ones(4), chunks=2)
    register_direct_read(arr, lambda: np.ones(5))
    assert direct_read(arr) is None
    np.testing.assert_array_equal(np.asarray(Dataset(arr)), np.ones(4))


def test_wrapped_numpy_is_returned_without_copy_and_not_leaked():
    import gc
    import weakref

    from sidkit.core.fastpath import wrap_numpy

    values = np.ones((300, 300))
    ds = Dataset(values, ["y", "x"], chunks=100)
    del values
    gc.collect()
    first = np.asarray(ds)
    assert first is np.asarray(ds)  # the same array, no copy
    arr = wrap_numpy(np.zeros(10))
    probe = weakref.ref(arr._sidkit_values)
    del arr
    gc.collect()
    assert probe() is None


def test_fold_of_in_memory_data_is_a_view_not_a_copy():
    values = np.arange(24.0).reshape(2, 3, 4)
    ds = Dataset(values, ["x", "y", "e"], chunks=1)
    flat = np.asarray(ds.fold(("x", "y"), "p"))
    np.testing.assert_array_equal(flat, values.reshape(6, 4))
    assert np.shares_memory(flat, np.asarray(ds))
    # the folded axis stands where "e" stood, after "y": (y, e * x)
    swapped = ds.fold(("e", "x"), "q")
    assert swapped.dim_names == ("y", "q")
    np.testing.assert_array_equal(np.asarray(swapped), values.transpose(1, 2, 0).reshape(3, 8))


def test_chain_direct_read_computes_a_derived_array_from_the_source_read():
    values = np.arange(24.0).reshape(2, 3, 4)
    calls = []

    def read():
        calls.append(1)
        return values

    source = register_direct_read(da.from_array(values, chunks=(1, 3, 4)), read)
    derived = source.transpose(2, 0, 1)[..., ::-1]
    assert chain_direct_read(derived, source, lambda v: v.transpose(2, 0, 1)[..., ::-1]) is derived
    np.testing.assert_array_equal(direct_read(derived), values.transpose(2, 0, 1)[..., ::-1])
    assert calls == [1]
    # a file read is not an in-memory one: writers stream it block by block
    assert direct_read(derived, in_memory_only=True) is None


def test_chain_direct_read_in_memory_only_needs_an_in_memory_source():
    on_disk = register_direct_read(da.zeros((4, 4), chunks=2), lambda: np.zeros((4, 4)))
    derived = on_disk.T
    chain_direct_read(derived, on_disk, np.transpose, in_memory_only=True)
    assert direct_read(derived) is None
    in_memory = wrap_numpy(np.arange(6.0).reshape(2, 3))
    flat = in_memory.reshape(6)
    chain_direct_read(flat, in_memory, lambda v: v.reshape(6), in_memory_only=True)
    np.testing.assert_array_equal(direct_read(flat, in_memory_only=True), np.arange(6.0))
