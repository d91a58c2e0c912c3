"""tap-restoauth-openapi: each mapping rule on a small document written for it."""

from __future__ import annotations

import gzip
import json
import typing as t
from pathlib import Path

import pytest
import yaml

from tap_restoauth.config import parse_settings
from tap_restoauth.errors import TapRestOAuthError
from tap_restoauth.openapi.cli import main
from tap_restoauth.openapi.document import MAX_NODES, Document, DocumentError, LoadLimits
from tap_restoauth.openapi.generate import Options, generate
from tests.openapi_servers import serve_files

Json = dict[str, t.Any]


def listing(
    item: Json,
    *,
    envelope: Json | None = None,
    field: str = "data",
    parameters: list[Json] | None = None,
    headers: Json | None = None,
) -> Json:
    """A GET operation answering `{field: [item...], **envelope}` (or a bare array when field is '')."""
    schema: Json = {"type": "array", "items": item}
    if field:
        schema = {"type": "object", "properties": {field: schema, **(envelope or {})}}
    response: Json = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return {"get": {"operationId": "list", "parameters": parameters or [], "responses": {"200": response}}}


def query(name: str, **schema: t.Any) -> Json:
    return {"name": name, "in": "query", "schema": {"type": "integer", **schema}}


ITEM: Json = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}


def document(paths: Json, *, version: str = "3.0.3", components: Json | None = None, **extra: t.Any) -> Json:
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com/{v}", "variables": {"v": {"default": "v9"}}}],
        "paths": paths,
        "components": components or {},
        **extra,
    }


def generated(tmp_path: Path, doc: Json, **options: t.Any) -> tuple[Json, str]:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    result = generate(Document.load(str(path)), Options(**options))
    return result.config, result.report.text()


def only_stream(tmp_path: Path, doc: Json, **options: t.Any) -> Json:
    config, _ = generated(tmp_path, doc, **options)
    assert len(config["streams"]) == 1, config["streams"]
    return t.cast(Json, config["streams"][0])


# Streams, records and names


def test_envelope_array_becomes_the_records_path_and_the_name_comes_from_the_path(tmp_path: Path) -> None:
    config, report = generated(
        tmp_path, document({"/v1/customers": listing(ITEM, envelope={"url": {"type": "string"}})})
    )
    assert config["api_url"] == "https://api.example.com/v9"
    stream = config["streams"][0]
    assert (stream["name"], stream["path"], stream["records_path"]) == (
        "customers",
        "/v1/customers",
        "$.data[*]",
    )
    assert "kept GET /v1/customers -> customers: records $.data[*]" in report
    parse_settings(config)  # the tap accepts it as is


def test_top_level_array_and_the_only_array_of_objects(tmp_path: Path) -> None:
    doc = document({"/things": listing(ITEM, field=""), "/other": listing(ITEM, field="widgets")})
    config, _ = generated(tmp_path, doc)
    assert {s["name"]: s["records_path"] for s in config["streams"]} == {
        "things": "$[*]",
        "other": "$.widgets[*]",
    }


def test_single_objects_and_posts_that_do_not_list_are_skipped_with_a_reason(tmp_path: Path) -> None:
    one = {
        "get": {"responses": {"200": {"description": "", "content": {"application/json": {"schema": ITEM}}}}}
    }
    post = {"post": {**listing(ITEM)["get"], "operationId": "createThing"}}
    search = {"post": {**listing(ITEM)["get"], "operationId": "searchThings"}}
    config, report = generated(
        tmp_path, document({"/things/{id}": one, "/things": post, "/things/search": search})
    )
    assert [s["name"] for s in config["streams"]] == ["things_search"]
    assert config["streams"][0]["method"] == "POST"
    assert "skipped GET /things/{id}: the 2xx response is one object" in report
    assert "skipped POST /things: a POST that does not say it searches or lists" in report


def test_names_are_unique_snake_case_and_name_the_owner(tmp_path: Path) -> None:
    doc = document(
        {
            "/repos/{owner}/{repo}/issues": listing(ITEM, field=""),
            "/v2/issues": listing(ITEM, field=""),
            "/v1/workflowRuns": listing(ITEM, field=""),
        }
    )
    config, _ = generated(tmp_path, doc)
    assert [s["name"] for s in config["streams"]] == ["repo_issues", "issues", "workflow_runs"]


