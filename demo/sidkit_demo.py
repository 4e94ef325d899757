"""The sidkit demo: a sample in; analysis, plots and an NSID file out.

Usage::

    python demo/sidkit_demo.py                      # a built-in synthetic sample
    python demo/sidkit_demo.py --input scan.dm4     # your file
    python demo/sidkit_demo.py --output my-report   # somewhere else than demo-output/

Without ``--input`` it builds a realistic sample with a known answer: an
EDS-like spectral image of three phases (an Al matrix, Si particles and an Fe
precipitate band) and a drifting stack of atomic-resolution images. It then
registers the stack (``sidkit.analytics.register``), finds the atom columns,
unmixes the spectral image (NMF), clusters its pixels into phases, fits the
Fe K-alpha line at every pixel, saves everything as NSID and writes
``index.html`` with the figures. With ``--input`` it runs the steps that
apply to the file's data type.

Every step prints what it does; a step that fails is reported (in the
terminal and the report) and the demo goes on; the exit status is 1 if any
step failed.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import sidkit.core as sk  # noqa: E402
from sidkit.core import Dataset, DataType, Dimension  # noqa: E402
from sidkit.core.plotting import plot_grid, plot_labels, plot_points  # noqa: E402

# X-ray lines of the sample (keV) and the phases that hold them
LINES = {"O Ka": 0.525, "Fe La": 0.705, "Al Ka": 1.486, "Si Ka": 1.740, "Fe Ka": 6.404, "Fe Kb": 7.058}
PHASES = {
    "Al matrix": {"Al Ka": 1.0, "O Ka": 0.08},
    "Si particles": {"Si Ka": 1.0, "O Ka": 0.35},
    "Fe precipitate": {"Fe Ka": 0.7, "Fe Kb": 0.1, "Fe La": 0.25, "Al Ka": 0.1},
}


# ---------------------------------------------------------------------------- the report
@dataclass
class Report:
    """Figures, text and numbers of one demo run, written as ``index.html``."""

    out: Path
    title: str
    sections: list[tuple[str, str, list[str]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def figure(self, fig: Any, name: str) -> str:
        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(fig)
        return path.name

    def add(self, heading: str, text: str, figures: list[str] | None = None) -> None:
        self.sections.append((heading, text, figures or []))

    def write(self) -> Path:
        parts = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
            "padding:0 1em;line-height:1.45;color:#222}img{max-width:100%;border:1px solid #ddd;"
            "margin:.5em 0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}"
            "code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.2em .6em}.fail{color:#a00}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
            "<p>Made by <code>python demo/sidkit_demo.py</code> with sidkit "
            f"{html.escape(sk.__version__)}, {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>",
        ]
        for heading, text, figures in self.sections:
            parts.append(f"<h2>{html.escape(heading)}</h2>{text}")
            parts += [f"<p><img src='{html.escape(f)}' alt='{html.escape(f)}'></p>" for f in figures]
        if self.files:
            parts.append("<h2>Files</h2><ul>" + "".join(
                f"<li><a href='{html.escape(f)}'>{html.escape(f)}</a></li>" for f in self.files) + "</ul>")
        if self.failures:
            parts.append("<h2 class='fail'>Steps that failed</h2><ul>" + "".join(
                f"<li class='fail'><pre>{html.escape(f)}</pre></li>" for f in self.failures) + "</ul>")
        parts.append("</body></html>")
        path = self.out / "index.html"
        path.write_text("\n".join(parts), encoding="utf-8")
        return path


def p(text: str) -> str:
    """An escaped HTML paragraph."""
    return f"<p>{html.escape(text)}</p>"


def table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(
        f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>" for a, b in rows) + "</table>"


def step(report: Report, name: str, func: Callable[[], Any]) -> Any:
    """Run one step, printing progress; a failure is recorded, not raised."""
    print(f"[demo] {name} ...", flush=True)
    t0 = time.perf_counter()
    try:
        result = func()
    except Exception as exc:  # the demo goes on and reports what failed
        print(f"[demo]   FAILED: {type(exc).__name__}: {exc}", flush=True)
        report.failures.append(f"{name}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
        return None
    print(f"[demo]   done in {time.perf_counter() - t0:.1f} s", flush=True)
    return result


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------- the sample
def spatial(name: str, n: int, scale: float) -> Dimension:
    return Dimension.linear(name, n, scale=scale, units="nm", quantity="length", dimension_type="spatial")


def phase_map(ny: int, nx: int) -> np.ndarray:
    """0 = Al matrix, 1 = two Si particles, 2 = an Fe precipitate band."""
    yy, xx = np.mgrid[:ny, :nx] / np.array([ny, nx])[:, None, None]
    labels = np.zeros((ny, nx), dtype=np.int32)
    labels[(yy - 0.3) ** 2 + (xx - 0.28) ** 2 < 0.15**2] = 1
    labels[(yy - 0.72) ** 2 + (xx - 0.7) ** 2 < 0.12**2] = 1
    band = np.abs((yy - 0.15) - 0.9 * (xx - 0.0) + 0.05) < 0.07
    labels[band & (labels == 0)] = 2
    return labels


def eds_spectrum(energy: np.ndarray, lines: dict[str, float]) -> np.ndarray:
    """Counts per channel of one phase: bremsstrahlung plus Gaussian lines."""
    e0 = 15.0  # beam energy, keV
    brems = 0.5 * np.clip(e0 - energy, 0, None) / energy * (1 - np.exp(-((energy / 0.9) ** 3)))
    peaks = sum(w * np.exp(-0.5 * ((energy - LINES[n]) / (0.045 + 0.006 * LINES[n])) ** 2)
                for n, w in lines.items())
    return brems + 40.0 * peaks


def make_spectral_image(small: bool, rng: np.random.Generator) -> tuple[Dataset, np.ndarray]:
    ny, nx, ne = (24, 28, 160) if small else (48, 56, 256)
    energy = Dimension.linear("energy", ne, scale=10.0 / ne, offset=0.2, units="keV",
                              quantity="energy", dimension_type="spectral")
    labels = phase_map(ny, nx)
    ends = np.stack([eds_spectrum(energy.values, lines) for lines in PHASES.values()])
    dose = 6.0
    data = rng.poisson(dose * ends[labels]).astype(np.float32)
    si = Dataset(data, [spatial("y", ny, 2.0), spatial("x", nx, 2.0), energy],
                 title="EDS spectrum image (synthetic)", quantity="X-ray counts", units="counts",
                 modality="EDS", source="sidkit demo: built-in sample",
                 metadata={"sample": {"phases": list(PHASES), "lines_keV": LINES},
                           "microscope": {"beam_energy_keV": 15.0}},
                 chunks=(ny // 2, nx // 2, ne))
    return si, labels


def lattice_image(n: int, pixel: float, atoms: np.ndarray, offset: tuple[float, float],
                  sigma: float) -> np.ndarray:
    """Gaussian atom columns at ``atoms`` (y, x, intensity) shifted by ``offset`` (nm)."""
    coords = np.arange(n) * pixel
    gy = np.exp(-0.5 * ((coords[None, :] - (atoms[:, :1] + offset[0])) / sigma) ** 2)
    gx = np.exp(-0.5 * ((coords[None, :] - (atoms[:, 1:2] + offset[1])) / sigma) ** 2)
    return np.einsum("a,ay,ax->yx", atoms[:, 2], gy, gx)


def crystal(size: float, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Atoms (y, x, intensity) of a square lattice with a dimmer centred
    sub-lattice and 15 % vacancies (which make the image non-periodic)."""
    g = np.arange(-1, int(size / spacing) + 2) * spacing
    yy, xx = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
    heavy = np.stack([yy, xx, np.ones_like(yy)], axis=1)
    light = np.stack([yy + spacing / 2, xx + spacing / 2, np.full_like(yy, 0.45)], axis=1)
    atoms = np.concatenate([heavy, light])
    return atoms[rng.random(len(atoms)) > 0.15]


