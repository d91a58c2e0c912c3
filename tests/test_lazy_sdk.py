"""lazy_sdk.py: singer-sdk's submodules load without its package __init__, which still runs on demand."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ISOLATED_ENV

CHILD = """
import sys
from tap_restoauth import lazy_sdk
lazy_sdk.defer_init()
import singer_sdk.tap_base
from singer_sdk import typing as th
import singer_sdk.streams.core
assert "singer_sdk.target_base" not in sys.modules, "the package __init__ ran"
assert "singer_sdk.streams.rest" not in sys.modules, "the streams package __init__ ran"
assert th.StringType is not None
import singer_sdk
assert singer_sdk.Target.__name__ == "Target"  # a re-export: the real __init__ runs now
from singer_sdk import RESTStream, Stream
assert "singer_sdk.target_base" in sys.modules
from singer_sdk.streams import GraphQLStream
assert GraphQLStream.__name__ == "GraphQLStream"
print("ok")
"""


def test_submodules_load_alone_and_the_package_completes_on_first_other_access() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        env={**os.environ, **ISOLATED_ENV},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