def test_include_exclude_and_tags_filter_operations(tmp_path: Path) -> None:
    tagged = listing(ITEM)
    tagged["get"]["tags"] = ["billing"]
    doc = document({"/v1/a": listing(ITEM), "/v1/b": tagged, "/v2/c": listing(ITEM)})
    names = lambda **o: [s["name"] for s in generated(tmp_path, doc, **o)[0]["streams"]]  # noqa: E731
    assert names(include=("/v1/*",)) == ["a", "b"]
    assert names(exclude=("/v1/a",)) == ["b", "c"]
    assert names(tags=("billing",)) == ["b"]


# Paging


def test_stripe_style_starting_after_with_has_more_pages_by_the_last_id(tmp_path: Path) -> None:
    params = [query("starting_after", type="string"), query("limit", maximum=100, default=10)]
    stream = only_stream(
        tmp_path,
        document(
            {"/v1/customers": listing(ITEM, envelope={"has_more": {"type": "boolean"}}, parameters=params)}
        ),
    )
    assert stream["pagination"] == {
        "type": "cursor",
        "cursor_param": "starting_after",
        "cursor_path": "$.data[-1].id",
        "has_more_path": "$.has_more",
    }
    assert stream["params"] == {"limit": 100}  # the documented maximum


def test_cursor_read_from_the_response_field_that_carries_it(tmp_path: Path) -> None:
    envelope = {
        "meta": {"type": "object", "properties": {"next_cursor": {"type": "string", "nullable": True}}}
    }
    stream = only_stream(
        tmp_path,
        document(
            {
                "/items": listing(
                    ITEM, field="items", envelope=envelope, parameters=[query("cursor", type="string")]
                )
            }
        ),
    )
    assert stream["pagination"] == {
        "type": "cursor",
        "cursor_param": "cursor",
        "cursor_path": "$.meta.next_cursor",
    }


def test_page_token_param_with_next_page_token_field(tmp_path: Path) -> None:
    envelope = {"nextPageToken": {"type": "string"}}
    params = [query("pageToken", type="string"), query("pageSize", default=50)]
    stream = only_stream(
        tmp_path, document({"/files": listing(ITEM, field="files", envelope=envelope, parameters=params)})
    )
    assert stream["pagination"]["cursor_path"] == "$.nextPageToken"
    assert stream["params"] == {"pageSize": 50}  # no maximum: the default


def test_a_text_page_parameter_with_a_next_page_field_is_a_cursor(tmp_path: Path) -> None:
    envelope = {"has_more": {"type": "boolean"}, "next_page": {"type": "string", "nullable": True}}
    stream = only_stream(
        tmp_path,
        document(
            {
                "/v1/charges/search": listing(
                    ITEM, envelope=envelope, parameters=[query("page", type="string")]
                )
            }
        ),
    )
    assert stream["name"] == "charges_search"
    assert stream["pagination"] == {"type": "cursor", "cursor_param": "page", "cursor_path": "$.next_page"}


def test_offset_and_limit(tmp_path: Path) -> None:
    stream = only_stream(
        tmp_path,
        document(
            {
                "/api/v2/pokemon/": listing(
                    ITEM, field="results", parameters=[query("offset"), query("limit", maximum=1000)]
                )
            }
        ),
    )
    assert stream["name"] == "pokemon"
    assert stream["pagination"] == {
        "type": "offset",
        "offset_param": "offset",
        "limit_param": "limit",
        "limit": 1000,
    }


def test_page_numbers(tmp_path: Path) -> None:
    stream = only_stream(
        tmp_path,
        document(
            {"/users": listing(ITEM, parameters=[query("page"), query("per_page", maximum=100, default=30)])}
        ),
    )
    assert stream["pagination"] == {
        "type": "page_number",
        "page_param": "page",
        "size_param": "per_page",
        "page_size": 100,
    }