def make_stack(small: bool, rng: np.random.Generator) -> tuple[Dataset, np.ndarray]:
    n_frames, n = (6, 64) if small else (12, 128)
    pixel, spacing = 0.03, 0.392  # nm
    t = np.arange(n_frames)
    drift = np.stack([0.012 * t + 0.004 * rng.standard_normal(n_frames),
                      -0.018 * t + 0.004 * rng.standard_normal(n_frames)], axis=1)
    drift -= drift[0]
    atoms = crystal(n * pixel, spacing, rng)
    frames = np.stack([lattice_image(n, pixel, atoms, tuple(d), 0.22 * spacing) for d in drift])
    frames = rng.poisson(40 * frames + 5).astype(np.float32)
    time_dim = Dimension.linear("time", n_frames, scale=0.5, units="s", quantity="time",
                                dimension_type="temporal")
    stack = Dataset(frames, [time_dim, spatial("y", n, pixel), spatial("x", n, pixel)],
                    title="HAADF image series (synthetic, drifting)", quantity="intensity",
                    units="counts", modality="STEM", source="sidkit demo: built-in sample",
                    chunks=(1, n, n))
    return stack, drift


# ---------------------------------------------------------------------------- pipeline steps
def overview(report: Report, ds: Dataset, name: str, text: str) -> None:
    def run() -> None:
        fig = ds.plot()
        report.add(f"The data: {ds.title or name}",
                   p(text) + f"<pre>{html.escape(repr(ds))}</pre>", [report.figure(fig, f"{name}_overview")])

    step(report, f"plot {name}", run)


