"""Importing sidkit.nsid and listing plugins stays cheap."""

from __future__ import annotations

import subprocess
import sys


def test_import_and_plugin_listing_do_not_import_h5py():
    code = (
        "import sys\n"
        "import sidkit.nsid, sidkit.core as sk\n"
        "sk.readers(); sk.writers()\n"
        "heavy = [m for m in ('h5py', 'pyNSID', 'sidpy', 'distributed') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'nsid' in sk.readers() and 'nsid' in sk.writers()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
