"""Each setting is declared once, in settings.py, and what is declared is what is parsed.

Walks both sides: the declarations behind `--about` (`TapOptions`, the classes its objects
name with `of=`, the auth and paginator types of `VARIANTS`) and the classes that parse
config (`options.build` targets, the registered auth types and paginators). A setting in the
schema that nothing parses, or a field parsed from config that `--about` (so meltano.yml,
the Hub file, docs/settings.md) does not list, fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tap_restoauth import declare, options, settings
from tap_restoauth.auth.methods import AUTH_TYPES
from tap_restoauth.auth.registry import build_auth
from tap_restoauth.auth.secret_manager import SecretSettings
from tap_restoauth.errors import ConfigError
from tap_restoauth.fetch.graphql import GraphqlSettings
from tap_restoauth.fetch.pagination import PAGINATORS
from tap_restoauth.http.ratelimit import RateLimitSettings

PACKAGE = Path(settings.__file__).parent
# What `options.build` builds from a declared object: the declaration itself or a subclass
# adding behaviour (a paginator or auth type's options class: its registered class).
PARSERS: dict[type, type] = {
    **{variant: PAGINATORS[variant.type] for variant in settings.PAGINATION_OPTIONS},
    **{variant: AUTH_TYPES[variant.type] for variant in settings.AUTH_OPTIONS},
    settings.PaginationOptions: settings.PaginationOptions,
    settings.AuthOptions: settings.AuthOptions,
    settings.TapOptions: settings.TapOptions,
    settings.StreamOptions: settings.StreamOptions,
    settings.RateLimitOptions: RateLimitSettings,
    settings.SecretSettings: SecretSettings,
    settings.GraphqlOptions: GraphqlSettings,
    settings.JobOptions: settings.JobOptions,
    settings.ShardOptions: settings.ShardOptions,
    settings.OpenapiOptions: settings.OpenapiOptions,
}


def declarations(cls: type = settings.TapOptions) -> list[type]:
    """`cls` and every class declaring one of its objects (`of=`), depth first."""
    found = [cls, *getattr(cls, "VARIANTS", ())]
    for _, meta in declare.declared(cls).values():
        if meta.of is not None and meta.of not in found:
            found += [c for c in declarations(meta.of) if c not in found]
    return found


def test_the_schema_is_the_declarations_and_nothing_else():
    def walk(cls: type, schema: dict[str, t.Any], where: str) -> None:
        variants = getattr(cls, "VARIANTS", ())
        pairs = [(key, meta) for c in (cls, *variants) for key, (_, meta) in declare.declared(c).items()]
        assert list(schema["properties"]) == list(dict.fromkeys(key for key, _ in pairs)), where
        for key, meta in pairs:
            prop = schema["properties"][key]
            assert bool(prop.get("secret")) == meta.secret == bool(prop.get("writeOnly")), f"{where}.{key}"
            if meta.of is not None:
                walk(meta.of, prop.get("items", prop), f"{where}.{key}")

    walk(settings.TapOptions, declare.object_schema(settings.TapOptions), "config")
    assert set(declarations()) == set(PARSERS)
    # the tap class adds the SDK's own settings (stream_maps...) to the same dict once built
    assert list(settings.CONFIG_SCHEMA["properties"])[: len(declare.declared(settings.TapOptions))] == list(
        declare.declared(settings.TapOptions)
    )


@pytest.mark.parametrize("declaration", list(PARSERS), ids=lambda c: c.__name__)
def test_every_field_parsed_from_config_is_declared(declaration):
    parser = PARSERS[declaration]
    assert issubclass(parser, declaration)
    assert getattr(parser, "type", None) == getattr(declaration, "type", None)
    undeclared = [
        f.name for f in dataclasses.fields(parser) if f.init and declare.METADATA_KEY not in f.metadata
    ]
    assert not undeclared, f"{parser.__name__} parses {undeclared} without declaring them (declare.setting)"


def names_in_code() -> set[str]:
    """Attribute names and string constants of the package, declarations left out."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name in {"settings.py", "declare.py"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


def test_every_declared_setting_is_read_by_the_code():
    used = names_in_code()
    unread = [
        f"{cls.__name__}.{key}"
        for cls in declarations()
        for key, (field, _) in declare.declared(cls).items()
        if field.name not in used and key not in used
    ]
    assert not unread, f"declared in settings.py but read nowhere: {unread}"


@pytest.mark.parametrize("kind", sorted(AUTH_TYPES))
def test_an_auth_types_secrets_are_declared_secret(kind):
    cls = AUTH_TYPES[kind]
    secrets = {field.name for field, meta in declare.declared(cls).values() if meta.secret}
    assert set(cls.secret_fields) <= secrets, f"{cls.__name__}: declare {cls.secret_fields} with secret=True"
    assert not [f.name for f in dataclasses.fields(cls) if f.name in secrets and f.repr], "secrets in repr"


def test_every_paginator_and_auth_type_is_declared():
    assert [variant.type for variant in settings.PAGINATION_OPTIONS] == list(PAGINATORS)
    assert [variant.type for variant in settings.AUTH_OPTIONS] == list(AUTH_TYPES)
    described = settings.CONFIG_SCHEMA["properties"]["pagination"]["properties"]
    assert described["start"]["description"] == "page_number, offset: first page (1) or offset (0)."
    assert described["next_url_path"]["type"] == ["string", "null"]  # required by the parser only


def test_a_key_two_types_declare_differently_is_refused():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Pages:
        type: t.ClassVar[str] = "pages"
        start: int = declare.setting("first page.", fallback=1)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Offsets:
        type: t.ClassVar[str] = "offsets"
        start: int = declare.setting("first offset.", fallback=0)

    with pytest.raises(TypeError, match=r"Offsets\.start is declared unlike"):
        declare.variant_properties([Pages, Offsets])


def test_a_declared_bound_is_checked_naming_the_key():
    base = {"api_url": "https://api.example.com"}
    with pytest.raises(ConfigError, match=r"^max_retries: expected a number at least 0, got -1$"):
        options.build(settings.TapOptions, {**base, "max_retries": -1}, "", ignore=set())
    with pytest.raises(ConfigError, match=r"^openapi.max_depth: expected a number at least 1, got 0$"):
        options.build(
            settings.OpenapiOptions, {"document": "a.yaml", "max_depth": 0}, "openapi", ignore=set()
        )
    spec = options.build(settings.TapOptions, {**base, "timeout": "2.5"}, "", ignore=set())
    assert (spec.timeout, spec.max_retries, spec.auth) == (2.5, 5, None)


def test_an_auth_option_keeps_its_documented_name_and_its_alias():
    for where in ("in", "location"):  # `location`: the field's name, as tap-restoauth-openapi writes it
        auth = build_auth({"type": "api_key", "name": "key", "value": "v", where: "query"})
        assert auth.query_params() == ("key",)
    for where in ("login_url", "token_url"):
        auth = build_auth(
            {"type": "session_token", where: "https://x.example/login", "token_params": {"a": 1}}
        )
        assert auth.token_url == "https://x.example/login"


def test_the_declarations_import_nothing_of_the_tap():
    code = (
        "import sys, tap_restoauth.settings as s; assert s.CONFIG_SCHEMA['properties'];"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tap_restoauth', 'singer_sdk', 'requests', 'msgspec', 'urllib3'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['tap_restoauth', 'tap_restoauth.declare', 'tap_restoauth.settings']"
