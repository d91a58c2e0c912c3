"""Import singer-sdk's submodules without running its package `__init__`s.

`import singer_sdk.tap_base` first runs `singer_sdk/__init__.py`, which imports the whole
SDK for its re-exports: the target and sink machinery (joblib, multiprocessing), the
schema sources; `singer_sdk/streams/__init__.py` likewise brings the REST and GraphQL
stream classes with their authenticators and paginators. A tap run needs none of it, yet
it costs ~40 ms of every start. `defer_init()` registers these packages without running
their `__init__` (each module object is the real one, with its real `__path__`), so each
`import singer_sdk.X` loads just X and what X imports. The first access to anything else
(`singer_sdk.Tap`, `from singer_sdk import Target`) runs the real `__init__` then, PEP 562
style, so nothing that reads a package sees less than it would have.

Only the command line calls it (`__main__.py`): a library import of `tap_restoauth`
leaves the SDK alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import typing as t

PACKAGES = ("singer_sdk", "singer_sdk.streams")  # parents first


def defer_init() -> None:
    """Register the PACKAGES with their `__init__` deferred; each a no-op once it is imported."""
    for name in PACKAGES:
        if name not in sys.modules:
            _defer(name)


def _defer(name: str) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)

    def complete(attribute: str) -> t.Any:
        """A submodule by that name, else the package's own attribute (its `__init__` run once)."""
        submodule = f"{name}.{attribute}"
        if not attribute.startswith("__") and importlib.util.find_spec(submodule) is not None:
            return importlib.import_module(submodule)
        _run_init(package, spec)
        return getattr(package, attribute)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[name] = package


def _run_init(package: types.ModuleType, spec: importlib.machinery.ModuleSpec) -> None:
    vars(package).pop("__getattr__", None)
    assert spec.loader is not None
    spec.loader.exec_module(package)
