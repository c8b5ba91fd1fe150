"""The `wiredesk` command line: run, ingest, serve, export, search, status, sightings, topics, reclassify, check-config."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from db import StoreError, queries
from wiredesk.config import Config, ConfigError, config_path, load_config
from wiredesk.logs import setup_logging

F = TypeVar("F", bound=Callable[..., Any])
EXIT_BAD_CONFIG = 2


def _config(ctx: click.Context) -> Config:
    path = config_path(ctx.obj.get("config_path"))
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(f"config error: {p}", err=True)
        ctx.exit(EXIT_BAD_CONFIG)
    setup_logging(ctx.obj.get("log_level") or cfg.log_level, cfg.log_format)
    return cfg


def _desk(ctx: click.Context) -> Any:
    from wiredesk.desk import Desk

    cfg = _config(ctx)
    try:
        return Desk(cfg)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)


def _article(ctx: click.Context, article_id: int) -> tuple[Any, sqlite3.Connection, sqlite3.Row]:
    """The desk, a reader and the article's row; exit 2 when there is no such article."""
    desk = _desk(ctx)
    conn = desk.store.reader()
    row = queries.article(conn, article_id)
    if row is None:
        click.echo(f"error: no article with id {article_id}", err=True)
        ctx.exit(EXIT_BAD_CONFIG)
    return desk, conn, row


def _handles_store_errors(fn: F) -> F:
    @wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            click.echo(f"error: the store failed: {exc}", err=True)
            sys.exit(1)

    return cast(F, inner)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="config file (default ./config.yaml or $WIREDESK_CONFIG)",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="override the config's log_level",
)
@click.version_option(package_name="wiredesk")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """wiredesk: a news wire desk in one process."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["log_level"] = log_level


@cli.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the config; print each problem with its key path (exit 2 on error)."""
    cfg = _config(ctx)
    click.echo(
        f"config ok: {len(cfg.sources)} sources, {len(cfg.topics)} topics, "
        f"database {cfg.database}, drops {cfg.drops.path}"
    )


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """The daemon: polling, drop folder, publishing and the HTTP server until SIGINT/SIGTERM."""
    from wiredesk.daemon import AlreadyRunning, cap_malloc_arenas, run_daemon

    cap_malloc_arenas()  # before any thread exists
    desk = _desk(ctx)
    try:
        run_daemon(desk, config_path(ctx.obj.get("config_path")))
    except AlreadyRunning as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)


@cli.command()
@click.option(
    "--source", "only", metavar="NAME", help="poll only this source ('drops' for the drop folder)"
)
@click.pass_context
@_handles_store_errors
def ingest(ctx: click.Context, only: str | None) -> None:
    """One pass over every source and the drop folder, then publish; prints a summary."""
    desk = _desk(ctx)
    names = {s.name for s in desk.config.sources} | {"drops"}
    if only is not None and only not in names:
        click.echo(
            f"error: --source {only!r}: no such source (have: {', '.join(sorted(names))})", err=True
        )
        ctx.exit(EXIT_BAD_CONFIG)
    report = desk.ingest_pass(due_only=False, only=only)
    desk.export()
    desk.announce()
    for line in report.lines():
        click.echo(line)
    desk.close()


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """The HTTP server alone."""
    from wiredesk.daemon import build_server

    desk = _desk(ctx)
    build_server(desk).run()
    desk.close()


@cli.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@_handles_store_errors
def backup(ctx: click.Context, target: Path) -> None:
    """Write a consistent copy of the store to TARGET (VACUUM INTO), safe while the daemon runs."""
    from db.maintenance import BackupError
    from db.maintenance import backup as run_backup

    desk = _desk(ctx)
    try:
        path = run_backup(desk.store, target)
    except BackupError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    click.echo(f"backup written to {path} ({path.stat().st_size} bytes, integrity ok)")
    desk.close()


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
@_handles_store_errors
def export(ctx: click.Context, directory: Path) -> None:
    """Write every feed, the OPML file and the index page as static files under DIRECTORY."""
    desk = _desk(ctx)
    written = desk.publisher.export(directory)
    click.echo(f"wrote {len(written)} files under {directory}")
    desk.close()


