import pytest

from sidkit.core import (
    CorruptFileError,
    DimensionMismatchError,
    MissingDependencyError,
    PluginError,
    SidkitError,
    TruncatedFileError,
    UnknownFormatError,
    require,
)


@pytest.mark.parametrize(("cls", "builtin"), [
    (UnknownFormatError, ValueError), (CorruptFileError, ValueError),
    (TruncatedFileError, CorruptFileError), (MissingDependencyError, ImportError),
    (PluginError, RuntimeError), (DimensionMismatchError, ValueError),
])
def test_every_error_is_a_sidkit_error_and_the_expected_builtin(cls, builtin):
    assert issubclass(cls, SidkitError) and issubclass(cls, builtin)


def test_file_error_names_file_and_reader():
    err = TruncatedFileError("/data/scan.mrc", "mrc", "expected 400 bytes, found 12")
    assert str(err) == "/data/scan.mrc: reader 'mrc': expected 400 bytes, found 12"
    assert err.path == "/data/scan.mrc" and err.reader == "mrc"


def test_require_names_the_extra_to_install():
    with pytest.raises(MissingDependencyError) as err:
        require("sidkit_no_such_module", extra="dm", package="sidkit-readers", reader="dm")
    assert "pip install 'sidkit-readers[dm]'" in str(err.value) and "reader 'dm'" in str(err.value)


def test_require_returns_the_module():
    assert require("json").dumps([1]) == "[1]"
