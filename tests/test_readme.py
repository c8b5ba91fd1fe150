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
    samples = sorted((REPO / "drops").glob("*.txt"))
    assert samples, "drops/ must ship the sample wire story"
    assert "/TASS/" in samples[0].read_text(encoding="utf-8")
