"""The tap: settings, discovery, and a command line that reports expected failures in one line."""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import json
import os
import sys
import typing as t

import click
from singer_sdk.helpers.capabilities import CapabilitiesEnum
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.tap_base import Tap

from tap_restoauth import about, hints, schema_errors
from tap_restoauth.auth.lease import share_tokens
from tap_restoauth.auth.secret_manager import resolve_config
from tap_restoauth.auth.version_pruning import attach_pruner
from tap_restoauth.config import StreamSettings, TapSettings, check_known_settings, parse_settings
from tap_restoauth.errors import ApiError, ConfigError, TapRestOAuthError
from tap_restoauth.fetch.endpoint import Endpoint
from tap_restoauth.http import redaction
from tap_restoauth.http.client import ApiClient
from tap_restoauth.http.ratelimit import QuotaExhausted
from tap_restoauth.records import deletions
from tap_restoauth.records.schema import infer, property_type, with_properties
from tap_restoauth.settings import CONFIG_SCHEMA
from tap_restoauth.streams import RestStream
from tap_restoauth.sync import interrupt, log_levels, versions
from tap_restoauth.sync.audit import STREAM_NAME as AUDIT_STREAM
from tap_restoauth.sync.audit import Audit, AuditSettings, AuditStream
from tap_restoauth.sync.output import BufferedWriter, StateLines
from tap_restoauth.sync.progress import Progress
from tap_restoauth.sync.shards import Shards, parse_shard
from tap_restoauth.sync.state_file import check_state_file, state_path

SAMPLE_PAGE_LIMIT = 10


