"""Build typed dataclasses from config mappings, with errors that name the setting.

Auth types and paginators are dataclasses whose init fields are their options; a
registry maps each config `type` to its class, so adding one is a single class.
"""

from __future__ import annotations

import dataclasses
import decimal
import types
import typing as t
from collections.abc import Mapping

from tap_restoauth.errors import ConfigError

T = t.TypeVar("T")


def build(cls: type[T], options: Mapping[str, t.Any], where: str, *, ignore: set[str]) -> T:
    """Instantiate dataclass `cls` from `options`, checking names and simple types.

    `ignore` lists keys handled by the caller (such as `type`).
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(fields) - ignore)
    if unknown:
        allowed = ", ".join(sorted(fields)) or "none"
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)} (allowed: {allowed})")
    hints = t.get_type_hints(cls)
    kwargs: dict[str, t.Any] = {}
    for name, field in fields.items():
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        value = options.get(name)
        if value is None:
            if required:
                raise ConfigError(f"{where}.{name} is required")
            continue
        kwargs[name] = coerce(value, hints[name], f"{where}.{name}")
    return cls(**kwargs)


def coerce(value: t.Any, hint: t.Any, where: str) -> t.Any:
    origin = t.get_origin(hint)
    if origin in (t.Union, types.UnionType):
        choices = [arg for arg in t.get_args(hint) if arg is not type(None)]
        for choice in choices:
            try:
                return coerce(value, choice, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_describe(hint)}, got {type(value).__name__}")
    if origin is t.Literal:
        allowed = t.get_args(hint)
        if value not in allowed:
            shown = repr(value) if isinstance(value, str) and len(value) <= 40 else type(value).__name__
            raise ConfigError(f"{where}: expected one of {', '.join(map(str, allowed))}, got {shown}")
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = t.get_args(hint)[:1] or (t.Any,)
        return tuple(coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected an object, got {type(value).__name__}")
        return dict(value)
    if hint is t.Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif hint is float:
        # The SDK parses fractional numbers in config files as Decimal.
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where}: expected {_describe(hint)}, got {type(value).__name__}")


def _describe(hint: t.Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
