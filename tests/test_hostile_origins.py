"""Credentials stay with their origin: a hostile API cannot send the tap's credentials elsewhere.

Two real servers on 127.0.0.1: the API and a "foreign" origin on another port that
records every request byte for byte. Each test runs the real tap as a subprocess and
asserts that no foreign request carried any credential (auth of every type, the
configured header and param, the session cookie) in any encoding, the exit code, the
single error line, that there is no traceback, and that no credential appears in
stdout, stderr or state.
"""

from __future__ import annotations

import ssl
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.errors import ConfigError
from tap_restoauth.http import redaction
from tap_restoauth.http.origins import Hop, OriginPolicy
from tests.helpers import TapRun, run_tap
from tests.origin_servers import (
    AUTH_TYPES,
    COOKIE,
    PARAM_SECRET,
    TENANT_SECRET,
    OriginServer,
    Reply,
    Seen,
    authorized,
    leaks,
    tap_config,
    token_route,
)
from tests.test_tls import make_private_ca


@pytest.fixture
def api() -> t.Iterator[OriginServer]:
    server = OriginServer().start()
    yield server
    server.stop()


@pytest.fixture
def foreign() -> t.Iterator[OriginServer]:
    server = OriginServer().start()
    server.route("/items", Reply(200, {"data": [{"id": 2}]}))
    server.route("/landing", Reply(200, {"data": [{"id": 3}]}))
    server.route("/oauth/token", token_route("AT-foreign-token"))
    yield server
    server.stop()


def serve_api(api: OriginServer, kind: str, first_page: t.Callable[[Seen], Reply]) -> None:
    """The API: a token endpoint, and /items answering 401 without the credential of `kind`."""
    api.route("/oauth/token", token_route())

    def items(seen: Seen) -> Reply:
        if not authorized(kind, seen) or seen.headers.get("x-tenant-secret") != TENANT_SECRET:
            return Reply(401, {"error": "unauthorized"})
        reply = first_page(seen)
        reply.headers.setdefault("Set-Cookie", f"session={COOKIE}; Path=/")
        return reply

    api.route("/items", items)


def next_page(style: str, foreign: OriginServer) -> tuple[dict[str, t.Any], t.Callable[[Seen], Reply]]:
    """The pagination setting and the API's first page pointing at the foreign origin."""
    target = f"{foreign.url}/items?page=2"
    if style == "next_url":
        return {"type": "next_url", "next_url_path": "$.next"}, lambda _: Reply(
            200, {"data": [{"id": 1}], "next": target}
        )
    if style == "link_header":
        return {"type": "link_header"}, lambda _: Reply(
            200, {"data": [{"id": 1}]}, {"Link": f'<{target}>; rel="next"'}
        )

    def cursor_page(seen: Seen) -> Reply:
        if "cursor" in seen.query:
            return Reply(200, {"data": [], "meta": {"next": None}})
        return Reply(200, {"data": [{"id": 1}], "meta": {"next": target}})

    return {"type": "cursor", "cursor_path": "$.meta.next"}, cursor_page


def assert_clean(run: TapRun, *servers: OriginServer, state: str = "") -> None:
    """No traceback, and no credential in any encoding in stdout, stderr or state."""
    assert "Traceback" not in run.stderr
    assert not leaks(run.stdout + run.stderr + state), leaks(run.stdout + run.stderr + state)


def assert_foreign_got_no_credential(foreign: OriginServer) -> None:
    for seen in foreign.hits():
        assert "authorization" not in seen.headers and "cookie" not in seen.headers, seen.raw
        assert not leaks(seen.raw), (leaks(seen.raw), seen.raw)


def assert_one_error(run: TapRun) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    lines = run.error_lines()
    assert len(lines) == 1, run.stderr[-2000:]
    return lines[0]


# The refusal comes before any request, whatever the auth: every auth type once (what each could
# leak differs), the other two pagination styles with a header and a query credential.
NEXT_PAGE_CASES = [
    *((kind, "next_url") for kind in AUTH_TYPES),
    ("bearer", "link_header"),
    ("api_key_query", "link_header"),
    ("bearer", "cursor_url"),
    ("api_key_query", "cursor_url"),
]


@pytest.mark.parametrize(("kind", "style"), NEXT_PAGE_CASES)
def test_next_page_on_another_origin_is_refused_before_any_request(api, foreign, tmp_path, kind, style):
    pagination, first_page = next_page(style, foreign)
    serve_api(api, kind, first_page)
    run = run_tap(tmp_path, tap_config(api, kind, {"pagination": pagination}))

    assert_clean(run)
    assert not foreign.hits()  # nothing at all was sent there
    if style == "cursor_url":
        # A cursor is opaque: it goes back to the API as a parameter, never followed as a URL.
        assert run.returncode == 0, run.stderr[-2000:]
        assert [seen.query.get("cursor") for seen in api.hits("/items")] == [
            None,
            f"{foreign.url}/items?page=2",
        ]
        return
    line = assert_one_error(run)
    assert f"refused to send a request to {foreign.url}:" in line
    assert f"not the API's origin ({api.url})" in line
    assert "trusted_origins" in line
    assert "page=2" not in line
    assert run.records("items") == [{"id": 1}]  # the API's own page was emitted, nothing else


