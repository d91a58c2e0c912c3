"""The auth a config names, from every auth type: those of methods.py, grants.py and session.py.

    auth: {type: oauth2_jwt_bearer, token_url: ..., issuer: ..., private_key: sm://...}

Each `Auth` subclass with a `type` registers itself in `methods.AUTH_TYPES` when its module is
imported; this module imports them all, so it is the one place a new auth type's module is
added.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from tap_restoauth import options
from tap_restoauth.auth import grants, session
from tap_restoauth.auth.methods import AUTH_TYPES, Auth
from tap_restoauth.errors import ConfigError

MODULES = (grants, session)  # besides methods: the modules whose auth types register on import


def build_auth(settings: Mapping[str, t.Any] | None) -> Auth:
    """The auth a validated `auth` setting describes (`type: none` when absent)."""
    settings = settings or {"type": "none"}
    if not isinstance(settings, Mapping):
        raise ConfigError("auth: expected an object with a 'type'")
    kind = settings.get("type", "none")
    cls = AUTH_TYPES.get(str(kind))
    if cls is None:
        raise ConfigError(f"auth.type: unknown auth type {kind!r} (known: {', '.join(sorted(AUTH_TYPES))})")
    auth = options.build(cls, cls.normalize_settings(settings), "auth", ignore={"type"})
    auth.register_secrets()
    return auth
