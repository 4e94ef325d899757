"""Index-table analysis: slow/fast order, repeated values, and what is not a grid."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.usid.ancillary import AncillaryError, analyse_index_table, index_table_block


def _table(sizes, values):
    n = int(np.prod(sizes))
    return index_table_block(sizes, values, 0, n)


def test_slowest_first_table_is_recognised():
    inds, vals = _table([3, 4], [np.arange(3) * 1.0, np.arange(4) * 0.5])
    layout = analyse_index_table(inds, vals, ["Y", "X"], ["um", "um"])
    assert layout.order_in_file == "slowest_first"
    assert layout.slow_to_fast == (0, 1)
    assert layout.sizes == (3, 4)
    np.testing.assert_array_equal(layout.dims[1].values, [0.0, 0.5, 1.0, 1.5])
    assert [d.stride for d in layout.dims] == [4, 1]


def test_fastest_first_table_is_recognised():
    inds, vals = _table([3, 4], [np.arange(3) * 1.0, np.arange(4) * 0.5])
    layout = analyse_index_table(inds[:, ::-1], vals[:, ::-1], ["X", "Y"], ["um", "um"])
    assert layout.order_in_file == "fastest_first"
    assert layout.slow_to_fast == (1, 0)
    assert layout.sizes == (4, 3) and layout.slow_sizes == (3, 4)


def test_mixed_order_of_three_dims():
    inds, vals = _table([2, 3, 4], [np.arange(2.0), np.arange(3.0), np.arange(4.0)])
    layout = analyse_index_table(inds[:, [1, 0, 2]], vals[:, [1, 0, 2]], ["b", "a", "c"], ["", "", ""])
    assert layout.order_in_file == "mixed"
    assert layout.slow_to_fast == (1, 0, 2)


def test_repeated_non_monotonic_values_are_kept():
    dc = np.array([0.0, 2.0, 4.0, 2.0, 0.0, -2.0, -4.0, -2.0])
    inds, vals = _table([8, 3], [dc, np.array([1.0, 2.0, 3.0])])
    layout = analyse_index_table(inds, vals, ["DC", "F"], ["V", "kHz"])
    np.testing.assert_array_equal(layout.dims[0].values, dc)


def test_single_step_dims_do_not_disturb_order():
    inds, vals = _table([1, 5, 1], [np.zeros(1), np.arange(5.0), np.zeros(1)])
    layout = analyse_index_table(inds, vals, ["a", "b", "c"], ["", "", ""])
    assert layout.order_in_file == "single_dimension"
    assert layout.slow_sizes == (1, 5, 1)


def test_index_table_block_pieces_join_to_whole_table():
    sizes, values = [3, 2, 5], [np.arange(3.0), np.arange(2.0) + 7, np.linspace(0, 1, 5)]
    whole = index_table_block(sizes, values, 0, 30)
    parts = [index_table_block(sizes, values, a, b) for a, b in [(0, 7), (7, 29), (29, 30)]]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole[1])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda i, v: (i[:-1], v[:-1]), "describes a grid"),
        (lambda i, v: (np.where(i == 0, -1, i.astype(np.int64)), v), "negative"),
        (lambda i, v: (i[::-1], v[::-1]), "not a regular grid"),
        (lambda i, v: (i.astype(float) + 0.5, v), "non-integer"),
        (lambda i, v: (i, v[:, :1]), "same 2-D shape"),
        (lambda i, v: (i[:0], v[:0]), "empty"),
    ],
)
def test_tables_that_are_not_grids_raise(mutate, message):
    inds, vals = _table([3, 4], [np.arange(3.0), np.arange(4.0)])
    inds, vals = mutate(inds, vals)
    with pytest.raises(AncillaryError, match=message):
        analyse_index_table(inds, vals, ["a", "b"], ["", ""])


def test_label_count_must_match_columns():
    inds, vals = _table([3, 4], [np.arange(3.0), np.arange(4.0)])
    with pytest.raises(AncillaryError, match="label"):
        analyse_index_table(inds, vals, ["a"], [""])
