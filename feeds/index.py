"""The HTML pages: the index (topics, feed links, charts, headlines, source health), article, search."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from html import escape

from db.queries import FeedEntry
from feeds.render import FORMATS, LINK_TYPES, FeedSpec, entry_html, entry_link
from feeds.sanitize import safe_url, xml_text

_FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


@dataclass
class TopicCard:
    spec: FeedSpec
    count: int
    latest: list[FeedEntry]
    daily: list[int]  # articles per day, oldest first, one per day of the chart's span


def _t(text: object) -> str:
    """Text for HTML: characters HTML cannot carry removed, then escaped."""
    return escape(xml_text(str(text)))


def _page(title: str, root: str, head_extra: str, body: str) -> bytes:
    """`root` leads from the page to the site root ("" or "../"), so that the pages work
    under any base URL and in a static export."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_t(title)}</title>"
        f'<link rel="stylesheet" href="{root}static/style.css">'
        f'<link rel="icon" href="{root}static/favicon.svg" type="image/svg+xml">'
        f"{head_extra}</head><body>{body}</body></html>\n"
    ).encode()


def chart_svg(label: str, days: list[str], counts: list[int]) -> str:
    """Articles per day as inline SVG bars (no script, no external assets)."""
    width, height, gap = 300, 60, 2
    bar = width / max(len(counts), 1)
    top = max(counts, default=0) or 1
    bars = []
    for i, (day, n) in enumerate(zip(days, counts, strict=True)):
        h = round(n / top * (height - 4), 1)
        bars.append(
            f'<rect x="{i * bar:.1f}" y="{height - h:.1f}" width="{bar - gap:.1f}"'
            f' height="{h}"><title>{day}: {n}</title></rect>'
        )
    total = sum(counts)
    return (
        f'<figure class="chart"><svg viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{_t(label)}: {total} stories in the last {len(counts)} days"'
        f' preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" class="axis"/>'
        f"{''.join(bars)}</svg>"
        f"<figcaption>{total} in {len(counts)} days (peak {max(counts, default=0)}/day)"
        f"</figcaption></figure>"
    )


def _feed_links(spec: FeedSpec) -> str:
    return " ".join(
        f'<a class="feed" data-format="{fmt}" type="{LINK_TYPES[fmt]}"'
        f' href="{_t(spec.url(fmt))}">{_FORMAT_LABELS[fmt]}</a>'
        for fmt in FORMATS
    )


def _headlines(entries: list[FeedEntry], base_url: str) -> str:
    return "".join(
        f'<li><a href="{_t(entry_link(e, base_url))}">{_t(e.title)}</a>'
        f' <span class="muted">{_t(e.published[:10])} · {_t(e.source)}</span></li>'
        for e in entries
    )


def _card(c: TopicCard, days: list[str], css_id: str, site: str) -> str:
    heads = _headlines(c.latest, c.spec.base_url) or '<li class="muted">No stories yet.</li>'
    name = c.spec.title.removeprefix(f"{site}: ")
    return (
        f'<section class="topic" id="{_t(css_id)}" data-topic="{_t(css_id)}">'
        f"<h3>{_t(name[:1].upper() + name[1:])}</h3>"
        f'<p class="muted">{_t(c.spec.description)}</p>'
        f'<p><strong class="count">{c.count}</strong> stories · {_feed_links(c.spec)}</p>'
        f"{chart_svg(c.spec.title, days, c.daily)}"
        f'<ul class="heads">{heads}</ul></section>'
    )


