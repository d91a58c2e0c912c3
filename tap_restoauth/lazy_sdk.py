"""Import singer-sdk's submodules without running its package `__init__`.

`import singer_sdk.tap_base` first runs `singer_sdk/__init__.py`, which imports the whole
SDK for its re-exports: the target and sink machinery (joblib, multiprocessing), the
GraphQL and SQL-adjacent streams, the schema sources. A tap run needs none of it, yet it
costs ~40 ms of every start. `defer_init()` registers the package without running its
`__init__` (the module object is the real one, with its real `__path__`), so each
`import singer_sdk.X` loads just X and what X imports. The first access to anything else
(`singer_sdk.Tap`, `from singer_sdk import Target`) runs the real `__init__` then, PEP 562
style, so nothing that reads the package sees less than it would have.

Only the command line calls it (`__main__.py`): a library import of `tap_restoauth`
leaves the SDK alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import typing as t

PACKAGE = "singer_sdk"


def defer_init() -> None:
    """Register `singer_sdk` with its `__init__` deferred; no-op once it is imported."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)

    def complete(name: str) -> t.Any:
        """A submodule by that name, else the package's own attribute (its `__init__` run once)."""
        if not name.startswith("__") and importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
            return importlib.import_module(f"{PACKAGE}.{name}")
        _run_init(package, spec)
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[PACKAGE] = package


def _run_init(package: types.ModuleType, spec: importlib.machinery.ModuleSpec) -> None:
    vars(package).pop("__getattr__", None)
    assert spec.loader is not None
    spec.loader.exec_module(package)
