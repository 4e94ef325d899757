"""The ``sidkit`` command line: ``plugins``, ``info``, ``convert``, ``run``, ``view``.

Errors print one line and exit with status 1 (2 for usage errors); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .dataset import Dataset
from .errors import SidkitError
from .io import load, load_all, save
from .registry import GROUPS, get_process, plugins

__all__ = ["main"]

#: Data larger than this get a progress bar in ``sidkit convert``.
PROGRESS_BYTES = 64 * 2**20


def _cmd_plugins(args: argparse.Namespace) -> int:
    groups = [args.group] if args.group else list(GROUPS)
    rows = []
    for info in plugins():
        if info.group not in groups:
            continue
        obj = info.try_load()
        status = "ok" if obj is not None else f"BROKEN: {info.error}"
        exts = " ".join(getattr(obj, "extensions", ()) or ())
        rows.append((info.group, info.name, f"{info.distribution} {info.version}".strip(), exts, status))
    if args.json:
        print(json.dumps([dict(zip(("group", "name", "package", "extensions", "status"), r)) for r in rows], indent=1))
        return 0
    if not rows:
        print("no sidkit plugins installed")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    return 0


def _summary(name: str, ds: Dataset) -> dict[str, Any]:
    return {
        "name": name,
        "title": ds.title,
        "data_type": ds.data_type.name,
        "shape": list(ds.shape),
        "dtype": str(ds.dtype),
        "chunks": [c[0] if c else 0 for c in ds.chunks],
        "quantity": ds.quantity,
        "units": ds.units,
        "modality": ds.modality,
        "dims": [
            {"name": d.name, "type": d.dimension_type.name, "size": len(d), "units": d.units,
             "range": d.describe()}
            for d in ds.dims
        ],
        "metadata": ds.metadata,
        "original_metadata_keys": sorted(map(str, ds.original_metadata))[:50],
    }


def _cmd_info(args: argparse.Namespace) -> int:
    datasets = load_all(args.file, reader=args.reader)
    summaries = [_summary(n, ds) for n, ds in datasets.items()]
    if args.json:
        print(json.dumps(summaries, indent=1, default=str))
        return 0
    print(f"{args.file}: {len(datasets)} dataset(s)")
    for s in summaries:
        print(f"\n[{s['name']}] {s['title']!r}  {s['data_type']}  shape={tuple(s['shape'])} "
              f"{s['dtype']}  chunks={tuple(s['chunks'])}")
        print(f"  values: {s['quantity']} [{s['units']}]" + (f"  modality: {s['modality']}" if s["modality"] else ""))
        for d in s["dims"]:
            print(f"  {d['name']:<14} {d['type']:<10} {d['range']}")
        if s["metadata"]:
            print("  metadata: " + json.dumps(s["metadata"], default=str)[:400])
        if s["original_metadata_keys"]:
            print("  original metadata: " + ", ".join(s["original_metadata_keys"][:12])
                  + (" ..." if len(s["original_metadata_keys"]) > 12 else ""))
    return 0


def _progress(nbytes: int, force: bool) -> Any:
    import contextlib

    if not force and nbytes < PROGRESS_BYTES:
        return contextlib.nullcontext()
    from dask.diagnostics import ProgressBar

    return ProgressBar(out=sys.stderr)


def _cmd_convert(args: argparse.Namespace) -> int:
    datasets = load_all(args.input, reader=args.reader)
    if not args.all:
        datasets = dict([next(iter(datasets.items()))])
    total = sum(ds.nbytes for ds in datasets.values())
    with _progress(total, args.progress):
        out = save(datasets, args.output, format=args.format)
    print(f"wrote {len(datasets)} dataset(s) to {out}")
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SidkitError(f"parameter {text!r} is not key=value")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _cmd_run(args: argparse.Namespace) -> int:
    func = get_process(args.process)
    ds = load(args.file, reader=args.reader)
    params = dict(_parse_param(p) for p in args.param)
    result = func(ds, **params)
    if args.output:
        if isinstance(result, Dataset):
            save(result, args.output)
        elif hasattr(result, "datasets"):
            save(result.datasets(), args.output)
        else:
            raise SidkitError(f"process '{args.process}' returned {type(result).__name__}, which cannot be saved")
        print(f"wrote {args.output}")
    else:
        print(result)
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    ds = load(args.file, reader=args.reader)
    fig = ds.plot()
    out = Path(args.output or Path(args.file).with_suffix(".png").name)
    fig.savefig(out, dpi=args.dpi, bbox_inches="tight")
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sidkit`` command."""
    p = argparse.ArgumentParser(prog="sidkit", description="Microscopy and spectroscopy data: inspect, convert, analyse.")
    p.add_argument("--version", action="version", version=f"sidkit-core {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("plugins", help="list readers, writers, processes and models, and any broken plugin")
    sp.add_argument("--group", choices=GROUPS)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_cmd_plugins)

    sp = sub.add_parser("info", help="dims, units and metadata of every dataset in a file")
    sp.add_argument("file")
    sp.add_argument("--reader")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_cmd_info)

    sp = sub.add_parser("convert", help="convert a file (e.g. to NSID .h5)")
    sp.add_argument("input")
    sp.add_argument("output")
    sp.add_argument("--format", help="writer name (default: by the output's extension)")
    sp.add_argument("--reader")
    sp.add_argument("--all", action="store_true", help="convert every dataset, not only the main one")
    sp.add_argument("--progress", action="store_true", help="always show a progress bar")
    sp.set_defaults(func=_cmd_convert)

    sp = sub.add_parser("run", help="run a registered process on a file's main dataset")
    sp.add_argument("process")
    sp.add_argument("file")
    sp.add_argument("-o", "--output")
    sp.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                    help="parameter; VALUE is JSON (numbers, lists, strings)")
    sp.add_argument("--reader")
    sp.set_defaults(func=_cmd_run)

    sp = sub.add_parser("view", help="render a file's main dataset to a PNG")
    sp.add_argument("file")
    sp.add_argument("-o", "--output")
    sp.add_argument("--reader")
    sp.add_argument("--dpi", type=int, default=100)
    sp.set_defaults(func=_cmd_view)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sidkit`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SidkitError, OSError, TypeError, ValueError, KeyError) as exc:
        if args.debug:
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"sidkit: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sidkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
