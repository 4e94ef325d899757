"""Enumerations of dimension kinds and dataset kinds.

The member names and values are those of sidpy, so that NSID files written by
pyNSID and by sidkit agree. Both enums accept their names as strings, in any
case, wherever a sidkit argument takes them: ``DimensionType("spatial")``.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["DimensionType", "DataType"]


class _NamedEnum(Enum):
    """An Enum that also accepts its member names, case-insensitively."""

    @classmethod
    def _missing_(cls, value: object):  # type: ignore[override]
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            if key.startswith(cls.__name__.upper() + "."):
                key = key[len(cls.__name__) + 1 :]
            aliases = getattr(cls, "_aliases", {})
            key = aliases.get(key, key)
            if key in cls.__members__:
                return cls.__members__[key]
            try:
                return cls(int(key))
            except ValueError:
                pass
        return None

    @classmethod
    def coerce(cls, value: object):
        """Return the member for a member, name (any case) or value.

        Raises
        ------
        ValueError
            ``value`` names no member; the message lists the valid names.
        """
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(m.name.lower() for m in cls)
            raise ValueError(
                f"{value!r} is not a {cls.__name__}; use one of: {names}"
            ) from None

    def __str__(self) -> str:
        return self.name


class DimensionType(_NamedEnum):
    """What a dimension measures: where, in which direction of k-space, at
    which energy or time, or which channel."""

    UNKNOWN = -1
    SPATIAL = 1
    RECIPROCAL = 2
    SPECTRAL = 3
    TEMPORAL = 4
    CHANNEL = 5


DimensionType._aliases = {"SPACE": "SPATIAL", "TIME": "TEMPORAL", "ENERGY": "SPECTRAL"}  # type: ignore[attr-defined]


class DataType(_NamedEnum):
    """What a whole dataset is, which decides how it is plotted and stored."""

    UNKNOWN = -1
    SPECTRUM = 1
    LINE_PLOT = 2
    LINE_PLOT_FAMILY = 3
    IMAGE = 4
    IMAGE_MAP = 5
    IMAGE_STACK = 6
    SPECTRAL_IMAGE = 7
    IMAGE_4D = 8
    POINT_CLOUD = 9


DataType._aliases = {"4D_STEM": "IMAGE_4D", "FOURD_STEM": "IMAGE_4D", "STACK": "IMAGE_STACK"}  # type: ignore[attr-defined]
