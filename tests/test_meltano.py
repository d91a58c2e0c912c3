"""The project's meltano.yml end to end with real Meltano, real targets and the sandbox API.

A session fixture copies the project to a temporary folder and runs `meltano install` there once
(uv's cache makes later sessions fast); each test gets its own system database, so state never
leaks between tests or into the developer's `.meltano/`.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import typing as t
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tap_restoauth.sandbox import CLIENT_SECRET, SandboxData, SandboxServer
from tests import readme_blocks
from tests.meltano_project import MeltanoProject

# Every test here is end-to-end (the quick tier skips them).
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
STREAMS = ("users", "user_orders", "order_items", "events")


def sandbox_env(server: SandboxServer, **extra: str) -> dict[str, str]:
    """Point the dev environment at `server`, the way a user overrides meltano.yml."""
    return {
        "TAP_RESTOAUTH_API_URL": server.url,
        "TAP_RESTOAUTH_AUTH_TOKEN_URL": f"{server.url}/oauth/token",
        "TAP_RESTOAUTH_AUTH_CLIENT_SECRET": CLIENT_SECRET,
        **extra,
    }


@pytest.fixture
def serve() -> t.Iterator[t.Callable[[int], SandboxServer]]:
    """Start sandbox servers (on free ports) with a given number of users; stop them afterwards."""
    started: list[SandboxServer] = []

    def start(users: int) -> SandboxServer:
        server = SandboxServer(0, SandboxData(users=users)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def read_jsonl(folder: Path) -> dict[str, list[dict[str, t.Any]]]:
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted(folder.glob("*.jsonl"))
    }


def assert_no_secrets(server: SandboxServer, *texts: str) -> None:
    secrets = [CLIENT_SECRET, *server.tokens]
    for text in texts:
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{len(leaked)} secret value(s) leaked"


def test_jsonl_counts_match_the_api_and_the_second_run_is_incremental(project, serve, tmp_path):
    first = serve(120)
    env = project.env(tmp_path, **sandbox_env(first, TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "run1")))
    run = project.meltano("run", "tap-restoauth", "target-jsonl", env=env)
    records = read_jsonl(tmp_path / "run1")
    assert {name: len(rows) for name, rows in records.items()} == first.data.counts()

    state_text = project.meltano("state", "get", "dev:tap-restoauth-to-target-jsonl", env=env).stdout
    bookmark = json.loads(state_text)["singer_state"]["bookmarks"]["users"]["replication_key_value"]
    assert bookmark == max(u["updated_at"] for u in first.data.users)
    assert_no_secrets(first, run.stdout, run.stderr, state_text, json.dumps(records))
    log = run.stderr.splitlines()  # the demo's log: a few lines per stream, not one per parent record
    assert len(log) < 60, run.stderr
    assert not [line for line in log if "METRIC" in line or "Beginning sync" in line]

    # The API gains 30 users; the next run asks only for users updated since the bookmark.
    second = serve(150)
    env.update(sandbox_env(second, TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "run2")))
    project.meltano("run", "tap-restoauth", "target-jsonl", env=env)
    again = read_jsonl(tmp_path / "run2")
    expected_users = {u["id"] for u in second.data.users if u["updated_at"] >= bookmark}
    assert {u["id"] for u in again["users"]} == expected_users == set(range(120, 151))
    assert len(again["users"]) == len(expected_users)
    expected_orders = [o for uid in sorted(expected_users) for o in second.data.orders[uid]]
    assert len(again["user_orders"]) == len(expected_orders)
    assert len(again["events"]) == len(second.data.events)  # no replication key: full table
    state = json.loads(project.meltano("state", "get", "dev:tap-restoauth-to-target-jsonl", env=env).stdout)
    assert state["singer_state"]["bookmarks"]["users"]["replication_key_value"] == max(
        u["updated_at"] for u in second.data.users
    )


def test_wrong_secret_stops_the_run_with_one_clear_line_and_no_state(project, serve, tmp_path):
    server = serve(5)
    wrong = "wrong-secret-x7Q"
    env = project.env(tmp_path, **sandbox_env(server, TAP_RESTOAUTH_AUTH_CLIENT_SECRET=wrong))
    env["TARGET_JSONL_DESTINATION_PATH"] = str(tmp_path / "out")
    run = project.meltano("run", "tap-restoauth", "target-jsonl", env=env, ok=False)
    assert run.returncode != 0
    errors = {
        line.split("tap-restoauth: error: ", 1)[1]
        for line in run.stderr.splitlines()
        if "tap-restoauth: error: " in line
    }
    assert len(errors) == 1
    assert "invalid_client" in errors.pop()
    assert wrong not in run.stdout + run.stderr
    assert "tap-restoauth-to-target-jsonl" not in project.meltano("state", "list", env=env).stdout
    assert not list((tmp_path / "out").glob("*.jsonl"))


def duckdb_counts(project: MeltanoProject, database: Path) -> dict[str, int]:
    """Row counts per table, read with the duckdb that target-duckdb itself uses."""
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        f"print(json.dumps({{t: con.execute(f'select count(*) from restoauth.{{t}}').fetchone()[0]"
        f" for t in {list(STREAMS)!r}}}))\n"
    )
    done = subprocess.run(
        [project.venv_python("loaders", "target-duckdb"), "-c", script, str(database)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_duckdb_keeps_every_row_and_upserts_the_incremental_run(project, serve, tmp_path):
    database = tmp_path / "warehouse.duckdb"
    first = serve(120)
    env = project.env(tmp_path, **sandbox_env(first, TARGET_DUCKDB_PATH=str(database)))
    project.meltano("run", "tap-restoauth", "target-duckdb", env=env)
    assert duckdb_counts(project, database) == first.data.counts()

    second = serve(150)
    env.update(sandbox_env(second))
    project.meltano("run", "tap-restoauth", "target-duckdb", env=env)
    assert duckdb_counts(project, database) == second.data.counts()


def test_postgres_gets_every_row_typed_and_keyed_and_upserts_the_incremental_run(
    project, serve, postgres, tmp_path
):
    plain = project.env(tmp_path)
    project.meltano("install", "target-postgres", env=plain)
    about = project.meltano("invoke", "target-postgres", "--about", "--format=json", env=plain).stdout
    about = json.loads(about)
    config = yaml.safe_load((ROOT / "meltano.yml").read_text())
    loader = next(p for p in config["plugins"]["loaders"] if p["name"] == "target-postgres")
    assert {s["name"] for s in loader["settings"]} <= set(about["settings"]["properties"])
    first = serve(120)
    env = project.env(tmp_path, **sandbox_env(first), **postgres.env())
    run = project.meltano("run", "tap-restoauth", "target-postgres", env=env)
    assert_no_secrets(first, run.stdout, run.stderr)

    def counts() -> dict[str, int]:
        return {name: int(postgres.scalar(f"select count(*) from restoauth.{name}")) for name in STREAMS}

    assert counts() == first.data.counts()
    columns = {
        (table, column): kind
        for table, column, kind in postgres.query(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'restoauth'"
        )
    }
    assert columns[("users", "id")] == "bigint"
    assert columns[("users", "updated_at")] == "timestamp without time zone"
    assert columns[("user_orders", "user_id")] == "bigint"  # the parent key, typed from the parent
    assert columns[("order_items", "sku")] in {"character varying", "text"}
    keys = postgres.query(
        "select tc.table_name, string_agg(k.column_name, ',' order by k.ordinal_position) "
        "from information_schema.table_constraints tc join information_schema.key_column_usage k "
        "using (constraint_schema, constraint_name) "
        "where tc.table_schema = 'restoauth' and tc.constraint_type = 'PRIMARY KEY' group by tc.table_name"
    )
    assert {table: columns for table, columns in keys} == {
        "users": "id",
        "user_orders": "id",
        "order_items": "sku",
        "events": "id",
    }
    newest = postgres.scalar("select max(updated_at) from restoauth.users")
    assert newest == max(u["updated_at"] for u in first.data.users).replace("T", " ").rstrip("Z")

    second = serve(150)  # 30 more users; the rerun re-reads the last one and all events: upserted
    env.update(sandbox_env(second))
    project.meltano("run", "tap-restoauth", "target-postgres", env=env)
    assert counts() == second.data.counts()


def test_inherited_plugin_extracts_its_streams_with_stream_maps(project, serve, tmp_path):
    """tap-restoauth-users (select: users and children) with the README's email-hashing map."""
    server = serve(30)
    maps = {"users": {"email": "md5(email)", "name": "__NULL__"}}
    env = project.env(
        tmp_path,
        **sandbox_env(
            server,
            TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "out"),
            TAP_RESTOAUTH_USERS_STREAM_MAPS=json.dumps(maps),
        ),
    )
    project.meltano("run", "tap-restoauth-users", "target-jsonl", env=env)
    records = read_jsonl(tmp_path / "out")
    counts = server.data.counts()
    assert Counter({name: len(rows) for name, rows in records.items()}) == Counter(
        {name: counts[name] for name in ("users", "user_orders", "order_items")}
    )
    by_id = {u["id"]: u for u in server.data.users}
    for user in records["users"]:
        assert "name" not in user
        assert re.fullmatch(r"[0-9a-f]{32}", user["email"])
        assert user["email"] != by_id[user["id"]]["email"]
    states = project.meltano("state", "list", env=env).stdout
    assert "dev:tap-restoauth-users-to-target-jsonl" in states