def render_index(
    title: str,
    cards: list[TopicCard],
    all_card: TopicCard,
    days: list[str],
    sources: list[sqlite3.Row],
    totals: dict[str, int],
    drops: dict[str, int] | None = None,
) -> bytes:
    alternates = "".join(
        f'<link rel="alternate" type="{LINK_TYPES[fmt]}"'
        f' title="{_t(c.spec.title)} ({_FORMAT_LABELS[fmt]})" href="{_t(c.spec.url(fmt))}">'
        for c in [*cards, all_card]
        for fmt in FORMATS
    )
    out = [
        f"<header><h1>{_t(title)}</h1>",
        f'<p class="muted">{totals["articles"]} stories from {totals["sightings"]} items'
        f" ({totals['duplicates']} duplicates merged, {totals['failures']} failures recorded)."
        ' <a href="feeds.opml">OPML of every feed</a></p>',
        '<form class="search" action="search" method="get" role="search">'
        '<input type="search" name="q" placeholder="Search stories (e.g. CSTO)"'
        ' aria-label="Search stories" required>'
        ' <button type="submit">Search</button></form></header><main>',
        '<h2>Topics</h2><div class="topics">',
    ]
    for c in cards:
        out.append(_card(c, days, "topic-" + c.spec.path.split("/")[-1], title))
    out.append(_card(all_card, days, "topic-all", title))
    out.append(
        '</div><h2>Sources</h2><div class="scroll"><table class="sources"><thead><tr>'
        "<th>source</th><th>last fetch</th><th>status</th><th>errors</th><th>next</th>"
        "<th>stories</th></tr></thead><tbody>"
    )
    for s in sources:
        status = s["last_status"]
        cls = "ok" if status in (200, 304) else ("muted" if status is None else "bad")
        err = f'<div class="bad">{_t(s["last_error"])}</div>' if s["last_error"] else ""
        out.append(
            f"<tr><td>{_t(s['name'])}</td><td>{_t(s['last_fetch'] or 'never')}</td>"
            f'<td class="{cls}">{_t(status or "-")}{err}</td>'
            f"<td>{s['error_count']}</td><td>{_t(s['next_fetch'] or '-')}</td>"
            f"<td>{s['articles']}</td></tr>"
        )
    if not sources:
        out.append('<tr><td colspan="6" class="muted">No sources polled yet.</td></tr>')
    out.append("</tbody></table></div>")
    if drops is not None:
        out.append(
            f'<p class="muted">Drop folder: {drops["waiting"]} waiting, {drops["done"]} done,'
            f" {drops['failed']} failed.</p>"
        )
    out.append("</main>")
    return _page(title, "", alternates, "".join(out))


def render_article(entry: FeedEntry, base_url: str, labels: dict[str, str]) -> bytes:
    meta = " · ".join(
        _t(x) for x in (entry.dateline, entry.agency, entry.published[:10], entry.source) if x
    )
    topics = " ".join(
        f'<a href="../topics/{_t(t)}.atom">{_t(labels.get(t, t))}</a>' for t in entry.topics
    )
    url = safe_url(entry.url)
    link = f'<p><a href="{_t(url)}">Original</a></p>' if url else ""
    body = (
        f'<p><a href="../">{_t(base_url)}</a></p><article><h1>{_t(entry.title)}</h1>'
        f'<p class="muted">{meta}</p><p>{topics}</p>{entry_html(entry)}{link}</article>'
    )
    return _page(entry.title, "../", "", body)


def render_search(query: str, rows: list[sqlite3.Row], base_url: str, error: str | None) -> bytes:
    items = "".join(
        f'<li><a href="{_t(safe_url(r["url"]) or "articles/" + str(r["id"]))}">{_t(r["title"])}</a>'
        f' <span class="muted">{_t(r["published"][:10])} · {_t(r["source"])}</span>'
        f'<div class="muted">{_t(r["snippet"] or "")}</div></li>'
        for r in rows
    )
    msg = (
        f'<p class="bad">{_t(error)}</p>'
        if error
        else f'<p class="results">{len(rows)} results for <q>{_t(query)}</q></p>'
    )
    body = (
        '<p><a href="./">← all topics</a></p>'
        '<form class="search" action="search" method="get" role="search"><input type="search"'
        f' name="q" value="{_t(query)}" aria-label="Search stories"> <button>Search</button>'
        f'</form>{msg}<ol class="hits">{items}</ol>'
    )
    return _page(f"Search: {query}", "", "", body)
