"""Schemas and loads judged by target-bigquery's own code (z3-target-bigquery, as meltano.yml pins it).

BigQuery is not reachable here. The target runs from the venv `meltano install` gives it: its
`SchemaTranslator` turns our schemas into BigQuery columns, and (in the end-to-end test) its real
google-cloud-bigquery client talks to a local stand-in of the BigQuery REST API.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tap_restoauth.openapi.generate import Options, generate
from tap_restoauth.records.schema import infer
from tap_restoauth.sandbox import JsonHandler, LocalServer, SandboxData, SandboxServer
from tests.bigquery_stub import BigQueryStub
from tests.conftest import sandbox_config
from tests.fault_server import EVENT_SCHEMA, NOTE_SCHEMA, USER_SCHEMA
from tests.helpers import ISOLATED_ENV, discover, run_tap
from tests.test_meltano import MeltanoProject, assert_no_secrets, sandbox_env
from tests.test_openapi_real import load

ROOT = Path(__file__).resolve().parent.parent

# Column -> (BigQuery type, mode, nested columns); the same for schema resolver versions 1 and 2.
Columns = dict[str, tuple[str, str, t.Any]]


@pytest.fixture
def bq_project(project: MeltanoProject) -> MeltanoProject:
    """The session's project (conftest.py): tap-restoauth and target-bigquery installed by Meltano."""
    return project


def translate(project: MeltanoProject, schemas: dict[str, t.Any]) -> dict[str, dict[str, Columns]]:
    """{resolver version: {stream: columns}} from the target's own SchemaTranslator."""
    done = subprocess.run(
        [project.venv_python("loaders", "target-bigquery"), str(ROOT / "tests" / "bigquery_translate.py")],
        input=json.dumps(schemas),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        version: {stream: columns(fields) for stream, fields in streams.items()}
        for version, streams in json.loads(done.stdout).items()
    }


def columns(fields: list[dict[str, t.Any]]) -> Columns:
    return {
        f["name"]: (f["type"].upper(), f["mode"], columns(f["fields"]) if f.get("fields") else None)
        for f in fields
    }


def col(kind: str, mode: str = "NULLABLE", fields: Columns | None = None) -> tuple[str, str, t.Any]:
    return (kind, mode, fields)


SANDBOX: dict[str, Columns] = {
    "users": {
        "id": col("INTEGER"),
        "name": col("STRING"),
        "email": col("STRING"),
        "active": col("BOOLEAN"),
        "score": col("FLOAT"),
        "updated_at": col("TIMESTAMP"),
        "address": col(
            "RECORD",
            fields={
                "city": col("STRING"),
                "geo": col("RECORD", fields={"lat": col("FLOAT"), "lon": col("FLOAT")}),
            },
        ),
    },
    "user_orders": {
        "id": col("INTEGER"),
        "total": col("FLOAT"),
        "created_at": col("TIMESTAMP"),
        "user_id": col("INTEGER"),
    },
    "order_items": {
        "sku": col("STRING"),
        "qty": col("INTEGER"),
        "user_id": col("INTEGER"),
        "order_id": col("INTEGER"),
    },
    "events": {"id": col("INTEGER"), "kind": col("STRING"), "at": col("TIMESTAMP")},
}

# Real-world shapes: nulls in every kind of field, empty arrays, mixed types, huge integers.
TRICKY: list[dict[str, t.Any]] = [
    {
        "id": 1,
        "seen_at": "2024-01-01T00:00:00Z",
        "tags": ["a", "b"],
        "lines": [{"sku": "x", "qty": 1, "at": "2024-01-01T10:00:00+02:00"}],
        "never": [],
        "mixed": 1,
        "huge": 2**70,
        "ratio": 1,
        "ok": True,
        "meta": {"k": "v", "n": None},
        "empty": {},
        "nothing": None,
        "matrix": [[1, 2]],
        "counts": [1, None, 3],
    },
    {
        "id": 2,
        "seen_at": None,
        "tags": None,
        "lines": None,
        "never": [],
        "mixed": "two",
        "huge": 3,
        "ratio": 0.5,
        "ok": None,
        "meta": None,
        "empty": {},
        "nothing": None,
        "matrix": None,
        "counts": [],
    },
]
TRICKY_COLUMNS: Columns = {
    "id": col("INTEGER"),
    "seen_at": col("TIMESTAMP"),
    "tags": col("STRING", "REPEATED"),
    "lines": col("RECORD", "REPEATED", {"sku": col("STRING"), "qty": col("INTEGER"), "at": col("TIMESTAMP")}),
    "never": col("STRING", "REPEATED"),
    "mixed": col("STRING"),  # 1 then "two": declared string, values sent as "1" and "two"
    "huge": col("STRING"),  # beyond INT64: text keeps every digit
    "ratio": col("FLOAT"),
    "ok": col("BOOLEAN"),
    "meta": col("RECORD", fields={"k": col("STRING"), "n": col("STRING")}),
    "empty": col("STRING"),
    "nothing": col("STRING"),
    "matrix": col("STRING", "REPEATED"),  # BigQuery has no arrays of arrays: each inner array as JSON
    "counts": col("STRING"),  # [1, null, 3]: BigQuery arrays hold no NULL, so the array's JSON text
}


