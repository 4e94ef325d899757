"""SHO fit of a 128 x 128 x 64 complex band-excitation map: sidkit's
vectorised fit vs a per-pixel scipy.optimize.curve_fit loop.

The loop is timed on a random subset of pixels (``--loop-pixels``, default
1024) and extrapolated linearly to the whole map; the printed line says so.

    python bench_sho.py [--quick] [--loop-pixels N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def make(n: int, nf: int, seed: int = 0):
    from sidkit.analytics import SHO

    rng = np.random.default_rng(seed)
    f = np.linspace(300e3, 340e3, nf)
    truth = np.stack([rng.uniform(1e-3, 2e-3, n * n), rng.uniform(312e3, 328e3, n * n),
                      rng.uniform(60, 200, n * n), rng.uniform(-2.5, 2.5, n * n)], axis=1)
    y = SHO()(f, truth)
    y = y + 0.01 * np.abs(y).max(axis=1, keepdims=True) * (rng.normal(size=y.shape) + 1j * rng.normal(size=y.shape))
    return f, truth, y.reshape(n, n, nf).astype(np.complex64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="32 x 32 x 64")
    ap.add_argument("--loop-pixels", type=int, default=1024)
    args = ap.parse_args()
    from scipy.optimize import curve_fit

    from sidkit.analytics import SHO, fit_sho
    from sidkit.core import Dataset, Dimension

    n, nf = (32, 64) if args.quick else (128, 64)
    f, truth, y = make(n, nf)
    ds = Dataset(y, [Dimension("y", n, dimension_type="spatial"), Dimension("x", n, dimension_type="spatial"),
                     Dimension("frequency", f, units="Hz", dimension_type="spectral")], units="V")
    np.asarray(fit_sho(ds[:2, :2]).parameters)  # warm-up: first-use imports are not timed
    t = time.perf_counter()
    p = np.asarray(fit_sho(ds).parameters).reshape(-1, 4)
    t_ours = time.perf_counter() - t
    err = np.median(np.abs(p[:, 1] - truth[:, 1]) / truth[:, 1])

    model = SHO()

    def stacked(freq, a, f0, q, ph):
        r = model(freq, np.array([[a, f0, q, ph]]))[0]
        return np.concatenate([r.real, r.imag])

    flat = y.reshape(-1, nf).astype(np.complex128)
    rng = np.random.default_rng(1)
    m = min(args.loop_pixels, flat.shape[0])
    pick = rng.choice(flat.shape[0], m, replace=False)
    guesses = model.guess(f, flat[pick])
    failed = 0
    t = time.perf_counter()
    for i, g in zip(pick, guesses):
        try:
            curve_fit(stacked, f, np.concatenate([flat[i].real, flat[i].imag]), p0=g, maxfev=2000)
        except RuntimeError:
            failed += 1
    t_loop = (time.perf_counter() - t) * flat.shape[0] / m
    print(f"analytics.fit_sho_{n}x{n}x{nf}_c64: sidkit {t_ours:.2f} s, curve_fit loop {t_loop:.2f} s "
          f"(timed on {m} of {flat.shape[0]} pixels, extrapolated; {failed} failed), "
          f"speed-up {t_loop / t_ours:.1f}x; median |df0|/f0 {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
