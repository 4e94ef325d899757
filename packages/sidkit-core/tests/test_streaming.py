import threading

import dask.array as da
import numpy as np
import pytest

from sidkit.core.streaming import distributed_client, iter_blocks, row_slices


def test_row_slices_one_per_chunk_without_target():
    assert row_slices((3, 3, 2), 10) == [slice(0, 3), slice(3, 6), slice(6, 8)]


def test_row_slices_merge_chunks_up_to_target_bytes():
    # rows of 10 bytes, chunks of 3 rows (30 bytes): slabs of at most 70 bytes
    assert row_slices((3, 3, 3, 1), 10, 70) == [slice(0, 6), slice(6, 10)]


def test_row_slices_keep_an_oversized_chunk_whole():
    assert row_slices((5, 1), 100, 50) == [slice(0, 5), slice(5, 6)]


def test_iter_blocks_yields_every_block_in_order():
    values = np.arange(40 * 3).reshape(40, 3)
    arr = da.from_array(values, chunks=(7, 3))
    got = list(iter_blocks(arr))
    assert [sl for sl, _ in got] == row_slices(arr.chunks[0], 0)
    np.testing.assert_array_equal(np.concatenate([v for _, v in got]), values)


def test_iter_blocks_takes_given_slices():
    arr = da.arange(20, chunks=5)
    got = [(sl, v.tolist()) for sl, v in iter_blocks(arr, [slice(0, 10), slice(10, 20)])]
    assert got == [(slice(0, 10), list(range(10))), (slice(10, 20), list(range(10, 20)))]


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_iter_blocks_computes_at_most_prefetch_blocks_ahead(prefetch):
    lock = threading.Lock()
    started: list[int] = []

    def record(block, block_info=None):
        with lock:
            started.append(block_info[0]["chunk-location"][0])
        return block

    arr = da.zeros((10, 2), chunks=(1, 2)).map_blocks(record, dtype=float)
    consumed = 0
    for _ in iter_blocks(arr, prefetch=prefetch):
        consumed += 1
        with lock:
            # the consumed blocks plus at most `prefetch` more have been asked for
            assert len(set(started)) <= consumed + prefetch
    assert sorted(set(started)) == list(range(10))


def test_iter_blocks_stops_cleanly_when_the_caller_breaks_early():
    arr = da.ones((100, 4), chunks=(10, 4))
    for _sl, values in iter_blocks(arr, prefetch=4):
        assert values.shape == (10, 4)
        break
    assert not [t for t in threading.enumerate() if t.name.startswith("sidkit-prefetch")]


def test_iter_blocks_raises_the_error_of_a_failing_block():
    def boom(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:
            raise RuntimeError("block 2 cannot be read")
        return block

    arr = da.zeros((5, 2), chunks=(1, 2)).map_blocks(boom, dtype=float)
    with pytest.raises(RuntimeError, match="block 2"):
        list(iter_blocks(arr))


def test_distributed_client_is_none_without_a_client():
    assert distributed_client() is None
