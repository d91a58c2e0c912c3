"""Deletions reach real warehouses: target-postgres (hard and soft), target-duckdb, target-bigquery.

One history of four tap runs against tests/deletions_api.py is made once per module:

1. everything: 12 plans (24 prices), 6 tickets, 6 contacts;
2. the API dropped plan 3, deleted ticket 2 (listed by /deleted_tickets) and archived contact 3;
3. the API dropped plan 4, and the run is stopped by SIGTERM mid-stream (no closing message);
4. a complete run again.

Each target's own executable (installed by Meltano in the session's project) reads each run's
output, as `meltano run` would pipe it; the database is queried after every run. One test drives
`meltano run tap-restoauth target-postgres` itself, with the version kept in Meltano's state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tap_restoauth.sandbox import SandboxData, SandboxServer
from tests.bigquery_stub import BigQueryStub
from tests.deletions_api import DeletionsApi, stamp
from tests.helpers import ISOLATED_ENV, run_tap
from tests.meltano_project import MeltanoProject
from tests.postgres_server import LocalPostgres
from tests.test_bigquery import service_account_json
from tests.test_meltano import sandbox_env

pytestmark = pytest.mark.e2e
TABLES = ("plans", "prices", "tickets", "contacts")


@dataclasses.dataclass
class History:
    outputs: list[str]  # each run's Singer messages, in order


def _last_state(output: str) -> dict[str, t.Any]:
    states = [
        json.loads(line)["value"] for line in output.splitlines() if '"type":"STATE"' in line.replace(" ", "")
    ]
    return states[-1]


def _interrupted_run(
    folder: Path, config: dict[str, t.Any], state: dict[str, t.Any], api: DeletionsApi
) -> str:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "state.json").write_text(json.dumps(state))
    api.hold_page = 2
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_restoauth",
            "--config",
            str(folder / "config.json"),
            "--state",
            str(folder / "state.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ISOLATED_ENV},
    )
    try:
        assert api.held.wait(60)
        process.send_signal(signal.SIGTERM)
    finally:
        api.release.set()
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and b"interrupted by SIGTERM" in stderr
    api.hold_page = None
    return stdout.decode()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[History]:
    folder = tmp_path_factory.mktemp("deletions-history")
    api = DeletionsApi().start()
    try:
        config = api.config(emit_activate_version_messages=True)
        first = run_tap(folder / "1", config)
        assert first.returncode == 0, first.stderr
        api.plans.remove(3)
        del api.tickets[2]
        api.deleted.append({"id": 2, "deleted_at": stamp(20)})
        api.contacts[3] = (True, stamp(21))
        second = run_tap(folder / "2", config, state=first.final_state)
        assert second.returncode == 0, second.stderr
        api.plans.remove(4)
        third = _interrupted_run(folder / "3", config, second.final_state, api)
        fourth = run_tap(folder / "4", config, state=_last_state(third))
        assert fourth.returncode == 0, fourth.stderr
        yield History([first.stdout, second.stdout, third, fourth.stdout])
    finally:
        api.stop()


def load(project: MeltanoProject, target: str, config: dict[str, t.Any], messages: str, folder: Path) -> None:
    """Pipe a run's output into the target's own executable, as `meltano run` does."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / f"{target}.json"
    config_file.write_text(json.dumps(config))
    executable = Path(project.venv_python("loaders", target)).parent / target
    env = {**ISOLATED_ENV, "PATH": "/usr/bin:/bin", "PGTZ": "UTC", **config.pop("_env", {})}
    done = subprocess.run(
        [str(executable), "--config", str(config_file)],
        input=messages,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def postgres_config(postgres: LocalPostgres, schema: str, *, hard_delete: bool) -> dict[str, t.Any]:
    return {
        "host": "127.0.0.1",
        "port": postgres.port,
        "user": "tap",
        "password": "unused-trust-auth",
        "database": "postgres",
        "default_target_schema": schema,
        "hard_delete": hard_delete,
        "add_record_metadata": True,
    }


def pg_rows(postgres: LocalPostgres, schema: str, table: str) -> dict[str, bool]:
    """{primary key: soft-deleted?} of a table."""
    key = "id"
    rows = postgres.query(f"select {key}, _sdc_deleted_at is not null from {schema}.{table} order by {key}")
    return {row[0]: row[1] == "t" for row in rows}


def deleted(rows: dict[str, bool]) -> list[str]:
    return sorted((key for key, gone in rows.items() if gone), key=lambda k: (len(k), k))


def test_postgres_hard_and_soft_deletes_after_each_run(project, postgres, history, tmp_path):
    """target-postgres 0.8.1: ACTIVATE_VERSION deletes (hard) or marks (soft) at once; a deletion
    RECORD is a soft-deleted row even with hard_delete; an interrupted run deletes nothing."""
    seen: dict[str, list[dict[str, t.Any]]] = {"hard": [], "soft": []}
    for number, output in enumerate(history.outputs, start=1):
        for mode in ("hard", "soft"):
            config = postgres_config(postgres, f"deletions_{mode}", hard_delete=mode == "hard")
            load(project, "target-postgres", config, output, tmp_path / f"{mode}{number}")
            seen[mode].append({table: pg_rows(postgres, f"deletions_{mode}", table) for table in TABLES})

    plan_ids = [str(i) for i in range(1, 13)]
    hard, soft = seen["hard"], seen["soft"]
    # run 1: every row, nothing deleted
    for state in (hard[0], soft[0]):
        assert list(state["plans"]) == plan_ids and deleted(state["plans"]) == []
        assert len(state["prices"]) == 24 and len(state["tickets"]) == 6 and len(state["contacts"]) == 6
    # run 2: plan 3 dropped by the API -> gone (hard) or marked (soft); its prices too
    assert "3" not in hard[1]["plans"] and len(hard[1]["plans"]) == 11 and len(hard[1]["prices"]) == 22
    assert deleted(hard[1]["plans"]) == []
    assert list(soft[1]["plans"]) == plan_ids and deleted(soft[1]["plans"]) == ["3"]
    assert deleted(soft[1]["prices"]) == ["3-1", "3-2"]
    # incremental signals are soft-deleted rows in both modes (hard_delete acts on ACTIVATE_VERSION only)
    for state in (hard[1], soft[1]):
        assert deleted(state["tickets"]) == ["2"] and len(state["tickets"]) == 6
        assert deleted(state["contacts"]) == ["3"]
    # a deletion record carries only the key: the upsert empties the row's other columns
    assert postgres.query("select subject is null from deletions_hard.tickets where id = 2") == [["t"]]
    # run 3 stopped by SIGTERM after plan 4 was dropped: no row deleted or marked
    assert hard[2] == hard[1]
    assert soft[2]["plans"] == soft[1]["plans"] and soft[2]["prices"] == soft[1]["prices"]
    # run 4 complete: plan 4 goes too
    assert sorted(hard[3]["plans"], key=int) == [i for i in plan_ids if i not in ("3", "4")]
    assert deleted(soft[3]["plans"]) == ["3", "4"] and len(soft[3]["plans"]) == 12
    versions = postgres.query("select distinct _sdc_table_version from deletions_hard.plans")
    assert len(versions) == 1  # every remaining row is of the last complete version


def duckdb_rows(project: MeltanoProject, database: Path, table: str) -> list[list[t.Any]]:
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "query = f'select id, _sdc_deleted_at is not null from deletions.{sys.argv[2]} order by id'\n"
        "print(json.dumps(con.execute(query).fetchall()))\n"
    )
    done = subprocess.run(
        [project.venv_python("loaders", "target-duckdb"), "-c", script, str(database), table],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return t.cast("list[list[t.Any]]", json.loads(done.stdout))


def test_duckdb_removes_signalled_rows_and_ignores_activate_version(project, history, tmp_path):
    """target-duckdb 0.8.0 (duckdb 1.1.3) with hard_delete: a RECORD with `_sdc_deleted_at` removes
    the row; ACTIVATE_VERSION is ignored, so a row dropped from a full-table stream stays."""
    database = tmp_path / "warehouse.duckdb"
    config = {
        "path": str(database),
        "default_target_schema": "deletions",
        "hard_delete": True,
        "add_metadata_columns": True,
    }
    counts = []
    for number, output in enumerate(history.outputs, start=1):
        load(project, "target-duckdb", dict(config), output, tmp_path / str(number))
        counts.append({table: [row[0] for row in duckdb_rows(project, database, table)] for table in TABLES})
    assert counts[0]["plans"] == list(range(1, 13)) and len(counts[0]["prices"]) == 24
    assert counts[1]["plans"] == list(range(1, 13))  # ACTIVATE_VERSION not applied: plan 3 stays
    assert counts[1]["tickets"] == [1, 3, 4, 5, 6]  # the deleted-records endpoint's id is removed
    assert counts[1]["contacts"] == [1, 2, 4, 5, 6]  # archived: removed
    assert counts[2] == counts[1]  # the interrupted run: nothing removed
    assert counts[3]["plans"] == list(range(1, 13))  # dropped plans 3 and 4 stay: versions are ignored


@pytest.fixture
def bigquery() -> t.Iterator[BigQueryStub]:
    stub = BigQueryStub().start()
    yield stub
    stub.stop()


def test_bigquery_merges_deleted_at_and_keeps_versions_for_a_current_rows_view(
    project, bigquery, history, tmp_path
):
    """target-bigquery (z3 0.7.2, batch_job, upsert): `_sdc_deleted_at` lands through the MERGE;
    ACTIVATE_VERSION is not applied, but `_sdc_table_version` tells current rows from dropped ones."""
    config = {
        "project": "test-project",
        "dataset": "deletions",
        "method": "batch_job",
        "denormalized": True,
        "upsert": True,
        "credentials_json": service_account_json(f"{bigquery.url}/token"),
        "_env": {"BIGQUERY_EMULATOR_HOST": bigquery.url},
    }
    for number, output in enumerate(history.outputs[:2], start=1):
        load(project, "target-bigquery", dict(config), output, tmp_path / str(number))
    plans = {row["id"]: row for row in bigquery.table_rows("deletions", "plans")}
    assert sorted(plans) == list(range(1, 13))  # plan 3 is still a row
    newest = max(row["_sdc_table_version"] for row in plans.values())
    current = sorted(
        i
        for i, row in plans.items()
        if row["_sdc_table_version"] == newest and row["_sdc_deleted_at"] is None
    )
    assert current == [i for i in range(1, 13) if i != 3]  # what docs/deletions.md's view selects
    tickets = {row["id"]: row for row in bigquery.table_rows("deletions", "tickets")}
    assert len(tickets) == 6 and [i for i, r in tickets.items() if r["_sdc_deleted_at"]] == [2]
    assert tickets[2].get("subject") is None and tickets[1]["subject"] == "ticket 1"  # MERGE sets all
    contacts = {row["id"]: row for row in bigquery.table_rows("deletions", "contacts")}
    assert [i for i, r in contacts.items() if r["_sdc_deleted_at"]] == [3]
    assert any("MERGE `test-project.deletions.tickets`" in q for q in bigquery.queries)


def test_meltano_run_deletes_rows_a_full_table_stream_no_longer_has(project, postgres, tmp_path):
    """`meltano run tap-restoauth target-postgres` with versions on and hard_delete: 30 events, then 25."""
    env = project.env(
        tmp_path,
        **postgres.env(),
        TAP_RESTOAUTH_EMIT_ACTIVATE_VERSION_MESSAGES="true",
        TAP_RESTOAUTH__SELECT=json.dumps(["events.*"]),
        TARGET_POSTGRES_HARD_DELETE="true",
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA="meltano_versions",
    )
    counts = []
    for events in (30, 25):
        server = SandboxServer(0, SandboxData(users=2, events=events)).start()
        try:
            env.update(sandbox_env(server))
            project.meltano("run", "tap-restoauth", "target-postgres", env=env)
        finally:
            server.stop()
        counts.append(int(postgres.scalar("select count(*) from meltano_versions.events")))
    assert counts == [30, 25]
    state = json.loads(
        project.meltano("state", "get", "dev:tap-restoauth-to-target-postgres", env=env).stdout
    )
    assert isinstance(state["singer_state"]["bookmarks"]["events"]["version"], int)
