"""Benchmark the detector and scanning-probe readers against their reference libraries.

Run ``python bench_detector_readers.py [--quick]`` in an environment with
sidkit-readers[ibw] plus the reference readers (rosettasciio, igor2, gwyfile,
nanonispy). For every real fixture of the MIB, IBW, Nanonis and Gwyddion
families it times ``sidkit.core.load_all`` + computing every dataset against
the reference library reading the same arrays into memory (best of N runs,
the two alternating),
then the time to open a large sparse 4D MIB and raw file lazily.
Prints one line per figure::

    mib.001_4x2_6bit.mib: sidkit 4.1 ms, rsciio 6.0 ms, ratio 0.68x
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from sidkit.core import load, load_all
from sidkit.core.benchmarking import best_time as best
from sidkit.core.benchmarking import duel
from sidkit.core.testing import real_fixtures


def sidkit_read(path):
    # what a user does: load every dataset and take its values
    for ds in load_all(path).values():
        np.asarray(ds).sum()


def ref_mib(path):
    from rsciio.quantumdetector import file_reader

    for d in file_reader(str(path), lazy=False):
        np.asarray(d["data"]).sum()


def ref_ibw(path):
    import igor2.binarywave as bw

    np.asarray(bw.load(str(path))["wave"]["wData"]).sum()


def ref_nanonis(path):
    import nanonispy.read as nr

    spec = nr.Spec(str(path))
    for v in spec.signals.values():
        np.asarray(v).sum()


def ref_gwy(path):
    import gwyfile

    for field in gwyfile.util.get_datafields(gwyfile.load(str(path))).values():
        field.data.sum()


REFERENCES = {
    "merlin-mib": ("mib", "rsciio", ref_mib),
    "igor-ibw": ("ibw", "igor2", ref_ibw),
    "nanonis": ("nanonis", "nanonispy", ref_nanonis),
    "gwyddion": ("gwy", "gwyfile", ref_gwy),
}


def fmt(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def bench_fixtures(repeat):
    here = Path(__file__).resolve()
    for path, expected in real_fixtures(here):
        if expected["format"] not in REFERENCES:
            continue
        key, ref_name, ref = REFERENCES[expected["format"]]
        sidkit_read(path)  # warm the plugin registry and imports
        try:
            ref(path)
        except ImportError as exc:
            print(f"{key}.{path.name}: reference {ref_name} not installed ({exc})")
            continue
        # alternate the two, so that both see the same machine load
        ts, tr = duel(lambda p=path: sidkit_read(p), lambda p=path, f=ref: f(p), repeat)
        print(f"{key}.{path.name}: sidkit {fmt(ts)}, {ref_name} {fmt(tr)}, ratio {ts / tr:.2f}x")


def _mib_header(h, w):
    fields = ["MQ1", "000001", "00384", "01", f"{w:04d}", f"{h:04d}", "U16", "   1x1", "01",
              "2021-05-07 18:51:10.000000", "0.001000", "0", "0", "0"]
    text = ",".join(fields).encode()
    return text + b" " * (384 - len(text))


def bench_lazy_open(quick, repeat):
    scan = 64 if quick else 128
    frame = 256
    nbytes = scan * scan * (384 + frame * frame * 2)
    with tempfile.TemporaryDirectory() as tmp:
        mib = Path(tmp) / "big.mib"
        with open(mib, "wb") as fh:
            fh.write(_mib_header(frame, frame))
            fh.truncate(nbytes)  # sparse: no disk used
        mib.with_suffix(".hdr").write_text(
            f"Frames in Acquisition (Number):\t{scan * scan}\nFrames per Trigger (Number):\t{scan}\n")
        load(mib)  # warm imports
        t = best(lambda: load(mib), repeat)
        tm = best(lambda: np.memmap(mib, dtype=np.uint8, mode="r", shape=(nbytes,)), repeat)
        print(f"mib.lazy_open_{nbytes / 2**30:.1f}GiB: sidkit {fmt(t)}, np.memmap {fmt(tm)}, "
              f"ratio {t / tm:.0f}x (target < 50 ms)")
        raw = Path(tmp) / "big.raw"
        shape = (scan, scan, frame, frame)
        with open(raw, "wb") as fh:
            fh.truncate(int(np.prod(shape)) * 2)
        load(raw, reader="raw", shape=shape, dtype="<u2")
        t = best(lambda: load(raw, reader="raw", shape=shape, dtype="<u2"), repeat)
        tm = best(lambda: np.memmap(raw, dtype="<u2", mode="r", shape=shape), repeat)
        print(f"raw.lazy_open_{os.path.getsize(raw) / 2**30:.1f}GiB: sidkit {fmt(t)}, np.memmap {fmt(tm)}, "
              f"ratio {t / tm:.0f}x (target < 50 ms)")
        ds = load(raw, reader="raw", shape=shape, dtype="<u2")
        ds[: scan // 8].sum().compute()  # warm up: dask's thread pool and imports
        t, tm = duel(lambda: ds[: scan // 8].sum().compute(),
                     lambda: np.memmap(raw, dtype="<u2", mode="r", shape=shape)[: scan // 8].sum(), repeat)
        print(f"raw.sum_{scan // 8}_rows: sidkit {fmt(t)}, numpy memmap {fmt(tm)}, ratio {t / tm:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller large file")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    bench_fixtures(repeat)
    bench_lazy_open(args.quick, repeat)


if __name__ == "__main__":
    main()
