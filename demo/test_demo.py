"""The demo runs end to end on the small built-in sample and on a user's file."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sidkit.nsid")

import sidkit.core as sk  # noqa: E402

HERE = Path(__file__).parent
PNG = b"\x89PNG\r\n\x1a\n"


def _demo():
    spec = importlib.util.spec_from_file_location("sidkit_demo", HERE / "sidkit_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sidkit_demo"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo():
    return _demo()


@pytest.fixture(scope="module")
def builtin_run(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    status = demo.main(["--small", "--output", str(out)])
    return status, out


def test_builtin_sample_report_links_every_figure(builtin_run, capsys):
    status, out = builtin_run
    report = (out / "index.html").read_text(encoding="utf-8")
    images = re.findall(r"<img src='([^']+)'", report)
    assert len(images) >= 5
    for name in images:
        data = (out / name).read_bytes()
        assert data[:8] == PNG and len(data) > 2000, name
    assert "sidkit demo: built-in sample" in report


def test_builtin_sample_runs_every_step(builtin_run):
    status, out = builtin_run
    report = (out / "index.html").read_text(encoding="utf-8")
    assert "Steps that failed" not in report, report[report.find("Steps that failed"):][:2000]
    assert status == 0
    for heading in ("Drift correction", "Unmixing", "Phases by clustering", "Peak fitting", "NSID file"):
        assert f"<h2>{heading}</h2>" in report


def test_clustering_recovers_the_known_phases(builtin_run):
    _, out = builtin_run
    report = (out / "index.html").read_text(encoding="utf-8")
    ari = float(re.search(r"adjusted Rand index vs the true phase map</th><td>([0-9.]+)", report).group(1))
    assert ari >= 0.9


def test_nsid_file_loads_with_the_sample_and_results(builtin_run, demo):
    _, out = builtin_run
    datasets = sk.load_all(out / "sidkit-demo.h5")
    si = datasets["spectrum_image"]
    assert si.data_type == sk.DataType.SPECTRAL_IMAGE
    assert si.dim("energy").units == "keV" and si.dim("x").units == "nm"
    rebuilt, truth = demo.make_spectral_image(True, np.random.default_rng(7))
    np.testing.assert_array_equal(np.asarray(si), np.asarray(rebuilt))
    assert {"image_stack", "cluster_labels", "nmf_maps"} <= set(datasets)
    labels = datasets["cluster_labels"]
    assert labels.shape == truth.shape


def test_input_file_runs_the_steps_for_its_data_type(builtin_run, demo, tmp_path):
    _, out = builtin_run
    si = sk.load(out / "sidkit-demo.h5")
    small = si.isel(y=slice(0, 12), x=slice(0, 14)).compute()
    path = tmp_path / "mine.h5"
    sk.save({"my_si": small}, path)
    status = demo.main(["--input", str(path), "--output", str(tmp_path / "report")])
    report = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert status == 0, report
    assert "sidkit demo: mine.h5" in report and "<h2>Unmixing</h2>" in report
    assert sk.load(tmp_path / "report" / "mine.h5").shape == small.shape


def test_unreadable_input_exits_with_status_1(demo, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    assert demo.main(["--input", str(bad), "--output", str(tmp_path / "r")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_line_fit_finds_the_fe_k_alpha_energy(builtin_run):
    _, out = builtin_run
    report = (out / "index.html").read_text(encoding="utf-8")
    centre = re.search(r"fitted line centre on the pixels that hold it</th><td>([0-9.]+) keV", report)
    assert centre is not None
    assert abs(float(centre.group(1)) - 6.404) < 0.02
