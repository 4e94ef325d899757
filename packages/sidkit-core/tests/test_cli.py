from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sidkit.core import __version__
from sidkit.core.cli import main


@pytest.fixture
def toy(tmp_path):
    p = tmp_path / "a.toy"
    p.write_text("TOY 1\ntitle: my image\nunits: counts\ndim: y nm 0 0.5\ndim: x nm 0 0.5\n1 2 3\n4 5 6\n")
    return p


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_plugins_lists_package_version_and_broken_reason(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "sidkit-toyformat 0.1.0" in out and ".toy" in out
    assert "BROKEN" in out and "sidkit_dependency_that_does_not_exist" in out


def test_plugins_json(capsys):
    assert main(["plugins", "--json"]) == 0
    rows = {(r["group"], r["name"]): r for r in json.loads(capsys.readouterr().out)}
    toy = rows[("sidkit.writers", "toy")]
    assert toy["status"] == "ok" and toy["package"] == "sidkit-toyformat 0.1.0"
    assert rows[("sidkit.readers", "broken")]["status"].startswith("BROKEN")


def test_info_shows_dims_and_units(toy, capsys):
    assert main(["info", str(toy)]) == 0
    out = capsys.readouterr().out
    assert "my image" in out and "IMAGE" in out and "nm" in out and "(2, 3)" in out


def test_info_json(toy, capsys):
    assert main(["info", str(toy), "--json"]) == 0
    (summary,) = json.loads(capsys.readouterr().out)
    assert summary["shape"] == [2, 3] and summary["dims"][1]["units"] == "nm"


def test_convert_writes_output(toy, tmp_path, capsys):
    out = tmp_path / "b.toy"
    assert main(["convert", str(toy), str(out), "--progress"]) == 0
    assert out.read_text().startswith("TOY 1")


def test_run_calls_registered_process(toy, tmp_path):
    out = tmp_path / "neg.toy"
    assert main(["run", "toy_invert", str(toy), "-o", str(out)]) == 0
    assert "-6.0" in out.read_text()


def test_errors_print_one_line_and_exit_nonzero(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.toy")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sidkit: error:") and "missing.toy" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_debug_shows_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sidkit.core.cli", "--debug", "info",
                           str(tmp_path / "missing.toy")], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_view_renders_png(toy, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "a.png"
    assert main(["view", str(toy), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_script_is_installed(toy):
    script = Path(sys.executable).parent / "sidkit"
    proc = subprocess.run([str(script), "info", str(toy)], capture_output=True, text=True)
    assert proc.returncode == 0 and "my image" in proc.stdout
