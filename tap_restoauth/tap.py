"""The tap: settings, discovery, and a command line that reports expected failures in one line."""

from __future__ import annotations

import functools
import gc
import os
import sys
import typing as t

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_restoauth.auth.secret_manager import resolve_config
from tap_restoauth.config import StreamSettings, TapSettings, parse_settings
from tap_restoauth.errors import ConfigError, TapRestOAuthError
from tap_restoauth.fetch.endpoint import Endpoint
from tap_restoauth.http import redaction
from tap_restoauth.http.client import ApiClient
from tap_restoauth.records.schema import infer, property_type, with_properties
from tap_restoauth.settings import CONFIG_SCHEMA
from tap_restoauth.streams import RestStream
from tap_restoauth.sync import interrupt
from tap_restoauth.sync.output import BufferedWriter, StateLines
from tap_restoauth.sync.progress import Progress
from tap_restoauth.sync.state_file import check_state_file, state_path

SAMPLE_PAGE_LIMIT = 10


class TapRestOAuth(Tap):
    """Extracts any paginated REST API behind OAuth 2.0, Basic or API keys."""

    name = "tap-restoauth"
    config_jsonschema = CONFIG_SCHEMA
    dynamic_catalog = True
    message_writer_class = BufferedWriter

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError("invalid config: " + "; ".join(exc.errors)) from None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.message_writer, BufferedWriter):
            # The SDK's StateWriter deep-copies the whole state per STATE message (see output.py).
            self._state_writer = StateLines(self.message_writer)

    def _setup_signal_handlers(self) -> None:
        """Replace the SDK's handler (STATE then exit 0, mid-write): see sync/interrupt.py."""
        interrupt.install()

    @functools.cached_property
    def settings(self) -> TapSettings:
        """The validated settings (secrets resolved), parsed once."""
        resolved = resolve_config(self.config)  # self.config keeps the sm:// references
        settings = parse_settings(resolved.config)
        resolved.attach_token_store(settings.auth)
        return settings

    @functools.cached_property
    def client(self) -> ApiClient:
        return ApiClient(self.settings.http, self.settings.auth)

    @functools.cached_property
    def progress(self) -> Progress:
        return Progress(self.settings.progress_interval_seconds)

    def sync_all(self) -> None:  # type: ignore[misc]  # the SDK marks it final; we only add a summary
        # Everything built so far (SDK, settings, catalog) lives until exit: frozen, the
        # garbage collector stops re-scanning it while a sync allocates (~15% of CPU time).
        gc.freeze()
        try:
            super().sync_all()
        except interrupt.Interrupted:
            # Stopped between pages: the state covers exactly the records written.
            self._state_writer.write_state(self.state)
            raise
        for line in self.progress.summary():
            self.logger.info("summary: %s", line)
        self.logger.info(
            "summary: %d requests retried, %d access tokens obtained",
            self.client.retries,
            getattr(self.settings.auth, "token_requests", 0),
        )

    def discover_streams(self) -> list[RestStream]:
        settings = self.settings
        built: dict[str, RestStream] = {}
        for stream_settings in settings.streams:
            endpoint = Endpoint(settings, stream_settings, self.client)
            schema = self._schema(stream_settings, endpoint, built)
            parent = built.get(stream_settings.parent) if stream_settings.parent else None
            cls = type(
                _class_name(stream_settings.name),
                (RestStream,),
                {"parent_stream_type": type(parent) if parent else None},
            )
            stream = cls(self, schema, stream_settings, endpoint, self.progress)
            if parent:
                parent.register_child(stream)
            built[stream_settings.name] = stream
        return list(built.values())

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
            base = infer(self._samples(stream, endpoint, built), stream.primary_keys)
        return with_properties(base, self._context_properties(stream, built))

    def _catalog_schema(self, name: str) -> dict[str, t.Any] | None:
        catalog = self.input_catalog
        if catalog is None:
            return None
        entry = catalog.get_stream(name)
        return entry.schema.to_dict() if entry is not None else None

    def _context_properties(self, stream: StreamSettings, built: dict[str, RestStream]) -> dict[str, t.Any]:
        """Schema properties for the context keys injected into child records."""
        if not stream.parent:
            return {}
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
        limit = self.settings.schema_sample_size
        records: list[dict[str, t.Any]] = []
        for number, (_, page_records) in enumerate(endpoint.pages(context, {}), start=1):
            records.extend(page_records[: limit - len(records)])
            if len(records) >= limit or number >= SAMPLE_PAGE_LIMIT:
                break
        self._sample_cache[stream.name] = (records, context)
        return records, context


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
        TapRestOAuth.cli()
    except TapRestOAuthError as exc:
        print(f"tap-restoauth: error: {redaction.redact(str(exc))}", file=sys.stderr, flush=True)
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
