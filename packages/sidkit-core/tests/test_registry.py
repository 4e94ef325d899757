"""The registry finds plugins through real entry points (the sidkit-toyformat and
sidkit-brokenplugin packages of integration_tests/plugins, installed in the
core test session) and chooses readers deterministically."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from sidkit.core import (
    AmbiguousFormatError,
    Dataset,
    PluginError,
    Reader,
    SidkitFileNotFoundError,
    UnknownFormatError,
    choose_reader,
    get_reader,
    plugins,
    readers,
    register_reader,
)
from sidkit.core import registry as reg


@pytest.fixture(autouse=True)
def fresh_registry():
    reg.refresh()
    yield
    reg.refresh()


def _toy(tmp_path, name="a.toy"):
    p = tmp_path / name
    p.write_text("TOY 1\ntitle: t\ndim: x nm 0 0.5\n1 2 3\n")
    return p


def test_toy_reader_is_found_through_its_entry_point():
    info = {(i.group, i.name): i for i in plugins()}
    toy = info[("sidkit.readers", "toy")]
    assert toy.distribution == "sidkit-toyformat" and toy.version == "0.1.0"
    assert get_reader("toy").extensions == (".toy",)


def test_broken_plugin_is_reported_and_breaks_nothing(tmp_path):
    info = {i.name: i for i in plugins("sidkit.readers")}
    assert info["broken"].try_load() is None
    assert "sidkit_dependency_that_does_not_exist" in info["broken"].error
    assert "toy" in readers()
    with pytest.raises(PluginError, match="broken"):
        get_reader("broken")
    assert choose_reader(_toy(tmp_path)).name == "toy"


def test_choose_reader_by_extension_confirmed_by_sniff(tmp_path):
    assert choose_reader(_toy(tmp_path)).name == "toy"


def test_wrong_extension_is_caught_by_sniffing(tmp_path):
    assert choose_reader(_toy(tmp_path, "renamed.txt")).name == "toy"


def test_explicit_reader_wins(tmp_path):
    p = tmp_path / "x.dat"
    p.write_text("not toy")
    assert choose_reader(p, reader="toy").name == "toy"


def test_unknown_reader_name_lists_available():
    with pytest.raises(UnknownFormatError, match="toy"):
        get_reader("nope")


def test_no_match_names_file_and_candidates(tmp_path):
    p = tmp_path / "fake.toy"
    p.write_text("something else")
    with pytest.raises(UnknownFormatError) as err:
        choose_reader(p)
    assert "fake.toy" in str(err.value) and "toy" in str(err.value) and "sidkit plugins" in str(err.value)


def test_missing_file_raises_sidkit_file_not_found(tmp_path):
    with pytest.raises(SidkitFileNotFoundError, match="missing.toy"):
        choose_reader(tmp_path / "missing.toy")
    with pytest.raises(FileNotFoundError):
        choose_reader(tmp_path / "missing.toy")


class _A(Reader):
    name: ClassVar[str] = "claim_a"
    extensions: ClassVar[tuple[str, ...]] = (".zz",)

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"ZZ")

    def read(self, path, *, lazy=True, **options):
        return {"a": Dataset(np.zeros(2))}


class _B(_A):
    name: ClassVar[str] = "claim_b"


class _C(_A):
    name: ClassVar[str] = "claim_c"
    priority: ClassVar[int] = 5


class _Raising(_A):
    name: ClassVar[str] = "raising"

    def sniff(self, head: bytes) -> bool:
        raise RuntimeError("bad sniff")


def test_equal_priority_claims_are_ambiguous_and_overridable(tmp_path):
    register_reader(_A)
    register_reader(_B)
    p = tmp_path / "f.zz"
    p.write_bytes(b"ZZ data")
    with pytest.raises(AmbiguousFormatError, match="claim_a, claim_b"):
        choose_reader(p)
    assert choose_reader(p, reader="claim_b").name == "claim_b"


def test_higher_priority_wins_deterministically(tmp_path):
    for cls in (_A, _B, _C):
        register_reader(cls)
    p = tmp_path / "f.zz"
    p.write_bytes(b"ZZ data")
    assert [choose_reader(p).name for _ in range(3)] == ["claim_c"] * 3


def test_readers_that_cannot_outrank_a_claimant_are_not_asked(tmp_path):
    asked: list[str] = []

    class _Counting(_A):
        def sniff(self, head: bytes) -> bool:
            asked.append(self.name)
            return super().sniff(head)

    class _Low(_Counting):
        name: ClassVar[str] = "claim_low"
        priority: ClassVar[int] = 0

    class _High(_Counting):
        name: ClassVar[str] = "claim_high"
        priority: ClassVar[int] = 5

    for cls in (_Low, _High):
        register_reader(cls)
    p = tmp_path / "f.zz"
    p.write_bytes(b"ZZ data")
    assert choose_reader(p).name == "claim_high" and asked == ["claim_high"]
    asked.clear()
    q = tmp_path / "g.zz"
    q.write_bytes(b"other")  # the high one says no: the low one is asked next
    with pytest.raises(UnknownFormatError):
        choose_reader(q)
    assert asked[:2] == ["claim_high", "claim_low"]


def test_a_sniff_that_raises_counts_as_no(tmp_path):
    register_reader(_Raising)
    p = tmp_path / "f.zz"
    p.write_bytes(b"ZZ data")
    with pytest.raises(UnknownFormatError):
        choose_reader(p)
