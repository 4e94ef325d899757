"""Every damaged copy of every real and reference fixture either loads or raises a
SidkitError naming the file, within 10 s and 1 GiB, never a crash, hang or other
exception type. The corpus is deterministic; the count tried is reported."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from .conftest import ALL_FIXTURES, needs_fixtures
from .hostile_corpus import TIME_CAP, Case, build_corpus, encode, variants

HERE = Path(__file__).parent


def test_corpus_is_deterministic():
    data = bytes(range(256)) * 40
    assert variants(data) == variants(data)
    assert len({blob for _, blob in variants(data)}) == len(variants(data))


def _run(cases: list[Case]) -> dict[int, str]:
    """Run the cases in a worker process, restarting it after a hang or crash."""
    outcomes: dict[int, str] = {}
    todo = list(enumerate(cases))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    while todo:
        proc = subprocess.Popen([sys.executable, str(HERE / "hostile_corpus.py")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        proc.stdin.write(encode(todo))
        proc.stdin.close()
        current, deadline = None, time.monotonic() + 120  # generous start-up time
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                proc.kill()
                proc.wait()
                if current is None:
                    raise RuntimeError("hostile worker did not start")
                outcomes[current] = f"hang: more than {TIME_CAP} s"
                break
            line = proc.stdout.readline()
            if not line:
                proc.wait()
                if current is not None:
                    outcomes[current] = f"crash: worker exited with {proc.returncode}"
                break
            word, i, *rest = line.rstrip("\n").split(" ", 2)
            if word == "START":
                current, deadline = int(i), time.monotonic() + TIME_CAP
            elif word == "DONE":
                outcomes[int(i)] = json.loads(rest[0])
                current, deadline = None, time.monotonic() + TIME_CAP
        todo = [(i, c) for i, c in todo if i not in outcomes]
    return outcomes


@needs_fixtures
def test_every_damaged_fixture_loads_or_raises_a_sidkit_error(tmp_path, capsys):
    cases = build_corpus(ALL_FIXTURES, tmp_path)
    assert len(cases) == 9 * len(ALL_FIXTURES)
    outcomes = _run(cases)
    kinds = Counter(o.split(":", 1)[0] for o in outcomes.values())
    with capsys.disabled():
        print(f"\nhostile input: {len(cases)} damaged files tried from {len(ALL_FIXTURES)} fixtures: "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    bad = [f"{cases[i].source} [{cases[i].variant}]: {o}" for i, o in sorted(outcomes.items())
           if not (o == "ok" or o.startswith("sidkit:"))]
    assert bad == []
