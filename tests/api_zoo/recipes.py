"""Run a recipe (`examples/NAME.json`) offline, against its local emulator from tests/api_zoo.

    bash scripts/try.sh stripe                  # or: .venv/bin/python -m tests.api_zoo.recipes stripe
    bash scripts/try.sh all                     # every recipe, one after the other

The emulator starts on a free port; the recipe is written to `output/try/NAME/config.json`
(readable by you only) exactly as in `examples/`, except `api_url` (and a token endpoint) point
at the emulator and each `sm://` secret is replaced by the emulator's test credential. The tap
then runs once with that file, its Singer output in `output/try/NAME/tap.singer`, and the
records per stream are printed:

    ==> stripe: emulator tests/api_zoo/stripe.py on http://127.0.0.1:40123
    ==> tap-restoauth --config output/try/stripe/config.json: exit 0
    stream               records
    customers                  7
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import json
import os
import subprocess
import sys
import typing as t
from collections import Counter
from pathlib import Path

from tests.api_zoo import PROVIDERS
from tests.helpers import ISOLATED_ENV

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"


class Emulator(t.Protocol):
    url: str

    def start(self) -> t.Any: ...

    def stop(self) -> None: ...


def _zoo(name: str) -> tuple[Emulator, t.Callable[[Emulator], dict[str, t.Any]]]:
    """A provider following tests/api_zoo's convention (`Api`, `overrides(run)`)."""
    api = importlib.import_module(f"tests.api_zoo.{name}").Api()
    return api, lambda server: api.overrides(1)


def _token(module: str, make: str, **kwargs: t.Any) -> t.Callable[[], tuple[Emulator, t.Any]]:
    """An emulator taking the module's TOKEN as a bearer token."""

    def start() -> tuple[Emulator, t.Callable[[Emulator], dict[str, t.Any]]]:
        zoo = importlib.import_module(f"tests.api_zoo.{module}")
        return getattr(zoo, make)(**kwargs), lambda server: {
            "api_url": server.url,
            "auth": {"token": zoo.TOKEN},
        }

    return start


def _session_expiry() -> tuple[Emulator, t.Callable[[Emulator], dict[str, t.Any]]]:
    from tests.api_zoo import session_expiry  # noqa: PLC0415

    def overrides(server: Emulator) -> dict[str, t.Any]:
        auth = {"token_url": f"{server.url}/oauth/token", "client_secret": session_expiry.CLIENT_SECRET}
        return {"api_url": server.url, "auth": auth}

    return session_expiry.SessionExpiryApi(uses=2), overrides


def _xml_catalog() -> tuple[Emulator, t.Callable[[Emulator], dict[str, t.Any]]]:
    from tests.api_zoo import xml_catalog  # noqa: PLC0415

    return xml_catalog.XmlCatalogApi(), lambda server: {
        "api_url": server.url,
        "auth": {"value": xml_catalog.API_KEY},
    }


# Each recipe's emulator; the ones outside PROVIDERS are those of tests/test_responses.py and
# tests/test_formats.py, run here as a user would meet them (no faults injected).
EMULATORS: dict[str, t.Callable[[], tuple[Emulator, t.Callable[[Emulator], dict[str, t.Any]]]]] = {
    **{name: functools.partial(_zoo, name) for name in PROVIDERS},
    "chat": _token("chat", "ChatApi"),
    "csv_reports": _token("csv_reports", "CsvReportsApi"),
    "daily_quota": _token("daily_quota", "DailyQuotaApi", quota=1000),
    "github_limits": _token("github_limits", "GithubLimitsApi", budget=50),
    "session_expiry": _session_expiry,
    "xml_catalog": _xml_catalog,
}


def recipes() -> list[str]:
    """Every recipe in examples/, by name."""
    return sorted(path.stem for path in EXAMPLES.glob("*.json"))


def merged(base: dict[str, t.Any], changes: dict[str, t.Any]) -> dict[str, t.Any]:
    result = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@dataclasses.dataclass
class Tried:
    name: str
    url: str
    config_file: Path
    returncode: int
    counts: Counter[str]
    stderr: str
    expected: dict[str, int] | None  # records per stream the emulator says the run must give

    def report(self) -> str:
        lines = [
            f"==> {self.name}: emulator tests/api_zoo/{self.name}.py on {self.url}",
            f"==> tap-restoauth --config {_shown(self.config_file)}: exit {self.returncode}",
            f"{'stream':<20}{'records':>8}",
            *(f"{stream:<20}{count:>8}" for stream, count in sorted(self.counts.items())),
        ]
        lines += [line for line in self.stderr.splitlines() if line.startswith("tap-restoauth: ")]
        return "\n".join(lines)


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


TapCommand = t.Callable[[list[str]], tuple[int, str, str]]


def try_recipe(name: str, folder: Path, run: TapCommand | None = None) -> Tried:
    """Start `name`'s emulator, run the recipe against it once, stop the emulator.

    `run` runs the tap with these arguments (exit code, stdout, stderr): by default
    `python -m tap_restoauth`; the tests pass `helpers.tap_command`.
    """
    if name not in EMULATORS:
        raise SystemExit(f"try: no emulator for recipe {name!r} (recipes: {', '.join(recipes())})")
    server, overrides = EMULATORS[name]()
    server.start()
    try:
        config = merged(json.loads((EXAMPLES / f"{name}.json").read_text()), overrides(server))
        left = [value for value in _strings(config) if value.startswith("sm://")]
        assert not left, f"{name}: no local value for {left}"
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "config.json"
        config_file.touch(mode=0o600)
        config_file.write_text(json.dumps(config, indent=2))
        returncode, stdout, stderr = (run or _exec_tap)(["--config", str(config_file)])
        output = folder / "tap.singer"
        output.write_text(stdout)
        (folder / "tap.log").write_text(stderr)
        counts = Counter(
            message["stream"]
            for message in map(json.loads, output.read_text().splitlines())
            if message["type"] == "RECORD"
        )
        expected = getattr(server, "expected", None)
        want = {stream: len(e.records) for stream, e in expected(1).items()} if expected else None
        return Tried(name, server.url, config_file, returncode, counts, stderr, want)
    finally:
        server.stop()


def _exec_tap(args: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "tap_restoauth", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _strings(value: t.Any) -> t.Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", help=f"a recipe ({', '.join(recipes())}) or all")
    parser.add_argument("--out", type=Path, default=Path("output/try"), help="folder for the runs")
    args = parser.parse_args(argv)
    names = recipes() if args.name == "all" else [args.name]
    failed = 0
    for name in names:
        tried = try_recipe(name, args.out / name)
        print(tried.report(), flush=True)
        failed += tried.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
