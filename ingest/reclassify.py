"""Re-applies the current topic rules to stored articles, in batches, with a dry-run diff."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from db import Store
from ingest.topics import Matcher


@dataclass
class Changes:
    added: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    articles: int = 0  # articles whose topics changed
    scanned: int = 0


def reclassify(
    store: Store,
    matcher: Matcher,
    *,
    dry_run: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> Changes:
    """Walk articles by id; each batch commits on its own, so an interrupted run
    resumes by running again (articles already right are left alone)."""
    changes = Changes()
    last_id = 0
    conn = store.reader()
    while True:
        rows = conn.execute(
            "SELECT id, title, body FROM articles WHERE id > ? ORDER BY id LIMIT ?",
            (last_id, batch),
        ).fetchall()
        if not rows:
            break
        last_id = rows[-1]["id"]
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        current: dict[int, dict[str, tuple[float, list[str]]]] = {i: {} for i in ids}
        for r in conn.execute(
            f"SELECT article_id, topic, score, matched FROM article_topics WHERE article_id IN ({marks})",
            ids,
        ):
            current[r[0]][r[1]] = (r[2], json.loads(r[3]))
        updates = []
        for r in rows:
            lead, _, rest = (r["body"] or "").partition("\n\n")
            hits = matcher.classify(r["title"], lead, rest)
            new = {h.topic: (h.score, h.matched) for h in hits}
            old = current[r["id"]]
            if new != old:
                changes.articles += 1
                changes.added.update(set(new) - set(old))
                changes.removed.update(set(old) - set(new))
                updates.append((r["id"], hits))
        changes.scanned += len(rows)
        if updates and not dry_run:
            with store.write() as w:
                for aid, hits in updates:
                    w.set_topics(aid, hits)
        if progress:
            progress(len(rows))
    return changes
