"""mkdocs hook: render the Sphinx-style roles of the docstrings as code, linked when public.

The library's docstrings write ``:class:`Site``` or ``:meth:`~thinknx_async.Site.call```.
mkdocstrings renders them as ``:class:<code>Site</code>``; this hook drops the role and turns a
name of ``thinknx_async.__all__`` into a cross-reference to the API page.
"""

from __future__ import annotations

import re
from typing import Any

import thinknx_async

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj):<code>(~?)([\w.]+)</code>")
_MODULES = ("thinknx_async.", "errors.", "session.", "site.", "devices.", "models.", "knx.")
_PUBLIC = frozenset(thinknx_async.__all__)


def _replace(match: re.Match[str]) -> str:
    short, path = match.group(1) == "~", match.group(2)
    shown = path.rsplit(".", 1)[-1] if short else path
    name = path
    for prefix in _MODULES:
        name = name.removeprefix(prefix)
    if name.split(".", 1)[0] not in _PUBLIC:
        return f"<code>{shown}</code>"
    identifier = f"thinknx_async.{name}"
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite the roles left in a page's HTML."""
    return _ROLE.sub(_replace, html)
