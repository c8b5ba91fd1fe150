"""Steady state: a store of N realistic articles made by direct SQL, and the cost of ingesting
new articles into it through the real pipeline.

A generated store is cached under benchmarks/.cache (git-ignored) and copied for each
measurement, so a run never changes it. Rows are shaped like the pipeline's own: ~2 KB
plain-text bodies and their HTML, three exact keys and a sighting per article (a fifth
with a second sighting), topics for a fifth, a persisted near-duplicate entry for every
article, FTS5 over title/summary/body (built in one `rebuild`, then the triggers are put
back exactly as the migration made them). Articles arrive at RATE per day, so the
dedup window holds the same number of copies at every N; the window is moved to "now"
in the working copy before each measurement.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.suite import CACHE  # noqa: E402
from db.clock import epoch_iso, parse_iso  # noqa: E402

RATE = 2000  # articles per day
WINDOW_DAYS = 3
PARAS = 20_000  # distinct generated paragraphs the bodies are drawn from
SIGNATURES = 8_000  # distinct packed feature blobs (more than the window holds)
NEW_FEEDS = 40  # timed: 40 feeds x 50 fresh items
CHUNK = 20_000


def _fts_triggers(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type='trigger' AND tbl_name='articles'"
        )
    ]


def generate(path: Path, n: int, seed: int = 5) -> float:
    from benchmarks.farm import NewsText
    from db import Store
    from ingest.minhash import features

    t0 = time.perf_counter()
    text = NewsText(seed)
    rng = random.Random(seed)
    stories = [text.story() for _ in range(PARAS // 5)]
    paras = [p for s in stories for p in s.paras][:PARAS]
    blobs = [features(s.title, "\n\n".join(s.paras)).pack() for s in stories[:SIGNATURES]]
    titles = [s.title for s in stories]
    tmp = path.with_suffix(".generating")
    tmp.unlink(missing_ok=True)
    Store(tmp).close()  # the schema through the real migrations (16 KB pages, WAL)
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA synchronous = OFF")
    triggers = _fts_triggers(conn)
    for sql in triggers:
        name = sql.split()[2]
        conn.execute(f"DROP TRIGGER {name}")
    now = time.time()
    step = 86400 / RATE
    sources = [f"source{i}" for i in range(300)]
    sighting_id = 0
    for start in range(0, n, CHUNK):
        arts, keys, sights, topics, sigs = [], [], [], [], []
        for i in range(start, min(n, start + CHUNK)):
            aid = i + 1
            when = epoch_iso(now - (n - i) * step)
            src = sources[i % len(sources)]
            body_paras = [paras[rng.randrange(PARAS)] for _ in range(rng.randint(4, 6))]
            body = "\n\n".join(body_paras)
            html = "".join(f"<p>{p}</p>" for p in body_paras)
            title = f"{titles[rng.randrange(len(titles))]} {i}"
            url = f"https://{src}.example.com/2024/story-{i}"
            fp = hashlib.sha256(f"{title}{i}".encode()).hexdigest()
            guid = f"urn:uuid:{hashlib.md5(url.encode()).hexdigest()}"
            arts.append(
                (
                    aid,
                    guid,
                    title,
                    body,
                    html,
                    url,
                    url[8:],
                    when,
                    when,
                    when,
                    src,
                    f"{src} staff",
                    None,
                    None,
                    "en",
                    "[]",
                    fp,
                    when,
                )
            )
            keys += [(f"guid:{url}", aid), (f"url:{url[8:]}", aid), (f"fp:{fp}", aid)]
            sighting_id += 1
            sights.append((sighting_id, aid, src, url, url, when, "new", None, None, fp))
            if i % 5 == 0:
                other = sources[(i * 7 + 3) % len(sources)]
                sighting_id += 1
                sights.append(
                    (
                        sighting_id,
                        aid,
                        other,
                        f"{url}?utm_source=rss",
                        url,
                        when,
                        "exact",
                        1.0,
                        "same url",
                        fp,
                    )
                )
            if i % 5 == 1:
                topics.append((aid, "defense", 6.0, '["military", "troop"]'))
            sigs.append((aid, aid, src, when, when, "en", blobs[i % len(blobs)]))
        with conn:
            conn.executemany(
                """INSERT INTO articles (id, guid, title, body, content_html, url,
                     canonical_url, published, updated, first_seen, source, author, agency,
                     dateline, language, subheads, fingerprint, published_raw)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                arts,
            )
            conn.executemany("INSERT INTO article_keys (key, article_id) VALUES (?,?)", keys)
            conn.executemany(
                """INSERT INTO sightings (id, article_id, source, item_key, url, seen_at,
                     match, similarity, reason, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                sights,
            )
            conn.executemany("INSERT INTO article_topics VALUES (?,?,?,?)", topics)
            conn.executemany(
                """INSERT INTO dedup_signatures (article_id, sighting_id, source, published,
                     seen_at, language, features) VALUES (?,?,?,?,?,?,?)""",
                sigs,
            )
    with conn:
        conn.executemany(
            "INSERT OR IGNORE INTO sources (name, url, config_url) VALUES (?,?,?)",
            [
                (s, f"https://{s}.example.com/feed", f"https://{s}.example.com/feed")
                for s in sources
            ],
        )
        conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
        for sql in triggers:
            conn.execute(sql)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.replace(path)
    Path(f"{path}.json").write_text(json.dumps({"n": n, "generated_at": now}))
    return time.perf_counter() - t0


def store_at(n: int) -> Path:
    """The cached store of `n` articles, generated on first use."""
    path = CACHE / f"store-{n}.db"
    if not path.exists() or not Path(f"{path}.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        took = generate(path, n)
        print(f"generated {path.name} in {took:.0f}s", file=sys.stderr)
    return path


def _move_window(conn: sqlite3.Connection, generated_at: float, now: float) -> None:
    """Shift the newest entries (those inside the dedup window) so they end at `now`."""
    delta = now - generated_at
    since = epoch_iso(generated_at - (WINDOW_DAYS + 1) * 86400)
    rows = conn.execute(
        "SELECT id, published, seen_at FROM dedup_signatures WHERE seen_at >= ?", (since,)
    ).fetchall()

    def shift(iso: str | None) -> str | None:
        if iso is None:
            return None
        return epoch_iso(parse_iso(iso).timestamp() + delta)

    with conn:
        conn.executemany(
            "UPDATE dedup_signatures SET published = ?, seen_at = ? WHERE id = ?",
            [(shift(p), shift(s), i) for i, p, s in rows],
        )


def fresh_items(rules: Any) -> list[list[Any]]:
    """NEW_FEEDS feeds of 50 new stories (another seed than any store), parsed and
    prepared as the parse workers hand them to the writer."""
    from benchmarks.farm import documents
    from benchmarks.suite import _cached
    from ingest.feedparse import parse_feed
    from ingest.prepare import attach, forget_seen, use_rules

    docs: list[bytes] = _cached(
        f"fresh-{NEW_FEEDS}", lambda: documents(NEW_FEEDS, 50, near_share=0.0, seed=99)
    )
    batches = [parse_feed(d, f"new{i}").items for i, d in enumerate(docs)]
    use_rules(rules)
    # as a worker that has not met them: from the second pass on, this process's memory
    # of prepared items handed them over as `Seen`, and the writer prepared them itself
    forget_seen()
    for b in batches:
        attach(b)
    return batches


def measure_ingest(path: Path, n: int) -> dict[str, Any]:
    """Copy the cached store, open it as the daemon does, ingest fresh feeds (one batch per
    feed, as a poll stores them) and time the writer's part."""
    from db import Store
    from ingest.dedup import Deduplicator
    from ingest.pipeline import Pipeline
    from ingest.topics import Matcher
    from tests.conftest import write_config
    from wiredesk.config import load_config

    meta = json.loads(Path(f"{path}.json").read_text())
    work = path.with_name(f"work-{path.name}")
    shutil.copyfile(path, work)
    try:
        conn = sqlite3.connect(work)
        _move_window(conn, meta["generated_at"], time.time())
        conn.close()
        # the copy leaves gigabytes of dirty pages at 1M: written back before the timed
        # part, not during it
        os.sync()
        cfg_dir = Path(CACHE / "cfg")
        cfg_dir.mkdir(exist_ok=True)
        rules = load_config(write_config(cfg_dir)).topic_rules()
        batches = fresh_items(rules)
        matcher = Matcher(rules)
        store = Store(work)
        t = time.perf_counter()
        pipeline = Pipeline(store, matcher, Deduplicator())
        load_s = time.perf_counter() - t
        outcomes: list[str] = []
        t = time.perf_counter()
        for items in batches:
            outcomes += [o.kind for o in pipeline.ingest(items)]
        took = time.perf_counter() - t
        window = len(pipeline.dedup)
        store.close()
    finally:
        work.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
    kinds = {k: outcomes.count(k) for k in sorted(set(outcomes))}
    return {
        "articles": len(outcomes),
        "seconds": round(took, 3),
        "us_per_article": round(took / len(outcomes) * 1e6, 1),
        "window_entries": window,
        "load_seconds": round(load_s, 2),
        "outcomes": kinds,
    }
