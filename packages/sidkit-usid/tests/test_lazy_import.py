"""Importing sidkit.usid and listing plugins imports no heavy dependency."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import sidkit.usid
import sidkit.core
names = [p.name for p in sidkit.core.plugins()]
assert "usid" in names, names
sidkit.core.get_reader("usid"); sidkit.core.get_writer("usid")
heavy = [m for m in ("h5py", "pyUSID", "sidpy", "matplotlib", "sklearn") if m in sys.modules]
print(",".join(heavy))
"""


def test_import_and_plugin_listing_do_not_import_h5py():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout.strip()}"
