"""A reader published by a third party (integration_tests/plugins/sidkit-toyformat) is
found by extension and by content, listed by `sidkit plugins`, and a broken plugin
package (sidkit-brokenplugin) is reported without breaking anything else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import sidkit.core as sk

TOY = "TOY 1\ntitle: third party\nunits: counts\ndim: y nm 0 0.5\ndim: x nm 0 0.25\n1 2 3\n4 5 6\n"


def _sidkit(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "sidkit"
    return subprocess.run([str(exe), *args], capture_output=True, text=True)


def test_load_finds_third_party_reader_by_extension(tmp_path):
    p = tmp_path / "a.toy"
    p.write_text(TOY)
    ds = sk.load(p)
    assert ds.title == "third party" and ds.shape == (2, 3)
    np.testing.assert_allclose(ds.dim("x").values, [0, 0.25, 0.5])


def test_load_finds_third_party_reader_by_sniffing_a_wrong_extension(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(TOY)
    assert sk.load(p).title == "third party"


def test_sidkit_plugins_lists_third_party_and_broken_plugins():
    proc = _sidkit("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {(r["group"], r["name"]): r for r in json.loads(proc.stdout)}
    assert rows[("sidkit.readers", "toy")]["status"] == "ok"
    assert rows[("sidkit.readers", "toy")]["package"] == "sidkit-toyformat 0.1.0"
    assert rows[("sidkit.readers", "broken")]["status"].startswith("BROKEN")
    # the first-party plugins still load beside the broken one
    assert rows[("sidkit.readers", "nsid")]["status"] == "ok"
    assert rows[("sidkit.writers", "nsid")]["status"] == "ok"


def test_third_party_file_converts_to_nsid_and_back(tmp_path):
    p = tmp_path / "a.toy"
    p.write_text(TOY)
    out = tmp_path / "a.h5"
    proc = _sidkit("convert", str(p), str(out))
    assert proc.returncode == 0, proc.stderr
    back = sk.load(out)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(sk.load(p)))
    assert [d.units for d in back.dims] == ["nm", "nm"]