def test_inferred_and_declared_schemas_become_the_bigquery_types_their_data_has(
    bq_project, sandbox, tmp_path
):
    catalog = discover(tmp_path, sandbox_config(sandbox))
    schemas = {entry["tap_stream_id"]: entry["schema"] for entry in catalog["streams"]}
    schemas["tricky"] = infer(TRICKY, ["id"])
    schemas.update(declared_users=USER_SCHEMA, declared_notes=NOTE_SCHEMA, declared_events=EVENT_SCHEMA)
    declared = {
        "declared_users": {
            "id": col("INTEGER"),
            "name": col("STRING"),
            "email": col("STRING"),
            "updated_at": col("TIMESTAMP"),
        },
        "declared_notes": {"id": col("INTEGER"), "text": col("STRING"), "user_id": col("INTEGER")},
        "declared_events": {"id": col("INTEGER"), "kind": col("STRING"), "at": col("TIMESTAMP")},
    }
    expected = {**SANDBOX, "tricky": TRICKY_COLUMNS, **declared}
    translated = translate(bq_project, schemas)
    for version in ("1", "2"):
        assert translated[version] == expected, f"schema resolver version {version}"


def test_inferred_schemas_have_one_type_per_property_and_typed_array_items():
    schema = infer(TRICKY, ["id"])
    properties = schema["properties"]
    assert properties["id"] == {"type": "integer"}  # the primary key is not nullable
    assert properties["seen_at"] == {"type": ["string", "null"], "format": "date-time"}
    assert properties["never"] == {"type": ["array", "null"], "items": {"type": ["string", "null"]}}
    assert properties["counts"] == {"type": ["string", "null"]}
    assert properties["mixed"] == {"type": ["string", "null"]}
    assert properties["huge"] == {"type": ["string", "null"]}
    assert "anyOf" not in json.dumps(schema)


SDC_COLUMNS: Columns = {
    "_sdc_deleted_at": col("TIMESTAMP"),
    "_sdc_batched_at": col("TIMESTAMP"),
    "_sdc_received_at": col("TIMESTAMP"),
    "_sdc_extracted_at": col("TIMESTAMP"),
    "_sdc_table_version": col("INTEGER"),
    "_sdc_sequence": col("INTEGER"),
}


@pytest.fixture
def bigquery() -> t.Iterator[BigQueryStub]:
    stub = BigQueryStub().start()
    yield stub
    stub.stop()