class TapRestOAuth(Tap):
    __doc__ = about.DESCRIPTION

    name = about.NAME
    config_jsonschema = CONFIG_SCHEMA
    dynamic_catalog = True
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = about.CAPABILITIES  # see about.py
    message_writer_class = BufferedWriter
    planning: t.ClassVar[bool] = False  # `--plan`: no schema inferred from sample requests

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's check against the settings schema, reported without the values (schema_errors.py)."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        errors = sorted(
            schema_errors.describe(e) for e in JSONSchemaValidator(schema).iter_errors(self._config)
        )
        if errors and raise_errors:
            raise ConfigError("invalid config: " + "; ".join(errors))
        return errors

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        log_levels.install()
        if isinstance(self.message_writer, BufferedWriter):
            # The SDK's StateWriter deep-copies the whole state per STATE message (see output.py).
            self._state_writer = StateLines(self.message_writer)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--plan"],
                is_flag=True,
                help="Print the windows, partitions and first request of each stream for this shard, "
                "and an estimate of requests, without sending any request.",
            )
        )
        return command

    @classmethod
    def invoke(cls, *, plan: bool = False, **options: t.Any) -> None:
        if not plan or options.get("about"):
            super().invoke(**options)
            return
        config, state, catalog = options.get("config"), options.get("state"), options.get("catalog")
        planner = type(cls.__name__, (cls,), {"planning": True})
        tap = planner(
            config=config.config if config else None,
            state=None if state is None else json.load(state),
            catalog=None if catalog is None else json.load(catalog),
            parse_env_config=bool(config and config.parse_env),
            validate_config=True,
        )
        ordered = [tap.streams.get(s.name) for s in tap.settings.streams]  # parents first
        streams = [s for s in ordered if isinstance(s, RestStream)]
        from tap_restoauth.sync import plan as sync_plan  # noqa: PLC0415  # only for --plan

        for line in sync_plan.describe(streams, tap.shards):
            print(redaction.redact(line))

    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        with _closing_on_error(ctx):
            super().cb_discover(ctx, param, value)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        with _closing_on_error(ctx):
            super().cb_test(ctx, param, value)

    def _setup_signal_handlers(self) -> None:
        """Replace the SDK's handler (STATE then exit 0, mid-write): see sync/interrupt.py."""
        interrupt.install()

    @functools.cached_property
    def settings(self) -> TapSettings:
        """The validated settings (secrets resolved), parsed once."""
        resolved = resolve_config(self.config)  # self.config keeps the sm:// references
        settings = parse_settings(resolved.config)  # its errors name the setting at fault
        # Keys that `{config.NAME}` placeholders use are known (also in streams derived by `openapi`).
        check_known_settings(self.config, self.known_settings() | settings.config_keys)
        resolved.attach_token_store(settings.auth)
        share_tokens(settings.auth, resolved, by_default=self.shards.count > 1)
        attach_pruner(settings.auth, resolved)
        log_levels.set_metrics_level(settings.metrics_log_level)
        return settings

    @classmethod
    def known_settings(cls) -> set[str]:
        """Top-level settings: the tap's own and the SDK's built-in ones (stream maps, flattening...)."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        return set(schema["properties"])

    @functools.cached_property
    def client(self) -> ApiClient:
        return ApiClient(self.settings.http, self.settings.auth)

    @functools.cached_property
    def progress(self) -> Progress:
        return Progress(self.settings.progress_interval_seconds)

    @functools.cached_property
    def shards(self) -> Shards:
        return Shards(parse_shard(self.config))

    @functools.cached_property
    def audit(self) -> Audit:
        settings = self.settings
        auth = settings.auth
        return Audit(
            AuditSettings(enabled=settings.audit, fail_on_mismatch=settings.audit_fail_on_mismatch),
            parse_shard(self.config),
            lambda: (self.client.retries, getattr(auth, "token_requests", 0)),
        )

    def sync_all(self) -> None:  # type: ignore[misc]  # the SDK marks it final; we only add a summary
        # Everything built so far (SDK, settings, catalog) lives until exit: frozen, the
        # garbage collector stops re-scanning it while a sync allocates (~15% of CPU time).
        gc.freeze()
        others = self.shards.assign_streams(self.streams.values())
        if self.shards.count > 1:
            self.logger.info(
                "shard %d of %d; whole streams of other shards (walked only for their children): %s",
                self.shards.index,
                self.shards.count,
                ", ".join(others) or "none",
            )
        audit = self.streams.get(AUDIT_STREAM)
        emit_audit = isinstance(audit, AuditStream) and audit.selected
        if emit_audit:
            self.streams[
                AUDIT_STREAM
            ].selected = False  # the SDK would sync it first (streams are sorted); it goes last
        stopped: QuotaExhausted | None = None
        try:
            try:
                super().sync_all()
                self._state_writer.write_state(self.state)  # the end: whatever the STATE interval held back
            except QuotaExhausted as exc:
                stopped = exc
                self._stop_for_quota(exc)
            except interrupt.Interrupted:
                # Stopped between pages: the state covers exactly the records written.
                if isinstance(self._state_writer, StateLines):
                    self._state_writer.write_state(self.state, last=True)
                else:  # the SDK's writer (another message writer) repeats nothing away
                    self._state_writer.write_state(self.state)
                raise
            except Exception:
                # Failed: the state covers the records written; what state_interval_seconds held
                # back is written now, as a stop would.
                with contextlib.suppress(Exception):
                    if any(not s.state_manager.is_flushed for s in self.streams.values()):
                        self._state_writer.write_state(self.state)
                raise
        except BaseException:
            if emit_audit:
                with contextlib.suppress(Exception):  # the run's own error is the one to report
                    self._sync_audit()
            raise
        if emit_audit:
            self._sync_audit()
        for line in self.progress.summary():
            self.logger.info("summary: %s", line)
        if stopped is not None:
            self.logger.info("summary: PARTIAL run: stopped early, the API's quota is used up")
        line = f"{self.client.retries} requests retried"
        tokens = getattr(self.settings.auth, "token_requests", None)  # only auth types with tokens
        if tokens is not None:
            line += f", {tokens} access tokens obtained"
        self.logger.info("summary: %s", line)
        self.audit.check_totals()

    def _sync_audit(self) -> None:
        """Emit the _audit stream after every other stream (also when the run failed)."""
        stream = self.streams[AUDIT_STREAM]
        stream.selected = True
        stream.sync()
        if isinstance(self.message_writer, BufferedWriter):
            self.message_writer.flush()

    def _stop_for_quota(self, exc: QuotaExhausted) -> None:
        """End the run early and resumably: the STATE of every page emitted, then one line.

        The page being fetched when the quota ran out was not emitted, so the STATE
        covers exactly what the target received; the next run continues from it.
        With `on_quota_exhausted: fail` the run then fails with the same line.
        """
        self._state_writer.write_state(self.state)
        message = redaction.clean(exc)
        if self.settings.on_quota_exhausted == "fail":
            raise ApiError(f"{message} (on_quota_exhausted: fail)") from None
        print(
            f"tap-restoauth: stopped: {message}; STATE is written and the next run continues from it",
            file=sys.stderr,
            flush=True,
        )

    def run_connection_test(self) -> bool:  # type: ignore[misc]  # final in the SDK; we only add a line
        """`--test`: the first page of every stream, at most one record each, then one line saying so.

        A job stream (`job`) is skipped with a line: testing it would create an export job
        (a report the API may count, bill or queue); its create endpoint is not probed.
        """
        tested = []
        for stream in self.streams.values():
            if isinstance(stream, RestStream) and stream.settings.job is not None:
                stream.selected = False
                self.logger.info(
                    "connection test: %s skipped (a job stream: testing it would create an export job)",
                    stream.name,
                )
            else:
                tested.append(stream)
        passed = self.run_sync_dry_run(dry_run_record_limit=1, streams=tested)
        self.logger.info(
            "connection test passed: %s answered (%d requests retried)",
            ", ".join(self.progress.stream_names()) or "no stream",
            self.client.retries,
        )
        return passed

    def discover_streams(self) -> list[RestStream]:
        settings = self.settings
        built: dict[str, RestStream] = {}
        for stream_settings in settings.streams:
            endpoint = _endpoint_class(stream_settings)(settings, stream_settings, self.client)
            schema = self._schema(stream_settings, endpoint, built)
            parent = built.get(stream_settings.parent) if stream_settings.parent else None
            cls = type(
                _class_name(stream_settings.name),
                (RestStream,),
                {"parent_stream_type": type(parent) if parent else None},
            )
            stream = cls(self, schema, stream_settings, endpoint, self.progress)
            stream.shards, stream.audit = self.shards, self.audit
            if parent:
                # A run visits all of this stream's partitions only if every ancestor lists all its records.
                stream.complete_pass = parent.complete_pass and not (
                    parent.replication_key or parent.settings.max_pages
                )
            if stream_settings.windowed and stream.replication_key:
                self.shards.windowed.add(stream_settings.name)
            if parent:
                parent.register_child(stream)
            built[stream_settings.name] = stream
        if versions.enabled(self.settings.emit_activate_version_messages, self.shards.count):
            parents = {s.name: s.parent for s in settings.streams if s.parent}
            limited = {s.name for s in settings.streams if s.max_pages}
            versions.assign(built.values(), parents, self.initialized_at, limited)
        streams: list[t.Any] = list(built.values())
        if self.audit.settings.enabled:
            streams.append(AuditStream(self, self.audit))
        return streams

    def _schema(
        self, stream: StreamSettings, endpoint: Endpoint, built: dict[str, RestStream]
    ) -> dict[str, t.Any]:
        """Declared schema, else the input catalog's, else inferred from sample records."""
        if stream.schema is not None:
            base = stream.schema
        else:
            cataloged = self._catalog_schema(stream.name)
            if cataloged is not None:
                return cataloged
            samples = [] if self.planning else self._samples(stream, endpoint, built)
            base = infer(samples, stream.primary_keys)
        extra = self._context_properties(stream, built)
        if stream.deletions or stream.deleted_when:
            extra[deletions.DELETED_AT] = deletions.DELETED_AT_SCHEMA
        return with_properties(base, extra)

    def _catalog_schema(self, name: str) -> dict[str, t.Any] | None:
        catalog = self.input_catalog
        if catalog is None:
            return None
        entry = catalog.get_stream(name)
        return entry.schema.to_dict() if entry is not None else None

    def _context_properties(self, stream: StreamSettings, built: dict[str, RestStream]) -> dict[str, t.Any]:
        """Schema properties for the context keys injected into records (parent keys, partitions)."""
        if not stream.parent:
            return {key: _json_type(stream.partitions[0][key]) for key in stream.partition_keys}
        parent = built[stream.parent]
        properties = {key: property_type(parent.schema, key) for key in parent.settings.context_keys}
        for key, field in stream.parent_keys.items():
            properties[key] = property_type(parent.schema, field)
        return properties

    @functools.cached_property
    def _sample_cache(self) -> dict[str, tuple[list[dict[str, t.Any]], dict[str, t.Any] | None]]:
        return {}

    def _samples(
        self, stream: StreamSettings, endpoint: Endpoint, built: dict[str, RestStream]
    ) -> list[dict[str, t.Any]]:
        records, _ = self._sample_with_context(stream, endpoint, built)
        self.logger.info("%s: inferred the schema from %d sample records", stream.name, len(records))
        return records

    def _sample_with_context(
        self, stream: StreamSettings, endpoint: Endpoint, built: dict[str, RestStream]
    ) -> tuple[list[dict[str, t.Any]], dict[str, t.Any] | None]:
        """Up to `schema_sample_size` records and the context they were fetched with."""
        if stream.name in self._sample_cache:
            return self._sample_cache[stream.name]
        context: dict[str, t.Any] | None = None
        if stream.parent:
            parent = built[stream.parent]
            parent_records, parent_context = self._sample_with_context(
                parent.settings, parent.endpoint, built
            )
            context = None
            for record in parent_records:
                if all(record.get(field) is not None for field in stream.parent_keys.values()):
                    context = {**(parent_context or {})}
                    context.update({key: record[field] for key, field in stream.parent_keys.items()})
                    break
            if context is None:
                self._sample_cache[stream.name] = ([], None)
                return [], None
        elif stream.partitions:
            context = dict(stream.partitions[0])
        limit = self.settings.schema_sample_size
        records: list[dict[str, t.Any]] = []
        # One page at a time: pages fetched ahead (concurrency) would be requests never read.
        for number, (_, page_records) in enumerate(endpoint.pages(context, {}, concurrent=False), start=1):
            records.extend(page_records[: limit - len(records)])
            if len(records) >= limit or number >= SAMPLE_PAGE_LIMIT:
                break
        self._sample_cache[stream.name] = (records, context)
        return records, context