def test_next_url_field(tmp_path: Path) -> None:
    stream = only_stream(
        tmp_path,
        document(
            {
                "/x": listing(
                    ITEM,
                    field="results",
                    envelope={"next": {"type": "string", "format": "uri", "nullable": True}},
                )
            }
        ),
    )
    assert stream["pagination"] == {"type": "next_url", "next_url_path": "$.next"}


def test_documented_link_header(tmp_path: Path) -> None:
    stream = only_stream(
        tmp_path, document({"/x": listing(ITEM, field="", headers={"Link": {"schema": {}}})})
    )
    assert stream["pagination"] == {"type": "link_header"}


def test_no_paging_documented(tmp_path: Path) -> None:
    config, report = generated(tmp_path, document({"/x": listing(ITEM, field="")}))
    assert config["streams"][0]["pagination"] == {"type": "none"}
    assert "no paging: no cursor, offset, page, next URL or Link header documented" in report


# Keys


def test_primary_key_id_else_the_one_required_scalar_key_else_none(tmp_path: Path) -> None:
    by_key = {
        "type": "object",
        "required": ["order_id"],
        "properties": {"order_id": {"type": "integer"}, "user_id": {"type": "integer"}},
    }
    nothing = {"type": "object", "properties": {"name": {"type": "string"}}}
    config, report = generated(
        tmp_path,
        document(
            {"/a": listing(ITEM, field=""), "/b": listing(by_key, field=""), "/c": listing(nothing, field="")}
        ),
    )
    assert [s.get("primary_keys") for s in config["streams"]] == [["id"], ["order_id"], None]
    assert "no primary key (no id, nor one required *_id/uuid/key)" in report


def test_replication_key_only_when_a_parameter_filters_by_it(tmp_path: Path) -> None:
    item = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}},
    }
    config, report = generated(
        tmp_path,
        document(
            {
                "/filtered": listing(
                    item, field="", parameters=[query("since", type="string", format="date-time")]
                ),
                "/unfiltered": listing(item, field=""),
            }
        ),
    )
    filtered, unfiltered = config["streams"]
    assert (filtered["replication_key"], filtered["incremental"]) == ("updated_at", {"param": "since"})
    assert "replication_key" not in unfiltered
    assert "full table: updated_at is a date-time but no query parameter filters by it" in report
    parse_settings(config)


# Parents


def test_child_of_the_stream_listing_what_its_parameter_names(tmp_path: Path) -> None:
    issue = {"type": "object", "properties": {"id": {"type": "integer"}, "number": {"type": "integer"}}}
    config, report = generated(
        tmp_path,
        document(
            {
                "/v1/customers": listing(ITEM),
                "/v1/customers/{customer}/sources": listing(ITEM),
                "/v1/customers/{customer}/sources/{source}/uses": listing(ITEM),
                "/repos/{owner}/{repo}/issues": listing(issue, field=""),
                "/repos/{owner}/{repo}/issues/{issue_number}/comments": listing(ITEM, field=""),
                "/orphans/{orphan_id}/things": listing(ITEM),
            }
        ),
    )
    streams = {s["name"]: s for s in config["streams"]}
    sources = streams["customer_sources"]
    assert (sources["parent"], sources["parent_keys"]) == ("customers", {"customer": "id"})
    assert sources["path"] == "/v1/customers/{customer}/sources"
    uses = streams["source_uses"]  # a grandchild: {customer} comes from its grandparent
    assert (uses["parent"], uses["parent_keys"]) == ("customer_sources", {"source": "id"})
    assert uses["path"] == "/v1/customers/{customer}/sources/{source}/uses"
    comments = streams["issue_comments"]
    assert (comments["parent"], comments["parent_keys"]) == ("repo_issues", {"issue_number": "number"})
    assert comments["path"] == "/repos/{config.owner}/{config.repo}/issues/{issue_number}/comments"
    assert streams["orphan_things"]["path"] == "/orphans/{config.orphan_id}/things"
    assert "parent" not in streams["orphan_things"]
    assert (config["owner"], config["repo"], config["orphan_id"]) == ("CHANGE_ME", "CHANGE_ME", "CHANGE_ME")
    assert "placeholder {config.owner}: path parameter of /repos/{owner}/{repo}/issues" in report
    assert "child of repo_issues: {issue_number} is the parent's number" in report
    settings = parse_settings(config)
    assert [s.name for s in settings.streams][:3] == ["customers", "customer_sources", "source_uses"]