def sensitive_settings(plugin: str) -> list[str]:
    config = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for plugins in config["plugins"].values():
        for entry in plugins:
            if entry["name"] == plugin:
                return [s["name"] for s in entry.get("settings", []) if s.get("sensitive")]
    raise LookupError(plugin)


def test_readme_select_and_config_list_work_without_an_environment(project, serve, tmp_path):
    """`meltano select` and `meltano config` ignore the default environment: the base config serves."""
    env = project.env(tmp_path)
    listing = project.meltano("config", "list", "tap-restoauth", env=env).stdout
    assert "api_url [env: TAP_RESTOAUTH_API_URL] current value: 'http://127.0.0.1:8765'" in listing
    assert "possibly unsupported" not in listing, listing  # every key meltano.yml uses is declared
    # `meltano select --list --all` runs in the README-block test below.
    server = serve(3)
    env = project.env(tmp_path, **sandbox_env(server), TAP_RESTOAUTH_AUTH_CLIENT_ID="sandbox-client")
    discover = ("--environment", "prod", "invoke", "tap-restoauth", "--discover")
    prod = project.meltano(*discover, env=env, ok=False)
    assert prod.returncode == 0, prod.stderr[-2000:]  # the job's variables win over the prod placeholders
    prod = project.meltano(*discover, env=project.env(tmp_path), ok=False)
    assert prod.returncode != 0
    assert "tap-restoauth: error: invalid config: " in prod.stderr
    assert "'api_url' is a required property (under Meltano: set TAP_RESTOAUTH_API_URL" in prod.stderr
    assert "ResourceWarning" not in prod.stderr


