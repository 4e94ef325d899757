"""Nanonis .dat / .sxm / .3ds files built from the format description."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.core import (
    CorruptFileError,
    DataType,
    DimensionType,
    SidkitError,
    TruncatedFileError,
    load,
    load_all,
)
from sidkit.readers.nanonis import NanonisReader, split_label

from .conftest import REAL, needs_fixtures


def write_dat(path, bias, columns):
    lines = ["Experiment\tbias spectroscopy\t", "Date\t07.07.2020 15:01:50\t", "Integration time (s)\t600E-6\t",
             "", "[DATA]", "\t".join(["Bias calc (V)", *columns])]
    for i, b in enumerate(bias):
        lines.append("\t".join([f"{b:.5E}", *[f"{(k + 1) * b * 1e-9:.5E}" for k in range(len(columns))]]))
        _ = i
    path.write_text("\r\n".join(lines) + "\r\n")


def test_dat_gives_one_spectrum_per_column_on_linear_bias_axis(tmp_path):
    bias = np.linspace(-2, 2, 256)
    p = tmp_path / "spec.dat"
    write_dat(p, bias, ["Current (A)", "Current [bwd] (A)"])
    out = load_all(p)
    assert list(out) == ["Current_(A)", "Current_[bwd]_(A)"]
    ds = out["Current_(A)"]
    assert ds.data_type is DataType.SPECTRUM and ds.units == "A"
    d = ds.dims[0]
    assert d.name == "Bias calc" and d.units == "V" and d.dimension_type is DimensionType.SPECTRAL
    assert d.offset == pytest.approx(-2.0) and d.scale == pytest.approx(4 / 255, rel=1e-6)
    np.testing.assert_allclose(np.asarray(ds), bias * 1e-9, rtol=1e-5, atol=1e-15)
    assert ds.metadata["acquisition"]["datetime"] == "2020-07-07T15:01:50"
    assert ds.original_metadata["header"]["Experiment"] == "bias spectroscopy"


def test_dat_without_data_section_raises_corrupt_naming_file(tmp_path):
    p = tmp_path / "nodata.dat"
    p.write_text("Experiment\tbias spectroscopy\t\n")
    with pytest.raises(CorruptFileError, match="nodata.dat"):
        load(p)


def test_split_label_separates_units():
    assert split_label("Current (A) [bwd]") == ("Current [bwd]", "A")
    assert split_label("Index") == ("Index", "")


def write_sxm(path, images, *, direction="both", scan_dir="down"):
    ny, nx = images[0].shape
    header = (
        ":NANONIS_VERSION:\n2\n:SCANIT_TYPE:\n              FLOAT            MSBFIRST\n"
        ":REC_DATE:\n 07.07.2020\n:REC_TIME:\n15:01:50\n"
        f":SCAN_PIXELS:\n       {nx}       {ny}\n:SCAN_RANGE:\n           2.000000E-8           1.000000E-8\n"
        ":SCAN_OFFSET:\n             1.000000E-7         2.000000E-7\n"
        f":SCAN_DIR:\n{scan_dir}\n:DATA_INFO:\n\tChannel\tName\tUnit\tDirection\tCalibration\tOffset\n"
        f"\t14\tZ\tm\t{direction}\t1.000E+0\t0.000E+0\n\n:SCANIT_END:\n\n\n"
    )
    with open(path, "wb") as fh:
        fh.write(header.encode() + b"\x1a\x04")
        for img in images:
            fh.write(img.astype(">f4").tobytes())


def test_sxm_forward_and_backward_images_in_metres(tmp_path):
    rng = np.random.default_rng(0)
    fwd, bwd = rng.random((4, 6)), rng.random((4, 6))
    p = tmp_path / "scan.sxm"
    write_sxm(p, [fwd, bwd])
    out = load_all(p)
    assert list(out) == ["Z_forward", "Z_backward"]
    z = out["Z_forward"]
    np.testing.assert_allclose(np.asarray(z), fwd.astype(np.float32))
    np.testing.assert_allclose(np.asarray(out["Z_backward"]), bwd.astype(np.float32)[:, ::-1])
    assert z.units == "m" and z.data_type is DataType.IMAGE
    assert z.dims[1].scale == pytest.approx(2e-8 / 6) and z.dims[0].scale == pytest.approx(1e-8 / 4)
    assert z.dims[1].offset == pytest.approx(1e-7 - 1e-8)
    assert z.dims[0].dimension_type is DimensionType.SPATIAL


def test_sxm_up_scan_is_flipped_to_top_row_first(tmp_path):
    img = np.arange(12, dtype=float).reshape(3, 4)
    p = tmp_path / "up.sxm"
    write_sxm(p, [img], direction="forward", scan_dir="up")
    np.testing.assert_array_equal(np.asarray(load(p)), img[::-1])


def test_truncated_sxm_raises_truncated_naming_file(tmp_path):
    p = tmp_path / "cut.sxm"
    write_sxm(p, [np.zeros((64, 64)), np.zeros((64, 64))])
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(TruncatedFileError, match="cut.sxm"):
        load(p)


def write_3ds(path, nx, ny, points, channels, data):
    header = (
        f'Grid dim="{nx} x {ny}"\r\nGrid settings=1.0E-8;2.0E-8;4.0E-8;3.0E-8;0.0E+0\r\n'
        'Sweep Signal="Bias (V)"\r\nFixed parameters="Sweep Start;Sweep End"\r\n'
        'Experiment parameters="X (m);Y (m);Z (m)"\r\n# Parameters (4 byte)=5\r\n'
        f'Experiment size (bytes)={4 * points * len(channels)}\r\nPoints={points}\r\n'
        f'Channels="{";".join(channels)}"\r\nExperiment=Grid Spectroscopy\r\n'
        'Start time="07.07.2020 15:01:50"\r\n:HEADER_END:\r\n'
    )
    with open(path, "wb") as fh:
        fh.write(header.encode())
        fh.write(data.astype(">f4").tobytes())


def test_3ds_grid_gives_spectral_image_per_channel_and_parameters(tmp_path):
    nx, ny, points = 3, 2, 5
    rng = np.random.default_rng(3)
    spectra = rng.random((ny, nx, 2, points))
    params = np.zeros((ny, nx, 5))
    params[..., 0], params[..., 1] = -1.0, 1.0
    params[..., 4] = rng.random((ny, nx))
    block = np.concatenate([params, spectra.reshape(ny, nx, 2 * points)], axis=-1)
    p = tmp_path / "grid.3ds"
    write_3ds(p, nx, ny, points, ["Current (A)", "LI Demod 1 X (A)"], block)
    out = load_all(p)
    assert list(out) == ["Current_(A)", "LI_Demod_1_X_(A)", "sweep", "topography", "parameters"]
    cur = out["Current_(A)"]
    assert cur.shape == (ny, nx, points) and cur.data_type is DataType.SPECTRAL_IMAGE
    np.testing.assert_allclose(np.asarray(cur), spectra[:, :, 0].astype(np.float32))
    sweep = cur.dims[2]
    assert sweep.name == "Bias" and sweep.units == "V" and sweep.offset == -1.0 and sweep.scale == 0.5
    assert cur.dims[1].scale == pytest.approx(4e-8 / 3)
    np.testing.assert_allclose(np.asarray(out["parameters"])[..., 4], params[..., 4].astype(np.float32))
    assert out["parameters"].original_metadata["parameter_names"][4] == "Z (m)"
    assert out["parameters"].dims[2].scale == 1.0  # numbered, so every dim is a plain number axis
    np.testing.assert_allclose(np.asarray(out["topography"]), params[..., 4].astype(np.float32))
    assert out["topography"].units == "m" and out["topography"].shape == (ny, nx)
    np.testing.assert_array_equal(np.asarray(out["sweep"]), np.linspace(-1, 1, points, dtype=np.float32))


def test_sniff_recognises_each_nanonis_layout():
    r = NanonisReader()
    assert r.sniff(b":NANONIS_VERSION:\n2\n")
    assert r.sniff(b'Grid dim="3 x 2"\r\n')
    assert r.sniff(b"Experiment\tbias spectroscopy\t\n")
    assert not r.sniff(b"\x89HDF\r\n\x1a\n")


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), [c for c in REAL if c[1]["format"] == "nanonis"],
                         ids=lambda v: getattr(v, "name", ""))
def test_real_nanonis_file_returns_every_measured_column(path, expected):
    out = load_all(path)
    assert len(out) >= len(expected["datasets"])
    for ds in out.values():
        assert ds.dims[0].dimension_type is DimensionType.SPECTRAL


def test_flipped_sxm_header_raises_sidkit_error(tmp_path):
    p = tmp_path / "flip.sxm"
    write_sxm(p, [np.zeros((4, 4))], direction="forward")
    data = bytearray(p.read_bytes())
    i = data.find(b":SCAN_PIXELS:") + 14
    data[i:i + 10] = b"xx" * 5
    p.write_bytes(bytes(data))
    with pytest.raises(SidkitError, match="flip.sxm"):
        load(p)


def test_noisy_measured_sweep_is_linear_and_kept_as_data(tmp_path):
    bias = np.linspace(-1, 1, 101)
    bias[1:-1] += np.random.default_rng(2).normal(0, 0.002, 99)  # 10 % of a step
    p = tmp_path / "noisy.dat"
    write_dat(p, bias, ["Current (A)"])
    out = load_all(p)
    assert list(out) == ["Bias_calc_(V)", "Current_(A)"]
    d = out["Current_(A)"].dims[0]
    assert d.scale == pytest.approx(0.02) and d.offset == pytest.approx(-1.0)
    np.testing.assert_allclose(np.asarray(out["Bias_calc_(V)"]), bias, atol=1e-5)


def _write_table(path, header, columns, table, encoding="utf-8"):
    lines = [f"{k}\t{v}\t" for k, v in header] + ["", "[DATA]", "\t".join(columns)]
    lines += ["\t".join(f"{x:.6E}" for x in row) for row in table]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))


def test_dat_history_data_is_on_a_time_axis_from_the_sample_period(tmp_path):
    rng = np.random.default_rng(4)
    table = np.c_[rng.random(50) * 1e-10, rng.random(50) * 1e-9]
    p = tmp_path / "history.dat"
    _write_table(p, [("Experiment", "History Data"), ("Sample Period (ms)", "20")], ["Current (A)", "Z (m)"], table)
    out = load_all(p)
    assert list(out) == ["Current_(A)", "Z_(m)"]  # the first column is a signal, not a sweep
    t = out["Current_(A)"].dims[0]
    assert (t.name, t.units, t.dimension_type) == ("time", "s", DimensionType.TEMPORAL)
    assert t.scale == pytest.approx(0.02) and t.offset == 0.0
    np.testing.assert_allclose(np.asarray(out["Current_(A)"]), table[:, 0], rtol=1e-6)


def test_dat_up_and_down_sweep_in_one_column_is_kept_as_data_on_an_index(tmp_path):
    bias = np.r_[np.linspace(-1, 1, 20), np.linspace(1, -1, 20)]
    p = tmp_path / "updown.dat"
    _write_table(p, [("Experiment", "bias spectroscopy")], ["Bias (V)", "Current (A)"], np.c_[bias, bias * 2])
    out = load_all(p)
    assert list(out) == ["Bias_(V)", "Current_(A)"]
    assert out["Current_(A)"].dims[0].name == "index"


def test_dat_noisy_non_monotonic_measured_bias_is_linear_with_mean_step(tmp_path):
    bias = np.linspace(-2, 2, 201) + np.random.default_rng(5).normal(0, 0.01, 201)  # half a step
    p = tmp_path / "noisy.dat"
    _write_table(p, [("Experiment", "bias spectroscopy")], ["Bias (V)", "Current (A)"], np.c_[bias, bias])
    d = load_all(p)["Current_(A)"].dims[0]
    assert (d.name, d.units) == ("Bias", "V")
    assert d.offset == pytest.approx(bias[0], rel=1e-5)
    assert d.scale == pytest.approx((bias[-1] - bias[0]) / 200, rel=1e-5)


def test_dat_utf8_units_are_decoded(tmp_path):
    p = tmp_path / "temp.dat"
    _write_table(p, [("Experiment", "bias spectroscopy"), ("User", "Jürgen")], ["Bias (V)", "Temperature (°C)"],
                 np.c_[np.linspace(0, 1, 5), np.ones(5)])
    ds = load_all(p)["Temperature_(°C)"]
    assert ds.units == "°C" and ds.original_metadata["header"]["User"] == "Jürgen"


def _write_full_3ds(path, nx, ny, points, channels, block):
    params = "X (m);Y (m);Z (m);Z offset (m);Settling time (s);Integration time (s);Z-Ctrl hold;Final Z (m)"
    header = (
        f'Grid dim="{nx} x {ny}"\r\nGrid settings=1.0E-8;2.0E-8;4.0E-8;3.0E-8;0.0E+0\r\nFiletype=Linear\r\n'
        'Sweep Signal="Bias (V)"\r\nFixed parameters="Sweep Start;Sweep End"\r\n'
        f'Experiment parameters="{params}"\r\n# Parameters (4 byte)=10\r\n'
        f'Experiment size (bytes)={4 * points * len(channels)}\r\nPoints={points}\r\n'
        f'Channels="{";".join(channels)}"\r\nDelay before measuring (s)=0E+0\r\n'
        'Experiment="Grid Spectroscopy"\r\nStart time="07.07.2020 15:01:50"\r\n'
        'End time="07.07.2020 16:01:50"\r\nUser=\r\nComment=\r\n:HEADER_END:\r\n'
    )
    path.write_bytes(header.encode() + block.astype(">f4").tobytes())


def test_3ds_every_nanonispy_signal_has_a_matching_dataset(tmp_path):
    read = pytest.importorskip("nanonispy.read")
    from sidkit.core.testing import compare_real

    nx, ny, points = 4, 3, 33
    rng = np.random.default_rng(6)
    params = rng.random((ny, nx, 10))
    params[..., 0], params[..., 1] = -1.5, 2.0
    block = np.concatenate([params, rng.random((ny, nx, 2 * points))], axis=-1)
    p = tmp_path / "grid.3ds"
    _write_full_3ds(p, nx, ny, points, ["Current (A)", "LI Demod 1 X (A)"], block)
    out = list(load_all(p).values())
    for key, value in read.Grid(str(p)).signals.items():
        v = np.asarray(value, dtype=np.float64)
        sweep = key not in ("params", "topo")
        exp = {"shape": list(value.shape), "dtype": "float32",
               "checksums": {"sum": float(v.sum()), "min": float(v.min()), "max": float(v.max())},
               "axes": [{"name": "bias", "size": points, "scale": 3.5 / (points - 1), "offset": -1.5, "units": "V"}]
               if key == "sweep_signal" else
               [{"size": ny}, {"size": nx}] + ([{"size": points, "scale": 3.5 / (points - 1), "offset": -1.5,
                                                 "units": "V"}] if sweep else [])}
        assert any(not compare_real(ds, exp) for ds in out), key