def test_required_query_parameters_take_a_documented_value_or_a_placeholder(tmp_path: Path) -> None:
    params = [
        {"name": "status", "in": "query", "required": True, "schema": {"type": "string", "enum": ["open"]}},
        {"name": "account", "in": "query", "required": True, "schema": {"type": "string"}},
    ]
    config, _ = generated(tmp_path, document({"/x": listing(ITEM, parameters=params)}))
    assert config["streams"][0]["params"] == {"status": "open", "account": "{config.account}"}
    assert config["account"] == "CHANGE_ME"


# Auth


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        (
            {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": {}}}},
            {
                "type": "oauth2_client_credentials",
                "token_url": "https://api.example.com/oauth2/token",
                "client_id": "CHANGE_ME",
                "client_secret": "sm://PROJECT/main-client-secret",
                "scopes": ["read"],
            },
        ),
        (
            {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "tokenUrl": "https://id.example.com/token",
                        "authorizationUrl": "https://id.example.com/a",
                    }
                },
            },
            {
                "type": "oauth2_refresh_token",
                "token_url": "https://id.example.com/token",
                "client_id": "CHANGE_ME",
                "client_secret": "sm://PROJECT/main-client-secret",
                "refresh_token": "sm://PROJECT/main-refresh-token",
                "scopes": ["read"],
            },
        ),
        (
            {"type": "http", "scheme": "basic"},
            {"type": "basic", "username": "CHANGE_ME", "password": "sm://PROJECT/main-password"},
        ),
        ({"type": "http", "scheme": "bearer"}, {"type": "bearer", "token": "sm://PROJECT/main-token"}),
        (
            {"type": "apiKey", "in": "query", "name": "api_key"},
            {"type": "api_key", "name": "api_key", "location": "query", "value": "sm://PROJECT/main-key"},
        ),
    ],
    ids=["client_credentials", "authorization_code", "basic", "bearer", "api_key"],
)
def test_auth_from_security_schemes(tmp_path: Path, scheme: Json, expected: Json) -> None:
    doc = document(
        {"/x": listing(ITEM)}, components={"securitySchemes": {"main": scheme}}, security=[{"main": ["read"]}]
    )
    config, report = generated(tmp_path, doc)
    assert config["auth"] == expected
    assert "auth " + expected["type"] + " from the security scheme 'main'" in report


def test_scopes_are_those_the_kept_operations_need(tmp_path: Path) -> None:
    kept, skipped = (
        listing(ITEM),
        {"get": {"responses": {"200": {"description": ""}}, "security": [{"cc": ["w"]}]}},
    )
    kept["get"]["security"] = [{"cc": ["read:a"]}]
    scheme = {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "https://t.example.com", "scopes": {}}},
    }
    config, _ = generated(
        tmp_path, document({"/a": kept, "/b": skipped}, components={"securitySchemes": {"cc": scheme}})
    )
    assert config["auth"]["scopes"] == ["read:a"]


# Declared schemas


def schema_of(
    tmp_path: Path, item: Json, components: Json | None = None, version: str = "3.0.3", **options: t.Any
) -> Json:
    stream = only_stream(
        tmp_path, document({"/x": listing(item, field="")}, version=version, components=components), **options
    )
    return t.cast(Json, stream["schema"]["properties"])


def test_nullable_in_3_0_and_3_1_and_required(tmp_path: Path) -> None:
    item30 = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "string", "nullable": True},
            "c": {"type": "integer"},
        },
    }
    item31 = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {"a": {"type": "string"}, "b": {"type": ["string", "null"]}, "c": {"type": "integer"}},
    }
    expected = {
        "a": {"type": ["string"]},
        "b": {"type": ["string", "null"]},
        "c": {"type": ["integer", "null"]},
    }
    assert schema_of(tmp_path, item30) == expected
    assert schema_of(tmp_path, item31, version="3.1.0") == expected