@pytest.mark.parametrize("kind", AUTH_TYPES)
def test_trusted_origins_receive_the_next_page_request_with_credentials(api, foreign, tmp_path, kind):
    pagination, first_page = next_page("next_url", foreign)
    serve_api(api, kind, first_page)
    config = tap_config(api, kind, {"pagination": pagination}, trusted_origins=[foreign.url])
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr[-2000:]
    assert_clean(run)
    assert run.records("items") == [{"id": 1}, {"id": 2}]
    (seen,) = foreign.hits("/items")
    assert authorized(kind, seen)  # trusted: the same credentials as the API gets
    assert seen.headers.get("x-tenant-secret") == TENANT_SECRET


def test_stream_path_on_another_origin_is_refused(api, foreign, tmp_path):
    serve_api(api, "bearer", lambda _: Reply(200, {"data": [{"id": 1}]}))
    config = tap_config(api, "bearer", {"path": f"{foreign.url}/items"})
    run = run_tap(tmp_path, config)

    line = assert_one_error(run)
    assert f"refused to send a request to {foreign.url}:" in line and "trusted_origins" in line
    assert_clean(run)
    assert not foreign.hits() and not run.records("items")


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        *((kind, 302 if index % 2 else 307) for index, kind in enumerate(AUTH_TYPES)),
        ("api_key_query", 302),
        ("oauth2_client_credentials", 307),
    ],
)
def test_api_redirect_to_another_origin_is_followed_without_any_credential(
    api, foreign, tmp_path, kind, status
):
    # The Location even repeats the credential parameters: they are removed before the hop.
    location = f"{foreign.url}/landing?api_key=stolen&access_key={PARAM_SECRET}&keep=1"
    serve_api(api, kind, lambda _: Reply(status, {}, {"Location": location}))
    run = run_tap(tmp_path, tap_config(api, kind, {}))

    assert run.returncode == 0, run.stderr[-2000:]
    assert_clean(run)
    assert run.records("items") == [{"id": 3}]
    (seen,) = foreign.hits("/landing")
    assert_foreign_got_no_credential(foreign)
    # Removed: the api_key parameter (only when it is the auth's) and the configured param.
    expected = {"keep": "1"} if kind == "api_key_query" else {"api_key": "stolen", "keep": "1"}
    assert seen.query == expected
    assert "x-tenant-secret" not in seen.headers


def test_api_redirect_within_the_origin_keeps_the_credentials(api, tmp_path):
    serve_api(api, "bearer", lambda _: Reply(200, {"data": [{"id": 1}]}))
    api.route("/old-items", Reply(301, {}, {"Location": "/items"}))
    run = run_tap(tmp_path, tap_config(api, "bearer", {"path": "/old-items"}))

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("items") == [{"id": 1}]
    assert authorized("bearer", api.hits("/items")[0])


def test_post_redirected_307_to_another_origin_is_refused(api, foreign, tmp_path):
    serve_api(api, "bearer", lambda _: Reply(307, {}, {"Location": f"{foreign.url}/landing?q=1"}))
    run = run_tap(tmp_path, tap_config(api, "bearer", {"method": "POST", "body": {"query": "x"}}))

    line = assert_one_error(run)
    assert f"HTTP 307 redirect from {api.url} to {foreign.url}" in line
    assert "would re-send the request body" in line and "q=1" not in line
    assert_clean(run)
    assert not foreign.hits()


def test_redirect_loop_is_bounded(api, tmp_path):
    api.route("/items", Reply(302, {}, {"Location": "/items"}))
    run = run_tap(tmp_path, tap_config(api, "bearer", {}))

    line = assert_one_error(run)
    assert "more than 10 redirects" in line
    assert_clean(run)
    assert len(api.hits("/items")) == 11


@pytest.mark.parametrize(
    ("kind", "status"), [("oauth2_client_credentials", 302), ("oauth2_refresh_token", 307)]
)
def test_token_endpoint_redirect_is_one_error_and_never_followed(api, foreign, tmp_path, kind, status):
    serve_api(api, kind, lambda _: Reply(200, {"data": [{"id": 1}]}))
    api.route("/oauth/token", Reply(status, {}, {"Location": f"{foreign.url}/oauth/token?state=xyz"}))
    run = run_tap(tmp_path, tap_config(api, kind, {}))

    line = assert_one_error(run)
    assert f"token request to {api.url}/oauth/token was redirected (HTTP {status}) to {foreign.url}" in line
    assert "set auth.token_url" in line and "state=xyz" not in line
    assert_clean(run)
    assert not foreign.hits()
    assert not api.hits("/items")


