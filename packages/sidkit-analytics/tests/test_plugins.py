from __future__ import annotations

import subprocess
import sys

from sidkit.core import get_process, processes

EXPECTED = {"decompose", "cluster", "classify", "fit", "fit_sho", "register", "denoise", "fft_filter",
            "background", "find_peaks", "find_atoms", "subtract_spectral_background", "normalize",
            "smooth", "find_spectral_peaks"}


def test_every_analysis_function_is_registered_as_a_process():
    found = processes()
    assert EXPECTED <= set(found)
    from sidkit.analytics import decompose, fit_sho

    assert get_process("decompose") is decompose
    assert get_process("fit_sho") is fit_sho


def test_importing_the_package_and_listing_processes_loads_no_heavy_dependency():
    code = (
        "import sys\n"
        "import sidkit.analytics\n"
        "from sidkit.core import plugins\n"
        "plugins('sidkit.processes')\n"
        "bad = [m for m in ('sklearn', 'skimage', 'h5py', 'matplotlib', 'torch', 'distributed') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
