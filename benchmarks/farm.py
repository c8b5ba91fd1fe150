"""A local feed farm: N feeds x M items of news-like text, with cross-posted stories.

Stories are built from the Zipf pseudo-vocabulary of `bench_dedup.TextGen` (checked there
against the labelled corpora for realistic LSH candidate counts) woven into English
sentence frames (function words, reporting verbs, datelines, quotes, numbers, names), so
language detection, tokenising, stemming, topic rules and FTS see text shaped like news.
About one story in five carries defence vocabulary, so the shipped topics fill up.

Cross-posting, as aggregated wires look in the wild:
* `exact_share` of each feed's items repeat another feed's story under the same link with
  tracking parameters added (`?utm_source=rss&utm_medium=feed`), another guid, same text;
* `near_share` are light rewordings of another feed's story: a new headline from the
  lead, two paragraphs swapped, a quote added, another link.

Feeds are served by `tests.origin.Origin` (aiohttp on loopback, strong ETags, 304s); the
suite runs it in a process of its own (`benchmarks.farmserver`), as a remote origin is.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import numpy as np

from benchmarks.bench_dedup import TextGen

# English sentence frames; their content words are slots ({w}: Zipf pseudo-words), so two
# stories share about as many words as the labelled corpora's unrelated stories do
_FRAMES = (
    "{a} said on {day} that the {w} of the {w} {w} had {w} {n} {w}.",
    "The {w} {w} in {place} was {w} after {a} and the {w} {w} {w} to {w} the {w}.",
    "According to {a}, the {w} {w} will {w} {n} {w} of {w} by the {w} of the year.",
    "{w} in {place} told {w} that the {w} {w} would not {w} the {w} {w}.",
    "In a {w}, the {w} of {place} {w} the {w} as a {w} {w} for the {w}.",
    '"We are {w} to {w} the {w} {w} with our {w}," {a} said.',
    "The {w} {w} {n} {w} of {w} {w} with {place} and {a}.",
    "It was not {w} if the {w} {w} would {w} the {w} {w} of {place}.",
)
# defence vocabulary (terms of the shipped `defense` topic among others), a few per sentence:
# stories of one topic share some words, as real ones do, not whole sentences
_DEFENSE_TERMS = (
    "troops",
    "the air force",
    "a missile",
    "the naval base",
    "NATO",
    "the armed forces",
    "the defense ministry",
    "soldiers",
    "drones",
    "the army",
    "a frigate",
    "a submarine",
    "air defense",
    "the general staff",
    "warships",
    "fighter jets",
    "the navy",
    "artillery",
    "the military",
    "servicemen",
    "a destroyer",
    "arms supplies",
    "the defense budget",
    "military drills",
    "the CSTO",
)
_DEFENSE = (
    "{d} and {d} {w} in the {w} at {place}, {a} said.",
    "{a} said {d} had {w} {n} {w} to {d} in {place}.",
    "{w} on {d} and {d} with {place} would {w} the {w}, {a} said.",
    "{d}, {d} and {d} were {w} by the {w} of {place} on {day}.",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_AGENCIES = ("TASS", "Reuters", "AKIpress", "Kabar", "Xinhua", "AP", "AFP", "Interfax")


@dataclass(frozen=True)
class Story:
    title: str
    paras: tuple[str, ...]
    place: str
    agency: str
    defense: bool

    def html(self) -> str:
        """Paragraphs with inline markup as dense as the real corpus (median ~8 tags per
        KB in feeds-real entries over 1 KB): a figure, links, strong and em."""
        slug = self.place.lower()
        out = [
            f'<figure><img src="/img/{slug}.jpg" alt="{self.place.title()}" width="640">'
            f"<figcaption>{html.escape(self.place.title())}</figcaption></figure>"
        ]
        for p in self.paras:
            w = html.escape(p).split(" ")
            if len(w) > 14:
                w[2] = f'<a href="/topics/{slug}">{w[2]}'
                w[3] = f"{w[3]}</a>"
                w[7] = f"<strong>{w[7]}</strong>"
                w[12] = f"<em>{w[12]}</em>"
            out.append(f"<p>{' '.join(w)}</p>")
        return "".join(out)


class NewsText:
    """Deterministic news-like stories (seeded)."""

    def __init__(self, seed: int = 11) -> None:
        self.gen = TextGen(seed)
        self.rng = random.Random(seed)
        self.places = [n.upper() for n in self.gen.names[:300]]
        self._buffer: list[str] = []
        self._at = 0

    def _words(self, k: int) -> list[str]:
        # drawn from the Zipf sampler in large vectorised batches (one numpy call per
        # sentence cost more than the rest of the generator)
        if self._at + k > len(self._buffer):
            pos = np.searchsorted(self.gen.cdf, self.gen.rng.random(200_000))
            words = self.gen.words
            self._buffer = [words[i] for i in np.minimum(pos, len(words) - 1).tolist()]
            self._at = 0
        self._at += k
        return self._buffer[self._at - k : self._at]

    def _person(self) -> str:
        r = self.rng
        return f"{r.choice(self.gen.names)} {r.choice(self.gen.names)}"

    def _sentence(self, frame: str, place: str) -> str:
        words = iter(self._words(frame.count("{w}")))
        out = frame.replace("{w}", "\0")
        parts = out.split("\0")
        text = parts[0] + "".join(next(words) + p for p in parts[1:])
        while "{d}" in text:
            text = text.replace("{d}", self.rng.choice(_DEFENSE_TERMS), 1)
        return text.format(
            a=self._person(),
            day=self.rng.choice(_DAYS),
            n=self.rng.randint(2, 4000),
            place=place.title(),
        )

    def story(self, defense: bool | None = None) -> Story:
        r = self.rng
        defense = r.random() < 0.2 if defense is None else defense
        place = r.choice(self.places)
        paras = []
        for i in range(r.randint(4, 6)):
            frames = [r.choice(_FRAMES) for _ in range(r.randint(3, 4))]
            if defense and i < 2:
                frames[0] = r.choice(_DEFENSE)
            paras.append(" ".join(self._sentence(f, place) for f in frames))
        head = self._words(7)
        if defense:
            head[2] = r.choice(_DEFENSE_TERMS).split()[-1]
        title = f"{place.title()} {' '.join(head)}".capitalize()
        return Story(title, tuple(paras), place, r.choice(_AGENCIES), defense)

    def reword(self, s: Story) -> Story:
        """Another outlet's copy: headline from the lead, paragraphs 1-2 swapped, a quote."""
        r = self.rng
        lead = s.paras[0].split()[:12]
        keep = sorted(r.sample(range(len(lead)), min(8, len(lead))))
        title = " ".join(lead[i].strip('.,"') for i in keep).capitalize()
        paras = list(s.paras)
        paras[0], paras[1] = paras[1], paras[0]
        paras.insert(2, self._sentence(_FRAMES[5], s.place))
        return replace(s, title=title, paras=tuple(paras))

    def wire(self, s: Story, day: datetime) -> str:
        """The story as agency wire copy (the drop folder's plain-text format)."""
        month = day.strftime("%B")
        first = (
            f" date {day:%Y-%m-%d} {s.place}, {month} {day.day}. /{s.agency.upper()}/. {s.paras[0]}"
        )
        body = [first, *s.paras[1:3], "Background", *s.paras[3:]]
        return "\n\n".join(body) + "\n"


