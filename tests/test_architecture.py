"""The package's layout rules, read from the source: no module imports itself back, by any path.

Every import counts: at module level, inside functions, and under `if TYPE_CHECKING:` (a type
that only the checker follows still ties the two modules together). Importing `a.b.c` also
runs `a/__init__.py` and `a/b/__init__.py`, so each import depends on those packages too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tap_restoauth"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports (and the packages those live in)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return (found & modules) - {name}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(path, root): path for path in root.rglob("*.py")}
    return {name: imported(path, root, set(paths)) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (strongly connected, more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "tap_restoauth.auth.registry" in graph
    found = cycles(graph)
    assert not found, f"modules importing each other: {found}"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "from pkg import b", "b.py": "import pkg.a"}, [["pkg.a", "pkg.b"]]),
        (  # only the type checker follows it: still a cycle
            {
                "a.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.b import B",
                "b.py": "from . import a",
            },
            [["pkg.a", "pkg.b"]],
        ),
        ({"a.py": "def f():\n    from pkg.b import g", "b.py": "from pkg.a import f"}, [["pkg.a", "pkg.b"]]),
        (
            {
                "sub/__init__.py": "from pkg.sub import c",
                "sub/c.py": "from pkg.sub.d import x",
                "sub/d.py": "",
            },
            [["pkg.sub", "pkg.sub.c"]],
        ),  # a package whose __init__ imports the modules needing it
        ({"a.py": "from pkg import b", "b.py": "import json"}, []),
    ],
)
def test_cycles_are_found_through_every_kind_of_import(tmp_path, files, expected):
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert cycles(import_graph(root)) == expected
