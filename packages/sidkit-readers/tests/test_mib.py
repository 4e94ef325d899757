"""Merlin MIB reader on files built byte-by-byte from the MIB header layout."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sidkit.core import (
    CorruptFileError,
    DataType,
    DimensionMismatchError,
    DimensionType,
    SidkitError,
    TruncatedFileError,
    UnknownFormatError,
    load,
    load_all,
)
from sidkit.readers.mib import MibReader, parse_frame_header

from .conftest import REAL, needs_fixtures


def _header(seq, h, w, depth, *, hsize=384, stamp="2021-05-07T16:51:10.000000000Z", counter_depth=12, chips=1):
    fields = ["MQ1", f"{seq:06d}", f"{hsize:05d}", f"{chips:02d}", f"{w:04d}", f"{h:04d}", depth, "   1x1", "01",
              "2021-05-07 18:51:10.000000", "0.001000", "0", "0", "0",
              *["0.000000E+0"] * 8, "3RX", *["000"] * 27, "MQ1A", stamp, "1000000ns", str(counter_depth), ""]
    text = ",".join(fields).encode()
    assert len(text) <= hsize
    return text + b" " * (hsize - len(text))


def _stamps(n, row, *, gap_ms=5.0):
    t = np.datetime64("2021-05-07T16:51:10.000000000")
    out = []
    for i in range(n):
        extra = (i // row) * gap_ms if row else 0.0
        out.append(str(t + np.timedelta64(int((i * 1.0 + extra) * 1e6), "ns")) + "Z")
    return out


def write_mib(path, frames, depth="U16", *, hdr=None, row=None, raw_bytes=None, counter_depth=12, stamps=None,
              hsize=384, chips=1):
    n, h, w = frames.shape
    stamps = stamps or _stamps(n, row or n)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(_header(i + 1, h, w, depth, stamp=stamps[i], counter_depth=counter_depth, hsize=hsize,
                             chips=chips))
            if raw_bytes is not None:
                fh.write(raw_bytes[i])
            else:
                fh.write(frames[i].astype({"U08": ">u1", "U16": ">u2", "U32": ">u4"}[depth]).tobytes())
    if hdr is not None:
        frames_total, per_trigger = hdr
        path.with_suffix(".hdr").write_text(
            f"HDR,\t\nFrames in Acquisition (Number):\t{frames_total}\nFrames per Trigger (Number):\t{per_trigger}\n"
            f"Counter Depth (number):\t{counter_depth}\nSoftware Version:\t0.76\nEnd\t\n")


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, size=(12, 8, 16)).astype(np.uint16)


def test_sniff_accepts_mq1_header_and_rejects_others():
    r = MibReader()
    assert r.sniff(_header(1, 4, 4, "U08"))
    assert not r.sniff(b"")
    assert not r.sniff(b"MQ1")
    assert not r.sniff(b"II*\x00" + bytes(100))


def test_parse_frame_header_names_fields_and_mq1a_extension():
    f = parse_frame_header(_header(3, 8, 16, "U16").decode())
    assert f["sequence_number"] == "000003"
    assert f["pixels_x"] == "0016" and f["pixels_y"] == "0008"
    assert f["counter_depth"] == "12" and f["exposure_ns"] == "1000000ns"


def test_hdr_frames_per_trigger_gives_4d_stem(tmp_path, frames):
    p = tmp_path / "scan.mib"
    write_mib(p, frames, hdr=(12, 4))
    ds = load(p)
    assert ds.shape == (3, 4, 8, 16)
    assert ds.data_type is DataType.IMAGE_4D
    assert [d.dimension_type for d in ds.dims] == [DimensionType.SPATIAL] * 2 + [DimensionType.RECIPROCAL] * 2
    expected = frames.reshape(3, 4, 8, 16)[..., ::-1, :]
    np.testing.assert_array_equal(np.asarray(ds), expected)
    assert ds.dtype == np.uint16
    assert ds.original_metadata["hdr_file"]["Frames per Trigger (Number)"] == "4"
    assert ds.metadata["acquisition"]["exposure_s"] == pytest.approx(0.001)


def test_timestamps_give_scan_rows_when_one_frame_per_trigger(tmp_path, frames):
    p = tmp_path / "pixel_trigger.mib"
    write_mib(p, frames, hdr=(12, 1), row=3)
    assert load(p).shape == (4, 3, 8, 16)


def test_no_hdr_and_steady_timestamps_give_frame_stack_and_scan_shape_option_reshapes(tmp_path, frames):
    p = tmp_path / "stack.mib"
    write_mib(p, frames)
    ds = load(p)
    assert ds.shape == (12, 8, 16) and ds.data_type is DataType.IMAGE_STACK
    ds2 = load(p, scan_shape=(2, 6), flip=False)
    np.testing.assert_array_equal(np.asarray(ds2), frames.reshape(2, 6, 8, 16))


def test_no_hdr_scan_rows_come_from_the_timestamp_fly_back_gap(tmp_path, frames):
    p = tmp_path / "no_hdr.mib"
    write_mib(p, frames, row=4)
    ds = load(p)
    assert ds.shape == (3, 4, 8, 16) and ds.data_type is DataType.IMAGE_4D
    np.testing.assert_array_equal(np.asarray(ds), frames.reshape(3, 4, 8, 16)[..., ::-1, :])


def test_timestamp_inference_uses_every_frame_in_the_file_not_only_the_hdr_count(tmp_path, frames):
    # steps (ms) 1,1,1.2,1,1,1,1 over the 8 frames the .hdr names, then 2,2,2 after them: the mean
    # over all 11 steps puts the first long step at 8 frames, one row of 8; the first 8 alone give 3
    steps = [1.0, 1.0, 1.2, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    t0 = np.datetime64("2021-05-07T16:51:10.000000000")
    stamps = [str(t0 + np.timedelta64(int(ms * 1e6), "ns")) + "Z" for ms in np.concatenate([[0.0], np.cumsum(steps)])]
    p = tmp_path / "longer_than_hdr.mib"
    write_mib(p, frames, hdr=(8, 1), stamps=stamps)
    assert load(p).shape == (8, 8, 16)
    rsciio = pytest.importorskip("rsciio.quantumdetector")
    assert rsciio.file_reader(str(p))[0]["data"].shape == (8, 8, 16)


_VARIANTS = {
    "quad_768_header_u32": dict(depth="U32", hsize=768, chips=4, hdr=(12, 4)),
    "roi_frames_nav_from_timestamps": dict(depth="U16", hdr=(12, 1), row=4),
    "one_byte_counters_no_hdr": dict(depth="U08", row=3),
    "zero_frames_in_hdr": dict(depth="U16", hdr=(0, 1), row=4),
    "interrupted_pixel_trigger": dict(depth="U16", hdr=(16, 1), row=4),
}


@pytest.mark.parametrize("variant", sorted(_VARIANTS))
def test_merlin_variants_agree_with_rosettasciio(tmp_path, frames, variant):
    rsciio = pytest.importorskip("rsciio.quantumdetector")
    opts = dict(_VARIANTS[variant])
    p = tmp_path / f"{variant}.mib"
    data = frames.astype(np.uint8) if opts["depth"] == "U08" else frames
    write_mib(p, data[:, :, :12] if "roi" in variant else data, **opts)  # ROI: 8 x 12 detector frames
    ref = rsciio.file_reader(str(p), lazy=False)[0]["data"]
    ds = load(p)
    assert ds.shape == ref.shape and ds.dtype == ref.dtype.newbyteorder("=")
    np.testing.assert_array_equal(np.asarray(ds), ref)


def test_scan_shape_larger_than_file_raises_naming_file(tmp_path, frames):
    p = tmp_path / "small.mib"
    write_mib(p, frames)
    with pytest.raises(DimensionMismatchError, match="small.mib"):
        load(p, scan_shape=(5, 5))


@pytest.mark.parametrize("depth", ["U08", "U32"])
def test_other_processed_depths_read_big_endian(tmp_path, depth):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 200, size=(4, 4, 8)).astype(np.uint32)
    p = tmp_path / f"d{depth}.mib"
    write_mib(p, frames, depth=depth)
    ds = load(p, flip=False)
    assert ds.dtype == np.dtype({"U08": "u1", "U32": "u4"}[depth])
    np.testing.assert_array_equal(np.asarray(ds), frames)


def _pack_r6(frame):
    return frame.reshape(-1, 8)[:, ::-1].astype(np.uint8).tobytes()


def _pack_r1(frame):
    words = np.packbits(frame.reshape(-1, 64).astype(np.uint8).reshape(-1, 8, 8), axis=-1, bitorder="little")
    return words.reshape(-1, 8)[:, ::-1].tobytes()


def _pack_r12(frame):
    return frame.reshape(-1, 4)[:, ::-1].astype(">u2").tobytes()


@pytest.mark.parametrize(("depth", "pack", "high"), [(1, _pack_r1, 2), (6, _pack_r6, 64), (12, _pack_r12, 4096)])
def test_raw_mode_frames_are_unpacked(tmp_path, depth, pack, high):
    rng = np.random.default_rng(depth)
    frames = rng.integers(0, high, size=(3, 16, 32))
    p = tmp_path / f"raw{depth}.mib"
    write_mib(p, frames, depth="R64", raw_bytes=[pack(f) for f in frames], counter_depth=depth)
    ds = load(p, flip=False)
    np.testing.assert_array_equal(np.asarray(ds), frames)


def test_raw_mode_24_bit_raises_unknown_format_naming_file(tmp_path):
    frames = np.zeros((2, 8, 8), dtype=np.uint8)
    p = tmp_path / "raw24.mib"
    write_mib(p, frames, depth="R64", raw_bytes=[bytes(64 * 4)] * 2, counter_depth=24)
    with pytest.raises(UnknownFormatError, match="raw24.mib"):
        load(p)


def test_partial_last_frame_is_dropped(tmp_path, frames):
    p = tmp_path / "cut.mib"
    write_mib(p, frames)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 100])
    assert load(p).shape == (11, 8, 16)


def test_interrupted_scan_keeps_complete_rows(tmp_path, frames):
    p = tmp_path / "interrupted.mib"
    write_mib(p, frames[:10], hdr=(12, 4))
    assert load(p).shape == (2, 4, 8, 16)


def test_zeroed_and_short_files_raise_sidkit_errors_naming_file(tmp_path, frames):
    p = tmp_path / "bad.mib"
    write_mib(p, frames)
    data = bytearray(p.read_bytes())
    p.write_bytes(data[:200])
    with pytest.raises(SidkitError, match="bad.mib"):
        load(p)
    data[:10] = b"MQ1,000001"
    data[10:16] = b",99999"
    p.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="bad.mib"):
        load(p, reader="mib")


def test_huge_declared_frame_in_tiny_file_raises_truncated(tmp_path):
    p = tmp_path / "huge.mib"
    p.write_bytes(_header(1, 60000, 60000, "U32"))
    with pytest.raises(TruncatedFileError, match="huge.mib"):
        load(p)


def test_dask_graph_pickles_by_path_not_data(tmp_path):
    p = tmp_path / "big.mib"
    hdr = _header(1, 256, 256, "U16")
    with open(p, "wb") as fh:
        fh.write(hdr)
        fh.truncate(64 * 64 * (384 + 256 * 256 * 2))  # sparse 512 MiB file
    p.with_suffix(".hdr").write_text("Frames in Acquisition (Number):\t4096\nFrames per Trigger (Number):\t64\n")
    ds = load(p)
    assert ds.shape == (64, 64, 256, 256)
    assert len(pickle.dumps(ds.data)) < 100_000
    assert float(ds[0, 0].sum()) == 0.0


@needs_fixtures
@pytest.mark.parametrize(("path", "expected"), [c for c in REAL if c[1]["format"] == "merlin-mib"],
                         ids=lambda v: getattr(v, "name", ""))
def test_real_merlin_file_is_4d_stem_with_metadata(path, expected):
    ds = next(iter(load_all(path).values()))
    assert ds.data_type is DataType.IMAGE_4D
    assert sorted(ds.shape) == sorted(expected["datasets"][0]["shape"])
    assert ds.metadata["acquisition"]["frames"] >= int(np.prod(ds.shape[:2]))


@pytest.mark.parametrize(("hdr", "shape", "flip"), [((12, 4), (3, 4, 8, 16), True), (None, (12, 8, 16), False),
                                                    ((1, 1), (8, 16), True)])
def test_files_above_the_small_file_threshold_stay_lazy_with_same_values(tmp_path, frames, monkeypatch,
                                                                         hdr, shape, flip):
    import sidkit.readers.mib as mib
    from sidkit.core.fastpath import direct_read

    p = tmp_path / "scan.mib"
    write_mib(p, frames[: int(np.prod(shape[:-2]))] if len(shape) > 2 else frames[:1], hdr=hdr)
    small = load(p, flip=flip)
    monkeypatch.setattr(mib, "SMALL_ARRAY_BYTES", 0)  # every file counts as large
    lazy = load(p, flip=flip)
    assert lazy.shape == small.shape == shape
    assert "MemmapProxy" in repr(dict(lazy.data.__dask_graph__()))
    assert direct_read(lazy.data) is not None  # computed whole in one read, not block by block
    np.testing.assert_array_equal(np.asarray(lazy), np.asarray(small))
    np.testing.assert_array_equal(lazy.data[..., 1:3, :].compute(), np.asarray(small)[..., 1:3, :])
    assert lazy.dims == small.dims
