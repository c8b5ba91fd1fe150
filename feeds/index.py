"""The HTML pages: the index (topics, feed links, headlines, source health) and an article page."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from html import escape

from db import queries
from db.queries import FeedEntry
from feeds.render import FeedSpec, entry_html, entry_link

_STYLE = """
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.topics{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1rem}
.topic{border:1px solid #ddd;border-radius:6px;padding:.7rem}
.topic h3{margin:.1rem 0}.muted{color:#666;font-size:.9em}
.links a{margin-right:.6rem}ul.heads{padding-left:1.1rem;margin:.4rem 0}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{padding:.25rem .4rem;
border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.bad{color:#a00}.ok{color:#070}form.search input[type=search]{width:60%;padding:.3rem}
@media (max-width:40rem){table{font-size:.8em}form.search input[type=search]{width:100%}}
"""


@dataclass
class TopicCard:
    spec: FeedSpec
    count: int
    latest: list[FeedEntry]


def _page(title: str, head_extra: str, body: str) -> bytes:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{head_extra}<style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    ).encode()


def render_index(
    title: str,
    cards: list[TopicCard],
    all_spec: FeedSpec,
    sources: list[sqlite3.Row],
    totals: dict[str, int],
    drops: dict[str, int] | None = None,
) -> bytes:
    alternates = "".join(
        f'<link rel="alternate" type="application/{t}+xml" title="{escape(c.spec.title)} ({t})"'
        f' href="{escape(c.spec.url(t))}">'
        for c in cards
        for t in ("atom", "rss")
    )
    out = [
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="muted">{totals["articles"]} stories from {totals["sightings"]} items'
        f" ({totals['duplicates']} duplicates merged, {totals['failures']} failures recorded)."
        f' <a href="{escape(all_spec.url("atom"))}">All stories (Atom)</a> ·'
        f' <a href="feeds.opml">OPML</a></p>',
        '<form class="search" action="search" method="get" role="search">'
        '<input type="search" name="q" placeholder="Search stories" aria-label="Search stories">'
        ' <button type="submit">Search</button></form></header>',
        '<h2>Topics</h2><div class="topics">',
    ]
    for c in cards:
        links = " ".join(
            f'<a href="{escape(c.spec.url(fmt))}">{label}</a>'
            for fmt, label in (("atom", "Atom"), ("rss", "RSS"), ("json", "JSON"))
        )
        heads = "".join(
            f'<li><a href="{escape(entry_link(e, c.spec.base_url))}">{escape(e.title)}</a>'
            f' <span class="muted">{escape(e.published[:10])}</span></li>'
            for e in c.latest
        )
        out.append(
            f'<section class="topic" id="topic-{escape(c.spec.path.split("/")[-1])}">'
            f"<h3>{escape(c.spec.title)}</h3>"
            f'<div class="muted">{c.count} stories</div>'
            f'<div class="links">{links}</div><ul class="heads">{heads}</ul></section>'
        )
    out.append(
        "</div><h2>Sources</h2><table><tr><th>source</th><th>last fetch</th>"
        "<th>status</th><th>errors</th><th>next</th><th>stories</th></tr>"
    )
    for s in sources:
        status = s["last_status"]
        cls = "ok" if status in (200, 304) else "bad"
        err = f'<div class="bad">{escape(s["last_error"] or "")}</div>' if s["last_error"] else ""
        out.append(
            f"<tr><td>{escape(s['name'])}</td><td>{escape(s['last_fetch'] or 'never')}</td>"
            f'<td class="{cls}">{escape(str(status or "-"))}{err}</td>'
            f"<td>{s['error_count']}</td><td>{escape(s['next_fetch'] or '-')}</td>"
            f"<td>{s['articles']}</td></tr>"
        )
    out.append("</table>")
    if drops is not None:
        out.append(
            f'<p class="muted">Drop folder: {drops["waiting"]} waiting, {drops["done"]} done,'
            f" {drops['failed']} failed.</p>"
        )
    return _page(title, alternates, "".join(out))


def render_article(entry: FeedEntry, base_url: str) -> bytes:
    meta = " · ".join(
        escape(x) for x in (entry.dateline, entry.agency, entry.published[:10], entry.source) if x
    )
    topics = " ".join(
        f'<a href="{escape(base_url)}topics/{escape(t)}.atom">{escape(t)}</a>' for t in entry.topics
    )
    link = f'<p><a href="{escape(entry.url)}">Original</a></p>' if entry.url else ""
    body = (
        f'<p><a href="{escape(base_url)}">wiredesk</a></p><article><h1>{escape(entry.title)}</h1>'
        f'<p class="muted">{meta}</p><p>{topics}</p>{entry_html(entry)}{link}</article>'
    )
    return _page(entry.title, "", body)


def render_search(query: str, rows: list[sqlite3.Row], base_url: str, error: str | None) -> bytes:
    items = "".join(
        f'<li><a href="{escape(r["url"] or base_url + "articles/" + str(r["id"]))}">{escape(r["title"])}</a>'
        f' <span class="muted">{escape(r["published"][:10])} · {escape(r["source"])}</span>'
        f'<div class="muted">{escape(r["snippet"] or "")}</div></li>'
        for r in rows
    )
    msg = f'<p class="bad">{escape(error)}</p>' if error else f"<p>{len(rows)} results</p>"
    body = (
        f'<p><a href="{escape(base_url)}">wiredesk</a></p>'
        f'<form class="search" action="search" method="get"><input type="search" name="q"'
        f' value="{escape(query)}" aria-label="Search stories"> <button>Search</button></form>'
        f"{msg}<ol>{items}</ol>"
    )
    return _page(f"Search: {query}", "", body)


def healthz(conn: sqlite3.Connection) -> bytes:
    return json.dumps({"status": "ok", **queries.totals(conn)}).encode("utf-8")
