"""Config fields read from a file, checked one by one: a config.json of the wrong shape or
types is a clear error naming the field, never a traceback from deep inside a model."""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing

# ints that size a model: positive (a zero or negative width, depth or patch is no model)
_NON_NEGATIVE = {"version"}


def _check_value(name: str, kind, value, what: str):
    """`value` as field `name` of type `kind` wants it, or a ValueError naming it."""
    origin = typing.get_origin(kind)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{what} field {name!r} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{what} field {name!r} must be an integer, got {value!r}")
        if value < 0 or (value == 0 and name not in _NON_NEGATIVE):
            raise ValueError(f"{what} field {name!r} must be positive, got {value!r}")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{what} field {name!r} must be a finite number, got {value!r}")
        return float(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"{what} field {name!r} must be a non-empty list, got {value!r}")
        return tuple(_check_value(f"{name}[{i}]", typing.get_args(kind)[0], v, what) for i, v in enumerate(value))
    return value


def config_from_dict(cls, data, what: str):
    """An instance of the frozen dataclass `cls` from `data` (a dict from JSON): unknown
    fields, wrong types and non-positive sizes are refused field by field; missing fields
    take their defaults; the class's own checks then run."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} config must be an object of fields, got {type(data).__name__}")
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} config fields {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _check_value(name, hints[name], value, what) for name, value in data.items()})


__all__ = ["config_from_dict"]
