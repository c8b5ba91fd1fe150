"""A varied store for the syndication tests: several days, sources, languages, a story
carried by two outlets, and text with characters XML cannot hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.item import Item
from tests.conftest import SEED, drop
from wiredesk.desk import Desk

DAY0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
BODY = (
    "Russian troops and the air force held military drills with armed forces of the CSTO "
    "near the border of Kyrgyzstan and Tajikistan, the defense ministry said.\n\n"
    "The exercise tested the regional security of Central Asia against terrorism."
)
HOSTILE_TITLE = 'Bad\x00 \x07title\x1b with <b>tags</b> & "quotes" \ufffe\uffff and missiles'


@dataclass
class Seeded:
    titles: list[str]  # every article title stored, as stored
    per_day: dict[str, int]  # articles per published day


def _item(n: int, source: str, day: int, **kw: object) -> Item:
    fields: dict[str, object] = {
        "title": f"Military drills {n}: troops of the armed forces at the border",
        "body": BODY + f"\n\nStory number {n}.",
        "url": f"https://{source}.example/news/{n}",
        "guid": f"https://{source}.example/news/{n}",
        "published": DAY0 + timedelta(days=day, minutes=n),
        "author": "Ivan Petrov",
    }
    fields.update(kw)
    return Item(source=source, item_key=f"{source}-{n}", **fields)  # type: ignore[arg-type]


def seed(desk: Desk) -> Seeded:
    """Ten stories over three days from two outlets plus the reference wire story; one
    story carried again by a second outlet; one with hostile characters."""
    with desk.store.write() as w:
        w.ensure_source("tass", "https://tass.example/rss/v2.xml")
        w.ensure_source("akipress", "https://akipress.example/rss/news.rss")
    items = [_item(n, "tass" if n % 2 else "akipress", n % 3) for n in range(1, 9)]
    items.append(
        _item(
            9,
            "tass",
            1,
            title=HOSTILE_TITLE,
            author="Agent\x0b Smith",
            dateline="MOSCOW\x01",
            url="https://tass.example/news/a b?x=ü",
            content_html='<p onclick="x()">Body <script>alert(1)</script> of the '
            "military drills</p>\x0c",
        )
    )
    items.append(
        _item(
            10,
            "tass",
            2,
            title="Военные учения армии и ракетные войска у границы Кыргызстана",
            body="Военнослужащие вооруженных сил провели учения. ОДКБ и безопасность"
            " Центральной Азии.\n\nМинобороны сообщило об учениях.",
            language="ru",
            url="javascript:alert(document.cookie)",
        )
    )
    # the same story again from another outlet: an exact duplicate, credited as "also"
    items.append(_item(1, "akipress", 0, url="https://akipress.example/copy/1", guid=None))
    desk.pipeline.ingest(items)
    drop(desk, "kant.txt", SEED)
    desk.ingest_pass(due_only=False)
    conn = desk.store.reader()
    titles = [r[0] for r in conn.execute("SELECT title FROM articles ORDER BY id")]
    per_day = {
        r[0]: r[1]
        for r in conn.execute("SELECT substr(published, 1, 10), count(*) FROM articles GROUP BY 1")
    }
    return Seeded(titles, per_day)


NAVY_TITLE = "Navy warship fires missiles in a military exercise"


def navy_story(key: str = "navy-1") -> Item:
    """A later story that joins the defense topic only."""
    return Item(
        source="tass",
        item_key=key,
        title=NAVY_TITLE,
        body="The navy said troops and missiles took part in the drills.",
        url=f"https://tass.example/news/{key}",
    )
