"""Renders a list of entries as Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes, deterministically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import format_datetime
from html import escape
from typing import Any
from urllib.parse import quote

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree  # type: ignore[import-untyped]

from db.clock import parse_iso
from db.queries import FeedEntry
from feeds.sanitize import clean_html, safe_url, xml_text

FORMATS = ("atom", "rss", "json")
MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
# the `type` of a link to a feed in each format, without parameters
LINK_TYPES = {fmt: MEDIA_TYPES[fmt].split(";")[0] for fmt in FORMATS}
GENERATOR = "wiredesk"
EPOCH = "1970-01-01T00:00:00Z"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005


@dataclass
class FeedSpec:
    """What a feed document is.

    `path` is the document's path without extension (`topics/defense`, `all`,
    `topics/defense/archive/2023-10-12`); `feed_path` the logical feed it belongs to
    (an archive document shares its subscription document's id). `links` are the
    RFC 5005 paging/archive relations as (rel, path) pairs, resolved per format.
    """

    path: str
    title: str
    description: str
    base_url: str
    query: str = ""  # canonical query string of a filtered feed
    feed_path: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    hub: str | None = None
    archive: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # topic id -> title

    def url(self, fmt: str) -> str:
        return self.path_url(self.path, fmt) + (f"?{self.query}" if self.query else "")

    def path_url(self, path: str, fmt: str) -> str:
        return f"{self.base_url}{path}.{fmt}"

    @property
    def feed_id(self) -> str:
        return self.path_url(self.feed_path or self.path, "atom") + (
            f"?{self.query}" if self.query else ""
        )

    def source_feed(self, e: FeedEntry, fmt: str) -> str:
        """The feed a story came from: its upstream feed, or our feed of that source."""
        upstream = safe_url(e.source_url)
        if upstream:
            return upstream
        return f"{self.base_url}all.{fmt}?source={quote(e.source, safe='')}"


def entry_link(e: FeedEntry, base_url: str) -> str:
    """The story's own URL when it is a safe absolute http(s) URL; a dropped wire story
    (or one with a dubious link) links to its page here."""
    return safe_url(e.url) or f"{base_url}articles/{e.id}"


def entry_html(e: FeedEntry) -> str:
    """Sanitised content plus the dateline and the outlets that also carried the story."""
    parts = []
    if e.dateline or e.agency:
        where = ", ".join(x for x in (e.dateline, e.agency) if x)
        parts.append(f"<p><strong>{escape(where)}</strong></p>")
    body = clean_html(e.content_html)
    if not body and e.body:
        body = "".join(f"<p>{escape(p)}</p>" for p in e.body.split("\n\n"))
    parts.append(body)
    if e.also:
        links = []
        for c in e.also:
            url = safe_url(c.url)
            name = escape(xml_text(c.source))
            links.append(f'<a href="{escape(url)}">{name}</a>' if url else name)
        parts.append(f"<p>Also reported by: {', '.join(links)}</p>")
    return clean_html("\n".join(parts))


def entry_summary(e: FeedEntry) -> str:
    text = e.summary or (e.body or "").split("\n\n", 1)[0]
    return xml_text(text[:600])


def entry_authors(e: FeedEntry) -> list[str]:
    """The byline, then the agency; the source's name when neither is known."""
    names = [xml_text(n).strip() for n in (e.author, e.agency) if n and xml_text(n).strip()]
    return list(dict.fromkeys(names)) or [xml_text(e.source)]


def _latest(entries: list[FeedEntry]) -> str:
    return max((e.updated for e in entries), default=EPOCH)


# -- feedgen extension: what feedgen cannot write itself --------------------------


def _elem(parent: Any, tag: str, text: str | None = None, **attrs: str | None) -> Any:
    """A child element of an lxml element (feedgen's own tree)."""
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _move_before_items(container: Any, new: list[Any], item_tag: str) -> None:
    """Feed metadata must precede the first entry (the validator's MisplacedMetadata)."""
    first = container.find(item_tag)
    if first is None:
        return
    for el in new:
        first.addprevious(el)


class _FeedExt(BaseExtension):  # type: ignore[misc]
    """Paging/archive links (RFC 5005), the WebSub hub, and fh:archive."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str, str]] = []  # (rel, href, type)
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS, "fh": FH_NS}

    def _add(self, container: Any, link_tag: str) -> None:
        new = [
            _elem(container, link_tag, rel=rel, href=href, type=typ or None)
            for rel, href, typ in self.links
        ]
        if self.archive:
            new.append(_elem(container, f"{{{FH_NS}}}archive"))
        _move_before_items(container, new, "item")

    def extend_atom(self, feed: Any) -> Any:
        # feedgen builds Atom from un-namespaced elements under a default xmlns, and
        # calls this before it appends the entries
        self._add(feed, "link")
        return feed

    def extend_rss(self, feed: Any) -> Any:
        self._add(feed[0], f"{{{ATOM_NS}}}link")
        return feed


class _EntryExt(BaseEntryExtension):  # type: ignore[misc]
    """Dateline (dc:coverage), byline (dc:creator in RSS, whose <author> must be an email
    address), the source credited, and the other outlets as related links."""

    def __init__(self) -> None:
        self.coverage: str | None = None
        self.creators: list[str] = []
        self.source: tuple[str, str] | None = None  # (title, feed url)
        self.related: list[tuple[str, str]] = []  # (title, url)

    def extend_atom(self, entry: Any) -> Any:
        for title, url in self.related:
            _elem(entry, "link", rel="related", href=url, title=title)
        if self.source:
            title, url = self.source
            src = _elem(entry, "source")
            _elem(src, "id", url)
            _elem(src, "title", title)
            _elem(src, "link", rel="self", href=url)
        if self.coverage:
            _elem(entry, f"{{{DC_NS}}}coverage", self.coverage)
        return entry

    def extend_rss(self, entry: Any) -> Any:
        for name in self.creators:
            _elem(entry, f"{{{DC_NS}}}creator", name)
        if self.coverage:
            _elem(entry, f"{{{DC_NS}}}coverage", self.coverage)
        if self.source:
            title, url = self.source
            _elem(entry, "source", title, url=url)
        return entry


def _generator(fg: FeedGenerator, spec: FeedSpec, fmt: str, entries: list[FeedEntry]) -> None:
    fg.register_extension("wd", _FeedExt, _EntryExt)
    fg.id(spec.feed_id)
    fg.title(xml_text(spec.title))
    fg.subtitle(xml_text(spec.description) or xml_text(spec.title))
    fg.description(xml_text(spec.description) or xml_text(spec.title))
    fg.link(href=spec.url(fmt), rel="self", type=LINK_TYPES[fmt])
    fg.link(href=spec.base_url, rel="alternate", type="text/html")
    fg.generator(GENERATOR)
    # feedgen stamps "now" unless told otherwise: pin every date to the data
    latest = parse_iso(_latest(entries))
    fg.updated(latest)
    fg.lastBuildDate(latest)
    fg.author({"name": xml_text(spec.title)})
    ext: _FeedExt = fg.wd
    ext.links = [(rel, spec.path_url(path, fmt), LINK_TYPES[fmt]) for rel, path in spec.links]
    if spec.hub:
        ext.links.append(("hub", spec.hub, ""))
    ext.archive = spec.archive
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e.guid)
        fe.guid(e.guid, permalink=False)
        fe.title(xml_text(e.title) or "(untitled)")
        fe.link(href=entry_link(e, spec.base_url), rel="alternate", type="text/html")
        fe.published(parse_iso(e.published))
        fe.updated(parse_iso(e.updated))
        authors = entry_authors(e)
        fe.author([{"name": n} for n in authors])
        for t in e.topics:
            # no label: feedgen would write it as the RSS category text, which must
            # stay the topic id that readers and scripts filter on
            fe.category(term=t, scheme=f"{spec.base_url}topics/")
        fe.summary(entry_summary(e))
        fe.content(entry_html(e), type="html")
        wd: _EntryExt = fe.wd
        wd.creators = authors
        wd.coverage = xml_text(e.dateline) or None
        wd.source = (xml_text(e.source), spec.source_feed(e, fmt))
        seen = {entry_link(e, spec.base_url)}
        for c in e.also:
            url = safe_url(c.url)
            if url and url not in seen:
                seen.add(url)
                wd.related.append((xml_text(c.source), url))


def render_atom(spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    fg = FeedGenerator()
    _generator(fg, spec, "atom", entries)
    return bytes(fg.atom_str(pretty=True))


def render_rss(spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    fg = FeedGenerator()
    _generator(fg, spec, "rss", entries)
    return bytes(fg.rss_str(pretty=True))


def render_json(spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    items = []
    for e in entries:
        item: dict[str, object] = {
            "id": e.guid,
            "url": entry_link(e, spec.base_url),
            "title": xml_text(e.title) or "(untitled)",
            "content_html": entry_html(e),
            "summary": entry_summary(e),
            "date_published": e.published,
            "date_modified": e.updated,
            "authors": [{"name": n} for n in entry_authors(e)],
            "tags": e.topics,
            "_wiredesk": {
                "about": spec.base_url,
                "source": xml_text(e.source),
                "source_feed": spec.source_feed(e, "json"),
                "agency": xml_text(e.agency) or None,
                "dateline": xml_text(e.dateline) or None,
                "also_reported_by": [
                    {"source": xml_text(c.source), "url": safe_url(c.url)} for c in e.also
                ],
            },
        }
        if e.language:
            item["language"] = e.language
        items.append(item)
    doc: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": xml_text(spec.title),
        "home_page_url": spec.base_url,
        "feed_url": spec.url("json"),
        "description": xml_text(spec.description),
        "authors": [{"name": xml_text(spec.title), "url": spec.base_url}],
        "favicon": f"{spec.base_url}static/favicon.svg",
    }
    nxt = next((path for rel, path in spec.links if rel == "next"), None)
    if nxt:
        doc["next_url"] = spec.path_url(nxt, "json")
    if spec.hub:
        doc["hubs"] = [{"type": "WebSub", "url": spec.hub}]
    doc["items"] = items
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json}


def render(fmt: str, spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    return RENDERERS[fmt](spec, entries)


def http_date(iso_text: str | None) -> str:
    """RFC 7231 date for Last-Modified."""
    return format_datetime(parse_iso(iso_text or EPOCH).astimezone(UTC), usegmt=True)