@cli.command()
@click.argument("query")
@click.option("--topic", help="only articles in this topic")
@click.option("--since", help="only articles published on or after this date (YYYY-MM-DD)")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.pass_context
@_handles_store_errors
def search(
    ctx: click.Context, query: str, topic: str | None, since: str | None, limit: int, as_json: bool
) -> None:
    """Full-text search of stored articles (FTS5 syntax)."""
    desk = _desk(ctx)
    try:
        rows = queries.search(desk.store.reader(), query, topic=topic, since=since, limit=limit)
    except sqlite3.OperationalError as exc:
        click.echo(f"error: bad search query {query!r}: {exc}", err=True)
        ctx.exit(EXIT_BAD_CONFIG)
    for r in rows:
        if as_json:
            click.echo(json.dumps(dict(r), ensure_ascii=False))
        else:
            click.echo(f"{r['id']:>7}  {r['published'][:10]}  {r['source']:<12} {r['title']}")
    if not as_json:
        click.echo(f"{len(rows)} results", err=True)


@cli.command()
@click.pass_context
@_handles_store_errors
def status(ctx: click.Context) -> None:
    """Each source's last fetch, status, errors, next due time and articles; drop folder counts."""
    desk = _desk(ctx)
    conn = desk.store.reader()
    configured = {s.name for s in desk.config.sources}
    click.echo(
        f"{'source':<20} {'last fetch':<21} {'status':>6} {'errors':>6} {'next due':<21} "
        f"{'articles':>8} {'dupes':>6}  last error"
    )
    for s in queries.sources(conn):
        if s["name"] not in configured:
            continue
        click.echo(
            f"{s['name']:<20} {s['last_fetch'] or 'never':<21} {s['last_status'] or '-':>6} "
            f"{s['error_count']:>6} {('gone' if s['gone'] else s['next_fetch'] or 'now'):<21} "
            f"{s['articles']:>8} {s['duplicates']:>6}  {s['last_error'] or ''}"
        )
    d = desk.drops.pending_counts()
    t = queries.totals(conn)
    click.echo(f"drops: {d['waiting']} waiting, {d['done']} done, {d['failed']} failed")
    click.echo(
        f"store: {t['articles']} articles, {t['sightings']} sightings, "
        f"{t['duplicates']} duplicates, {t['failures']} failures"
    )
    m = queries.match_counts(conn)
    click.echo(
        f"dedup: {m.get('exact', 0)} exact, {m.get('near', 0)} near, "
        f"{m.get('update', 0)} updates; {len(desk.dedup)} copies in the near-duplicate window"
    )
    desk.close()


@cli.command()
@click.argument("article_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per sighting")
@click.pass_context
@_handles_store_errors
def sightings(ctx: click.Context, article_id: int, as_json: bool) -> None:
    """Every copy of article ARTICLE_ID that was taken in, how it matched and why."""
    desk, conn, row = _article(ctx, article_id)
    rows = queries.sightings(conn, article_id)
    rep = row["rep_sighting"] if row["rep_sighting"] is not None else rows[0]["id"]
    if as_json:
        for r in rows:
            click.echo(json.dumps({**dict(r), "shown": r["id"] == rep}, ensure_ascii=False))
        desk.close()
        return
    click.echo(f"article {article_id}: {row['title']}")
    click.echo(f"  guid {row['guid']}  updated {row['updated']}  first source {row['source']}")
    for r in rows:
        mark = "*" if r["id"] == rep else " "
        sim = f"{r['similarity']:.2f}" if r["similarity"] is not None else "-"
        click.echo(
            f"{mark} {r['id']:>6}  {r['seen_at']}  {r['match']:<6} {sim:>5}  "
            f"{r['source']:<16} {r['item_key']}"
        )
        detail = "; ".join(x for x in (r["reason"], r["url"]) if x)
        if detail:
            click.echo(f"          {detail}")
    click.echo("* = the copy the published entry shows")
    desk.close()


