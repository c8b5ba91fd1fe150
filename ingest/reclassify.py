"""Re-applies the current topic rules to stored articles: batches, resumable, with a dry run."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from db import Store, TopicHit, queries
from ingest.topics import Matcher

log = logging.getLogger("wiredesk.reclassify")

Topics = dict[str, tuple[float, list[str]]]  # topic -> (score, matched)


@dataclass
class Changes:
    """What a run changed (or, dry, would change): per topic and per article."""

    added: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    # article id -> (topics added, topics removed), for articles whose topics change
    articles: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    rescored: int = 0  # same topics, new score or matched terms (explanations refresh)
    scanned: int = 0
    resumed_after: int = 0  # article id an interrupted run had reached; 0 from the start

    def lines(self, *, dry_run: bool) -> list[str]:
        verb = "would change" if dry_run else "changed"
        out = [
            f"{verb} the topics of {len(self.articles)} of {self.scanned} articles"
            f" ({self.rescored} more rescored)"
            + (f", resuming after article {self.resumed_after}" if self.resumed_after else "")
        ]
        for topic in sorted(set(self.added) | set(self.removed)):
            out.append(f"  {topic}: +{self.added[topic]} -{self.removed[topic]}")
        return out


def fields_of(body: str | None) -> tuple[str, str]:
    """(lead, rest): the lead is the first paragraph, as the pipeline reads it."""
    lead, _, rest = (body or "").partition("\n\n")
    return lead, rest


def _stored(store: Store, ids: list[int]) -> dict[int, Topics]:
    marks = ",".join("?" * len(ids))
    current: dict[int, Topics] = {i: {} for i in ids}
    for aid, topic, score, matched in store.reader().execute(
        f"SELECT article_id, topic, score, matched FROM article_topics WHERE article_id IN ({marks})",
        ids,
    ):
        current[aid][topic] = (score, json.loads(matched))
    return current


def reclassify(
    store: Store,
    matcher: Matcher,
    *,
    dry_run: bool = False,
    restart: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    stop_after: int | None = None,
) -> Changes:
    """Walk articles by id. Each batch commits with its progress, so an interrupted
    run with the same rules resumes after the last batch (`restart` starts over).
    A dry run starts where the real run would and writes nothing, so the real run
    changes exactly what it reported. `stop_after` (batches) simulates an interruption."""
    rules_hash = matcher.fingerprint
    conn = store.reader()
    start = 0 if restart else queries.reclassify_resume_point(conn, rules_hash)
    changes = Changes(resumed_after=start)
    last_id, batches = start, 0
    log.info("event=reclassify_start dry_run=%s after=%s rules=%s", dry_run, start, rules_hash[:12])
    while stop_after is None or batches < stop_after:
        rows = conn.execute(
            "SELECT id, title, body, language, source FROM articles WHERE id > ?"
            " ORDER BY id LIMIT ?",
            (last_id, batch),
        ).fetchall()
        if not rows:
            break
        last_id = rows[-1]["id"]
        current = _stored(store, [r["id"] for r in rows])
        updates: list[tuple[int, list[TopicHit]]] = []
        for r in rows:
            lead, rest = fields_of(r["body"])
            hits = matcher.classify(
                r["title"], lead, rest, language=r["language"], source=r["source"]
            )
            new = {h.topic: (h.score, h.matched) for h in hits}
            old = current[r["id"]]
            if new == old:
                continue
            added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
            if added or removed:
                changes.articles[r["id"]] = (tuple(added), tuple(removed))
                changes.added.update(added)
                changes.removed.update(removed)
            else:
                changes.rescored += 1
            updates.append((r["id"], hits))
        changes.scanned += len(rows)
        batches += 1
        if not dry_run:
            with store.write() as w:
                for aid, hits in updates:
                    w.set_topics(aid, hits)  # bumps feed_versions: publishing follows
                w.save_reclassify_progress(rules_hash, last_id)
        if progress:
            progress(len(rows))
    else:
        log.info("event=reclassify_stopped after=%s", last_id)
        return changes
    if not dry_run:
        with store.write() as w:
            w.save_reclassify_progress(rules_hash, last_id, finished=True)
    log.info(
        "event=reclassify_done dry_run=%s scanned=%s changed=%s",
        dry_run,
        changes.scanned,
        len(changes.articles),
    )
    return changes
