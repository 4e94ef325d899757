"""The model plugin interface (entry-point group ``sidkit.models``).

A lab publishes a trained or trainable model as a package that declares::

    [project.entry-points."sidkit.models"]
    my_model = "mylab.models:MyModel"

where ``MyModel`` subclasses :class:`Model` (or provides the same attributes and
methods). :func:`models` lists the installed ones, :func:`get_model` returns a
class by name and :func:`load_model` reopens a saved model whatever its class,
from the ``"model"`` field of its model card.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from sidkit.core import Dataset, PluginError, UnknownFormatError, plugins

from .card import read_model_card

__all__ = ["Model", "MODELS", "models", "get_model", "load_model"]

#: Entry-point group of model plugins.
MODELS = "sidkit.models"

_PROTOCOL = ("fit", "predict", "save", "load")


class Model:
    """Base class of sidkit models.

    Subclasses set :attr:`name` (the entry-point name) and implement the four
    methods. A saved model is a folder holding ``model_card.json`` (whose
    ``"model"`` field is :attr:`name`) and whatever weights the model needs,
    stored without pickle.

    Attributes
    ----------
    name : str
        Lower-case registry name, e.g. ``"atom_segmenter"``.
    description : str
        One line for ``sidkit plugins``.
    extra : str or None
        Extra of :attr:`package` that installs what the model needs to run.
    package : str
        Distribution providing the model.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    extra: ClassVar[str | None] = None
    package: ClassVar[str] = ""

    def fit(self, images: Any, masks: Any, *, epochs: int = 10, **options: Any) -> Model:
        """Train on ``images`` with target ``masks``; returns ``self``."""
        raise NotImplementedError

    def predict(self, image: Dataset, **options: Any) -> Dataset:
        """Apply the model to ``image``; returns a Dataset with the image's dims."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model (weights and model card) to the folder ``path``."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> Model:
        """Read a model written by :meth:`save`."""
        raise NotImplementedError


def _check_protocol(name: str, obj: Any) -> None:
    missing = [m for m in _PROTOCOL if not callable(getattr(obj, m, None))]
    if not isinstance(obj, type) or missing or not isinstance(getattr(obj, "name", None), str):
        detail = f"misses {', '.join(missing)}" if missing else "is not a class with a str 'name'"
        raise PluginError(
            f"model plugin '{name}' ({obj!r}) does not follow the sidkit.models protocol: "
            f"it {detail}; a model class needs name, fit, predict, save and load"
        )


def models() -> dict[str, type]:
    """Every working model class in the ``sidkit.models`` group, by name.

    Broken plugins (failing to import, or not following the protocol) are
    left out; ``sidkit plugins`` shows them with the reason.
    """
    out: dict[str, type] = {}
    for info in plugins(MODELS):
        obj = info.try_load()
        if obj is None:
            continue
        try:
            _check_protocol(info.name, obj)
        except PluginError:
            continue
        out[info.name] = obj
    return out


def get_model(name: str) -> type:
    """The model class registered as ``name``.

    Raises
    ------
    UnknownFormatError
        No model has that name; the message lists those installed.
    PluginError
        The model is installed but fails to import or to follow the protocol.
    """
    found = {info.name: info for info in plugins(MODELS)}
    key = name.lower()
    if key not in found:
        names = ", ".join(sorted(found)) or "none installed"
        raise UnknownFormatError(f"no model named '{name}'; available: {names}")
    obj = found[key].load()
    _check_protocol(key, obj)
    return obj


def load_model(path: str | os.PathLike[str], **options: Any) -> Model:
    """Open a saved model of any installed model class.

    Parameters
    ----------
    path : str or os.PathLike
        Folder written by a model's ``save``.
    **options
        Passed to the class's ``load`` (e.g. ``device=``).

    Returns
    -------
    Model

    Raises
    ------
    SidkitFileNotFoundError
        There is no model card at ``path``.
    CorruptFileError
        The model card is not valid.
    UnknownFormatError
        The card names a model class that is not installed.
    """
    card = read_model_card(path)
    cls = get_model(card["model"])
    return cls.load(path, **options)
