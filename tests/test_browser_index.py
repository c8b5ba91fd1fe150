"""Headless Chromium (Debian's, driven by Playwright) opens the index: every topic's feed
links are there and work, the charts render, the search box finds a story, the page fits a
phone, and a screenshot lands in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.item import Item
from tests.conftest import REPO, LiveServer
from tests.seeding import seed
from tests.system import need_binary
from wiredesk.desk import Desk

pytestmark = [pytest.mark.browser]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = need_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # the test extra installs it; a missing module is a real failure
        pytest.fail("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_index_in_a_real_browser(desk: Desk, live: LiveServer, browser: Any) -> None:
    seed(desk)
    now = datetime.now(UTC)
    recent = [  # stories of the last days, so the charts have bars to draw
        Item(
            source="tass",
            item_key=f"recent-{k}",
            title=f"Troops and missiles in military drills near {city}",
            body=f"The armed forces said the military exercise near {city} went on. The CSTO"
            " called it vital for regional security in Central Asia and the border.",
            published=now - timedelta(days=k % 5, hours=1),
        )
        for k, city in enumerate(
            [
                "Osh",
                "Naryn",
                "Talas",
                "Batken",
                "Karakol",
                "Jalalabad",
                "Tokmok",
                "Balykchy",
                "Kant",
                "Cholpon",
                "Kara-Balta",
                "Uzgen",
            ]
        )
    ]
    desk.pipeline.ingest(recent)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    external: list[str] = []
    page.on(
        "request",
        lambda req: external.append(req.url) if not req.url.startswith(live.base) else None,
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/")

    base = desk.config.server.base_url
    for topic in [*desk.publisher.topics, "all"]:
        section = page.locator(f"section[data-topic='topic-{topic}']")
        assert section.count() == 1, topic
        hrefs = sorted(section.locator("a.feed").evaluate_all("links => links.map(a => a.href)"))
        path = "all" if topic == "all" else f"topics/{topic}"
        assert hrefs == sorted(f"{base}{path}.{fmt}" for fmt in ("atom", "json", "rss"))
        for href in hrefs:
            answer = page.request.get(href)
            assert answer.status == 200, href
            assert answer.headers["content-type"].endswith("charset=utf-8")
        # the chart: one bar per day for the last 30 days, drawn with a real size
        svg = section.locator("figure.chart svg")
        assert svg.locator("rect").count() == 30
        box = svg.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 20
        heights = svg.locator("rect").evaluate_all(
            "rects => rects.map(r => r.getBoundingClientRect().height)"
        )
        # a bar for each of the last 30 days that has stories in this topic
        since = (now - timedelta(days=29)).strftime("%Y-%m-%d")
        days = (
            desk.store.reader()
            .execute(
                "SELECT count(DISTINCT substr(published, 1, 10)) FROM articles WHERE published >= ?"
                + (
                    ""
                    if topic == "all"
                    else " AND id IN (SELECT article_id FROM article_topics WHERE topic = ?)"
                ),
                (since,) if topic == "all" else (since, topic),
            )
            .fetchone()[0]
        )
        assert sum(1 for h in heights if h > 1) == days, topic
        if topic in ("defense", "regional-security", "all"):
            assert days == 5, topic  # the five recent days of drills
        if days:
            assert section.locator("ul.heads li").count() >= 1

    assert page.locator("table.sources").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)

    # the search box
    page.fill("form.search input[name=q]", "Putin")
    page.click("form.search button")
    page.wait_for_url("**/search?q=Putin")
    hits = page.locator("ol.hits li a")
    assert hits.count() == 1
    assert "Kant" in hits.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)

    # readable on a phone: nothing wider than the screen
    phone = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    phone.goto(live.base + "/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    phone.screenshot(path=str(ARTIFACTS / "index-phone.png"), full_page=True)

    assert external == []
    assert errors == []
    assert (ARTIFACTS / "index.png").stat().st_size > 10_000
