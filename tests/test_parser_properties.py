"""Property tests (Hypothesis, derandomized) for every parser of untrusted input issue 18 names.

Arbitrary bytes and JSON structures go into token-response parsing, stored tokens and lease
annotations, STATE bookmarks, template values placed in headers, and the message exit
(`redaction.clean`). Each asserts: only the tap's own error types escape, and no secret
appears in what comes out. Each example has a deadline, so a parser that turned quadratic
would fail here; speed itself is measured in benchmarks/, not asserted.
"""

from __future__ import annotations

import datetime as dt
import math
import string
import time
import typing as t

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_restoauth.auth.credential import credential_problem
from tap_restoauth.auth.lease import SecretManagerLease
from tap_restoauth.auth.methods import TokenEndpointError, check_token
from tap_restoauth.auth.token_response import MAX_LIFETIME_SECONDS, TokenShape, finite_number, seconds_until
from tap_restoauth.auth.token_store import StoredToken
from tap_restoauth.errors import ApiError, ConfigError, SecretError, TapRestOAuthError
from tap_restoauth.fetch import templates
from tap_restoauth.http import limits, redaction
from tap_restoauth.sync.bookmarks import check_bookmark
from tap_restoauth.sync.state_file import _shape_problem

PROPERTIES = settings(
    derandomize=True,
    max_examples=200,
    deadline=dt.timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**500), max_value=10**500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=80)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8,
)
token_like_keys = st.sampled_from(["access_token", "expires_in", "expires_at", "refresh_token", "data", "x"])
token_payloads = st.dictionaries(token_like_keys, json_values, max_size=5)
# Secrets as tokens look, with characters whose encodings differ (space, +, /, =, %, ", \, é).
secrets_text = st.text(
    alphabet=string.ascii_letters + string.digits + ' +/=%"\\é-_.~', min_size=8, max_size=40
)


@PROPERTIES
@given(payload=token_payloads)
def test_token_response_parsing_raises_only_the_taps_errors(payload):
    shape = TokenShape(expires_at_path="expires_at", default_expires_in_seconds=None)
    shape.check_token_shape()
    try:
        fields = shape.read_token_response(payload)
    except TapRestOAuthError:
        return
    if fields is not None:
        assert isinstance(fields.access_token, str)
        lifetime = fields.lifetime
        assert lifetime is None or (math.isfinite(lifetime) and 0 < lifetime <= MAX_LIFETIME_SECONDS)


@PROPERTIES
@given(
    body=st.binary(max_size=300) | json_values.map(lambda v: msgspec.json.encode(v) if _encodable(v) else b"")
)
def test_token_response_bytes_decode_or_fail_typed(body):
    try:
        payload = limits.decode(body)
    except (limits.BadDocument, msgspec.DecodeError):
        return
    if isinstance(payload, dict):
        test_token_response_parsing_raises_only_the_taps_errors.hypothesis.inner_test(payload)


def _encodable(value: t.Any) -> bool:
    try:
        msgspec.json.encode(value)
    except (TypeError, OverflowError, ValueError):
        return False
    return True


@PROPERTIES
@given(value=json_values)
def test_expiry_numbers_are_finite_or_absent(value):
    number = finite_number(value)
    assert number is None or math.isfinite(number)
    seconds = seconds_until(value)
    assert seconds is None or math.isfinite(seconds)


@PROPERTIES
@given(secret=st.text(max_size=80).map(lambda text: "SECRET-" + text))
def test_a_received_credential_is_refused_typed_without_its_value(secret):
    try:
        check_token(secret, "access_token", source="the token endpoint https://id.example.com")
    except TokenEndpointError as exc:
        assert secret not in str(exc)
        assert credential_problem(secret) is not None
    else:
        secret.encode("latin-1")  # what went through fits a header


@PROPERTIES
@given(
    text=st.text(max_size=200)
    | json_values.map(lambda v: msgspec.json.encode(v).decode() if _encodable(v) else "")
)
def test_stored_tokens_decode_or_fail_typed(text):
    try:
        stored = StoredToken.decode(text)
    except SecretError as exc:
        assert len(str(exc)) < 300
        return
    for token in (stored.refresh_token, stored.access_token):
        assert token is None or credential_problem(token) is None
    for number in (stored.expires_at, stored.expires_in):
        assert number is None or math.isfinite(number)
    if stored.expires_at is not None:
        assert stored.expires_at <= time.time() + MAX_LIFETIME_SECONDS + 1


class _Lease:
    seconds = 60.0


@PROPERTIES
@given(annotation=st.none() | st.text(max_size=80) | st.floats().map(repr) | st.integers().map(str))
def test_lease_annotations_are_a_time_within_the_lease_or_expired(annotation):
    now = time.time()
    end = SecretManagerLease.lease_end(_Lease(), annotation, now)  # type: ignore[arg-type]
    assert end is None or (math.isfinite(end) and end <= now + 60 + 30)


@PROPERTIES
@given(value=json_values, timestamp=st.booleans())
def test_bookmarks_are_typed_or_one_line(value, timestamp):
    try:
        check_bookmark(value, timestamp=timestamp, stream="users")
    except ConfigError as exc:
        assert str(exc).startswith("users: ") and "\n" not in str(exc)
        return
    if timestamp and value is not None:
        dt.datetime.fromisoformat(value.strip())


@PROPERTIES
@given(
    state=json_values
    | st.fixed_dictionaries({"bookmarks": st.dictionaries(st.text(max_size=5), json_values, max_size=3)})
)
def test_state_shapes_are_checked_without_raising(state):
    problem = _shape_problem(state)
    assert problem is None or isinstance(problem, str)


@PROPERTIES
@given(value=json_values, encoded=st.booleans())
def test_values_placed_in_headers_are_sent_clean_or_refused_typed(value, encoded):
    known = templates.Known(parent_fields={"name": "parent_name"})
    header = templates.parse("v={parent.name" + (":url" if encoded else "") + "}", "x", known)
    values = templates.Values(context={"parent_name": value})
    try:
        rendered = templates.render_headers({"X-Value": header}, values, "kids")
    except ApiError as exc:
        assert len(str(exc)) < 400
        return
    sent = rendered.get("X-Value")
    if sent is not None:
        assert templates.header_value_problem(sent) is None
        sent.encode("latin-1")


def _forms(secret: str) -> set[str]:
    return {form for form in redaction.encodings(secret) if len(form) >= 4}


@PROPERTIES
@given(
    secret=secrets_text,
    before=st.text(max_size=300),
    after=st.text(max_size=300),
    form=st.integers(min_value=0, max_value=20),
    limit=st.integers(min_value=20, max_value=600),
)
def test_the_message_exit_masks_strips_and_caps(secret, before, after, form, limit):
    redaction.register_token(secret)
    forms = sorted(_forms(secret))
    placed = forms[form % len(forms)]
    shown = redaction.clean(before + placed + after, limit)
    assert not any(char in shown for char in "\r\n\x00\x1b\x85\u2028")
    assert len(shown) <= limit + len("... [ more characters cut]") + 7
    for each in forms:
        assert each not in shown, (each, shown)
