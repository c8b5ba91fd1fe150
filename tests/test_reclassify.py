"""`reclassify`: the real run changes exactly what the dry run said; batches resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.eval_topics import load_articles
from db import Store
from ingest.item import Item
from ingest.reclassify import fields_of, reclassify
from ingest.topics import Matcher
from tests.conftest import REPO, write_config
from wiredesk.config import Config, parse_config
from wiredesk.desk import Desk

COPIES = ("alpha", "bravo", "charlie", "delta")
Snapshot = dict[int, dict[str, tuple[float, list[str]]]]


def changed_topics() -> dict[str, Any]:
    """The shipped topics, edited the way a user fixes rules: stricter defense, no
    `also` on regional-security, and a new topic."""
    topics = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))["topics"]
    topics["defense"]["threshold"] = 9
    topics["regional-security"].pop("also")
    topics["alliances"] = {"threshold": 2, "terms": {"nato": 2, "csto": 2, "одкб": 2}}
    return topics


def new_matcher(config: Config) -> Matcher:
    data = yaml.safe_load(Path(config.database).parent.joinpath("config.yaml").read_text())
    data["topics"] = changed_topics()
    return Matcher(parse_config(data, Path(config.database).parent).topic_rules())


def fill(desk: Desk, copies: int = 3) -> None:
    """The labelled set, `copies` times over (other item keys, so other articles)."""
    items = []
    for n in range(copies):
        for a in load_articles():
            p = a.paragraphs
            items.append(
                Item(
                    source="eval",
                    item_key=f"{a.id}-{n}",
                    title=f"{a.headline} ({n})",
                    body="\n\n".join([*p, f"Edition {COPIES[n]}."]),
                    language=a.lang,
                )
            )
    outcomes = desk.pipeline.ingest(items)
    assert all(o.kind == "new" for o in outcomes)


def snapshot(store: Store) -> Snapshot:
    out: Snapshot = {}
    for aid, topic, score, matched in store.reader().execute(
        "SELECT article_id, topic, score, matched FROM article_topics"
    ):
        out.setdefault(aid, {})[topic] = (score, json.loads(matched))
    return out


def versions(store: Store) -> dict[str, int]:
    return dict(store.reader().execute("SELECT topic, version FROM feed_versions").fetchall())


def diff(before: Snapshot, after: Snapshot) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    out = {}
    for aid in set(before) | set(after):
        b, a = set(before.get(aid, {})), set(after.get(aid, {}))
        if a != b:
            out[aid] = (tuple(sorted(a - b)), tuple(sorted(b - a)))
    return out


def test_real_run_changes_exactly_what_the_dry_run_said(desk: Desk) -> None:
    fill(desk)
    m2 = new_matcher(desk.config)
    before, v0 = snapshot(desk.store), versions(desk.store)
    ticks: list[int] = []
    dry = reclassify(desk.store, m2, dry_run=True, batch=40, progress=ticks.append)
    assert sum(ticks) == dry.scanned == 3 * len(load_articles())
    assert snapshot(desk.store) == before and versions(desk.store) == v0  # wrote nothing
    assert dry.articles and dry.added["alliances"] > 0 and dry.removed["defense"] > 0

    real = reclassify(desk.store, m2, batch=40)
    after = snapshot(desk.store)
    assert diff(before, after) == dry.articles == real.articles
    assert real.added == dry.added and real.removed == dry.removed
    assert real.rescored == dry.rescored
    # every stored decision is now the new rules' decision, score and terms included
    for row in desk.store.reader().execute(
        "SELECT id, title, body, language, source FROM articles"
    ):
        lead, rest = fields_of(row["body"])
        hits = m2.classify(row["title"], lead, rest, language=row["language"], source=row["source"])
        assert after.get(row["id"], {}) == {h.topic: (h.score, h.matched) for h in hits}
    # publishing follows: the feeds of changed topics moved, the others did not
    v1 = versions(desk.store)
    moved = {t for t in set(v0) | set(v1) if v1.get(t, 0) != v0.get(t, 0)}
    assert moved == {t for t in set(dry.added) | set(dry.removed)} >= {"defense", "alliances"}
    # a second run finds nothing left to do
    again = reclassify(desk.store, m2, dry_run=True, restart=True)
    assert not again.articles and again.rescored == 0


def test_an_interrupted_run_resumes_where_it_stopped(desk: Desk) -> None:
    fill(desk, copies=2)
    m2 = new_matcher(desk.config)
    before = snapshot(desk.store)
    plan = reclassify(desk.store, m2, dry_run=True, batch=30)
    first = reclassify(desk.store, m2, batch=30, stop_after=2)
    assert first.scanned == 60
    stopped_at = max(
        r[0] for r in desk.store.reader().execute("SELECT id FROM articles ORDER BY id LIMIT 60")
    )
    dry = reclassify(desk.store, m2, dry_run=True, batch=30)
    assert dry.resumed_after == stopped_at
    rest = reclassify(desk.store, m2, batch=30)
    assert rest.resumed_after == stopped_at
    assert rest.articles == dry.articles  # the resumed run did what its dry run said
    assert rest.scanned == plan.scanned - 60
    assert (
        {**first.articles, **rest.articles} == plan.articles == diff(before, snapshot(desk.store))
    )
    # finished: the next run starts from the first article again
    assert reclassify(desk.store, m2, dry_run=True).resumed_after == 0


def test_other_rules_do_not_resume_a_run_they_did_not_start(desk: Desk) -> None:
    fill(desk, copies=1)
    reclassify(desk.store, new_matcher(desk.config), batch=20, stop_after=1)
    assert reclassify(desk.store, desk.matcher, dry_run=True).resumed_after == 0


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_dry_run_then_run_and_explain(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    from wiredesk.config import load_config

    desk = Desk(load_config(cfg))
    fill(desk, copies=1)
    kant = (
        desk.store.reader()
        .execute("SELECT article_id FROM sightings WHERE item_key = 'ru-001-0'")
        .fetchone()[0]
    )
    desk.close()

    explain = _cli(cfg, "topics", "explain", str(kant))
    assert explain.returncode == 0, explain.stderr
    out = explain.stdout
    for topic in ("defense", "regional-security", "central-asia", "terrorism"):
        assert f" {topic}: " in out
    assert "IN  defense" in out and "OUT terrorism" in out
    assert "'авиабаза'" in out and "threshold 4" in out and "x title" in out

    write_config(tmp_path, topics=changed_topics())
    dry = _cli(cfg, "reclassify", "--dry-run", "--batch", "25")
    assert dry.returncode == 0, dry.stderr
    assert "checking" in dry.stderr  # the progress bar
    real = _cli(cfg, "reclassify", "--batch", "25")
    assert real.returncode == 0, real.stderr
    assert "reclassifying" in real.stderr
    dry_lines = dry.stdout.replace("would change", "changed").splitlines()
    assert dry_lines == real.stdout.splitlines()
    assert any(line.startswith("  alliances: +") for line in real.stdout.splitlines())
    listing = _cli(cfg, "topics")
    assert listing.returncode == 0 and "alliances" in listing.stdout


@pytest.mark.parametrize("bad", ["/(/"])
def test_reclassify_refuses_a_bad_config(tmp_path: Path, bad: str) -> None:
    topics = changed_topics()
    topics["alliances"]["terms"][bad] = 1
    cfg = write_config(tmp_path, topics=topics)
    run = _cli(cfg, "reclassify", "--dry-run")
    assert run.returncode == 2 and 'topics.alliances.terms["/(/"]' in run.stderr
