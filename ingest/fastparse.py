"""The lxml fast path: well-formed RSS/Atom read into exactly the entries feedparser gives, or declined.

feedparser reads a well-formed document with its strict (SAX) parser and then applies its
own rules per element: which of several dates, links, titles and descriptions wins, how
authors are composed, which values are resolved against the base URI, its mojibake and
cp1252 repairs. This module reproduces those rules for the elements feeds use (RSS
0.9x/2.0, RSS 1.0, Atom 1.0), with feedparser's own helpers (date parser, URI join,
cp1252 table), and returns the same `feed`/`entries` mappings `ingest.feedparse` builds
Items from. Anything it does not reproduce exactly (a DOCTYPE, an encoding feedparser had
to guess or override, xhtml or base64 content, georss, an element feedparser would map to
a field in a way not reproduced here, namespace prefixes feedparser would name otherwise,
...) makes it decline (return None), and the caller falls back to feedparser.
`tests/test_fastparse.py` proves the equivalence on the corpus, the farm and random
documents.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from feedparser.api import StrictFeedParser  # type: ignore[import-untyped]
from feedparser.datetimes import _parse_date  # type: ignore[import-untyped]
from feedparser.html import _cp1252  # type: ignore[import-untyped]
from feedparser.mixin import _FeedParserMixin  # type: ignore[import-untyped]
from feedparser.urls import _urljoin, make_safe_absolute_uri  # type: ignore[import-untyped]
from lxml import etree  # type: ignore[import-untyped]

ATOM = "http://www.w3.org/2005/Atom"
RSS1 = "http://purl.org/rss/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_ATOM_FEED = f"{{{ATOM}}}feed"
_ATOM_ENTRY = f"{{{ATOM}}}entry"
_RDF_ROOT = f"{{{RDF}}}RDF"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_RSS1_CHANNEL = f"{{{RSS1}}}channel"
_RSS1_ITEM = f"{{{RSS1}}}item"

# feedparser's namespace table: URI (lower case) -> the prefix its handlers are named by
_KNOWN_NS: dict[str, str] = {uri.lower(): p for uri, p in _FeedParserMixin.namespaces.items()}
_CANONICAL_LOWER = frozenset(p.lower() for p in _KNOWN_NS.values() if p)
# the first of these declared names the document's version for feedparser (RSS 0.90 only
# as the default namespace)
_VERSION_NS = {
    RSS1: "rss10",
    ATOM.lower(): "atom10",
    "http://my.netscape.com/rdf/simple/0.9/": "rss090",
}
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_XMLNS = re.compile(rb"""xmlns(?::([^\s=/>]+))?\s*=\s*(["'])(.*?)\2""", re.S)
_HEAD_DECL = re.compile(rb"<!(?!--)")  # a DOCTYPE (or any declaration) before the root
_FIRST_ELEMENT = re.compile(rb"<\w")
_C1 = re.compile("[\x80-\x9f]")
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")
_CDF = frozenset({"lastmod", "href"})  # attributes feedparser reads on channels and items
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# what an entry's child element is, by feedparser's name for it
_TITLE = frozenset({"title", "dc_title"})
_DATES = {
    "pubdate": "published",
    "published": "published",
    "issued": "published",
    "dcterms_issued": "published",
    "updated": "updated",
    "modified": "updated",
    "lastbuilddate": "updated",
    "dc_date": "updated",
    "dcterms_modified": "updated",
    "created": "created",
    "dcterms_created": "created",
}
_DESCRIPTIONS = frozenset(
    {"description", "dc_description", "summary", "itunes_summary", "media_description"}
)
_AUTHOR = frozenset({"author", "dc_creator", "dc_author", "itunes_author"})
_AUTHOR_PARTS = {
    "name": "name",
    "itunes_name": "name",
    "email": "email",
    "itunes_email": "email",
    "uri": "href",
    "url": "href",
    "homepage": "href",
}
# elements feedparser has a handler for that never touch what `ingest.feedparse` reads
_PEOPLE = {"name", "email", "uri", "url", "homepage", "contributor", "dc_contributor"}
_ENTRY_SAFE = frozenset(
    {
        "category",
        "dc_subject",
        "media_category",
        "media_keywords",
        "media_content",
        "media_thumbnail",
        "media_credit",
        "media_rating",
        "media_restriction",
        "media_license",
        "media_player",
        "media_group",
        "enclosure",
        "rights",
        "copyright",
        "dc_rights",
        "dc_publisher",
        "expirationdate",
        "itunes_keywords",
        "itunes_category",
        "itunes_image",
        "itunes_block",
        "itunes_explicit",
        "itunes_subtitle",
        *_PEOPLE,
    }
)
_FEED_SAFE = _ENTRY_SAFE | {
    "link",
    "id",
    "guid",
    "subtitle",
    "tagline",
    "info",
    "generator",
    "icon",
    "logo",
    "cloud",
    "newlocation",
    "managingeditor",
    "webmaster",
    "itunes_owner",
    "itunes_name",
    "itunes_email",
    "itunes_link",
    "admin_generatoragent",
    "admin_errorreportsto",
    "cc_license",
    "creativecommons_license",
    *_AUTHOR,
    *_DATES,
}
_ENTRY_IMAGE = frozenset({"url", "width", "height", "link"})
# children feedparser keeps apart (it switches context to the image / text input)
_FEED_BOXES = {
    "image": frozenset({"title", "url", "link", "width", "height", "description"}),
    "textinput": frozenset({"title", "description", "name", "link"}),
}
# keys `ingest.feedparse` reads: an element feedparser stores under such a name without a
# handler of its own would overwrite them
_READ = frozenset(
    {"title", "ttl", "language", "link", "id", "summary", "summary_detail", "content", "author"}
    | set(_DATES.values())
    | {f"{k}_parsed" for k in _DATES.values()}
)


def _repair(text: str) -> str:
    """feedparser's last touches on every text value: UTF-8 that was read as latin-1 is
    read again, and C1 controls become the cp1252 characters they stand for."""
    if text.isascii():
        return text  # neither applies (and most text is ASCII)
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1.search(text) else text


class _Decline(Exception):
    """The document holds something this path does not reproduce exactly."""


@dataclass
class Document:
    """A parsed feed document in feedparser's shape: `feed` and `entries` mappings with
    feedparser's key names, its version name (e.g. 'rss20', 'atom10'), its bozo warning."""

    feed: Mapping[str, Any]
    entries: Sequence[Mapping[str, Any]]
    version: str | None
    warning: str | None = None


_handler_cache: dict[str, bool] = {}


def _has_handler(name: str) -> bool:
    known = _handler_cache.get(name)
    if known is None:
        known = hasattr(StrictFeedParser, "_start_" + name) or hasattr(
            StrictFeedParser, "_end_" + name
        )
        _handler_cache[name] = known
    return known


def _dangerous(name: str) -> bool:
    """Whether feedparser does anything with an element of this name that can change what
    is read (a handler, or storage under a field's key)."""
    return _has_handler(name) or name in _READ


def _check_declarations(utf8: bytes, *, rdf: bool) -> tuple[frozenset[str], dict[str, set[str]]]:
    """Namespace declarations must give every element the same name in lxml and in
    feedparser, which names an element by its own prefix table for known namespaces (then
    maps that name through the document's own prefixes) and by the declared prefix for
    others; and they must leave feedparser's version name as this path names it (RSS 1.0
    for an RDF document, else what the root element says). Returns the table names the
    document's prefixes would change, and the prefixes of each unknown namespace."""
    uri_prefixes: dict[str, set[str]] = {}
    prefix_uri: dict[str, str] = {}
    lowered: dict[str, str] = {}
    known: set[str] = set()
    remapped: set[str] = set()
    versions: list[str] = []
    for m in _XMLNS.finditer(utf8):
        raw_prefix, uri = m.group(1), m.group(3).decode("utf-8", "replace")
        low = uri.lower()
        version = _VERSION_NS.get(low)
        if version and (version != "rss090" or raw_prefix is None):
            versions.append(version)
        if "backend.userland.com/rss" in low:
            raise _Decline("a namespace feedparser reads as RSS itself")
        prefix = "" if raw_prefix is None else raw_prefix.decode("utf-8", "replace")
        if not prefix.isascii():
            raise _Decline("a non-ASCII prefix")
        if prefix and prefix_uri.setdefault(prefix, uri) != uri:
            raise _Decline("a prefix bound to two namespaces")
        if lowered.setdefault(prefix.lower(), prefix) != prefix:
            raise _Decline("two prefixes that differ only in case")
        canonical = _KNOWN_NS.get(low)
        if canonical is None:
            uri_prefixes.setdefault(uri, set()).add(prefix.lower())
            continue
        known.add(canonical)
        if prefix in _CANONICAL_LOWER and canonical.lower() != prefix:
            remapped.add(prefix)
    unknown_prefixes = set().union(*uri_prefixes.values()) - {""}
    if {k.lower() for k in known} & unknown_prefixes:
        raise _Decline("an unknown namespace under a known prefix's name")
    if (versions[:1] != ["rss10"]) if rdf else bool({"rss10", "rss090"} & set(versions)):
        raise _Decline("namespaces that give the document another version")
    return frozenset(remapped), uri_prefixes


@dataclass
class _Entry:
    """feedparser's state while it reads one entry."""

    e: dict[str, Any] = field(default_factory=dict)
    depth_of: dict[str, int] = field(default_factory=dict)  # its property_depth_map
    title_depth: int = -1  # where the title it keeps was found (-1: none yet)
    has_content: bool = False
    authors: int = 0

    def store(self, key: str, value: str, depth: int) -> None:
        """A value found deeper than one already stored does not replace it."""
        old = self.depth_of.get(key)
        if old is None or depth <= old:
            self.depth_of[key] = depth
            self.e[key] = value


class _Reader:
    """One document's walk, element by element, as feedparser's handlers see it."""

    def __init__(self, declarations: tuple[frozenset[str], dict[str, set[str]]]) -> None:
        # table names the document's own prefixes map elsewhere; unknown namespaces' prefixes
        self.remapped, self.unknown = declarations
        self.names: dict[tuple[str, str | None], str] = {}
        self.bases: dict[tuple[str, str], str] = {}
        self.has_content = False  # feedparser's flag: carried from the feed level into an entry
        self.feed_summary = False

    def name(self, el: Any) -> str:
        """feedparser's name for an element: its prefix table's name for the namespace
        (else the declared prefix), '_', the lower-cased local name."""
        tag = el.tag
        key = (tag, el.prefix)
        found = self.names.get(key)
        if found is None:
            if not tag.isascii():
                # libxml2 takes name characters expat refuses (e.g. U+2070 to start one)
                raise _Decline("a non-ASCII element name")
            if tag[0] == "{":
                uri, local = tag[1:].split("}", 1)
                prefix = _KNOWN_NS.get(uri.lower())
                if prefix is None:
                    prefix = (el.prefix or "").lower()
                    names = {
                        f"{p}_{local.lower()}" if p else local.lower()
                        for p in {prefix, *self.unknown.get(uri, ())}
                    }
                    if len(names) > 1 and any(map(_dangerous, names)):
                        # feedparser names all by the first prefix declared for the namespace
                        raise _Decline("an element another prefix of its namespace would name")
                elif prefix.lower() in self.remapped:
                    raise _Decline("an element name the document's prefixes would change")
                else:
                    prefix = prefix.lower()
            else:
                prefix, local = "", tag
            found = f"{prefix}_{local.lower()}" if prefix else local.lower()
            self.names[key] = found
        return found

    @staticmethod
    def attrs(el: Any) -> dict[str, str]:
        """Attributes as feedparser names them (rel and type values lower-cased): a
        namespaced one under its table prefix, and also under its qualified name as
        written (the SAX qname feedparser adds)."""
        out: dict[str, str] = {}
        qnames: list[tuple[str, str]] = []
        for k, v in el.attrib.items():
            if not k.isascii():
                raise _Decline("a non-ASCII attribute name")
            if k[0] == "{":
                uri, local = k[1:].split("}", 1)
                prefix = _KNOWN_NS.get(uri.lower(), "")
                k = f"{prefix}:{local}" if prefix else local
                if uri == _XML_NS:
                    written = "xml"
                else:
                    found = [p for p, u in el.nsmap.items() if u == uri and p]
                    if len(found) != 1:
                        raise _Decline("an attribute prefix that cannot be told")
                    written = found[0]
                qnames.append((f"{written}:{local}".lower(), v))
            k = k.lower()
            if k in out:
                raise _Decline("two attributes feedparser names alike")
            out[k] = v
        for qname, v in qnames:
            if out.setdefault(qname, v) != v:
                raise _Decline("an attribute feedparser names as another")
        for k in ("rel", "type"):
            if k in out:
                out[k] = out[k].lower()
        return out

    def base(self, parent: str, attrs: Mapping[str, str], *, root: bool = False) -> str:
        """feedparser's base URI inside an element (its xml:base against the parent's)."""
        new = attrs.get("xml:base", attrs.get("base")) or parent
        key = (parent, new)
        found = self.bases.get(key)
        if found is None:
            if parent:
                found = make_safe_absolute_uri(parent, new) or parent
            elif new and not root:
                # feedparser would not restore the empty base after this element
                raise _Decline("xml:base without a base URI around it")
            else:
                found = _urljoin(parent, new)
            if found and (make_safe_absolute_uri(found, found) or found) != found:
                raise _Decline("a base URI feedparser would keep rewriting")
            self.bases[key] = found
        return found

    @staticmethod
    def text(el: Any, base: str | None = None) -> str:
        """A leaf element's text after feedparser's `pop`: stripped, resolved against
        `base` for URI elements, its UTF-8-read-as-latin-1 and cp1252 repairs."""
        if len(el):
            raise _Decline("markup inside a text element")
        out: str = (el.text or "").strip()
        if base is not None and out:
            out = _urljoin(base, out)
        return _repair(out)

    def text_construct(self, el: Any, attrs: Mapping[str, str], default: str) -> str:
        """The text of a title/summary/content element: plain or escaped HTML only."""
        kind = _FeedParserMixin.map_content_type(attrs.get("type", default))
        if kind not in _TEXT_TYPES or "mode" in attrs:
            raise _Decline(f"content of type {kind}")
        return self.text(el)

    def check(self, el: Any, parent_base: str, safe: frozenset[str]) -> None:
        """An element (and all inside it) that must not change what is read."""
        if not isinstance(el.tag, str):
            return
        name = self.name(el)
        base = self.base(parent_base, self.attrs(el))
        if name not in safe and _has_handler(name):
            raise _Decline(f"element {name}")
        if name in _READ and not _has_handler(name):
            raise _Decline(f"element {name} would overwrite a field")
        for child in el:
            self.check(child, base, safe)

    # -- the feed ---------------------------------------------------------------------

    def feed_child(self, el: Any, base: str, feed: dict[str, Any], titles: list[str]) -> None:
        name = self.name(el)
        attrs = self.attrs(el)
        if name in _TITLE:
            self.base(base, attrs)
            titles.append(self.text_construct(el, attrs, "text/plain"))
        elif name == "ttl":
            if attrs:
                raise _Decline("ttl with attributes")
            feed["ttl"] = self.text(el)
        elif name in ("language", "dc_language"):
            self.base(base, attrs)
            feed["language"] = self.text(el)
        elif name in _DESCRIPTIONS or name in ("content_encoded", "content"):
            self.base(base, attrs)
            self.text_construct(el, attrs, "text/plain")
            self.feed_description(name)
        elif name in _FEED_BOXES:
            inner = self.base(base, attrs)
            for child in el:
                if isinstance(child.tag, str):
                    if self.name(child) not in _FEED_BOXES[name] or len(child):
                        raise _Decline(f"unexpected element in {name}")
                    self.base(inner, self.attrs(child))
        else:
            self.check(el, base, _FEED_SAFE)

    def feed_description(self, name: str) -> None:
        """A feed-level description, summary or content leaves feedparser's content flag
        set for the next entry when it reads it as content (see `description`)."""
        if name in ("content_encoded", "content") or (self.feed_summary and not self.has_content):
            self.has_content = True
            self.feed_summary = True
        elif name in ("summary", "itunes_summary"):
            self.feed_summary = True

    # -- an entry ---------------------------------------------------------------------

    def entry(self, item: Any, parent_base: str) -> dict[str, Any]:
        attrs = self.attrs(item)
        if _CDF & set(attrs):
            raise _Decline("attributes feedparser reads on an entry")
        base = self.base(parent_base, attrs)
        state = _Entry(has_content=self.has_content)
        if attrs.get("rdf:about"):
            state.e["id"] = attrs["rdf:about"]  # as it is: not resolved, not repaired
        for el in item:
            if isinstance(el.tag, str):
                self.entry_child(el, base, state)
        self.has_content = False  # feedparser resets it when an entry ends
        return state.e

    def entry_child(self, el: Any, parent_base: str, st: _Entry) -> None:
        name = self.name(el)
        attrs = self.attrs(el)
        base = self.base(parent_base, attrs)
        e = st.e
        if name in _TITLE or name == "media_title":
            self.title(el, attrs, 1, st, media=name == "media_title")
        elif name in _DESCRIPTIONS or name in ("content_encoded", "content"):
            self.description(el, name, attrs, base, 1, st)
        elif name == "link":
            self.link(el, attrs, base, e)
        elif name in ("guid", "id"):
            is_link = attrs.get("ispermalink", "true") == "true"
            value = self.text(el, base if is_link else None)
            st.store("id", value, 1)
            if is_link:
                e.setdefault("link", value)
        elif name in _DATES:
            key = _DATES[name]
            value = self.text(el)
            st.store(key, value, 1)
            e[f"{key}_parsed"] = _parse_date(value)
        elif name in _AUTHOR:
            self.author(el, base, st)
        elif name in ("language", "dc_language"):
            st.store("language", self.text(el), 1)
        elif name in ("source", "image"):
            st.title_depth = -1  # feedparser forgets which title it kept
            for child in el:
                if not isinstance(child.tag, str):
                    continue
                child_name = self.name(child)
                child_attrs = self.attrs(child)
                self.base(base, child_attrs)
                if name == "image" and child_name == "title":
                    # an entry's image title is the entry's title, one level down
                    self.title(child, child_attrs, 2, st, media=False)
                elif name == "source" or child_name not in _ENTRY_IMAGE or len(child):
                    raise _Decline(f"{name} with elements inside")
                elif child_name == "link" and {"href", "url", "uri"} & set(child_attrs):
                    # feedparser may take it for the entry's link
                    raise _Decline("a link with an address inside an entry's image")
        else:
            self.nested(el, name, base, 1, st)

    def nested(self, el: Any, name: str, base: str, depth: int, st: _Entry) -> None:
        """An element with no meaning of its own for the entry, and what lies inside it:
        only a media title or description there changes what is read."""
        if name not in _ENTRY_SAFE and _has_handler(name):
            raise _Decline(f"element {name}")
        if name in _READ and not _has_handler(name):
            raise _Decline(f"element {name} would overwrite a field")
        for child in el:
            if not isinstance(child.tag, str):
                continue
            child_name = self.name(child)
            attrs = self.attrs(child)
            child_base = self.base(base, attrs)
            if child_name == "media_title":
                self.title(child, attrs, depth + 1, st, media=True)
            elif child_name == "media_description":
                self.description(child, child_name, attrs, child_base, depth + 1, st)
            else:
                self.nested(child, child_name, child_base, depth + 1, st)

    def title(
        self, el: Any, attrs: Mapping[str, str], depth: int, st: _Entry, *, media: bool
    ) -> None:
        """feedparser keeps the first non-empty title (a media:title does not count)
        unless a title found higher up replaces one found deeper."""
        value = self.text_construct(el, attrs, "text/plain")
        if not -1 < st.title_depth <= depth:
            st.store("title", value, depth)
        if value and not media:
            st.title_depth = depth

    def description(
        self, el: Any, name: str, attrs: Mapping[str, str], base: str, depth: int, st: _Entry
    ) -> None:
        """Summary or content: a description or summary that comes when a summary is
        already there, and no content yet, is read as content (feedparser's rule)."""
        if name in ("content_encoded", "content"):
            as_content = True
            default = "text/html" if name == "content_encoded" else "text/plain"
        else:
            as_content = "summary" in st.e and not st.has_content
            html = name in ("description", "dc_description", "media_description")
            default = "text/html" if html and not as_content else "text/plain"
        value = self.text_construct(el, attrs, default)
        if as_content:
            st.has_content = True
            st.e.setdefault("content", []).append({"value": value, "base": base})
            st.e.setdefault("summary", value)
        else:
            st.store("summary", value, depth)
            st.e["summary_detail"] = {"base": base}

    def link(self, el: Any, attrs: Mapping[str, str], base: str, e: dict[str, Any]) -> None:
        """feedparser's `_start_link`: an href (alternate, HTML) or the element's text."""
        a = dict(attrs)
        a.setdefault("rel", "alternate")
        a.setdefault("type", "application/atom+xml" if a["rel"] == "self" else "text/html")
        href = a.get("url", a.get("uri", a.get("href")))
        if href:
            a["href"] = href
        if "href" in a:
            if len(el):
                raise _Decline("markup inside a link")
            if a["rel"] == "alternate" and (
                _FeedParserMixin.map_content_type(a["type"]) in _HTML_TYPES
            ):
                e["link"] = _urljoin(base, a["href"])
        else:
            value = self.text(el, base).replace("&amp;", "&")
            e["link"] = _LINK_REF.sub(r"&\g<1>", value)

    def author(self, el: Any, base: str, st: _Entry) -> None:
        """An author element: its own text, then the name/email its parts give."""
        st.authors += 1
        detail: dict[str, str] = {}
        own = el.text or ""
        for part in el:
            if not isinstance(part.tag, str):
                raise _Decline("comment inside an author")
            if st.authors > 1:
                # feedparser would mix in what the author before it said
                raise _Decline("an author with parts after another author")
            part_name = self.name(part)
            key = _AUTHOR_PARTS.get(part_name)
            part_attrs = self.attrs(part)
            part_base = self.base(base, part_attrs)
            if len(part) or (key is None and (_has_handler(part_name) or part_name in _READ)):
                raise _Decline("unexpected element in an author")
            if key is None:
                # without attributes it keeps its text; with them, the text is the author's
                own += (part.text or "") if part_attrs else ""
            elif key == "href":
                detail[key] = self.text(part, part_base)
            else:
                detail[key] = (part.text or "").strip()
            own += part.tail or ""
        st.store("author", _repair(own.strip()), 1)
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            st.e["author"] = f"{name} ({email})"
        elif name or email:
            st.e["author"] = name or email


def _lxml_parser() -> Any:
    """Strict lxml settings: no recovery, no entities, no DTD, no network, no huge trees
    (a parser object is not thread-safe, so each document gets its own)."""
    return etree.XMLParser(
        recover=False,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        collect_ids=False,
    )


def _base_uri(headers: Mapping[str, str]) -> str:
    """feedparser's base URI for the document (from Content-Location)."""
    location = headers.get("content-location", "")
    base: str = make_safe_absolute_uri("", location) or make_safe_absolute_uri(location) or ""
    return base


def parse_wellformed(
    utf8: bytes, found: Mapping[str, Any], headers: Mapping[str, str]
) -> Document | None:
    """The document as feedparser would read it, or None when this path declines.

    `utf8` and `found` are feedparser's `convert_to_utf8` output and result for the same
    bytes and `headers` (lower-cased names) that feedparser would be given.
    """
    try:
        return _parse(utf8, found, headers)
    except _Decline:
        return None


def _parse(utf8: bytes, found: Mapping[str, Any], headers: Mapping[str, str]) -> Document | None:
    if found.get("bozo") or not found.get("encoding") or "content-language" in headers:
        return None  # feedparser overrode or guessed the encoding, or has a header language
    first = _FIRST_ELEMENT.search(utf8)
    if first is None or _HEAD_DECL.search(utf8, 0, first.start()):
        return None
    try:
        root = etree.fromstring(utf8, _lxml_parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    atom, rdf = root.tag == _ATOM_FEED, root.tag == _RDF_ROOT
    if not (atom or rdf or root.tag == "rss"):
        return None
    reader = _Reader(_check_declarations(utf8, rdf=rdf))
    root_attrs = reader.attrs(root)
    base = reader.base(_base_uri(headers), root_attrs, root=True)
    feed: dict[str, Any] = {}
    lang = root_attrs.get("xml:lang", root_attrs.get("lang"))
    if lang and not rdf:  # feedparser looks for it on 'rdf:RDF', and sees 'rdf:rdf'
        feed["language"] = lang.replace("_", "-")
    if rdf:
        return _rdf(reader, root, base, feed)
    if atom:
        version = "atom10"
        channel = root
        entry_tag = _ATOM_ENTRY
    else:
        v = root_attrs.get("version", "")
        version = _RSS_VERSIONS.get(v) or ("rss20" if v.startswith("2.") else "rss")
        children = [c for c in root if isinstance(c.tag, str)]
        if len(children) != 1 or children[0].tag != "channel":
            return None
        channel = children[0]
        channel_attrs = reader.attrs(channel)
        if _CDF & set(channel_attrs):
            return None
        base = reader.base(base, channel_attrs)
        entry_tag = "item"
    entries: list[dict[str, Any]] = []
    titles: list[str] = []
    for el in channel:
        if not isinstance(el.tag, str):
            continue
        if el.tag == entry_tag:
            entries.append(reader.entry(el, base))
        else:
            reader.feed_child(el, base, feed, titles)
    if len(titles) > 1:
        return None  # which one feedparser keeps depends on what lies between them
    if titles:
        feed["title"] = titles[0]
    return Document(feed, entries, version)


def _rdf(reader: _Reader, root: Any, base: str, feed: dict[str, Any]) -> Document | None:
    """RSS 1.0: one channel, its items beside it under the root."""
    entries: list[dict[str, Any]] = []
    titles: list[str] = []
    channels = 0
    for el in root:
        if not isinstance(el.tag, str):
            continue
        if el.tag == _RSS1_ITEM:
            entries.append(reader.entry(el, base))
        elif el.tag == _RSS1_CHANNEL:
            channels += 1
            attrs = reader.attrs(el)
            if channels > 1 or _CDF & set(attrs):
                return None
            inner = reader.base(base, attrs)
            for child in el:
                if isinstance(child.tag, str):
                    reader.feed_child(child, inner, feed, titles)
        elif reader.name(el) in _FEED_BOXES:
            reader.feed_child(el, base, {}, [])  # outside the channel nothing is kept
        else:
            reader.check(el, base, _FEED_SAFE)
    if len(titles) > 1:
        return None
    if titles:
        feed["title"] = titles[0]
    return Document(feed, entries, "rss10")
