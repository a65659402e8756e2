"""The README's two commands are the ones the docs give and the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    return re.findall(r"```console\n(.+?)\n```", text)


def test_the_readme_has_two_commands_main_job_then_tests() -> None:
    demo, tests = readme_commands()
    assert demo.endswith("thinknx demo")
    assert tests.endswith("nox -s tests")


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert readme_commands()[1] in ci


def test_the_quick_start_page_gives_the_same_commands() -> None:
    page = (ROOT / "docs" / "quickstart.md").read_text("utf-8")
    for command in readme_commands():
        assert command in page