def register_stack(report: Report, stack: Dataset, results: dict[str, Dataset],
                   truth: np.ndarray | None) -> Dataset | None:
    from sidkit.analytics import register

    def run() -> Dataset:
        reg = register(stack, reference=0)
        aligned = reg.aligned.persist()
        shifts = np.asarray(reg.shifts)
        mean_raw = stack.mean("time")
        mean_raw.title = "mean of the raw frames (blurred by drift)"
        mean_aligned = aligned.mean("time")
        mean_aligned.title = "mean of the registered frames"
        fig = plot_grid([mean_raw, mean_aligned], cmap="gray", ncols=2)
        figs = [report.figure(fig, "registration_means")]
        fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
        t = stack.dim("time").values
        for k, axis_name in enumerate(("y", "x")):
            ax.plot(t, shifts[:, k], "o-", label=f"recovered {axis_name}")
            if truth is not None:
                ax.plot(t, truth[:, k], "k:", label=f"applied {axis_name}")
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"shift ({reg.shifts.units})")
        ax.legend(fontsize="small")
        ax.set_title("drift found by phase correlation")
        figs.append(report.figure(fig, "registration_shifts"))
        rows = [("frames", str(stack.shape[0])), ("total drift found",
                f"{np.hypot(*shifts[-1]):.3f} {reg.shifts.units}")]
        if truth is not None:
            # register reports each frame's drift relative to the first frame
            err = np.abs(shifts - truth).max()
            pixel = stack.dim("x").scale
            rows.append(("largest error vs the applied drift", f"{err:.4f} nm ({err / pixel:.2f} px)"))
        report.add("Drift correction",
                   p("sidkit.analytics.register aligns every frame to the first by sub-pixel phase "
                     "correlation; the shifts come back in nm. Averaging the aligned frames "
                     "gives a sharp image where the raw average is blurred.") + table(rows), figs)
        results["stack_registered"] = aligned
        results["drift"] = reg.shifts
        return mean_aligned.compute()

    return step(report, "register the image stack (sidkit.analytics.register)", run)


