"""Saving never loses data: a writer killed mid-write leaves the previous file
readable and complete, and readers never see a half-written file."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

import sidkit.core as sk


def _image(seed: int, n: int = 64) -> sk.Dataset:
    rng = np.random.default_rng(seed)
    return sk.Dataset.from_array(
        rng.random((n, n)).astype("float32"), title=f"image {seed}",
        dims=[sk.Dimension.linear("y", n, scale=0.1, units="nm", dimension_type="spatial"),
              sk.Dimension.linear("x", n, scale=0.1, units="nm", dimension_type="spatial")],
        metadata={"seed": seed},
    )


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_writer_killed_mid_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "data.h5"
    sk.save({"first": _image(1)}, target)
    before = _sha(target)
    script = textwrap.dedent(f"""
        import dask.array as da, sys
        import sidkit.core as sk
        big = da.random.default_rng(0).random((4096, 4096, 16), chunks=(256, 4096, 16))
        ds = sk.Dataset(big, ["y", "x", "e"], title="big")
        print("writing", flush=True)
        sk.save({{"big": ds}}, {str(target)!r}, mode="a")
        print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(1.5)
    assert proc.poll() is None, "the write finished before it could be interrupted; make it bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _sha(target) == before
    back = sk.load_all(target)
    assert list(back) == ["first"]
    np.testing.assert_array_equal(np.asarray(back["first"]), np.asarray(_image(1)))


def test_failed_append_keeps_other_datasets(tmp_path):
    import dask.array as da
    import pytest

    target = tmp_path / "data.h5"
    sk.save({"first": _image(1), "second": _image(2)}, target)
    before = _sha(target)

    def fail_on_fourth_block(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 3:
            raise RuntimeError("disk full")
        return block

    data = da.ones((8, 64), chunks=(1, 64)).map_blocks(fail_on_fourth_block, dtype=float)
    bad = sk.Dataset(data, ["y", "x"], title="fails half-way")
    with pytest.raises(Exception, match="disk full"):
        sk.save({"third": bad}, target, mode="a")
    assert _sha(target) == before
    assert list(sk.load_all(target)) == ["first", "second"]
    assert [p.name for p in tmp_path.iterdir()] == ["data.h5"]


def test_concurrent_reads_while_appending_see_complete_files(tmp_path):
    target = tmp_path / "data.h5"
    sk.save({"d0": _image(0)}, target)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                datasets = sk.load_all(target)
                for name, ds in datasets.items():
                    seed = int(name[1:])
                    np.testing.assert_array_equal(np.asarray(ds), np.asarray(_image(seed)))
                seen.add(len(datasets))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for k in range(1, 6):
        sk.save({f"d{k}": _image(k)}, target, mode="a")
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    assert errors == []
    assert list(sk.load_all(target)) == [f"d{k}" for k in range(6)]
    assert len(seen) >= 2
