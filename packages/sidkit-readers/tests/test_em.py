"""Shared helpers of the electron-microscopy readers (``sidkit.readers._em``)
and the promise that importing those readers imports no parser."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from sidkit.core import CorruptFileError, DimensionType, TruncatedFileError, UnsafeFileError
from sidkit.readers._em import (
    apply_mapping,
    check_declared_size,
    clean_units,
    dimension_from_axis,
    dimension_type_for_units,
    normalised_from_hyperspy,
    parse_datetime,
    parser_errors,
    plain,
    si_convert,
)
from sidkit.readers._raw import MemmapProxy

EM_MODULES = ["dm", "velox", "tia", "emd", "mrc", "tiff", "image", "nion"]
PARSERS = ["rsciio", "h5py", "mrcfile", "tifffile", "PIL", "sparse", "imageio"]


def test_importing_em_readers_and_sniffing_imports_no_parser():
    # dask.array (imported by sidkit.core) itself imports sparse when installed:
    # only parsers that the readers' modules add are counted
    code = (
        "import sys\n"
        "import sidkit.core\n"
        "before = set(sys.modules)\n"
        f"for m in {EM_MODULES!r}:\n"
        "    mod = __import__('sidkit.readers.' + m, fromlist=['x'])\n"
        "    for obj in vars(mod).values():\n"
        "        if isinstance(obj, type) and obj.__module__ == mod.__name__ and hasattr(obj, 'sniff'):\n"
        "            obj().sniff(b'\\x00' * 64)\n"
        f"print([p for p in {PARSERS!r} if p in sys.modules and p not in before])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_plain_makes_vendor_metadata_json_like():
    value = {"a": np.float32(1.5), "b": np.arange(3), "c": b"text\x00", "d": dt.date(2020, 1, 2),
             "e": (np.int64(2), None), "f": np.zeros((100, 100)), "g": float("nan")}
    out = plain(value)
    json.dumps(out)
    assert out["a"] == 1.5 and type(out["a"]) is float
    assert out["b"] == [0, 1, 2] and out["c"] == "text" and out["d"] == "2020-01-02"
    assert out["f"].startswith("<array float64")
    assert np.isnan(out["g"]) and type(out["g"]) is float


def test_parser_errors_translate_and_name_the_file():
    with pytest.raises(TruncatedFileError, match="f.x"):
        with parser_errors("f.x", "r"):
            raise EOFError("unexpected end of file")
    with pytest.raises(CorruptFileError, match="reader 'r'"):
        with parser_errors("f.x", "r"):
            raise KeyError("missing tag")
    with pytest.raises(UnsafeFileError):
        with parser_errors("f.x", "r"):
            raise MemoryError()


def test_check_declared_size_refuses_data_past_the_end(tmp_path):
    path = tmp_path / "raw.bin"
    path.write_bytes(bytes(100))
    check_declared_size(path, "r", 20, (10, 8), np.uint8)
    with pytest.raises(TruncatedFileError, match="raw.bin"):
        check_declared_size(path, "r", 20, (10, 9), np.uint8)
    with pytest.raises(UnsafeFileError):
        check_declared_size(path, "r", 0, (2**40, 2**40), np.float64)


def test_memmap_proxy_reads_slices_in_native_order_and_pickles(tmp_path):
    data = np.arange(24, dtype=">i4").reshape(4, 6)
    path = tmp_path / "be.bin"
    path.write_bytes(b"HDR!" + data.tobytes())
    proxy = pickle.loads(pickle.dumps(MemmapProxy(path, ">i4", (4, 6), offset=4, reader="r")))
    part = proxy[1:3, ::2]
    assert part.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(part, data[1:3, ::2])


@pytest.mark.parametrize("units,kind", [("nm", DimensionType.SPATIAL), ("1 / nm", DimensionType.RECIPROCAL),
                                        ("nm^-1", DimensionType.RECIPROCAL), ("eV", DimensionType.SPECTRAL),
                                        ("keV", DimensionType.SPECTRAL), ("s", DimensionType.TEMPORAL),
                                        ("", DimensionType.UNKNOWN)])
def test_units_decide_the_dimension_type(units, kind):
    assert dimension_type_for_units(units, "q") is kind


def test_clean_units_spellings():
    assert clean_units("[n_m]") == "nm"
    assert clean_units("um") == "µm"
    assert clean_units(None) == "" and clean_units("<undefined>") == ""


def test_dimension_from_axis_uses_offset_and_scale():
    d = dimension_from_axis({"name": "Energy loss", "size": 4, "scale": 0.5, "offset": 100.0, "units": "eV"}, 0)
    assert d.values.tolist() == [100.0, 100.5, 101.0, 101.5]
    assert d.dimension_type is DimensionType.SPECTRAL


def test_mapping_and_normalised_metadata_use_si_units():
    original = {"Info": {"High tension_kV": 300.0, "Mag": 5000.0}}
    mapping = {"Info.High_tension_kV": ("Acquisition_instrument.TEM.beam_energy", None),
               "Info.Mag": ("Acquisition_instrument.TEM.magnification", lambda v: v * 2),
               "Info.Missing": ("General.title", None)}
    md = apply_mapping({"General": {"date": "2020-01-02", "time": "03:04:05"}}, original, mapping)
    norm = normalised_from_hyperspy(md)
    assert norm["beam"]["energy_eV"] == pytest.approx(300e3)
    assert norm["optics"]["magnification"] == pytest.approx(10000.0)
    assert norm["acquisition"]["datetime"] == "2020-01-02T03:04:05"


@pytest.mark.parametrize("value,units,to_units,expected", [
    (50, "ns", "s", 5e-8), (14.808, "mm", "mm", 14.808), (1.0, "nA", "pA", 1000.0),
    (25, "kV", "V", 25000.0), (3, "µm", "nm", 3000.0), (3, "um", "nm", 3000.0), ("2.5", "keV", "eV", 2500.0),
])
def test_si_convert_converts_prefixed_si_units(value, units, to_units, expected):
    assert si_convert(value, units, to_units) == pytest.approx(expected)


def test_si_convert_refuses_units_it_does_not_know():
    assert si_convert(10.2, "°", "rad") is None
    assert si_convert(1.0, "mm", "s") is None  # other base
    assert si_convert(1.0, "min", "s") is None
    assert si_convert("wide", "mm", "m") is None and si_convert(True, "mm", "m") is None


def test_parse_datetime_tries_the_formats_then_dateutil():
    assert parse_datetime("23 Dec 2015", ("%d %b %Y",)) == dt.datetime(2015, 12, 23)
    assert parse_datetime(" 9:40:32 ", ("%H:%M:%S",)).time() == dt.time(9, 40, 32)
    pytest.importorskip("dateutil")
    assert parse_datetime("2015-12-23T09:40:32", ("%d %b %Y",)) == dt.datetime(2015, 12, 23, 9, 40, 32)
    assert parse_datetime("no date here", ()) is None and parse_datetime(None, ()) is None
