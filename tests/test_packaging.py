"""The import packages are this repository's (PyPI has an unrelated `db`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import db
import feeds
import ingest
import wiredesk

REPO = Path(__file__).resolve().parent.parent


def test_packages_resolve_to_this_repository() -> None:
    for mod in (db, ingest, feeds, wiredesk):
        assert Path(mod.__file__ or "").resolve().parent.parent == REPO, mod


def test_python_dash_m_lists_every_interface_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in (
        "run",
        "ingest",
        "serve",
        "export",
        "search",
        "status",
        "topics",
        "reclassify",
        "check-config",
    ):
        assert f"  {cmd}" in out, cmd


def test_every_module_has_a_docstring() -> None:
    missing = []
    for pkg in ("db", "ingest", "feeds", "wiredesk"):
        for path in sorted((REPO / pkg).glob("*.py")):
            text = path.read_text(encoding="utf-8").lstrip()
            if not text.startswith('"""'):
                missing.append(str(path.relative_to(REPO)))
    assert missing == []


def test_imports_flow_one_way() -> None:
    """db imports nothing of ours; ingest and feeds import db only; wiredesk wires them."""
    allowed = {"db": {"db"}, "ingest": {"db", "ingest"}, "feeds": {"db", "feeds"}}
    bad = []
    for pkg, ok in allowed.items():
        for path in (REPO / pkg).glob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] in ("import", "from"):
                    top = words[1].split(".")[0]
                    if top in {"db", "ingest", "feeds", "wiredesk"} and top not in ok:
                        bad.append(f"{path.name}: {line.strip()}")
    assert bad == []