def find_atom_columns(report: Report, image: Dataset, results: dict[str, Dataset],
                      atom_size: float) -> None:
    from sidkit.analytics import find_atoms

    def run() -> None:
        atoms = find_atoms(image, atom_size)
        fig = plot_points(atoms, background=image, size=10,
                          title=f"{atoms.shape[0]} atom columns found")
        report.add("Atom columns",
                   p("sidkit.analytics.find_atoms finds the columns of the registered mean image "
                     "with sub-pixel refinement; the positions are a point-cloud Dataset in nm, "
                     "drawn over their image."), [report.figure(fig, "atoms")])
        results["atom_positions"] = atoms

    step(report, "find atom columns (sidkit.analytics.find_atoms)", run)


def unmix(report: Report, si: Dataset, results: dict[str, Dataset], n: int, method: str) -> None:
    from sidkit.analytics import decompose

    def run() -> None:
        dec = decompose(si, n, method=method)
        comps = dec.components.compute()
        maps = dec.maps.compute()
        figs = [report.figure(plot_grid(comps, ncols=n, suptitle=f"{method.upper()} components"),
                              "unmixing_components"),
                report.figure(plot_grid(maps, ncols=n, suptitle=f"{method.upper()} maps"),
                              "unmixing_maps")]
        report.add("Unmixing",
                   p(f"sidkit.analytics.decompose(method='{method}') splits the spectral image into "
                     f"{n} component spectra and their abundance maps, with the dims and units of "
                     "the input."), figs)
        results[f"{method}_components"] = comps
        results[f"{method}_maps"] = maps

    step(report, f"unmix the spectral image ({method.upper()}, {n} components)", run)


def cluster_phases(report: Report, si: Dataset, results: dict[str, Dataset], n: int,
                   truth: np.ndarray | None) -> None:
    from sidkit.analytics import cluster

    def run() -> None:
        km = cluster(si, n)
        labels = km.labels.compute()
        labels.title = "k-means phases"
        rows = [("clusters", str(n))]
        names = None
        if truth is not None:
            from sklearn.metrics import adjusted_rand_score

            found = np.asarray(labels)
            ari = adjusted_rand_score(truth.ravel(), found.ravel())
            rows.append(("adjusted Rand index vs the true phase map", f"{ari:.3f}"))
            # name each cluster after the true phase most of its pixels belong to
            names = {k: list(PHASES)[int(np.bincount(truth[found == k]).argmax())]
                     for k in np.unique(found)}
        figs = [report.figure(plot_labels(labels, names=names), "clusters"),
                report.figure(plot_grid(km.centers.compute(), ncols=n,
                                        suptitle="cluster mean spectra"), "cluster_centres")]
        report.add("Phases by clustering",
                   p("sidkit.analytics.cluster groups the pixels by their whole spectrum (k-means); "
                     "the label map keeps the spatial dims in nm.") + table(rows), figs)
        results["cluster_labels"] = labels

    step(report, f"cluster the pixels into {n} phases (k-means)", run)