def test_readme_connection_check_and_after_the_demo_blocks_run_as_printed(project, tmp_path):
    """The README's commands after the demo, as printed, in the project folder.

    The sandbox picks a free port and writes it into the project's .env, where Meltano reads it;
    the base config's 8765 is held by another server meanwhile, as on a machine where it is taken.
    """
    for name, target in ((".venv", ROOT / ".venv"), (".venv-meltano", Path(project.binary).parent.parent)):
        if not (project.root / name).exists():
            (project.root / name).symlink_to(target)
    shutil.rmtree(project.root / "output", ignore_errors=True)
    env_file = project.root / ".env"  # the session's project: removed again below
    env_file.write_text("UNRELATED_SETTING=kept\n")
    names = ["connection-check", "after-the-demo"]
    assert not readme_blocks.printed_ports(names)  # no fixed port
    with socket.socket() as taken:
        with contextlib.suppress(OSError):  # 8765 may already be taken: all the better
            taken.bind(("127.0.0.1", 8765))
            taken.listen()
        try:
            done = readme_blocks.run(names, project.root, project.env(tmp_path), {}, timeout=900)
            written = env_file.read_text()
        finally:
            env_file.unlink()
    assert done.returncode == 0, done.stderr[-4000:]
    assert "UNRELATED_SETTING=kept\n" in written
    assert "TAP_RESTOAUTH_API_URL=http://127.0.0.1:" in written
    assert "stopped the sandbox on http://127.0.0.1:" in done.stdout
    assert "connection test passed: events, users, user_orders, order_items answered" in done.stderr
    assert "[selected   ] users.email" in done.stdout  # meltano select --list --all
    output = project.root / "output"
    counts = {path.stem: len(path.read_text().splitlines()) for path in output.glob("*.jsonl")}
    data = SandboxData()
    # As the README says: everything, then the user at the bookmark and all events once more.
    assert counts == {
        "users": len(data.users) + 1,
        "user_orders": data.counts()["user_orders"],
        "order_items": data.counts()["order_items"],
        "events": 2 * len(data.events),
    }
    assert '"replication_key_value":"2024-01-06T00:00:00Z"' in done.stdout.replace(" ", "")
    secret = "auth.client_secret [env: TAP_RESTOAUTH_AUTH_CLIENT_SECRET] current value: (redacted)"
    assert secret in done.stdout


