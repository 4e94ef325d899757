"""One axis of a :class:`~sidkit.core.Dataset`: its name, coordinate values,
physical quantity, units and kind."""

from __future__ import annotations

from typing import Any

import numpy as np

from .enums import DimensionType
from .errors import DimensionMismatchError

__all__ = ["Dimension"]


class Dimension:
    """A named, calibrated axis.

    Parameters
    ----------
    name : str
        Short name as a microscopist writes it: ``"x"``, ``"energy_loss"``.
    values : int or array_like
        Coordinate of every element along the axis (1-D), or a length, which
        gives index values ``0, 1, ..., n - 1``.
    quantity : str, default "generic"
        Physical quantity, e.g. ``"length"``, ``"energy"``.
    units : str, default "a.u."
        Units of ``values``, e.g. ``"nm"``, ``"eV"``, ``"1/nm"``.
    dimension_type : DimensionType or str, default DimensionType.UNKNOWN
        What the axis measures; names are accepted in any case.

    Examples
    --------
    >>> Dimension("x", np.arange(4) * 0.1, quantity="length", units="nm",
    ...           dimension_type="spatial")
    Dimension('x', 4 values 0 .. 0.3 nm, SPATIAL)
    """

    __slots__ = ("name", "values", "quantity", "units", "dimension_type", "_parts")

    def __init__(
        self,
        name: str,
        values: Any,
        *,
        quantity: str = "generic",
        units: str = "a.u.",
        dimension_type: DimensionType | str = DimensionType.UNKNOWN,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise DimensionMismatchError(f"a dimension name must be a non-empty str, got {name!r}")
        if np.ndim(values) == 0:
            n = int(values)
            if n < 0:
                raise DimensionMismatchError(f"dimension '{name}': length {n} is negative")
            arr = np.arange(n, dtype=float)
        else:
            arr = np.asarray(values)
            if arr.ndim != 1:
                raise DimensionMismatchError(
                    f"dimension '{name}': values must be 1-D, got shape {arr.shape}"
                )
        arr = arr.copy()
        arr.flags.writeable = False
        self.name = name
        self.values = arr
        self.quantity = str(quantity)
        self.units = str(units)
        self.dimension_type = DimensionType.coerce(dimension_type)
        # the dims this one was made from by Dataset.fold(), for unfold()
        self._parts: tuple[Dimension, ...] = ()

    # -- construction helpers -------------------------------------------------
    @classmethod
    def linear(
        cls,
        name: str,
        size: int,
        *,
        scale: float = 1.0,
        offset: float = 0.0,
        **kwargs: Any,
    ) -> Dimension:
        """A uniformly spaced axis: ``offset + scale * arange(size)``."""
        return cls(name, offset + scale * np.arange(int(size), dtype=float), **kwargs)

    def replace(self, **changes: Any) -> Dimension:
        """Return a copy with some fields changed (``name=``, ``values=``, ...)."""
        fields = {
            "name": self.name,
            "values": self.values,
            "quantity": self.quantity,
            "units": self.units,
            "dimension_type": self.dimension_type,
        }
        fields.update(changes)
        name = fields.pop("name")
        values = fields.pop("values")
        out = Dimension(name, values, **fields)
        out._parts = self._parts
        return out

    def copy(self) -> Dimension:
        """Return an independent copy."""
        return self.replace()

    # -- properties -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.values)

    @property
    def size(self) -> int:
        """Number of elements along the axis."""
        return len(self.values)

    @property
    def is_uniform(self) -> bool:
        """True when the values are evenly spaced (relative tolerance 1e-6)."""
        v = self.values
        if v.size < 3 or not np.issubdtype(v.dtype, np.number):
            return v.size >= 1 and np.issubdtype(v.dtype, np.number)
        d = np.diff(v.astype(float))
        return bool(np.allclose(d, d[0], rtol=1e-6, atol=1e-12 * max(1.0, abs(float(d[0])))))

    @property
    def scale(self) -> float:
        """Step between neighbouring values (``values[1] - values[0]``; 1 for a
        single value; NaN for labels, which have no step)."""
        if self.values.dtype.kind not in "biuf":
            return float("nan")
        if self.values.size < 2:
            return 1.0
        return float(self.values[1] - self.values[0])

    @property
    def offset(self) -> float:
        """First value (0 for an empty axis; NaN for labels)."""
        if self.values.dtype.kind not in "biuf":
            return float("nan")
        return float(self.values[0]) if self.values.size else 0.0

    def index_of(self, value: float, method: str | None = None) -> int:
        """Index of ``value`` along the axis.

        Parameters
        ----------
        value : float
            Coordinate in the dimension's units.
        method : {None, "nearest"}
            ``None`` requires an exact match (to within 1e-9 of the step);
            ``"nearest"`` takes the closest value.
        """
        v = self.values
        if v.size == 0:
            raise KeyError(f"dimension '{self.name}' is empty")
        distance = np.abs(v.astype(float) - float(value))
        i = int(np.argmin(distance))
        if method is None:
            tol = 1e-9 * max(abs(self.scale), 1e-300) if v.size > 1 else 1e-12
            if distance[i] > tol:
                raise KeyError(
                    f"{value!r} is not a value of dimension '{self.name}'; "
                    "use method='nearest' to take the closest one"
                )
        elif method != "nearest":
            raise ValueError(f"method must be None or 'nearest', got {method!r}")
        return i

    # -- comparison, serialisation, display ----------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dimension):
            return NotImplemented
        return (
            self.name == other.name
            and self.quantity == other.quantity
            and self.units == other.units
            and self.dimension_type == other.dimension_type
            and self.values.shape == other.values.shape
            and bool(np.array_equal(self.values, other.values))
        )

    def __hash__(self) -> int:
        return hash((self.name, self.units, self.dimension_type, self.values.size))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (values as a list)."""
        return {
            "name": self.name,
            "values": self.values.tolist(),
            "quantity": self.quantity,
            "units": self.units,
            "dimension_type": self.dimension_type.name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dimension:
        """Inverse of :meth:`to_dict`."""
        return cls(
            d["name"],
            np.asarray(d["values"]),
            quantity=d.get("quantity", "generic"),
            units=d.get("units", "a.u."),
            dimension_type=d.get("dimension_type", DimensionType.UNKNOWN),
        )

    def describe(self) -> str:
        """One-line summary: size, range and units."""
        v = self.values
        if v.size == 0:
            rng = "empty"
        elif np.issubdtype(v.dtype, np.number):
            rng = f"{v.size} values {v[0]:.4g} .. {v[-1]:.4g}"
        else:
            rng = f"{v.size} values {v[0]!s} .. {v[-1]!s}"
        return f"{rng} {self.units}".rstrip()

    def __repr__(self) -> str:
        return f"Dimension({self.name!r}, {self.describe()}, {self.dimension_type.name})"
