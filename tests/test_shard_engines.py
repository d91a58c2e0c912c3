"""The task index and count of each job engine select the shard (sync/shards.py `parse_shard`)."""

from __future__ import annotations

import typing as t

import pytest

from tap_restoauth.errors import ConfigError
from tap_restoauth.sync.shards import ShardSettings, parse_shard
from tests.conftest import sandbox_config
from tests.helpers import run_tap

ENGINES: dict[str, tuple[dict[str, t.Any], dict[str, str]]] = {
    "cloud-run": ({}, {"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "3"}),
    "kubernetes-count-setting": ({"shard": {"count": 3}}, {"JOB_COMPLETION_INDEX": "2"}),
    "kubernetes-count-variable": ({}, {"JOB_COMPLETION_INDEX": "2", "TAP_RESTOAUTH_SHARD_COUNT": "3"}),
    "aws-batch-size": ({}, {"AWS_BATCH_JOB_ARRAY_INDEX": "2", "AWS_BATCH_JOB_ARRAY_SIZE": "3"}),
    "aws-batch-count-setting": ({"shard": {"count": 3}}, {"AWS_BATCH_JOB_ARRAY_INDEX": "2"}),
    "airflow-named-variables": (
        {"shard": {"index_env": "SHARD_INDEX", "count_env": "SHARD_COUNT"}},
        {"SHARD_INDEX": "2", "SHARD_COUNT": "3"},
    ),
    "github-matrix-index-only": ({"shard": {"index_env": "MATRIX_INDEX", "count": 3}}, {"MATRIX_INDEX": "2"}),
}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_each_engine_selects_shard_two_of_three(engine: str) -> None:
    config, env = ENGINES[engine]
    assert parse_shard(config, env) == ShardSettings(2, 3)


def test_the_config_wins_over_the_engine_and_the_engine_over_the_fallback_count() -> None:
    env = {"JOB_COMPLETION_INDEX": "1", "TAP_RESTOAUTH_SHARD_COUNT": "4"}
    assert parse_shard({"shard": {"index": 3}}, env) == ShardSettings(3, 4)
    assert parse_shard({"shard": {"count": 2}}, env) == ShardSettings(1, 2)
    aws = {
        "AWS_BATCH_JOB_ARRAY_INDEX": "1",
        "AWS_BATCH_JOB_ARRAY_SIZE": "5",
        "TAP_RESTOAUTH_SHARD_COUNT": "4",
    }
    assert parse_shard({}, aws) == ShardSettings(1, 5)
    # A named variable replaces the engines': Cloud Run's index is not read.
    named = {"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "9", "MY_INDEX": "1", "MY_COUNT": "2"}
    assert parse_shard({"shard": {"index_env": "MY_INDEX", "count_env": "MY_COUNT"}}, named) == ShardSettings(
        1, 2
    )
    assert parse_shard({}, {"TAP_RESTOAUTH_SHARD_COUNT": "4"}) == ShardSettings(0, 4)


@pytest.mark.parametrize(
    ("config", "env", "line"),
    [
        (
            {},
            {"JOB_COMPLETION_INDEX": "2"},
            "shard: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) gives this task's index but nothing "
            "gives the number of tasks: set shard.count or TAP_RESTOAUTH_SHARD_COUNT",
        ),
        (
            {},
            {"AWS_BATCH_JOB_ARRAY_INDEX": "0"},
            "shard: AWS_BATCH_JOB_ARRAY_INDEX (an AWS Batch array job) gives this task's index but "
            "nothing gives the number of tasks: set shard.count, AWS_BATCH_JOB_ARRAY_SIZE or "
            "TAP_RESTOAUTH_SHARD_COUNT",
        ),
        (
            {"shard": {"index_env": "SHARD_INDEX"}},
            {},
            "shard.index_env: the environment variable SHARD_INDEX is not set",
        ),
        (
            {"shard": {"count_env": "SHARD_COUNT"}},
            {"SHARD_COUNT": "3"},
            "shard.count_env: needs shard.index_env (the variable holding this task's index)",
        ),
        ({}, {"JOB_COMPLETION_INDEX": "x", "TAP_RESTOAUTH_SHARD_COUNT": "3"}, None),
    ],
)
def test_an_index_without_a_count_is_one_clear_line(
    config: dict[str, t.Any], env: dict[str, str], line: str | None
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_shard(config, env)
    if line is None:
        assert str(raised.value) == "JOB_COMPLETION_INDEX: expected an integer, got 'x'"
    else:
        assert str(raised.value) == line


@pytest.mark.parametrize("engine", ["kubernetes-count-variable", "aws-batch-size", "airflow-named-variables"])
def test_the_tap_runs_as_the_shard_its_engine_names(sandbox: t.Any, tmp_path: t.Any, engine: str) -> None:
    config, env = ENGINES[engine]
    full = {**sandbox_config(sandbox), **config}
    full["streams"] = [s for s in full["streams"] if s["name"] in ("users", "user_orders")]
    run = run_tap(tmp_path, full, env=env)
    assert run.returncode == 0, run.stderr
    assert "shard 2 of 3;" in run.stderr
    users = {record["user_id"] for record in run.records("user_orders")}
    assert users and len(users) < 80  # about a third of the users' orders, not all of them