@dataclass(frozen=True)
class FarmItem:
    guid: str
    link: str
    story: Story
    published: datetime


def plan(
    feeds: int, items: int, *, exact_share: float = 0.1, near_share: float = 0.1, seed: int = 11
) -> list[list[FarmItem]]:
    """Which story each feed carries: its own, a tracked copy of another feed's link, or a
    rewording of another feed's story."""
    text = NewsText(seed)
    r = random.Random(seed + 1)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    own: list[list[FarmItem]] = []
    for f in range(feeds):
        host = f"news{f}.example.com"
        own.append(
            [
                FarmItem(
                    f"https://{host}/{2024}/story-{f}-{i}",
                    f"https://{host}/{2024}/story-{f}-{i}",
                    text.story(),
                    start + timedelta(minutes=7 * i + f % 7),
                )
                for i in range(items)
            ]
        )
    out: list[list[FarmItem]] = []
    for f in range(feeds):
        row = []
        for i, item in enumerate(own[f]):
            other = own[(f + 1 + r.randrange(max(1, feeds - 1))) % feeds][r.randrange(items)]
            roll = r.random()
            if feeds > 1 and roll < exact_share:
                link = other.link + "?utm_source=rss&utm_medium=feed"
                row.append(FarmItem(f"copy-{f}-{i}", link, other.story, other.published))
            elif feeds > 1 and roll < exact_share + near_share:
                link = f"https://news{f}.example.com/2024/rewrite-{f}-{i}"
                row.append(FarmItem(link, link, text.reword(other.story), other.published))
            else:
                row.append(item)
        out.append(row)
    return out


