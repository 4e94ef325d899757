"""A deterministic corpus of damaged copies of the fixtures, and a worker that
loads them one by one under a memory cap, reporting each outcome on stdout.

The corpus is built from the bytes of each fixture alone (seeded by its size), so
the same fixtures always give the same cases.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: Memory a single load may allocate beyond the worker's baseline.
MEMORY_CAP = 2**30
#: Wall time a single load may take, in seconds.
TIME_CAP = 10.0
#: Data of at most this size are computed in full; larger ones only in part.
COMPUTE_CAP = 256 * 2**20


@dataclass
class Case:
    """One damaged file: where it is and how it was made."""

    source: str
    variant: str
    path: str


def _huge_sizes(data: bytes) -> bytes:
    """Replace every small positive 32-bit little- and big-endian int of the first
    KiB by 0x7fffffff: what a header declaring absurd sizes looks like."""
    head = bytearray(data[:1024])
    for i in range(0, len(head) - 3, 4):
        le = int.from_bytes(head[i:i + 4], "little")
        be = int.from_bytes(head[i:i + 4], "big")
        if 1 < le < 1_000_000 or 1 < be < 1_000_000:
            head[i:i + 4] = b"\xff\xff\xff\x7f" if 1 < le < 1_000_000 else b"\x7f\xff\xff\xff"
    return bytes(head) + data[1024:]


def variants(data: bytes) -> list[tuple[str, bytes]]:
    """Every damaged version of ``data``: truncations, byte flips, zeroed header, huge sizes."""
    n = len(data)
    rng = np.random.default_rng(n)
    out: list[tuple[str, bytes]] = [
        ("truncated-0", b""),
        ("truncated-16", data[:16]),
        ("truncated-1/8", data[: n // 8]),
        ("truncated-1/2", data[: n // 2]),
        ("truncated-minus-1", data[: max(0, n - 1)]),
    ]
    for k, (lo, hi) in enumerate([(0, min(n, 1024)), (0, n)]):
        flipped = bytearray(data)
        if hi > lo:
            for pos in rng.integers(lo, hi, size=24):
                flipped[int(pos)] ^= int(rng.integers(1, 256))
        out.append((f"flipped-{'header' if k == 0 else 'anywhere'}", bytes(flipped)))
    zeroed = bytearray(data)
    zeroed[: min(512, n)] = bytes(min(512, n))
    out.append(("zeroed-header", bytes(zeroed)))
    out.append(("huge-sizes", _huge_sizes(data)))
    return out


def build_corpus(fixtures: list[tuple[Path, dict]], folder: Path) -> list[Case]:
    """Write every variant of every fixture (with its companion files) under ``folder``."""
    cases = []
    for path, expected in fixtures:
        data = path.read_bytes()
        for k, (name, blob) in enumerate(variants(data)):
            case_dir = folder / f"{expected.get('format', 'x')}-{path.stem}-{k}"
            case_dir.mkdir(parents=True, exist_ok=True)
            for comp in expected.get("companions", []):
                shutil.copy(path.parent / comp["file"], case_dir / comp["file"])
            target = case_dir / path.name
            target.write_bytes(blob)
            cases.append(Case(f"{expected.get('format')}/{path.name}", name, str(target)))
    return cases


def _cap_memory() -> None:
    with open("/proc/self/status") as fh:
        status = dict(line.split(":", 1) for line in fh if ":" in line)
    baseline = int(status["VmData"].split()[0]) * 1024
    limit = baseline + MEMORY_CAP
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _run_one(path: str) -> str:
    import sidkit.core as sk

    try:
        datasets = sk.load_all(path)
        for ds in datasets.values():
            if ds.nbytes <= COMPUTE_CAP:
                ds.compute()
            elif ds.ndim:
                ds[(0,) * ds.ndim].compute()
        return "ok"
    except sk.SidkitError as exc:
        if Path(path).name not in str(exc):
            return f"unnamed:{type(exc).__name__}: {exc}"
        return f"sidkit:{type(exc).__name__}"
    except BaseException as exc:  # what the test exists to catch
        tb = traceback.format_exc(limit=3).replace("\n", " | ")
        return f"other:{type(exc).__name__}: {exc} :: {tb}"


def worker() -> None:
    """Read JSON cases on stdin; print ``START i`` and ``DONE i <outcome>`` lines."""
    import sidkit.core  # noqa: F401  (import before measuring the baseline)
    import sidkit.core.registry as reg

    reg.readers()
    _cap_memory()
    cases = json.load(sys.stdin)
    for i, case in cases:
        print(f"START {i}", flush=True)
        outcome = _run_one(case["path"])
        print(f"DONE {i} {json.dumps(outcome)}", flush=True)


def encode(cases: list[tuple[int, Case]]) -> str:
    return json.dumps([(i, asdict(c)) for i, c in cases])


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    worker()