@cli.group(invoke_without_command=True)
@click.pass_context
@_handles_store_errors
def topics(ctx: click.Context) -> None:
    """Each topic with its article count; `topics explain ID` shows why."""
    if ctx.invoked_subcommand is not None:
        return
    desk = _desk(ctx)
    counts = queries.topic_counts(desk.store.reader())
    click.echo(f"{'topic':<24} {'articles':>8} {'threshold':>9} {'terms':>6}  title")
    for rule in desk.matcher.rules.values():
        click.echo(
            f"{rule.id:<24} {counts.get(rule.id, 0):>8} {rule.threshold:>9g} "
            f"{len(rule.terms):>6}  {rule.title or ''}"
        )
    desk.close()


@topics.command("explain")
@click.argument("article_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="the explanation as one JSON object")
@click.pass_context
@_handles_store_errors
def topics_explain(ctx: click.Context, article_id: int, as_json: bool) -> None:
    """Why article ARTICLE_ID is (or is not) in each topic: terms, weights, fields, threshold."""
    from dataclasses import asdict

    from ingest.reclassify import fields_of

    desk, conn, row = _article(ctx, article_id)
    stored = queries.article_topics(conn, article_id)
    lead, rest = fields_of(row["body"])
    explanations = desk.matcher.explain(
        row["title"], lead, rest, language=row["language"], source=row["source"]
    )
    if as_json:
        out = {
            "article": article_id,
            "title": row["title"],
            "language": row["language"],
            "source": row["source"],
            "stored": {t: {"score": s, "matched": m} for t, (s, m) in stored.items()},
            "topics": [{**asdict(e), "matched": e.matched} for e in explanations],
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        desk.close()
        return
    click.echo(f"article {article_id}: {row['title']}")
    click.echo(f"language {row['language'] or 'unknown'}, source {row['source']}")
    for e in explanations:
        mark = "IN " if e.assigned else "OUT"
        if (e.topic in stored) != e.assigned:
            note = " (stored differs: run `wiredesk reclassify`)"
        else:
            note = " (stored)" if e.topic in stored else ""
        click.echo(f"{mark} {e.topic}: {e.reason}{note}")
        fw = ", ".join(f"{f} x{w:g}" for f, w in e.field_weights.items())
        click.echo(
            f"      score {e.score:.2f} / threshold {e.threshold:g}; fields {fw};"
            f" term lists {', '.join(e.languages)}"
        )
        for h in e.hits:
            click.echo(
                f"      {h.term!r:<32} {h.language:<3} weight {h.weight:+g} x {h.field:<5}"
                f" = {h.contribution:+.2f}"
            )
        if not e.hits:
            click.echo("      no term of this topic occurs")
        if e.required is not None:
            click.echo(f"      required (one of): {e.required or 'none found'}")
        if e.excluded:
            click.echo(f"      excluded by: {e.excluded}")
        if e.via:
            click.echo(f"      via: {' + '.join(e.via)}")
    desk.close()


@cli.command()
@click.option("--dry-run", is_flag=True, help="show what would change (per topic), write nothing")
@click.option(
    "--restart",
    is_flag=True,
    help="start from the first article, not where an interrupted run stopped",
)
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="articles per transaction",
)
@click.pass_context
@_handles_store_errors
def reclassify(ctx: click.Context, dry_run: bool, restart: bool, batch: int) -> None:
    """Re-apply the current topic rules to every stored article (progress bar); resumable."""
    from ingest.reclassify import reclassify as run_reclassify

    desk = _desk(ctx)
    conn = desk.store.reader()
    start = 0 if restart else queries.reclassify_resume_point(conn, desk.matcher.fingerprint)
    total = conn.execute("SELECT count(*) FROM articles WHERE id > ?", (start,)).fetchone()[0]
    label = "checking" if dry_run else "reclassifying"
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        changes = run_reclassify(
            desk.store,
            desk.matcher,
            dry_run=dry_run,
            restart=restart,
            batch=batch,
            progress=bar.update,
        )
    for line in changes.lines(dry_run=dry_run):
        click.echo(line)
    if not dry_run:
        desk.export()
    desk.close()


def main() -> None:
    cli(obj={})