def test_all_of_merges_and_one_of_objects_merge_into_all_properties(tmp_path: Path) -> None:
    components = {
        "schemas": {
            "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
            "Card": {"type": "object", "properties": {"brand": {"type": "string"}}},
            "Bank": {"type": "object", "properties": {"iban": {"type": "string"}}},
        }
    }
    item = {
        "allOf": [
            {"$ref": "#/components/schemas/Base"},
            {
                "type": "object",
                "properties": {
                    "source": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Card"},
                            {"$ref": "#/components/schemas/Bank"},
                        ]
                    },
                    "amount": {"anyOf": [{"type": "integer"}, {"type": "number"}]},
                    "ref": {"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
                },
            },
        ]
    }
    properties = schema_of(tmp_path, item, components)
    assert properties["id"] == {"type": ["string"]}
    assert properties["source"] == {
        "type": ["object", "null"],
        "properties": {"brand": {"type": ["string", "null"]}, "iban": {"type": ["string", "null"]}},
    }
    assert properties["amount"] == {"type": ["number", "null"]}
    assert properties["ref"] == {"type": ["string", "null"]}


def test_formats_enum_maps_and_untyped_values(tmp_path: Path) -> None:
    item = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time", "readOnly": True},
            "on": {"type": "string", "format": "date"},
            "email": {"type": "string", "format": "email"},
            "status": {"enum": ["a", "b"]},
            "level": {"type": "integer", "enum": [1, 2]},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "anything": {},
            "tags": {"type": "array"},
        },
    }
    properties = schema_of(tmp_path, item)
    assert properties["at"] == {"type": ["string", "null"], "format": "date-time"}
    assert properties["on"] == {"type": ["string", "null"], "format": "date"}
    assert properties["email"] == {"type": ["string", "null"]}
    assert properties["status"] == {"type": ["string", "null"]}
    assert properties["level"] == {"type": ["integer", "null"]}
    assert properties["metadata"] == {"type": ["object", "null"]}
    assert properties["anything"] == {"type": ["string", "null"]}  # JSON text
    assert properties["tags"] == {"type": ["array", "null"], "items": {"type": ["string", "null"]}}


def test_recursion_is_cut_into_json_text_at_max_depth(tmp_path: Path) -> None:
    components = {
        "schemas": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "child": {"$ref": "#/components/schemas/Node"},
                    "deep": {
                        "type": "object",
                        "properties": {
                            "deeper": {
                                "type": "object",
                                "properties": {
                                    "deepest": {"type": "object", "properties": {"x": {"type": "string"}}}
                                },
                            }
                        },
                    },
                },
            }
        }
    }
    properties = schema_of(tmp_path, {"$ref": "#/components/schemas/Node"}, components, max_depth=2)
    assert properties["child"] == {"type": ["string", "null"]}  # the $ref back into Node
    assert properties["deep"]["properties"]["deeper"]["properties"]["deepest"] == {"type": ["string", "null"]}
    assert schema_of(tmp_path, {"$ref": "#/components/schemas/Node"}, components, max_depth=8)["deep"][
        "properties"
    ]["deeper"]["properties"]["deepest"]["properties"] == {"x": {"type": ["string", "null"]}}


def test_ref_to_another_file_beside_the_document(tmp_path: Path) -> None:
    (tmp_path / "schemas.yaml").write_text(yaml.safe_dump({"Thing": ITEM}))
    stream = only_stream(tmp_path, document({"/x": listing({"$ref": "schemas.yaml#/Thing"}, field="")}))
    assert stream["schema"]["properties"] == {"id": {"type": ["string"]}}


def test_swagger_2_is_converted(tmp_path: Path) -> None:
    doc = {
        "swagger": "2.0",
        "host": "api.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "paths": {
            "/pets": {
                "get": {
                    "parameters": [{"name": "page", "in": "query", "type": "integer"}],
                    "responses": {
                        "200": {
                            "description": "",
                            "schema": {"type": "array", "items": {"$ref": "#/definitions/Pet"}},
                        }
                    },
                }
            }
        },
        "definitions": {"Pet": ITEM},
        "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
    }
    config, _ = generated(tmp_path, doc)
    assert config["api_url"] == "https://api.example.com/v1"
    assert config["streams"][0]["pagination"]["type"] == "page_number"
    assert config["auth"]["name"] == "X-Key"


