"""The store's schema as append-only sqlite-utils migrations: never edit one, add the next."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("wiredesk")


@migrations(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            guid TEXT NOT NULL UNIQUE,          -- stable published id, never changes
            title TEXT NOT NULL,
            summary TEXT,
            body TEXT,                          -- plain text, paragraphs split by blank lines
            content_html TEXT,                  -- sanitised HTML (subheads as <h3>)
            url TEXT,
            canonical_url TEXT,
            published TEXT NOT NULL,            -- ISO 8601 UTC
            published_raw TEXT,                 -- the date as the source wrote it
            updated TEXT NOT NULL,              -- ISO 8601 UTC, moves on an update
            source TEXT NOT NULL,
            author TEXT,
            agency TEXT,
            dateline TEXT,
            language TEXT,
            subheads TEXT,                      -- JSON list of the subheads, in order
            fingerprint TEXT NOT NULL,          -- sha256 of the normalised text
            first_seen TEXT NOT NULL
        );
        CREATE INDEX articles_published ON articles(published);
        CREATE INDEX articles_fingerprint ON articles(fingerprint);
        CREATE INDEX articles_canonical_url ON articles(canonical_url);

        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            source TEXT NOT NULL,
            item_key TEXT NOT NULL,
            url TEXT,
            seen_at TEXT NOT NULL,
            match TEXT NOT NULL CHECK (match IN ('new', 'exact', 'near', 'update')),
            similarity REAL,
            reason TEXT,                        -- why it matched (key kind, score)
            content_hash TEXT,                  -- detects a changed item on a later poll
            UNIQUE (source, item_key)
        );
        CREATE INDEX sightings_article ON sightings(article_id);

        CREATE TABLE article_topics (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            topic TEXT NOT NULL,
            score REAL NOT NULL,
            matched TEXT NOT NULL,              -- JSON list of the terms that matched
            PRIMARY KEY (article_id, topic)
        );
        CREATE INDEX article_topics_topic ON article_topics(topic, article_id);

        CREATE TABLE article_keys (
            key TEXT PRIMARY KEY,               -- 'guid:…', 'url:…', 'fp:…'
            article_id INTEGER NOT NULL REFERENCES articles(id)
        ) WITHOUT ROWID;

        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            last_fetch TEXT,
            last_success TEXT,
            last_status INTEGER,
            last_error TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            next_fetch TEXT,
            gone INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE failures (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            item_key TEXT,
            at TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE INDEX failures_source ON failures(source, at);

        -- bumped in the same transaction as any change to a topic's articles, so
        -- publishing re-renders a feed only when its version moved
        CREATE TABLE feed_versions (
            topic TEXT PRIMARY KEY,             -- a topic id, or '*' for every article
            version INTEGER NOT NULL,
            changed_at TEXT NOT NULL
        );
        """
    )
    # sqlite-utils declares content="articles" with double quotes, which is what
    # `sqlite-utils search` and Datasette look for.
    db.table("articles").enable_fts(
        ["title", "summary", "body"], fts_version="FTS5", create_triggers=True
    )


