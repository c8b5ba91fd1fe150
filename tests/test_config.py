"""Config validation: every problem named by its key path; durations; relative paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from wiredesk.config import ConfigError, load_config, parse_config, parse_duration


def problems(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, Path("/tmp"))
    return info.value.problems


def test_shipped_config_is_valid() -> None:
    cfg = load_config(REPO / "config.yaml")
    assert cfg.database == REPO / "data" / "wiredesk.db"
    assert cfg.drops.path == REPO / "drops"
    assert {"defense", "regional-security"} <= set(cfg.topics)
    assert cfg.sources, "the shipped config lists real feeds"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (45, 45), ("1.5h", 5400)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_threshold_must_be_a_number() -> None:
    got = problems({"topics": {"defense": {"threshold": "high", "terms": {"army": 1}}}})
    assert got == ["topics.defense.threshold: must be a number"]


def test_unknown_keys_are_rejected_with_their_path() -> None:
    got = problems({"server": {"hots": "127.0.0.1"}, "colour": "red"})
    assert "server.hots: unknown key" in got
    assert "colour: unknown key" in got


def test_bad_duration_and_url_name_their_source() -> None:
    got = problems({"sources": [{"name": "a", "url": "ftp://x", "interval": "soon"}]})
    assert any(p.startswith("sources[0].url: must be an http(s) URL") for p in got), got
    assert any(p.startswith("sources[0].interval: must be a duration") for p in got), got


def test_missing_required_key() -> None:
    assert problems({"sources": [{"url": "https://example.org/feed"}]}) == [
        "sources[0].name: is required"
    ]


def test_duplicate_source_names() -> None:
    src = {"name": "a", "url": "https://example.org/feed"}
    got = problems({"sources": [src, src]})
    assert any("duplicate names ['a']" in p for p in got), got


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"database": "x/store.db", "drops": {"path": "in"}}))
    cfg = load_config(path)
    assert cfg.database == path.parent / "x" / "store.db"
    assert cfg.drops.path == path.parent / "in"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("database: a\nserver: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "not valid YAML at line" in info.value.problems[0]


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(REPO / "config.yaml"), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    assert "config ok" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"topics": {"defense": {"threshold": "x", "terms": {"a": 1}}}}))
    res = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(bad), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "topics.defense.threshold: must be a number" in res.stderr


def test_config_path_from_environment(tmp_path: Path) -> None:
    import os

    res = subprocess.run(
        [sys.executable, "-m", "wiredesk", "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "WIREDESK_CONFIG": str(REPO / "config.yaml")},
    )
    assert res.returncode == 0, res.stderr
