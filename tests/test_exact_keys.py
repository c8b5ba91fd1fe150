"""Exact keys never merge items their own source tells apart (fragments, template posts)."""

from __future__ import annotations

from ingest.item import Item
from wiredesk.desk import Desk

BODY = "After stumbling upon a few crazy block creations I decided to share a few favourites. " * 4


def kinds(desk: Desk, items: list[Item]) -> list[str]:
    return [o.kind for o in desk.pipeline.ingest(items)]


def test_fragment_links_of_one_source_are_distinct_items(desk: Desk) -> None:
    items = [
        Item(
            "blog",
            f"http://scripting.example/2017/06/22.html#a{n}",
            title=t,
            body=b,
            url=f"http://scripting.example/2017/06/22.html#a{n}",
            guid=f"http://scripting.example/2017/06/22.html#a{n}",
        )
        for n, t, b in (
            (
                1,
                "A new web server",
                "I'm working on a new Node web server that serves out of repos.",
            ),
            (
                2,
                "An epiphany",
                "Future-of-journalism conferences that ignore blogging miss the point.",
            ),
        )
    ]
    assert kinds(desk, items) == ["new", "new"]


def test_same_link_from_another_source_is_still_exact(desk: Desk) -> None:
    a = Item(
        "wire",
        "1",
        title="Border talks resume",
        body="Officials met on Monday at the border.",
        url="https://news.example/story?id=7&utm_source=rss",
    )
    b = Item(
        "aggregator",
        "x",
        title="Border talks resume (aggregated)",
        body="Summary only.",
        url="http://www.news.example/story?id=7#comments",
    )
    assert kinds(desk, [a, b]) == ["new", "exact"]


def test_template_posts_with_the_same_text_but_other_headlines_stay_apart(desk: Desk) -> None:
    items = [
        Item(
            "shop",
            f"https://shop.example/{name.lower()}",
            title=name,
            body=BODY,
            url=f"https://shop.example/{name.lower()}",
            guid=f"https://shop.example/{name.lower()}",
        )
        for name in ("BondiBlock", "PhonoBlock", "SynthaBlock")
    ]
    assert kinds(desk, items) == ["new", "new", "new"]
    # the same text and headline again under another guid is the same story
    again = Item(
        "shop",
        "https://shop.example/bondi-2",
        title="BondiBlock",
        body=BODY,
        url="https://shop.example/bondi-2",
        guid="https://shop.example/bondi-2",
    )
    assert kinds(desk, [again]) == ["exact"]