# Bad documents: one line, bounded


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just: text\n", "not an OpenAPI 3.x or Swagger 2.0 document"),
        ('{"swagger": "1.2", "paths": {}}', "swagger '1.2' is not supported"),
        ("[1, 2]", "not an OpenAPI document"),
        (
            "openapi: 3.0.0\npaths: {/x: {get: {responses: {'200': {$ref: '#/nowhere/r'}}}}}\n",
            "$ref '#/nowhere/r' points nowhere",
        ),
        (
            "openapi: 3.0.0\npaths: {/x: {$ref: 'https://evil.example.com/x.yaml#/p'}}\n",
            "points to a remote host",
        ),
        ("a: &a [*a]\n", "a YAML alias refers to itself"),
        ('{"openapi": "3.0.0", "x": ' + "[" * 300 + "]" * 300 + "}", "nested deeper than 200 levels"),
        ("openapi: 3.0.0\npaths: {x: [\n", "not valid YAML or JSON"),
    ],
    ids=["not_openapi", "swagger_1", "array", "ref_nowhere", "remote_ref", "alias_cycle", "deep", "broken"],
)
def test_bad_documents_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    code, out, err = run_cli([str(path), "--api-url", "http://127.0.0.1:9"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("tap-restoauth-openapi: error: ") and err.count("\n") == 1, err
    assert message in err


def test_a_yaml_alias_bomb_is_refused_before_it_expands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("openapi: 3.0.0\npaths: {}\n" + "\n".join(lines) + "\n")  # 10**9 nodes once expanded
    code, _, err = run_cli([str(path)], capsys)
    assert code == 1
    assert f"more than {MAX_NODES:,} nodes once YAML aliases are expanded" in err


def test_a_200_mb_file_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: no disk used
    code, _, err = run_cli([str(path)], capsys)
    assert code == 1
    assert "200 MB is larger than the limit of 64 MB" in err


def test_a_gzip_bomb_over_http_stops_at_the_limit(tmp_path: Path) -> None:
    body = gzip.compress(b"{" + b" " * (3 * 1024 * 1024) + b"}", compresslevel=1)
    with (
        serve_files({"/doc.json": (body, {"Content-Encoding": "gzip"})}) as url,
        pytest.raises(DocumentError, match="larger than the limit of 1 MB"),
    ):
        Document.load(url + "/doc.json", LoadLimits(max_bytes=1024 * 1024))


def test_a_document_over_http_reads_refs_on_its_origin_only(tmp_path: Path) -> None:
    doc = document({"/x": listing({"$ref": "schemas.json#/Thing"}, field="")})
    files = {
        "/api/doc.json": (json.dumps(doc).encode(), {}),
        "/api/schemas.json": (json.dumps({"Thing": ITEM}).encode(), {}),
    }
    with serve_files(files) as url:
        config = generate(Document.load(url + "/api/doc.json"), Options()).config
        assert config["streams"][0]["schema"]["properties"] == {"id": {"type": ["string"]}}
        doc["paths"]["/x"] = listing({"$ref": "http://localhost:1/schemas.json#/Thing"}, field="")
        files["/api/doc.json"] = (json.dumps(doc).encode(), {})
        with pytest.raises(DocumentError, match="points to another host"):
            generate(Document.load(url + "/api/doc.json"), Options())


def test_cli_prints_config_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(document({"/v1/customers": listing(ITEM)})))
    code, out, err = run_cli([str(path), "--api-url", "http://127.0.0.1:9/"], capsys)
    assert code == 0
    assert json.loads(out)["api_url"] == "http://127.0.0.1:9"
    assert "kept GET /v1/customers -> customers" in err


def test_errors_are_the_taps_own(tmp_path: Path) -> None:
    with pytest.raises(TapRestOAuthError):
        generated(tmp_path, {"openapi": "3.0.0", "paths": {"/x": {"$ref": "#/paths/~1x"}}})
