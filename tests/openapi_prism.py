"""Stoplight Prism (npm `@stoplight/prism-cli` 5.14.x) serving a trimmed copy of a real document.

Prism mocks an API from its OpenAPI document and rejects requests the document does not
allow (422 for a bad parameter, 401 without credentials, 404 for an unknown path), logging
each rejection. It does not finish starting on Stripe's whole document, so `trimmed` keeps
only the operations a test syncs and the components they reach.

Prism is installed into `.prism/` by `scripts/env.sh ensure_prism`, or here when missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import typing as t
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRISM_VERSION = "5.14"
PRISM = ROOT / ".prism" / "node_modules" / ".bin" / "prism"
_REF = "#/components/"


def prism_binary() -> Path | None:
    """The prism executable, installed with npm into .prism/ when missing; None without npm."""
    if PRISM.exists():
        return PRISM
    npm = shutil.which("npm")
    if npm is None:
        return None
    (ROOT / ".prism").mkdir(exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(ROOT / ".prism"),
            f"@stoplight/prism-cli@{PRISM_VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return PRISM


def trimmed(root: Mapping[str, t.Any], paths: dict[str, str]) -> dict[str, t.Any]:
    """The document with only `paths` (path -> method), their 2xx responses, and the components they reach.

    Error responses go: Stripe's `error` schema alone reaches most of its 400 schemas.
    """
    kept_paths: dict[str, t.Any] = {}
    for path, method in paths.items():
        item = root["paths"][path]
        kept_paths[path] = {k: v for k, v in item.items() if k in {method.lower(), "parameters"}}
        operation = dict(item[method.lower()])
        operation["responses"] = {
            code: response for code, response in operation["responses"].items() if str(code).startswith("2")
        }
        kept_paths[path][method.lower()] = operation
    components = root.get("components") or {}
    reached: dict[str, dict[str, t.Any]] = {}
    pending = [kept_paths, root.get("security") or []]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF):
                section, _, name = ref[len(_REF) :].partition("/")
                if name not in reached.setdefault(section, {}):
                    reached[section][name] = components[section][name]
                    pending.append(components[section][name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    if "securitySchemes" in components:
        reached["securitySchemes"] = components["securitySchemes"]
    document = {
        key: value
        for key, value in root.items()
        if key not in {"paths", "components", "webhooks", "x-webhooks"}
    }
    return {**document, "paths": kept_paths, "components": reached}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prism:
    """One `prism mock --dynamic --seed N` process on 127.0.0.1, its log in a file."""

    def __init__(self, binary: Path, document: Mapping[str, t.Any], workdir: Path, seed: int = 7) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"prism-{self.port}.log"
        spec = workdir / f"doc-{self.port}.json"
        spec.write_text(json.dumps(document))
        self._out = open(self.log, "w")  # noqa: SIM115  # closed in stop()
        self.process = subprocess.Popen(
            [
                str(binary),
                "mock",
                "--dynamic",
                "--seed",
                str(seed),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                str(spec),
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Prism is listening" in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"prism exited: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"prism did not start within {timeout:.0f} s")

    def requests(self) -> int:
        return len(re.findall(r"Request received", self.log.read_text(errors="replace")))

    def rejections(self) -> list[str]:
        """Log lines of requests Prism refused (invalid parameters, unknown routes, missing auth).

        Prism also logs "Violation: response.body..." when its own generated data breaks a
        pattern of the document: that is about Prism's data, not about the requests.
        """
        markers = (
            "Request did not pass the validation rules",
            "Request terminated with error",
            "Violation: request",
        )
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if any(marker in line for marker in markers)]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()
