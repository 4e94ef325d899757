import pytest

from sidkit.core.atomic import replace_atomically


def test_success_replaces_target(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with replace_atomically(target) as tmp:
        assert tmp != target and not tmp.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


def test_failure_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replace_atomically(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_append_mode_starts_from_a_copy(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with replace_atomically(target, mode="a") as tmp:
        assert tmp.read_text() == "old"
        with open(tmp, "a") as fh:
            fh.write("+new")
    assert target.read_text() == "old+new"


def test_interrupt_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with replace_atomically(target, mode="a") as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
