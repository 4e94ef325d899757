"""Tiled inference throughput of AtomSegmenter vs one forward pass of the same network.

Run ``python bench_learn.py`` (1024 x 1024 image) or ``python bench_learn.py --quick``
(256 x 256). Needs ``sidkit-learn[torch]``. Prints one line per figure::

    learn.tiled_predict_1024px_tile256: sidkit 1.23 s (0.85 Mpx/s), torch single pass 1.00 s (1.05 Mpx/s), ratio 1.23x

"sidkit" is ``AtomSegmenter.predict`` (normalisation, tiling with overlap and
blending, Dataset wrapping); the limit is a bare ``torch`` forward of the whole
normalised image in one pass (sigmoid included), the fastest this network can
go without tiling, and memory-hungry for large images.
"""

from __future__ import annotations

import argparse

import numpy as np

from sidkit.core.benchmarking import best_time as best_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 x 256 instead of 1024 x 1024")
    parser.add_argument("--size", type=int, default=None, help="image size in pixels")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--width", type=int, default=16)
    args = parser.parse_args()

    import torch

    from sidkit.learn import AtomSegmenter, make_atom_images
    from sidkit.learn._arrays import normalise

    torch.set_num_threads(args.threads)
    size = args.size or (256 if args.quick else 1024)
    img = make_atom_images(1, (size, size), seed=0).image(0).compute()
    model = AtomSegmenter(depth=args.depth, width=args.width, device="cpu", seed=0)
    model.tile_size = 48  # as if trained on 48 x 48 px images, like the tests

    x = torch.from_numpy(normalise(np.asarray(img)))[None, None]

    def single_pass() -> None:
        with torch.inference_mode():
            torch.sigmoid(model.net(x)).numpy()

    single_pass()  # warm-up
    t_ref = best_of(single_pass, args.repeat)
    mpx = size * size / 1e6
    print(f"# {size} x {size} px, AtomSegmenter(depth={args.depth}, width={args.width}), "
          f"{model.n_parameters} parameters, torch {torch.__version__}, {args.threads} thread(s)")
    for tile, overlap in ((256, 32), (512, 64), (64, 16)):
        if tile >= size:
            continue
        def tiled(tile=tile, overlap=overlap) -> None:
            np.asarray(model.predict(img, tile=tile, overlap=overlap, tiled=True, batch_size=4))

        tiled()
        t = best_of(tiled, args.repeat)
        print(f"learn.tiled_predict_{size}px_tile{tile}_overlap{overlap}: sidkit {t:.3f} s "
              f"({mpx / t:.2f} Mpx/s), torch single pass {t_ref:.3f} s ({mpx / t_ref:.2f} Mpx/s), "
              f"ratio {t / t_ref:.2f}x")


if __name__ == "__main__":
    main()