def service_account_json(token_uri: str) -> str:
    """A service-account key made now (never stored) whose tokens come from the stand-in."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "test-key",
            "private_key": pem,
            "client_email": "loader@test-project.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": token_uri,
        }
    )


def test_meltano_run_loads_typed_bigquery_tables_and_merges_the_incremental_run(
    bq_project, bigquery, tmp_path
):
    """`meltano run tap-restoauth target-bigquery` with meltano.yml's loader config (batch_job, upsert).

    The target's real google-cloud-bigquery client reaches the stand-in through its documented
    BIGQUERY_EMULATOR_HOST setting and authenticates with a service-account key.
    """
    first = SandboxServer(0, SandboxData(users=20, events=30)).start()
    second = SandboxServer(0, SandboxData(users=26, events=30)).start()
    try:
        env = bq_project.env(
            tmp_path,
            **sandbox_env(first),
            BIGQUERY_EMULATOR_HOST=bigquery.url,
            TARGET_BIGQUERY_PROJECT="test-project",
            TARGET_BIGQUERY_DATASET="restoauth",
            TARGET_BIGQUERY_CREDENTIALS_JSON=service_account_json(f"{bigquery.url}/token"),
        )
        run = bq_project.meltano("run", "tap-restoauth", "target-bigquery", env=env, timeout=600)
        assert {name for _, _, name in bigquery.tables} == set(SANDBOX)  # temporary tables dropped
        for stream, expected in SANDBOX.items():
            table = bigquery.table("restoauth", stream)
            assert columns(table["schema"]["fields"]) == {**expected, **SDC_COLUMNS}, stream
            assert table["timePartitioning"] == {"type": "MONTH", "field": "_sdc_batched_at"}
            assert len(bigquery.table_rows("restoauth", stream)) == first.data.counts()[stream], stream
        users = {row["id"]: row for row in bigquery.table_rows("restoauth", "users")}
        assert users[3]["address"] == first.data.users[2]["address"]
        assert users[3]["updated_at"] == first.data.users[2]["updated_at"]
        assert_no_secrets(first, run.stdout, run.stderr)

        # Second run: users since the bookmark (and events, full table) through a MERGE on the key.
        loads_before = len(bigquery.loads)
        env.update(sandbox_env(second), TAP_RESTOAUTH__SELECT=json.dumps(["users.*", "events.*"]))
        bq_project.meltano("run", "tap-restoauth", "target-bigquery", env=env, timeout=600)
        loaded = dict((name.split("__")[0], rows) for name, rows in bigquery.loads[loads_before:])
        assert loaded == {"users": 7, "events": 30}  # users 20..26: the bookmark's user and 6 new
        assert len(bigquery.table_rows("restoauth", "users")) == 26
        assert len(bigquery.table_rows("restoauth", "events")) == 30  # merged, not appended
        merges = [q for q in bigquery.queries if "MERGE `test-project.restoauth.users`" in q]
        assert len(merges) == 2
        assert "ON target.`id` = source.`id`" in merges[-1]
        assert bigquery.unauthorized == 0
    finally:
        for server in (first, second):
            server.shutdown()
            server.server_close()


class _TrickyApi(JsonHandler):
    def do_GET(self) -> None:
        self.send_json(200, {"data": TRICKY})


def test_tricky_records_load_into_typed_columns_with_mixed_values_as_text(bq_project, bigquery, tmp_path):
    """The tap (fast record path) into the target: inferred schema, values as text, rows checked."""
    api = LocalServer(_TrickyApi).start()
    try:
        config = {
            "api_url": api.url,
            "streams": [
                {"name": "tricky", "path": "/things", "records_path": "$.data[*]", "primary_keys": ["id"]}
            ],
        }
        run = run_tap(tmp_path / "tap", config)
    finally:
        api.stop()
    assert run.returncode == 0, run.stderr
    records = run.records("tricky")
    assert [r["mixed"] for r in records] == ["1", "two"]
    assert [r["huge"] for r in records] == [str(2**70), "3"]
    assert records[0]["matrix"] == ["[1,2]"]
    assert records[0]["empty"] == "{}"
    assert [r["counts"] for r in records] == ["[1,null,3]", "[]"]

    target_config = tmp_path / "target.json"
    target_config.write_text(
        json.dumps(
            {
                "project": "test-project",
                "dataset": "restoauth",
                "method": "batch_job",
                "denormalized": True,
                "credentials_json": service_account_json(f"{bigquery.url}/token"),
            }
        )
    )
    target = str(Path(bq_project.venv_python("loaders", "target-bigquery")).parent / "target-bigquery")
    done = subprocess.run(
        [target, "--config", str(target_config)],
        input=run.stdout,
        capture_output=True,
        text=True,
        env={**ISOLATED_ENV, "PATH": "/usr/bin:/bin", "BIGQUERY_EMULATOR_HOST": bigquery.url},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert columns(bigquery.table("restoauth", "tricky")["schema"]["fields"]) == {
        **TRICKY_COLUMNS,
        **SDC_COLUMNS,
    }
    rows = bigquery.table_rows("restoauth", "tricky")  # each row checked against its columns
    assert [(r["id"], r["mixed"], r["seen_at"]) for r in rows] == [
        (1, "1", "2024-01-01T00:00:00Z"),
        (2, "two", None),
    ]


def write_api_tls(folder: Path) -> dict[str, Path]:
    """A CA made now and a certificate it signs for bigquerystorage.googleapis.com (never stored)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tap-restoauth test CA")])
    host = "bigquerystorage.googleapis.com"

    def certificate(subject: x509.Name, key: t.Any, extension: t.Any, critical: bool) -> x509.Certificate:
        builder = x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
        builder = builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
        builder = builder.not_valid_before(now - dt.timedelta(minutes=5))
        builder = builder.not_valid_after(now + dt.timedelta(hours=1)).add_extension(extension, critical)
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(ca_name, ca_key, x509.BasicConstraints(ca=True, path_length=None), True)
    server = certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]),
        server_key,
        x509.SubjectAlternativeName([x509.DNSName(host)]),
        False,
    )
    files = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server-key.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def tls_args(tls: dict[str, Path]) -> list[str]:
    return [str(tls["cert"]), str(tls["key"])]


