"""The project's meltano.yml in a temporary folder, installed once per test session.

`project` (a session fixture in conftest.py) copies meltano.yml and the tap there and runs
`meltano install` once; tests of Meltano itself, of the targets and of deletions share it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers import ISOLATED_ENV

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("tap-restoauth", "target-jsonl", "target-duckdb", "target-bigquery", "target-postgres")


def meltano_binary() -> str | None:
    """MELTANO_BIN (exported by scripts/test.sh), else the project's .venv-meltano, else PATH."""
    for candidate in (os.environ.get("MELTANO_BIN"), ROOT / ".venv-meltano" / "bin" / "meltano"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("meltano")


@dataclasses.dataclass
class MeltanoProject:
    root: Path
    binary: str

    def env(self, db_dir: Path | None = None, **extra: str) -> dict[str, str]:
        """The caller's environment minus any tap/target/Meltano settings, plus `extra`."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TAP_RESTOAUTH", "TARGET_", "MELTANO_"))
        }
        env.update(ISOLATED_ENV)
        env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
        if db_dir is not None:
            env["MELTANO_DATABASE_URI"] = f"sqlite:///{db_dir / 'meltano.db'}"
        env.update(extra)
        return env

    def meltano(
        self, *args: str, env: dict[str, str], ok: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if ok:
            assert done.returncode == 0, f"meltano {' '.join(args)} failed:\n{done.stderr[-4000:]}"
        return done

    def venv_python(self, plugin_type: str, name: str) -> str:
        return str(self.root / ".meltano" / plugin_type / name / "venv" / "bin" / "python")
