"""Importing sidkit.core and listing plugins imports no heavy library beyond
what numpy and dask import themselves."""

import subprocess
import sys

HEAVY = ["h5py", "matplotlib", "xarray", "sklearn", "torch", "mrcfile", "tifffile", "scipy", "pandas"]


def _imported(code: str) -> set[str]:
    code += f"\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(filter(None, proc.stdout.strip().split(",")))


def test_import_and_plugin_listing_import_no_heavy_library():
    baseline = _imported("import numpy, dask.array")
    ours = _imported("import sidkit.core as sc\nsc.plugins(); sc.readers(); sc.writers()")
    assert ours - baseline == set()
