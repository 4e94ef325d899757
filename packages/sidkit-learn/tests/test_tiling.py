from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sidkit.learn.tiling import blend_window, iter_tiles, pad_to_multiple, predict_tiled, tile_starts


def test_tile_starts_cover_the_length_with_the_overlap():
    starts = tile_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 100 - 32
    assert all(b - a <= 32 - 8 for a, b in zip(starts, starts[1:]))
    assert tile_starts(32, 32, 8) == [0]


def test_tile_starts_rejects_bad_sizes():
    with pytest.raises(ValueError):
        tile_starts(10, 32, 4)
    with pytest.raises(ValueError):
        tile_starts(100, 32, 32)


def test_blend_window_is_one_inside_and_positive_everywhere():
    w = blend_window(32, 8)
    assert w.shape == (32, 32)
    assert w[8:24, 8:24].min() == 1.0
    assert w.min() > 0
    assert w[0, 0] < w[4, 4] < w[16, 16]


def test_pad_to_multiple_pads_bottom_right_only():
    img = np.arange(30.0).reshape(5, 6)
    out, shape = pad_to_multiple(img, 4)
    assert out.shape == (8, 8) and shape == (5, 6)
    np.testing.assert_array_equal(out[:5, :6], img)


def test_identity_network_reproduces_the_image():
    rng = np.random.default_rng(0)
    img = rng.random((70, 91)).astype(np.float32)
    out = predict_tiled(lambda b: b, img, tile=32, overlap=8, multiple=8, batch_size=3)
    np.testing.assert_allclose(out, img, rtol=1e-6)


def test_local_operator_tiled_equals_whole_image_away_from_the_edge():
    rng = np.random.default_rng(1)
    img = rng.random((100, 120)).astype(np.float32)

    def blur(batch):
        return np.stack([ndimage.uniform_filter(b, 5, mode="reflect") for b in batch])

    whole = blur(img[None])[0]
    tiled = predict_tiled(blur, img, tile=40, overlap=16, multiple=8)
    # an operator of radius 2 sees the same pixels in a tile as in the whole
    # image except within 2 px of a tile edge; there the blend weight is small
    inner = (slice(3, -3), slice(3, -3))
    np.testing.assert_allclose(tiled[inner], whole[inner], atol=0.02)


def test_progress_is_reported_per_batch():
    calls = []
    predict_tiled(lambda b: b, np.zeros((64, 64), np.float32), tile=32, overlap=8,
                  batch_size=2, progress=lambda done, total: calls.append((done, total)))
    n = len(list(iter_tiles((64, 64), 32, 8)))
    assert calls[-1] == (n, n) and len(calls) == -(-n // 2)
