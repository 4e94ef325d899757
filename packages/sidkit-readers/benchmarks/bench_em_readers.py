"""Benchmark: load + compute of the electron-microscopy fixtures, sidkit vs
the reference reader, in one run.

For every real fixture of the families gatan-dm, tia, velox-emd,
berkeley-emd, mrc, tiff and image, time ``sidkit.core.load_all(path)`` plus
computing every returned dataset, and the reference reader RosettaSciIO
(``file_reader(path, lazy=False)``; the readers the fixtures' expected files
were made with). Also times a large MRC stack, sidkit vs ``mrcfile.read``.
Prints one line per figure::

    gatan-dm/test_STEM_image.dm3: sidkit 4.1 ms, rsciio 5.0 ms, ratio 0.82x

Usage: ``python bench_em_readers.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from sidkit.core.benchmarking import duel

FAMILIES = {
    "gatan-dm": "rsciio.digitalmicrograph",
    "tia": "rsciio.tia",
    "velox-emd": "rsciio.emd",
    "berkeley-emd": "rsciio.emd",
    "mrc": "rsciio.mrc",
    "tiff": "rsciio.tiff",
    "image": "rsciio.image",
}


def _timeit(func, repeat: int) -> float:
    func()  # warm up: imports, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _sidkit(path: Path):
    import numpy as np

    from sidkit.core import load_all

    def run():
        # what a user does: load every dataset of the file and take its values
        for ds in load_all(path).values():
            np.asarray(ds)

    return run


def _reference(module: str, path: Path):
    import importlib

    mod = importlib.import_module(module)

    def run():
        for sig in mod.file_reader(str(path), lazy=False):
            np.asarray(sig["data"])

    return run


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def bench_fixtures(repeat: int) -> list[float]:
    from sidkit.core.testing import real_fixtures

    ratios = []
    for path, expected in real_fixtures(Path(__file__)):
        family = expected.get("format")
        if family not in FAMILIES:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mine, theirs = _sidkit(path), _reference(FAMILIES[family], path)
            mine(), theirs()  # warm up: imports, caches
            # alternate the two, so that both see the same machine load
            ours, ref = duel(mine, theirs, repeat, statistic=statistics.median)
        ratio = ours / ref
        ratios.append(ratio)
        print(f"{family}/{path.name}: sidkit {_fmt(ours)}, rsciio {_fmt(ref)}, ratio {ratio:.2f}x", flush=True)
    return ratios


def bench_large_mrc(quick: bool, repeat: int) -> None:
    import mrcfile

    from sidkit.core import load

    n = 16 if quick else 128
    shape = (n, 1024, 1024)  # float32: 64 MiB (quick) or 512 MiB
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stack.mrcs"
        with mrcfile.new_mmap(path, shape=shape, mrc_mode=2) as m:
            for i in range(n):
                m.data[i] = i
        size = f"{n * 4}MiB"
        t_open = _timeit(lambda: load(path), repeat)
        t_ours = _timeit(lambda: float(load(path).data.sum().compute()), max(1, repeat // 2))
        t_ref = _timeit(lambda: float(mrcfile.read(path).sum(dtype=np.float64)), max(1, repeat // 2))
        print(f"mrc.open_lazy_{size}: sidkit {_fmt(t_open)}", flush=True)
        print(f"mrc.read_sum_{size}: sidkit {_fmt(t_ours)}, mrcfile {_fmt(t_ref)}, "
              f"ratio {t_ours / t_ref:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, small synthetic file")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed repeats per figure (median; sidkit and reference alternate)")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)
    ratios = bench_fixtures(repeat)
    if ratios:
        print(f"fixtures.geometric_mean_ratio: {float(np.exp(np.mean(np.log(ratios)))):.2f}x over {len(ratios)} files")
    bench_large_mrc(args.quick, repeat)


if __name__ == "__main__":
    main()