def fit_line(report: Report, si: Dataset, results: dict[str, Dataset], window: tuple[float, float],
             line: str | None, where: np.ndarray | None = None) -> None:
    from sidkit.analytics import fit

    def run() -> None:
        e = si.dims_of_type("spectral")[0]
        part = si.sel({e.name: slice(*window)})
        res = fit(part, "gaussian", model_options={"baseline": True})
        params = res.parameters.compute()
        centre = np.asarray(res.parameter("center"))
        r2 = np.asarray(res.r_squared)
        # where the line is: the known phase of a synthetic sample, else good fits
        strong = where if where is not None else r2 > 0.9
        label = "on the pixels that hold it" if where is not None else "where R² > 0.9"
        rows = [("window", f"{window[0]:g}–{window[1]:g} {e.units}"),
                (f"fitted line centre {label}",
                 f"{np.nanmedian(centre[strong]):.4f} {e.units}" if strong.any() else "n/a"),
                (f"median R² {label}",
                 f"{np.nanmedian(r2[strong]):.3f}" if strong.any() else "n/a")]
        if line:
            rows.append((f"{line} true energy", f"{LINES[line]:.3f} keV"))
        good = r2 >= 0.9  # elsewhere there is no line to fit
        maps = {}
        for name in res.model.param_names:
            m = res.parameter(name)
            maps[name] = m.derive(np.where(good, np.asarray(m), np.nan))
        fig = plot_grid(maps, ncols=len(maps), robust=True,
                        suptitle="Gaussian fit parameters (blank: R² < 0.9, no line)")
        report.add("Peak fitting",
                   p(f"sidkit.analytics.fit fits a Gaussian with a constant background "
                     f"{'to the ' + line + ' line ' if line else ''}at every pixel, in parallel over "
                     "dask chunks; the result is one map per parameter with its units.") + table(rows),
                   [report.figure(fig, "fit_parameters")])
        results["fit_parameters"] = params

    step(report, "fit a Gaussian line at every pixel (sidkit.analytics.fit)", run)


def stem_steps(report: Report, ds: Dataset, results: dict[str, Dataset]) -> None:
    import sidkit.stem as stem

    def run() -> None:
        k = ds.dims_of_type("reciprocal")
        radius = 0.15 * (abs(k[-1].values[-1] - k[-1].values[0]))
        images = [stem.virtual_image(ds, stem.bright_field(radius)),
                  stem.virtual_image(ds, stem.annular(1.5 * radius, 4 * radius))]
        mean = stem.mean_diffraction(ds)
        fig = plot_grid({"bright field": images[0], "annular dark field": images[1],
                         "mean pattern": mean}, ncols=3, cmap="gray")
        report.add("Virtual detectors",
                   p("sidkit.stem.virtual_image computes bright-field and annular images in one "
                     "pass over the data; radii are in the detector's calibrated units."),
                   [report.figure(fig, "virtual_images")])
        results["virtual_bf"] = images[0].compute()
        results["mean_diffraction"] = mean.compute()

    step(report, "virtual images (sidkit.stem)", run)


def save_results(report: Report, main: Dataset, results: dict[str, Dataset], path: Path,
                 main_name: str, extra: dict[str, Dataset] | None = None) -> None:
    def run() -> None:
        datasets = {main_name: main, **(extra or {})}
        sk.save(datasets, path)
        written, skipped = list(datasets), []
        for name, ds in results.items():
            try:
                sk.save({name: ds}, path, mode="a")
                written.append(name)
            except Exception as exc:  # one result the writer cannot store must not lose the rest
                skipped.append(f"{name} ({type(exc).__name__}: {exc})")
        back = sk.load_all(path)
        rows = [(name, f"{back[name].data_type.name.lower()} {back[name].shape}") for name in back]
        text = p(f"Everything is saved in the open NSID layout ({path.name}); pyNSID and "
                 "sidkit.core.load read it back:") + table(rows)
        if skipped:
            text += p("Not saved: " + "; ".join(skipped))
        report.add("NSID file", text)
        report.files.append(path.name)
        print(f"[demo]   wrote {path} ({len(back)} datasets)", flush=True)

    step(report, f"save NSID ({path.name})", run)


