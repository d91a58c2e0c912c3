"""Where to set what an error line says is missing, when the tap runs under Meltano.

Under Meltano (which sets MELTANO_PROJECT_ROOT for the plugins it runs) a setting comes from
`meltano.yml`, `.env` or the environment, never from a file the user edits by hand, so a line
naming a missing setting also names its environment variable:

    auth.client_secret is required with client_auth_method client_secret_basic (...)
    (under Meltano: set TAP_RESTOAUTH_AUTH_CLIENT_SECRET, e.g. in .env)
"""

from __future__ import annotations

import os
import re

_MISSING = (
    re.compile(r"^(?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*) is required\b"),
    re.compile(r"'(?P<name>[a-z][a-z0-9_]*)' is a required property"),
)


def env_var(setting: str) -> str:
    """Meltano's environment variable for a (dotted) setting of this tap."""
    return "TAP_RESTOAUTH_" + re.sub(r"[^A-Z0-9]", "_", setting.upper())


def explain(message: str, environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    """`message`, with the environment variable of the missing setting it names under Meltano."""
    if not environ.get("MELTANO_PROJECT_ROOT"):
        return message
    for pattern in _MISSING:
        found = pattern.search(message)
        if found:
            return f"{message} (under Meltano: set {env_var(found['name'])}, e.g. in .env)"
    return message