def test_config_list_redacts_every_secret_and_names_its_env_var(project, tmp_path):
    secrets = sensitive_settings("tap-restoauth")
    assert {"auth.client_secret", "auth.refresh_token", "auth.password"} <= set(secrets)
    values = {name: f"not-shown-{i}-x7Q" for i, name in enumerate(secrets)}
    env_names = {name: "TAP_RESTOAUTH_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) for name in secrets}
    env = project.env(tmp_path, **{env_names[name]: value for name, value in values.items()})
    listing = project.meltano("config", "list", "tap-restoauth", env=env).stdout
    printed = project.meltano("config", "print", "tap-restoauth", env=env).stdout

    for name in secrets:
        line = next(line for line in listing.splitlines() if line.startswith(f"{name} [env: "))
        assert f"[env: {env_names[name]}]" in line  # the name .secrets.example documents
        assert "(redacted)" in line
    for value in values.values():
        assert value not in listing
        assert value not in printed
    assert json.loads(printed)["auth"]["client_secret"] != values["auth.client_secret"]  # nested, masked
    example = (ROOT / ".secrets.example").read_text()
    assert all(env_names[name] in example for name in secrets)


def test_target_bigquery_declared_settings_are_its_own(project, tmp_path):
    """BigQuery is not reachable here: check our settings against the target's own --about."""
    env = project.env(
        tmp_path,
        TARGET_BIGQUERY_PROJECT="my-project",
        TARGET_BIGQUERY_DATASET="restoauth",
        TARGET_BIGQUERY_CREDENTIALS_JSON='{"type": "service_account", "private_key": "k-x7Q"}',
    )
    about = json.loads(
        project.meltano("invoke", "target-bigquery", "--about", "--format=json", env=env).stdout
    )
    config = yaml.safe_load((ROOT / "meltano.yml").read_text())
    loader = next(p for p in config["plugins"]["loaders"] if p["name"] == "target-bigquery")
    declared = {s["name"] for s in loader["settings"]}
    assert declared <= set(about["settings"]["properties"])
    assert set(about["settings"]["required"]) - {"method"} <= declared  # method has a default

    listing = project.meltano("--environment", "prod", "config", "list", "target-bigquery", env=env).stdout
    assert "k-x7Q" not in listing
    assert re.search(
        r"credentials_json \[env: TARGET_BIGQUERY_CREDENTIALS_JSON\] current value: \(redacted\)", listing
    )
    assert "project [env: TARGET_BIGQUERY_PROJECT] current value: 'my-project'" in listing


def test_hub_definition_is_accepted_by_meltano_add(project, tmp_path):
    """Another project adds the tap from the Hub file; Meltano reads every setting and secret from it."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "meltano.yml").write_text(
        "project_id: other\nsend_anonymous_usage_stats: false\n"
        "hub_url: http://127.0.0.1:9/meltano-hub\ncli: {disable_version_check: true}\n"
    )
    hub_file = ROOT / "hub" / "extractors" / "tap-restoauth" / "restoauth.yml"
    consumer = MeltanoProject(other, project.binary)
    env = consumer.env(tmp_path, TAP_RESTOAUTH_AUTH_CLIENT_SECRET="not-shown-x7Q")
    consumer.meltano(
        "add",
        "--plugin-type",
        "extractor",
        "tap-restoauth",
        "--from-ref",
        str(hub_file),
        "--no-install",
        env=env,
    )
    added = yaml.safe_load((other / "meltano.yml").read_text())["plugins"]["extractors"][0]
    assert added["name"] == "tap-restoauth"
    # Meltano reads the Hub's `kind: password` as what it means today: a sensitive string.
    expected = [
        {**s, "kind": "string"} if s["kind"] == "password" else s
        for s in yaml.safe_load(hub_file.read_text())["settings"]
    ]
    assert added["settings"] == expected
    listing = consumer.meltano("config", "list", "tap-restoauth", env=env).stdout
    assert "auth.client_secret [env: TAP_RESTOAUTH_AUTH_CLIENT_SECRET] current value: (redacted)" in listing
    assert "not-shown-x7Q" not in listing