# ---------------------------------------------------------------------------- main
def builtin(report: Report, small: bool) -> None:
    rng = np.random.default_rng(7)
    print("[demo] building the built-in sample ...", flush=True)
    si, truth = make_spectral_image(small, rng)
    stack, drift = make_stack(small, rng)
    results: dict[str, Dataset] = {}
    overview(report, si, "spectral_image",
             "An EDS spectral image of three phases: an Al matrix, two Si particles and an Fe-rich "
             "precipitate band, with Poisson noise. Left: counts summed over energy; right: the "
             "spectrum of one pixel.")
    si_truth = Dataset(truth, si.dims[:2], title="true phases", quantity="phase", units="")
    step(report, "plot the true phase map",
         lambda: report.add("The true phase map",
                            p("What the analysis should find (known because the sample is synthetic)."),
                            [report.figure(plot_labels(si_truth, names=dict(enumerate(PHASES))),
                                           "truth")]))
    overview(report, stack, "image_stack",
             "A series of atomic-resolution HAADF frames drifting by a few tenths of a nanometre; "
             "the figure shows the first frame.")
    if have("sidkit.analytics"):
        mean_image = register_stack(report, stack, results, drift)
        if mean_image is not None:
            find_atom_columns(report, mean_image, results, atom_size=0.2)
        unmix(report, si, results, 3, "nmf")
        cluster_phases(report, si, results, 3, truth)
        fit_line(report, si, results, (6.0, 6.85), "Fe Ka", where=truth == 2)
    else:
        report.add("Analysis", p("sidkit-analytics is not installed: pip install sidkit-analytics"))
    save_results(report, si, results, report.out / "sidkit-demo.h5", "spectrum_image",
                 {"image_stack": stack})


def from_file(report: Report, path: Path) -> None:
    print(f"[demo] reading {path} ...", flush=True)
    datasets = sk.load_all(path)
    name, ds = next(iter(datasets.items()))
    print(f"[demo]   {len(datasets)} dataset(s); main '{name}': {ds.data_type.name} {ds.shape}", flush=True)
    report.add("The file", p(f"{path.name}: {len(datasets)} dataset(s). The main one:")
               + f"<pre>{html.escape(repr(ds))}</pre>")
    results: dict[str, Dataset] = {}
    overview(report, ds, "main", f"The main dataset of {path.name}, drawn by Dataset.plot().")
    analytics = have("sidkit.analytics")
    kind = ds.data_type
    if kind == DataType.SPECTRAL_IMAGE and analytics:
        nonneg = float(ds.min()) >= 0
        unmix(report, ds, results, 4, "nmf" if nonneg else "pca")
        cluster_phases(report, ds, results, 4, None)
    elif kind == DataType.IMAGE_STACK and analytics and ds.ndim == 3:
        mean = register_stack(report, ds, results, None)
        if mean is not None:
            results["registered_mean"] = mean
    elif kind == DataType.IMAGE_4D and have("sidkit.stem"):
        stem_steps(report, ds, results)
    elif kind == DataType.SPECTRUM and analytics:
        e = ds.dims[0].values
        i = int(np.nanargmax(np.asarray(ds)))
        half = max(3, len(e) // 40)
        window = (float(e[max(0, i - half)]), float(e[min(len(e) - 1, i + half)]))
        fit_line(report, ds.expand_dims("pixel"), results, window, None)
    else:
        report.add("Analysis", p(f"No analysis step of this demo applies to a {kind.name.lower()} "
                                 "dataset (or the package it needs is not installed); it is plotted "
                                 "and converted to NSID."))
    others = {n: d for n, d in list(datasets.items())[1:]}
    save_results(report, ds, results, report.out / f"{path.stem}.h5", name or "main", others)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, help="your file (any format sidkit reads)")
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="report folder")
    parser.add_argument("--small", action="store_true", help="a smaller built-in sample (fast)")
    args = parser.parse_args(argv)
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    title = f"sidkit demo: {args.input.name}" if args.input else "sidkit demo: built-in sample"
    report = Report(out, title)
    t0 = time.perf_counter()
    if args.input:
        try:
            from_file(report, args.input)
        except sk.SidkitError as exc:
            print(f"[demo] cannot read {args.input}: {exc}", file=sys.stderr)
            return 1
    else:
        builtin(report, args.small)
    path = report.write()
    print(f"[demo] finished in {time.perf_counter() - t0:.0f} s; "
          f"{len(report.failures)} step(s) failed", flush=True)
    print(f"[demo] report: {path.resolve()}", flush=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
