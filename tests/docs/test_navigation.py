"""The home page leads everywhere: every page of the site is linked from docs/index.md, and
every page is in the site's navigation."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def pages() -> set[str]:
    """Every Markdown page of the site (examples and hooks are not pages)."""
    return {path.name for path in DOCS.glob("*.md")}


def links(text: str) -> set[str]:
    """The local pages ``text`` links to (``[words](page.md)`` or ``(page.md#anchor)``)."""
    return set(re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)", text))


def test_links_reads_markdown_links() -> None:
    assert links("[a](cli.md), [b](api.md#x), [c](https://x.org/y.md), `(z.md)`") == {
        "cli.md",
        "api.md",
    }


def test_the_home_page_links_every_page() -> None:
    home = (DOCS / "index.md").read_text("utf-8")
    missing = pages() - {"index.md"} - links(home)
    assert not missing, f"docs/index.md does not link {sorted(missing)}"
    assert links(home) <= pages(), "docs/index.md links a page that does not exist"


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text("utf-8")
    nav = set(re.findall(r"^\s*- (?:[^:\n]+: )?([\w.-]+\.md)\s*$", config, re.M))
    assert nav == pages()
