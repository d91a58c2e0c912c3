"""What any credential must be before it goes into a header: checked without showing it.

A token, key or password is put in a header (``Authorization: Bearer <token>``): it
must not contain control characters (CR/LF would split the header, NUL corrupt it),
must be Latin-1 (what HTTP/1.1 headers carry; anything else fails deep in the HTTP
client with the value in its message), and is at most `MAX_SECRET_CHARS` long (a
10 MB "token" would cost memory and time in every masked line). The same checks
apply to configured secrets, tokens from a token endpoint, and tokens read back from
a token file or Secret Manager.
"""

from __future__ import annotations

import re

from tap_restoauth.http.redaction import MAX_SECRET_CHARS

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def credential_problem(value: str) -> str | None:
    """What is wrong with `value` as a credential (never quoting it), or None."""
    if len(value) > MAX_SECRET_CHARS:
        return f"{len(value)} characters, more than the {MAX_SECRET_CHARS} any credential has"
    if _CONTROL.search(value):
        return "control characters (such as CR or LF), which no valid credential has"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "characters outside Latin-1, which an HTTP header cannot carry"
    return None