def rss(name: str, items: list[FarmItem], *, language: str | None = "en") -> bytes:
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{name}</title><link>https://{name}.example.com/</link>"
        f"<description>News from {name}</description>"
        + (f"<language>{language}</language>" if language else "")
        + "<ttl>15</ttl>"
    )
    parts = [head]
    for it in items:
        perma = "true" if it.guid == it.link else "false"
        parts.append(
            "<item>"
            f"<title>{html.escape(it.story.title)}</title>"
            f"<link>{html.escape(it.link)}</link>"
            f'<guid isPermaLink="{perma}">{html.escape(it.guid)}</guid>'
            f"<pubDate>{format_datetime(it.published, usegmt=True)}</pubDate>"
            f"<dc:creator>{it.story.agency} staff</dc:creator>"
            f"<category>{'Defense' if it.story.defense else 'World'}</category>"
            f"<description><![CDATA[{it.story.html()}]]></description>"
            "</item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def atom(name: str, items: list[FarmItem], *, language: str | None = "en") -> bytes:
    lang = f' xml:lang="{language}"' if language else ""
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"{lang}>'
        f"<title>{name}</title><id>urn:farm:{name}</id>"
        f'<link href="https://{name}.example.com/"/>'
        f"<updated>{max(i.published for i in items).isoformat()}</updated>"
    ]
    for it in items:
        parts.append(
            "<entry>"
            f"<title>{html.escape(it.story.title)}</title>"
            f'<link href="{html.escape(it.link)}"/>'
            f"<id>{html.escape(it.guid)}</id>"
            f"<updated>{it.published.isoformat()}</updated>"
            f"<author><name>{it.story.agency} staff</name></author>"
            f'<content type="html">{html.escape(it.story.html())}</content>'
            "</entry>"
        )
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


def documents(
    feeds: int, items: int, *, exact_share: float = 0.1, near_share: float = 0.1, seed: int = 11
) -> list[bytes]:
    """The farm's feed documents: every fourth feed is Atom, every tenth declares no
    language (its items are detected)."""
    rows = plan(feeds, items, exact_share=exact_share, near_share=near_share, seed=seed)
    out = []
    for f, row in enumerate(rows):
        lang = None if f % 10 == 9 else "en"
        out.append((atom if f % 4 == 3 else rss)(f"news{f}", row, language=lang))
    return out


def wire_files(n: int, *, seed: int = 23) -> list[tuple[str, str]]:
    """`n` (file name, wire text) pairs, a tenth of them rewordings of earlier files."""
    text = NewsText(seed)
    r = random.Random(seed)
    day = datetime.now(UTC) - timedelta(hours=3)
    stories: list[Story] = []
    out = []
    for i in range(n):
        if stories and r.random() < 0.1:
            s = text.reword(r.choice(stories))
        else:
            s = text.story()
            stories.append(s)
        out.append((f"wire-{i:06d}.txt", text.wire(s, day)))
    return out
