"""Tiled inference: run a fully convolutional network on an image of any size.

The image is cut into overlapping square tiles (a batch at a time), each tile
is predicted, and the predictions are blended with a weight that falls off
towards the tile edges, where a network sees least context. Numpy only; the
network is a callable ``batch (n, tile, tile) -> (n, tile, tile)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["tile_starts", "blend_window", "iter_tiles", "predict_tiled", "pad_to_multiple"]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start indices of tiles of size ``tile`` covering ``[0, length)``.

    Neighbouring tiles overlap by at least ``overlap``; the last tile ends at
    ``length``. ``length`` must be at least ``tile``.
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > 0 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    if length < tile:
        raise ValueError(f"length {length} is shorter than the tile {tile}; pad first")
    step = tile - overlap
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def blend_window(tile: int, overlap: int, floor: float = 1e-3) -> np.ndarray:
    """2-D weights: 1 in the tile's centre, a linear ramp over ``overlap`` at the edges.

    Never zero (``floor``), so pixels at the image edge, covered by one tile
    only, keep their prediction.
    """
    ramp = np.ones(tile)
    if overlap > 0:
        r = (np.arange(overlap) + 0.5) / overlap
        ramp[:overlap] = r
        ramp[-overlap:] = r[::-1]
    ramp = np.maximum(ramp, floor)
    return np.outer(ramp, ramp).astype(np.float32)


def pad_to_multiple(image: np.ndarray, multiple: int, minimum: int = 0
                    ) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad a 2-D image at the bottom and right to a multiple of
    ``multiple`` and at least ``minimum`` pixels; returns the padded image
    and the original shape."""
    h, w = image.shape
    H = max(minimum, -(-h // multiple) * multiple)
    W = max(minimum, -(-w // multiple) * multiple)
    H = -(-H // multiple) * multiple
    W = -(-W // multiple) * multiple
    if (H, W) == (h, w):
        return image, (h, w)
    mode = "reflect" if h > 1 and w > 1 else "edge"
    return np.pad(image, ((0, H - h), (0, W - w)), mode=mode), (h, w)


def iter_tiles(shape: tuple[int, int], tile: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Yield the ``(row, column)`` start of every tile."""
    for r in tile_starts(shape[0], tile, overlap):
        for c in tile_starts(shape[1], tile, overlap):
            yield r, c


def predict_tiled(
    forward: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    tile: int,
    overlap: int,
    multiple: int = 1,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Predict a 2-D image tile by tile and blend the tiles.

    Parameters
    ----------
    forward : callable
        Maps a float32 batch ``(n, t, t)`` to a batch of the same shape.
    image : numpy.ndarray, shape (rows, columns)
    tile : int
        Tile size; rounded up to ``multiple``.
    overlap : int
        Overlap of neighbouring tiles, pixels.
    multiple : int, default 1
        The network's input sizes must be multiples of this (``2**depth``
        for a U-Net).
    batch_size : int, default 8
        Tiles per forward call.
    progress : callable, optional
        Called as ``progress(done, total)`` after every batch.

    Returns
    -------
    numpy.ndarray, float32, the image's shape
    """
    img = np.asarray(image, dtype=np.float32)
    tile = -(-int(tile) // multiple) * multiple
    padded, (h, w) = pad_to_multiple(img, multiple, minimum=tile)
    H, W = padded.shape
    overlap = min(int(overlap), tile - 1)
    window = blend_window(tile, overlap)
    out = np.zeros((H, W), dtype=np.float32)
    norm = np.zeros((H, W), dtype=np.float32)
    starts = list(iter_tiles((H, W), tile, overlap))
    for k in range(0, len(starts), batch_size):
        chunk = starts[k : k + batch_size]
        batch = np.stack([padded[r : r + tile, c : c + tile] for r, c in chunk])
        pred = np.asarray(forward(batch), dtype=np.float32)
        for (r, c), p in zip(chunk, pred):
            out[r : r + tile, c : c + tile] += p * window
            norm[r : r + tile, c : c + tile] += window
        if progress is not None:
            progress(min(k + batch_size, len(starts)), len(starts))
    return (out / norm)[:h, :w]
