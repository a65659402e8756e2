"""The arrows of the house point one way: no import circle at run time among the library's
modules, and the library never imports the simulator, the command or the Dask fleet."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "thinknx_async"
ON_TOP = ("thinknx_async.simulator", "thinknx_async.cli", "thinknx_async.distributed")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported: module level, ``TYPE_CHECKING`` aside
    (imports inside functions run later, when the importer is complete)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.If | ast.Try):
                for block in (node.body, node.orelse, *getattr(node, "handlers", ())):
                    visit(block if isinstance(block, list) else block.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text()).body)
    return {name for name in found if name.startswith("thinknx_async")}


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _runtime_imports(path) & files.keys() - {name} for name, path in files.items()}


def _library(name: str) -> bool:
    return not name.startswith(ON_TOP)


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import circle of ``graph`` (a package importing its own modules aside), or ``None``."""
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(graph.get(name, ())):
            if target.rpartition(".")[0] != name and (found := walk(target, [*path, name])):
                return found
        done.add(name)
        return None

    return next((c for name in sorted(graph) if (c := walk(name, []))), None)


def test_no_import_circle_at_run_time_in_the_library() -> None:
    graph = {
        name: {t for t in targets if _library(t)}
        for name, targets in _graph().items()
        if _library(name)
    }
    assert find_circle(graph) is None


def test_the_library_never_imports_what_sits_on_top_of_it() -> None:
    for name, targets in _graph().items():
        if _library(name):
            assert not [t for t in targets if not _library(t)], name


def test_the_check_sees_a_circle() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"p": {"p.x"}, "p.x": {"q"}, "q": set()}) is None
    graph = _graph()  # the graph is read from the code: the session imports the site
    assert "thinknx_async.site" in graph["thinknx_async.session"]
