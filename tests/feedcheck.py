"""A feed checker for tests: the W3C Feed Validator's error rules for what wiredesk emits,
plus JSON Feed 1.1 structure. Proven against the validator's own test cases
(tests/test_render_validity.py), then applied to every feed wiredesk publishes.

Each problem is `(MessageClass, parent, element)`, named like the validator's messages.
The W3C validator is a Python 2 web service that cannot run here, so this re-implements
the subset of its rules that wiredesk's output exercises.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from email.utils import parsedate_tz
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

Problem = tuple[str, str, str]

ATOM = "{http://www.w3.org/2005/Atom}"
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)
_RFC822 = re.compile(
    r"^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}|\d{2}) "
    r"(\d{2}):(\d{2})(?::(\d{2}))? (UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|[A-IK-Z]|[+-]\d{4})$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_URI_BAD = re.compile(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})")
_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$", re.I)
_EMAIL = re.compile(r"^[\w.+'-]+@[\w-]+(\.[\w-]+)+( \([^()]*\))?$")
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def valid_rfc3339(text: str) -> bool:
    if not _RFC3339.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def valid_rfc822(text: str) -> bool:
    m = _RFC822.match(text)
    if not m or parsedate_tz(text) is None:
        return False
    day, mon, year = int(m.group(2)), m.group(3), m.group(4)
    if len(year) == 2:
        year = ("19" if int(year) > 50 else "20") + year
    try:
        dt = datetime.strptime(f"{day} {mon} {year}", "%d %b %Y")
    except ValueError:
        return False
    hour, minute, sec = int(m.group(5)), int(m.group(6)), int(m.group(7) or 0)
    if hour > 23 or minute > 59 or sec > 60:
        return False
    return m.group(1) is None or _DAYS[dt.weekday()] == m.group(1)


def full_uri(text: str | None) -> bool:
    """An absolute URI: a scheme, no characters URIs cannot hold, a host for http(s)."""
    if not text or _URI_BAD.search(text) or not _SCHEME.match(text):
        return False
    scheme = text.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        return re.match(r"^https?://[^/?#]+", text, re.I) is not None
    if scheme == "urn":
        return _URN.match(text) is not None
    return True


def _local(el: Any) -> str:
    return str(el.tag).split("}")[-1] if isinstance(el.tag, str) else ""


def _duplicates(parent: Any, singles: set[str], ns: str, name: str) -> list[Problem]:
    """Elements that may occur once; `ns` is the namespace prefix, "" for none (RSS)."""
    counts = Counter(
        _local(c)
        for c in parent
        if isinstance(c.tag, str) and (c.tag.startswith(ns) if ns else not c.tag.startswith("{"))
    )
    return [("DuplicateElement", name, el) for el, n in counts.items() if el in singles and n > 1]


# -- Atom 1.0 ------------------------------------------------------------------------

_FEED_SINGLES = {"id", "title", "updated", "subtitle", "rights", "icon", "logo", "generator"}
_ENTRY_SINGLES = {"id", "title", "updated", "published", "summary", "content", "rights", "source"}
_SOURCE_SINGLES = _FEED_SINGLES
_PERSON_SINGLES = {"name", "uri", "email"}
_TEXT_TYPES = {"text", "html", "xhtml"}


def _atom_person(el: Any, parent: str) -> list[Problem]:
    tag = _local(el)
    out = _duplicates(el, _PERSON_SINGLES, ATOM, tag)
    if el.find(f"{ATOM}name") is None:
        out.append(("MissingElement", tag, "name"))
    email = el.find(f"{ATOM}email")
    if email is not None and not _EMAIL.match((email.text or "").strip()):
        out.append(("InvalidContact", tag, "email"))
    return out


def _atom_common(el: Any, name: str) -> list[Problem]:
    out: list[Problem] = []
    ident = el.find(f"{ATOM}id")
    if ident is not None:
        text = (ident.text or "").strip()
        if text.lower().startswith("urn:") and not _URN.match(text):
            out.append(("InvalidURN", name, "id"))
        elif not full_uri(text):
            out.append(("InvalidFullLink", name, "id"))
    for tag in ("updated", "published"):
        for d in el.findall(f"{ATOM}{tag}"):
            if not valid_rfc3339(d.text or ""):
                out.append(("InvalidRFC3339Date", name, tag))
    for tag in ("title", "subtitle", "summary", "rights"):
        for t in el.findall(f"{ATOM}{tag}"):
            if t.get("type", "text") not in _TEXT_TYPES:
                out.append(("InvalidTextType", name, tag))
    alternates: set[tuple[str | None, str | None]] = set()
    for link in el.findall(f"{ATOM}link"):
        href = link.get("href")
        if href is None:
            out.append(("MissingHref", name, "link"))
        elif _URI_BAD.search(href):
            out.append(("InvalidUriChar", name, "link"))
        if link.get("rel", "alternate") == "alternate":
            key = (link.get("type"), link.get("hreflang"))
            if key in alternates:
                out.append(("DuplicateAtomLink", name, "link"))
            alternates.add(key)
    for cat in el.findall(f"{ATOM}category"):
        if cat.get("term") is None:
            out.append(("MissingAttribute", "category", "term"))
        scheme = cat.get("scheme")
        if scheme is not None and not full_uri(scheme):
            out.append(("InvalidFullLink", "category", "scheme"))
    for tag in ("author", "contributor"):
        for p in el.findall(f"{ATOM}{tag}"):
            out += _atom_person(p, name)
    return out


def check_atom(data: bytes) -> list[Problem]:
    root = etree.fromstring(data)
    if root.tag != f"{ATOM}feed":
        return [("InvalidNamespace", "", _local(root))]
    out = _duplicates(root, _FEED_SINGLES, ATOM, "feed") + _atom_common(root, "feed")
    for tag in ("id", "title", "updated"):
        if root.find(f"{ATOM}{tag}") is None:
            out.append(("MissingElement", "feed", tag))
    seen_entry = False
    for child in root:
        if child.tag == f"{ATOM}entry":
            seen_entry = True
        elif seen_entry and child.tag in {f"{ATOM}{t}" for t in _FEED_SINGLES | {"link", "author"}}:
            out.append(("MisplacedMetadata", "feed", _local(child)))
    feed_author = root.find(f"{ATOM}author") is not None
    for entry in root.findall(f"{ATOM}entry"):
        out += _duplicates(entry, _ENTRY_SINGLES, ATOM, "entry") + _atom_common(entry, "entry")
        for tag in ("id", "title", "updated"):
            if entry.find(f"{ATOM}{tag}") is None:
                out.append(("MissingElement", "entry", tag))
        source = entry.find(f"{ATOM}source")
        if source is not None:
            out += _duplicates(source, _SOURCE_SINGLES, ATOM, "source")
            out += _atom_common(source, "source")
        has_author = entry.find(f"{ATOM}author") is not None or (
            source is not None and source.find(f"{ATOM}author") is not None
        )
        if not (has_author or feed_author):
            out.append(("MissingElement", "entry", "author"))
    return out


# -- RSS 2.0 ---------------------------------------------------------------------------

_CHANNEL_SINGLES = {
    "title", "link", "description", "language", "copyright", "managingEditor", "webMaster",
    "pubDate", "lastBuildDate", "generator", "docs", "cloud", "ttl", "image", "textInput",
    "skipHours", "skipDays", "rating",
}  # fmt: skip
_ITEM_SINGLES = {"title", "link", "description", "author", "comments", "guid", "pubDate", "source"}
_LINK_ELEMENTS = {"link", "docs", "comments"}


def _rss_dates_links(el: Any, name: str) -> list[Problem]:
    out: list[Problem] = []
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        text = (child.text or "").strip()
        if tag in ("pubDate", "lastBuildDate") and not valid_rfc822(text):
            out.append(("InvalidRFC2822Date", name, tag))
        elif tag in _LINK_ELEMENTS and not full_uri(text):
            out.append(("InvalidLink", name, tag))
        elif tag in ("author", "managingEditor", "webMaster") and not _EMAIL.match(text):
            out.append(("InvalidContact", name, tag))
    return out


def check_rss(data: bytes) -> list[Problem]:
    root = etree.fromstring(data)
    if root.tag != "rss":
        return [("UndefinedElement", "", _local(root))]
    out: list[Problem] = []
    if root.get("version") is None:
        out.append(("MissingAttribute", "rss", "version"))
    channels = root.findall("channel")
    if not channels:
        return [*out, ("MissingElement", "rss", "channel")]
    if len(channels) > 1:
        out.append(("DuplicateElement", "rss", "channel"))
    ch = channels[0]
    out += _duplicates(ch, _CHANNEL_SINGLES, "", "channel") + _rss_dates_links(ch, "channel")
    for tag, cls in (("title", "MissingTitle"), ("link", "MissingLink")):
        if ch.find(tag) is None:
            out.append((cls, "channel", tag))
    if ch.find("description") is None:
        out.append(("MissingDescription", "channel", "description"))
    for item in ch.findall("item"):
        out += _duplicates(item, _ITEM_SINGLES, "", "item") + _rss_dates_links(item, "item")
        if item.find("title") is None and item.find("description") is None:
            out.append(("ItemMustContainTitleOrDescription", "item", ""))
        for guid in item.findall("guid"):
            permalink = guid.get("isPermaLink", "true") == "true"
            text = (guid.text or "").strip()
            if permalink and not (full_uri(text) and text.lower().startswith("http")):
                out.append(("InvalidPermalink", "item", "guid"))
        for src in item.findall("source"):
            url = src.get("url")
            if url is None:
                out.append(("MissingAttribute", "source", "url"))
            elif not full_uri(url):
                out.append(("InvalidFullLink", "source", "url"))
        for cat in item.findall("category"):
            domain = cat.get("domain")
            if domain is not None and not domain:
                out.append(("InvalidDomain", "category", "domain"))
    for link in root.iter(f"{ATOM}link"):
        if link.get("href") is None:
            out.append(("MissingHref", "atom:link", "href"))
        elif not full_uri(link.get("href")):
            out.append(("InvalidFullLink", "atom:link", "href"))
    return out


# -- what wiredesk adds on top: every link absolute, a self link per format --------------


def check_published_xml(data: bytes, fmt: str, self_url: str) -> list[Problem]:
    """The validator's rules plus wiredesk's own: no relative URLs anywhere, and the
    document's self link is its own URL in its own format."""
    out = check_atom(data) if fmt == "atom" else check_rss(data)
    root = etree.fromstring(data)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("href", "url", "src", "scheme", "domain"):
            value = el.get(attr)
            if value is not None and not full_uri(value):
                out.append(("RelativeOrInvalidUrl", _local(el), attr))
        text = (el.text or "").strip()
        if _local(el) in ("link", "id", "guid") and text and not full_uri(text):
            out.append(("RelativeOrInvalidUrl", _local(el), "text"))
    links = root.findall(f"{ATOM}link") if fmt == "atom" else root.iter(f"{ATOM}link")
    selfs = [ln.get("href") for ln in links if ln.get("rel") == "self"]
    if selfs != [self_url]:
        out.append(("WrongSelfLink", fmt, str(selfs)))
    return out


