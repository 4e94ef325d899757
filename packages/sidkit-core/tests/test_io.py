from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from sidkit.core import (
    CorruptFileError,
    Dataset,
    Dimension,
    PluginError,
    Reader,
    UnknownFormatError,
    load,
    load_all,
    register_reader,
    save,
)
from sidkit.core import registry as reg


@pytest.fixture(autouse=True)
def fresh_registry():
    reg.refresh()
    yield
    reg.refresh()


def test_save_and_load_through_third_party_plugin(tmp_path):
    ds = Dataset.from_array(np.arange(6.0).reshape(2, 3), title="img", units="counts",
                            dims=[Dimension.linear("y", 2, scale=0.5, units="nm"),
                                  Dimension.linear("x", 3, scale=0.5, units="nm")])
    path = save(ds, tmp_path / "img.toy")
    back = load(path)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(ds))
    assert back.title == "img" and back.units == "counts"
    assert [d.units for d in back.dims] == ["nm", "nm"]
    np.testing.assert_allclose(back.dim("x").values, [0, 0.5, 1.0])


def test_load_all_returns_dict_by_name(tmp_path):
    p = tmp_path / "a.toy"
    p.write_text("TOY 1\ntitle: first\ndim: x nm 0 1\n1 2\n")
    out = load_all(p)
    assert list(out) == ["first"] and isinstance(out["first"], Dataset)


def test_save_without_writer_for_extension_says_what_to_install(tmp_path):
    with pytest.raises(UnknownFormatError, match="sidkit-nsid|writer"):
        save(Dataset(np.zeros(2)), tmp_path / "x.unknownext")


def test_save_rejects_non_dataset(tmp_path):
    with pytest.raises(TypeError):
        save(np.zeros(2), tmp_path / "x.toy")


class _Buggy(Reader):
    name: ClassVar[str] = "buggy"
    extensions: ClassVar[tuple[str, ...]] = (".bug",)

    def sniff(self, head):
        return True

    def read(self, path, *, lazy=True, **options):
        return {}["missing"]


class _WrongType(_Buggy):
    name: ClassVar[str] = "wrongtype"

    def read(self, path, *, lazy=True, **options):
        return [1, 2]


def test_internal_exception_of_a_reader_becomes_corrupt_file_error_naming_file(tmp_path):
    register_reader(_Buggy)
    p = tmp_path / "x.bug"
    p.write_bytes(b"...")
    with pytest.raises(CorruptFileError) as err:
        load(p, reader="buggy")
    assert "x.bug" in str(err.value) and "buggy" in str(err.value)


def test_reader_returning_wrong_type_is_a_plugin_error(tmp_path):
    register_reader(_WrongType)
    p = tmp_path / "x.bug"
    p.write_bytes(b"...")
    with pytest.raises(PluginError, match="wrongtype"):
        load(p, reader="wrongtype")


def test_corrupt_toy_file_raises_corrupt_error_naming_file(tmp_path):
    p = tmp_path / "bad.toy"
    p.write_text("TOY 1\ndim: x nm zero 1\n1 2\n")
    with pytest.raises(CorruptFileError, match="bad.toy"):
        load(p)
