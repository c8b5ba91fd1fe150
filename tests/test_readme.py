"""The README's two commands are the ones CI and users run."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick)


def test_quick_start_has_the_two_commands() -> None:
    run, test = _commands()[:2]
    assert run.endswith("wiredesk run") and "pip install" in run
    assert "pytest" in test and "[test]" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test = _commands()[1]
    assert f'{test} 2>&1 | tee "$log"' in ci


def test_shipped_drop_folder_holds_the_sample_story() -> None:
    name = "000_kant_airbase_sample.txt"
    # after a first run the sample has moved to done/, as it should
    sample = next(p for p in (REPO / "drops" / name, REPO / "drops" / "done" / name) if p.exists())
    assert sample.read_bytes() == (REPO / "tests" / "data" / "seed_kant.txt").read_bytes()