@migrations(name="0002_source_fetch_state")
def m0002_source_fetch_state(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE sources ADD COLUMN config_url TEXT;      -- as configured; url may be a 301 target
        ALTER TABLE sources ADD COLUMN identity TEXT NOT NULL DEFAULT 'guid';  -- or 'link' once guids rotate
        ALTER TABLE sources ADD COLUMN last_warning TEXT;    -- why the last document was ill-formed
        ALTER TABLE sources ADD COLUMN ttl_seconds INTEGER;  -- the feed's own ttl/max-age, a floor on the interval
        ALTER TABLE sources ADD COLUMN publish_interval REAL;  -- seconds between the feed's items (adaptive)
        ALTER TABLE sources ADD COLUMN last_error_at TEXT;
        CREATE INDEX sightings_source_url ON sightings(source, url);
        """
    )


@migrations(name="0003_dedup")
def m0003_dedup(db: Database) -> None:
    db.executescript(
        """
        -- one row per copy of a story that carried text: the near-duplicate layer's
        -- features, so a restart reloads the index instead of forgetting it
        CREATE TABLE dedup_signatures (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            sighting_id INTEGER,                -- the copy these features came from
            source TEXT,                        -- the source of that copy
            published TEXT,                     -- ISO 8601 UTC; null when the source gave none
            seen_at TEXT NOT NULL,              -- when it entered the index (the window runs on it)
            language TEXT,
            features BLOB NOT NULL              -- ingest.minhash.Features.pack()
        );
        CREATE INDEX dedup_signatures_seen ON dedup_signatures(seen_at);
        CREATE INDEX dedup_signatures_article ON dedup_signatures(article_id);

        -- the sighting whose copy the article shows; null means the first one ('new')
        ALTER TABLE articles ADD COLUMN rep_sighting INTEGER;
        """
    )


@migrations(name="0004_reclassify_progress")
def m0004_reclassify_progress(db: Database) -> None:
    db.executescript(
        """
        -- one row per set of topic rules `wiredesk reclassify` has applied: an
        -- interrupted run resumes after last_id when the rules are the same
        CREATE TABLE reclassify_runs (
            rules_hash TEXT PRIMARY KEY,        -- sha256 of the compiled topic rules
            last_id INTEGER NOT NULL,           -- every article up to here is done
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT                    -- null while a run is unfinished
        );
        """
    )


@migrations(name="0006_retention_tombstones")
def m0006_retention_tombstones(db: Database) -> None:
    db.executescript(
        """
        -- keys of pruned articles and their sightings: a pruned story never comes back
        CREATE TABLE tombstones (
            key TEXT PRIMARY KEY,               -- item:SOURCE NEWLINE ITEM_KEY, or an article key
            pruned_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


@migrations(name="0007_index_page_counts")
def m0007_index_page_counts(db: Database) -> None:
    db.executescript(
        """
        -- per-source article and duplicate counts (index page, `wiredesk status`) from
        -- the indexes alone, instead of a scan of every article per source
        CREATE INDEX articles_source ON articles(source);
        CREATE INDEX sightings_match_source ON sightings(match, source);
        """
    )


@migrations(name="0008_fts_indexed_by_writer")
def m0008_fts_indexed_by_writer(db: Database) -> None:
    db.executescript(
        """
        -- New articles are indexed by the writer, many rows in one INSERT ... SELECT
        -- at the end of each transaction (db.writer.Writer.index_text): the per-row
        -- insert trigger cost ~3x as much an article. Only an update of the indexed
        -- text re-indexes a row, not every update of its other columns.
        DROP TRIGGER IF EXISTS "articles_ai";
        DROP TRIGGER IF EXISTS "articles_au";
        CREATE TRIGGER "articles_au" AFTER UPDATE OF "title", "summary", "body" ON "articles"
        BEGIN
          INSERT INTO "articles_fts" ("articles_fts", rowid, "title", "summary", "body")
            VALUES('delete', old.rowid, old."title", old."summary", old."body");
          INSERT INTO "articles_fts" (rowid, "title", "summary", "body")
            VALUES (new.rowid, new."title", new."summary", new."body");
        END;
        """
    )


@migrations(name="0009_drop_write_only_indexes")
def m0009_drop_write_only_indexes(db: Database) -> None:
    db.executescript(
        """
        -- No query of ours reads these: exact duplicates are found through article_keys
        -- ('url:' + canonical URL, 'fp:' + fingerprint), which holds the same values.
        -- Each is a B-tree insert at a random page per article: with 1M stored that
        -- page is rarely cached and every commit writes it whole (16 KB) to the WAL;
        -- the two cost ~180 us of a ~790 us article at 1M (a lookup by either column
        -- goes through article_keys, as the README's store section shows).
        DROP INDEX IF EXISTS articles_fingerprint;
        DROP INDEX IF EXISTS articles_canonical_url;
        """
    )


@migrations(name="0010_fts_triggers_skip_unindexed_rows")
def m0010_fts_triggers_skip_unindexed_rows(db: Database) -> None:
    db.executescript(
        """
        -- A row the writer has not indexed yet (stored in the open transaction: it is
        -- indexed at the end of it, with the text it has then), or one inserted by hand
        -- and never indexed, has nothing in the index to take out: the triggers act on
        -- indexed rows only, which are those with a row in FTS5's docsize table. Before,
        -- the writer had to index the transaction's rows ahead of any text change or
        -- delete, and a delete of a row never indexed took out terms never put in.
        DROP TRIGGER IF EXISTS "articles_au";
        CREATE TRIGGER "articles_au" AFTER UPDATE OF "title", "summary", "body" ON "articles"
        WHEN EXISTS (SELECT 1 FROM "articles_fts_docsize" WHERE id = old.rowid)
        BEGIN
          INSERT INTO "articles_fts" ("articles_fts", rowid, "title", "summary", "body")
            VALUES('delete', old.rowid, old."title", old."summary", old."body");
          INSERT INTO "articles_fts" (rowid, "title", "summary", "body")
            VALUES (new.rowid, new."title", new."summary", new."body");
        END;
        DROP TRIGGER IF EXISTS "articles_ad";
        CREATE TRIGGER "articles_ad" AFTER DELETE ON "articles"
        WHEN EXISTS (SELECT 1 FROM "articles_fts_docsize" WHERE id = old.rowid)
        BEGIN
          INSERT INTO "articles_fts" ("articles_fts", rowid, "title", "summary", "body")
            VALUES('delete', old.rowid, old."title", old."summary", old."body");
        END;
        """
    )
