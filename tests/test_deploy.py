"""The shipped deployment files stay consistent with the CLI and config."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import REPO
from wiredesk.config import parse_config


def test_dockerfile_config_edits_apply_and_stay_valid(tmp_path: Path) -> None:
    docker = (REPO / "Dockerfile").read_text()
    text = (REPO / "config.yaml").read_text()
    for pattern, repl in re.findall(r"-e 's\|(.+?)\|(.+?)\|'", docker):
        new = re.sub(pattern.replace("^", "(?m)^", 1), repl, text)
        assert new != text, f"Dockerfile edit {pattern!r} no longer matches config.yaml"
        text = new
    cfg = parse_config(yaml.safe_load(text), tmp_path)
    assert str(cfg.database) == "/data/wiredesk.db"
    assert str(cfg.drops.path) == "/data/drops"
    assert cfg.server.host == "0.0.0.0"


def test_systemd_unit_runs_the_daemon_and_reloads_with_sighup() -> None:
    unit = (REPO / "deploy" / "wiredesk.service").read_text()
    assert "ExecStart=/opt/wiredesk/bin/wiredesk run" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
