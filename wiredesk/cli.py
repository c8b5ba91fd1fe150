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
    setup_logging(ctx.obj.get("log_level") or cfg.log_level)
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
    from wiredesk.daemon import AlreadyRunning, run_daemon

    desk = _desk(ctx)
    try:
        run_daemon(desk)
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
    for tid, t in desk.config.topics.items():
        click.echo(f"{tid:<24} {counts.get(tid, 0):>7}  {t.title or ''}")
    desk.close()


@topics.command("explain")
@click.argument("article_id", type=int)
@click.pass_context
@_handles_store_errors
def topics_explain(ctx: click.Context, article_id: int) -> None:
    """Why article ARTICLE_ID is (or is not) in each topic: terms, weights, fields, threshold."""
    desk, conn, row = _article(ctx, article_id)
    stored = queries.article_topics(conn, article_id)
    lead, _, rest = (row["body"] or "").partition("\n\n")
    click.echo(f"article {article_id}: {row['title']}")
    for e in desk.matcher.explain(row["title"], lead, rest):
        mark = "IN " if e.assigned else "OUT"
        click.echo(f"{mark} {e.topic}: {e.reason}" + (" (stored)" if e.topic in stored else ""))
        for h in e.hits:
            click.echo(
                f"      {h.term!r:<28} weight {h.weight:+g} x {h.field:<5} = {h.contribution:+.2f}"
            )
    desk.close()


@cli.command()
@click.option("--dry-run", is_flag=True, help="show what would change, write nothing")
@click.pass_context
@_handles_store_errors
def reclassify(ctx: click.Context, dry_run: bool) -> None:
    """Re-apply the current topic rules to every stored article (progress bar)."""
    from ingest.reclassify import reclassify as run_reclassify

    desk = _desk(ctx)
    total = desk.store.reader().execute("SELECT count(*) FROM articles").fetchone()[0]
    with click.progressbar(length=total, label="reclassifying", file=sys.stderr) as bar:
        changes = run_reclassify(desk.store, desk.matcher, dry_run=dry_run, progress=bar.update)
    verb = "would change" if dry_run else "changed"
    click.echo(f"{verb} {changes.articles} of {changes.scanned} articles")
    for topic in sorted(set(changes.added) | set(changes.removed)):
        click.echo(f"  {topic}: +{changes.added[topic]} -{changes.removed[topic]}")
    desk.close()


def main() -> None:
    cli(obj={})
