from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sidkit.learn as learn

SRC = Path(learn.__file__).resolve().parents[1]


def test_public_names_exist():
    for name in learn.__all__:
        assert hasattr(learn, name), name


def test_namespace_has_no_init_file():
    assert not (SRC / "__init__.py").exists()


def test_import_and_plugin_listing_do_not_import_torch():
    code = (
        "import sys\n"
        "for m in [m for m in sys.modules if m.split('.')[0] in ('torch', 'safetensors')]:\n"
        "    del sys.modules[m]\n"
        "import sidkit.learn\n"
        "from sidkit.core import plugins\n"
        "infos = plugins('sidkit.models')\n"
        "assert [i.name for i in infos if i.name == 'atom_segmenter'], infos\n"
        "for i in infos: i.load()\n"
        "sidkit.learn.models()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'safetensors')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