def _endpoint_class(stream: StreamSettings) -> type[Endpoint]:
    """The endpoint of a job or GraphQL stream (imported only when a stream is one), else Endpoint."""
    if stream.job is not None:
        from tap_restoauth.fetch.job_endpoint import JobEndpoint  # noqa: PLC0415

        return JobEndpoint
    if stream.graphql is not None:
        from tap_restoauth.fetch.graphql_endpoint import GraphqlEndpoint  # noqa: PLC0415

        return GraphqlEndpoint
    return Endpoint


def _json_type(value: t.Any) -> dict[str, t.Any]:
    kinds = {bool: "boolean", int: "integer", float: "number"}
    return {"type": [kinds.get(type(value), "string"), "null"]}


@contextlib.contextmanager
def _closing_on_error(ctx: click.Context) -> t.Iterator[None]:
    """Close the files click opened (`--state`, `--catalog`) when a CLI callback fails.

    `--discover` and `--test` run while click is still parsing the arguments, before the
    context that would close them exists; a failure would leave them to the garbage
    collector, which warns (`ResourceWarning: unclosed file ... state.json`).
    """
    try:
        yield
    except TapRestOAuthError:
        ctx.close()
        raise


def _class_name(stream_name: str) -> str:
    return "".join(part.capitalize() for part in stream_name.replace("-", "_").split("_")) + "Stream"


def cli() -> None:
    """Console entry point: expected failures print one line and exit 1."""
    redaction.install()
    interrupt.install()  # until the tap replaces the SDK's handlers with the same ones
    try:
        state = state_path(sys.argv[1:])
        if state is not None:
            check_state_file(state)
        command = TapRestOAuth.cli  # sets up the SDK's console handler
        log_levels.install()
        command()
    except TapRestOAuthError as exc:
        message = hints.explain(redaction.clean(exc))  # the hint is the tap's own text
        print(f"tap-restoauth: error: {message}", file=sys.stderr, flush=True)
        sys.exit(1)
    except interrupt.Interrupted as stop:
        print(
            f"tap-restoauth: error: interrupted by {stop.name}: the run stopped early; the next run "
            "resumes from the last STATE message written",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        # Worker threads may still wait on a request: do not join them.
        os._exit(stop.exit_code)