def test_storage_write_api_loads_flat_streams_and_silently_drops_nested_ones(
    bq_project, bigquery, sandbox, tmp_path
):
    """Why meltano.yml uses batch_job, shown end to end with the target's real Storage Write client.

    A local BigQueryWrite stand-in (tests/bigquery_write_stub.py, reached through gRPC's proxy
    setting and trusting a test CA) refuses a writer schema that names types it does not carry,
    as BigQuery does. events (flat) loads, through the protobuf<6 pin; users (RECORD address)
    is refused, and the target still exits 0 with the users bookmark advanced and no rows.
    """
    tls = write_api_tls(tmp_path)
    python = bq_project.venv_python("loaders", "target-bigquery")
    stub = subprocess.Popen(
        [
            python,
            "-W",
            "ignore",
            str(ROOT / "tests" / "bigquery_write_stub.py"),
            *tls_args(tls),
            bigquery.url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        proxy_port = json.loads(t.cast(t.IO[str], stub.stdout).readline())["proxy"]
        config = sandbox_config(sandbox)
        config["streams"] = [s for s in config["streams"] if s["name"] in ("users", "events")]
        run = run_tap(tmp_path / "tap", config)
        assert run.returncode == 0, run.stderr
        target_config = tmp_path / "target.json"
        target_config.write_text(
            json.dumps(
                {
                    "project": "test-project",
                    "dataset": "restoauth",
                    "method": "storage_write_api",
                    "denormalized": True,
                    "upsert": True,
                    "credentials_json": service_account_json(f"{bigquery.url}/token"),
                }
            )
        )
        env = {
            **ISOLATED_ENV,
            "PATH": "/usr/bin:/bin",
            "BIGQUERY_EMULATOR_HOST": bigquery.url,
            "grpc_proxy": f"http://127.0.0.1:{proxy_port}",
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(tls["ca"]),
        }
        done = subprocess.run(
            [str(Path(python).parent / "target-bigquery"), "--config", str(target_config)],
            input=run.stdout,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    finally:
        stub.kill()
        stub.wait()
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(bigquery.table_rows("restoauth", "events")) == len(sandbox.data.events)
    assert bigquery.table_rows("restoauth", "users") == []
    final_state = [json.loads(line) for line in done.stdout.splitlines() if line.strip()][-1]
    assert final_state["bookmarks"]["users"]["replication_key_value"] == max(
        u["updated_at"] for u in sandbox.data.users
    )


def test_schemas_generated_from_openapi_documents_become_typed_bigquery_columns(bq_project):
    """tap-restoauth-openapi's declared schemas (PokeAPI's, four Stripe and two GitHub streams): every typed
    property gets its BigQuery type (date-time -> TIMESTAMP, objects -> RECORD, arrays -> REPEATED);
    STRING only where the schema is text (or JSON text for untyped values)."""

    schemas = {}
    for name, keep in (
        ("pokeapi.yml", None),
        ("stripe_spec3.json", {"products", "prices", "events", "plans"}),
        ("github_api.json", {"issues", "gists"}),
    ):
        for stream in generate(load(name), Options()).config["streams"]:
            if keep is None or stream["name"] in keep:
                schemas[f"{name}:{stream['name']}"] = stream["schema"]
    expected = {"integer": {"INTEGER"}, "number": {"FLOAT"}, "boolean": {"BOOLEAN"}, "string": {"STRING"}}
    seen: set[str] = set()

    def check(schema: dict[str, t.Any], fields: Columns, where: str) -> None:
        for name, declared in schema["properties"].items():
            kind, mode, nested = fields[name]
            prop = declared["items"] if "array" in declared["type"] else declared
            types = [x for x in prop["type"] if x != "null"]
            if "array" in declared["type"]:
                assert mode == "REPEATED", where + name
            wanted = expected.get(types[0], set())
            if types == ["string"] and prop.get("format") == "date-time":
                wanted = {"TIMESTAMP"}
            elif types == ["string"] and prop.get("format") == "date":
                wanted = {"DATE"}
            elif types == ["object"]:
                wanted = {"RECORD"} if prop.get("properties") else {"JSON"}
            assert kind in wanted, f"{where}{name}: {prop} -> {kind}"
            seen.add(kind)
            if kind == "RECORD":
                check(prop, nested, f"{where}{name}.")

    for version, streams in translate(bq_project, schemas).items():
        for stream, fields in streams.items():
            check(schemas[stream], fields, f"v{version} {stream}: ")
    assert {"TIMESTAMP", "RECORD", "INTEGER", "BOOLEAN", "STRING"} <= seen
