"""The API reference lists every public name of ``thinknx_async.__all__``, each documented."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

import thinknx_async

ROOT = Path(__file__).resolve().parents[2]
API_PAGE = ROOT / "docs" / "api.md"
DIRECTIVE = re.compile(r"^::: thinknx_async\.(\w+)\s*$", re.M)


def listed() -> list[str]:
    return DIRECTIVE.findall(API_PAGE.read_text(encoding="utf-8"))


def attribute_docstring(module_name: str, name: str) -> str | None:
    """The docstring written after a module-level assignment ``name = ...``."""
    module = sys.modules[module_name]
    tree = ast.parse(inspect.getsource(module))
    body = tree.body
    for statement, following in itertools.pairwise(body):
        targets = (
            [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else statement.targets
            if isinstance(statement, ast.Assign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                value = following.value.value
                return value if isinstance(value, str) else None
            return None
    return None


def docstring(name: str) -> str | None:
    obj = getattr(thinknx_async, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        return own if isinstance(own, str) else None
    for module_name in (f"thinknx_async.{m}" for m in ("session", "site", "knx", "retry")):
        found = attribute_docstring(module_name, name)
        if found:
            return found
    return attribute_docstring("thinknx_async", name)


def test_api_page_lists_every_public_name_once() -> None:
    names = listed()
    assert len(names) == len(set(names)), "a name is listed twice"
    assert sorted(names) == sorted(thinknx_async.__all__)


@pytest.mark.parametrize("name", thinknx_async.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    text = docstring(name)
    assert text and text.strip(), f"thinknx_async.{name} has no docstring"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="needs the docs extra")
def test_built_reference_shows_every_name_with_its_docstring(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    for name in thinknx_async.__all__:
        assert f'id="thinknx_async.{name}"' in page, f"{name} is not in the built reference"
        summary = (docstring(name) or "").strip().splitlines()[0]
        words = re.sub(r"``?|:\w+:|~", "", summary).split()[:4]
        assert " ".join(words) in text.replace("\u00b6", ""), f"{name}: docstring not shown"