# -- JSON Feed 1.1 -------------------------------------------------------------------------

_TOP_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment",
    "next_url", "icon", "favicon", "authors", "author", "language", "expired", "hubs", "items",
}  # fmt: skip
_ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
    "banner_image", "date_published", "date_modified", "authors", "author", "tags", "language",
    "attachments",
}  # fmt: skip
_URL_KEYS = {"home_page_url", "feed_url", "next_url", "icon", "favicon", "url", "external_url"}


def _authors(value: Any, where: str) -> list[Problem]:
    if not isinstance(value, list):
        return [("InvalidType", where, "authors")]
    out: list[Problem] = []
    for a in value:
        if not isinstance(a, dict) or not ({"name", "url", "avatar"} & set(a)):
            out.append(("InvalidAuthor", where, "authors"))
    return out


def check_json_feed(data: bytes, self_url: str | None = None) -> list[Problem]:
    doc = json.loads(data.decode("utf-8"))
    out: list[Problem] = []
    if doc.get("version") != "https://jsonfeed.org/version/1.1":
        out.append(("InvalidVersion", "feed", "version"))
    if not isinstance(doc.get("title"), str) or not doc["title"]:
        out.append(("MissingElement", "feed", "title"))
    if self_url is not None and doc.get("feed_url") != self_url:
        out.append(("WrongSelfLink", "feed", "feed_url"))
    for key, value in doc.items():
        if key not in _TOP_KEYS and not key.startswith("_"):
            out.append(("UndefinedElement", "feed", key))
        if key in _URL_KEYS and not (isinstance(value, str) and full_uri(value)):
            out.append(("InvalidFullLink", "feed", key))
    if "authors" in doc:
        out += _authors(doc["authors"], "feed")
    for hub in doc.get("hubs", []):
        if not (isinstance(hub, dict) and hub.get("type") and full_uri(hub.get("url"))):
            out.append(("InvalidHub", "feed", "hubs"))
    items = doc.get("items")
    if not isinstance(items, list):
        return [*out, ("MissingElement", "feed", "items")]
    ids = set()
    for item in items:
        if not isinstance(item.get("id"), str) or not item["id"]:
            out.append(("MissingElement", "item", "id"))
        elif item["id"] in ids:
            out.append(("DuplicateValue", "item", "id"))
        ids.add(item.get("id"))
        if not (
            isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        ):
            out.append(("MissingElement", "item", "content_html"))
        for key, value in item.items():
            if key not in _ITEM_KEYS and not key.startswith("_"):
                out.append(("UndefinedElement", "item", key))
            if key in _URL_KEYS and not (isinstance(value, str) and full_uri(value)):
                out.append(("InvalidFullLink", "item", key))
            if key in ("date_published", "date_modified") and not valid_rfc3339(str(value)):
                out.append(("InvalidRFC3339Date", "item", key))
        if "authors" in item:
            out += _authors(item["authors"], "item")
        if "tags" in item and not all(isinstance(t, str) for t in item["tags"]):
            out.append(("InvalidType", "item", "tags"))
    return out
