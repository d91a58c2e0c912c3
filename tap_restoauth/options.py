"""Build typed dataclasses from config mappings, with errors that name the setting.

Auth types and paginators are dataclasses whose init fields are their options; a
registry maps each config `type` to its class, so adding one is a single class. A field
declared with `declare.setting` (settings.py) is also checked against its bound, read
from its own key, and, when it is an object another module parses (`of=`), kept as written.
"""

from __future__ import annotations

import dataclasses
import decimal
import types
import typing as t
from collections.abc import Mapping

from tap_restoauth.declare import METADATA_KEY, Setting, type_hints
from tap_restoauth.errors import ConfigError

T = t.TypeVar("T")


def build(cls: type[T], options: Mapping[str, t.Any], where: str, *, ignore: set[str]) -> T:
    """Instantiate dataclass `cls` from `options`, checking names and simple types.

    `ignore` lists keys handled by the caller (such as `type`); `where` is the key of the
    object (empty at the top level).
    """
    fields = {_key(f): f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(fields) - ignore)
    if unknown:
        allowed = ", ".join(sorted(fields)) or "none"
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)} (allowed: {allowed})")
    hints = type_hints(t.cast("type", cls))
    kwargs: dict[str, t.Any] = {}
    for key, field in fields.items():
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        value = options.get(key)
        named = f"{where}.{key}" if where else key
        if value is None:
            if required:
                raise ConfigError(f"{named} is required")
            continue
        declared: Setting | None = field.metadata.get(METADATA_KEY)
        if declared is not None and declared.of is not None:
            kwargs[field.name] = value  # parsed by the module owning `declared.of`
            continue
        kwargs[field.name] = coerce(value, hints[field.name], named)
        if declared is not None:
            check_bounds(kwargs[field.name], declared, named, value)
    return cls(**kwargs)


def _key(field: dataclasses.Field[t.Any]) -> str:
    declared: Setting | None = field.metadata.get(METADATA_KEY)
    return declared.name(field) if declared is not None else field.name


def check_bounds(value: t.Any, declared: Setting, where: str, written: t.Any) -> None:
    """A number's declared bound (`at_least`, `above`), reported with the value as written."""
    if declared.at_least is not None and value < declared.at_least:
        raise ConfigError(f"{where}: expected a number at least {declared.at_least:g}, got {written!r}")
    if declared.above is not None and value <= declared.above:
        raise ConfigError(f"{where}: expected a number greater than {declared.above:g}, got {written!r}")


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


_PLAIN_NAMES = {bool: "true or false", str: "a string", int: "an integer", float: "a number"}


def _describe(hint: t.Any) -> str:
    """The expected type as the user writes it in JSON or YAML."""
    if hint in _PLAIN_NAMES:
        return _PLAIN_NAMES[hint]
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