def test_token_requests_get_only_token_headers_no_api_headers_params_or_cookies(api, tmp_path):
    items_answered: list[int] = []

    def items(seen: Seen) -> Reply:
        # The first answer sets a session cookie and rejects the token: a second token request
        # then follows, made while the API's cookie is in the session's jar.
        items_answered.append(1)
        cookie = {"Set-Cookie": f"session={COOKIE}; Path=/"}
        return Reply(401, {}, cookie) if len(items_answered) == 1 else Reply(200, {"data": [{"id": 1}]})

    api.route("/oauth/token", token_route())
    api.route("/items", items)
    config = tap_config(api, "oauth2_client_credentials", {})
    config["auth"]["token_headers"] = {"X-Token-Only": "yes"}
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("items") == [{"id": 1}]
    token_requests = api.hits("/oauth/token")
    assert len(token_requests) == 2
    for token_request in token_requests:
        assert "x-tenant-secret" not in token_request.headers and "cookie" not in token_request.headers
        assert token_request.headers.get("x-token-only") == "yes"
        assert PARAM_SECRET not in token_request.raw
    first, second = api.hits("/items")
    assert second.headers.get("cookie") == f"session={COOKIE}"  # the API itself gets its cookie back
    for request in (first, second):
        assert request.headers.get("x-tenant-secret") == TENANT_SECRET
        assert "x-token-only" not in request.headers
    assert_clean(run)


@pytest.fixture
def https_api(tmp_path: Path) -> t.Iterator[tuple[OriginServer, Path]]:
    ca_file, cert_file, key_file = make_private_ca(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = OriginServer()
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.scheme = "https"
    server.start()
    yield server, ca_file
    server.stop()


@pytest.mark.parametrize("how", ["next_url", "redirect"])
def test_https_to_http_is_refused_even_for_a_trusted_host(https_api, foreign, tmp_path, how):
    api, ca_file = https_api
    # The same host and port as the API, only the scheme differs.
    clear = f"http://127.0.0.1:{api.server_address[1]}/items?page=2"
    if how == "next_url":
        serve_api(api, "bearer", lambda _: Reply(200, {"data": [{"id": 1}], "next": clear}))
        stream = {"pagination": {"type": "next_url", "next_url_path": "$.next"}}
    else:
        serve_api(api, "bearer", lambda _: Reply(302, {}, {"Location": clear}))
        stream = {}
    run = run_tap(tmp_path / "run", tap_config(api, "bearer", stream, ca_bundle=str(ca_file)))

    line = assert_one_error(run)
    assert "https -> http" in line and "page=2" not in line
    assert_clean(run)
    assert len(api.hits("/items")) == 1  # nothing went out in clear (the plain http request would fail TLS)


def test_plain_http_trusted_origin_for_an_https_api_is_a_config_error(https_api, foreign, tmp_path):
    api, ca_file = https_api
    config = tap_config(api, "bearer", {}, ca_bundle=str(ca_file), trusted_origins=[foreign.url])
    run = run_tap(tmp_path, config)

    line = assert_one_error(run)
    assert f"trusted_origins[0]: {foreign.url} is plain http but api_url is https" in line
    assert_clean(run)
    assert not api.hits() and not foreign.hits()


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://API.example.com:443/v1/items?page=2", True),  # default port, host in any case
        ("https://api.example.com.evil.net/items", False),
        ("https://api.example.com:8443/items", False),
        ("http://api.example.com/items", False),  # downgrade
        ("https://files.example.com/x", True),
        ("//api.example.com/items", False),  # not absolute: never guessed
        ("ftp://api.example.com/items", False),
        ("https://api.example.com:99999/items", False),  # invalid port
    ],
)
def test_origin_policy_compares_scheme_host_and_port(url, trusted):
    policy = OriginPolicy("https://api.example.com/v1", ["https://files.example.com/"])
    assert policy.trusts(url) is trusted


@pytest.mark.parametrize(
    "entry",
    ["files.example.com", "https://files.example.com/path", "https://u:p@files.example.com", "https://x?q=1"],
)
def test_trusted_origins_must_be_bare_origins(entry):
    with pytest.raises(ConfigError, match=r"^trusted_origins\[0\]: expected an origin"):
        OriginPolicy("https://api.example.com", [entry])


def test_cross_origin_redirect_url_loses_credential_parameters_by_name_and_value():
    redaction.register("value-registered-as-secret")
    policy = OriginPolicy("https://api.example.com", credential_params=["api_key", "access_key"])
    hop = policy.redirect(
        "s",
        "https://api.example.com/items",
        302,
        "https://cdn.example.net/f?API_KEY=1&access_key=2&other=value-registered-as-secret&sig=keep",
        has_body=False,
    )
    assert hop == Hop("https://cdn.example.net/f?sig=keep", credentials=False)
