"""WebSub publisher side: tell the configured hub which feeds changed since the last ping."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp

from db import ALL_FEED, Store
from feeds.render import FORMATS

log = logging.getLogger("wiredesk.websub")


@dataclass
class PingReport:
    pinged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # url -> reason


class HubPinger:
    """Compares `feed_versions` with what was last announced and POSTs
    `hub.mode=publish` for every format of every feed that moved. A topic change also
    moves `/all`. Nothing is remembered across restarts, so the first call after a
    start announces every feed once (harmless for a hub; it re-fetches)."""

    def __init__(
        self, store: Store, hub: str, base_url: str, topics: list[str], timeout: float = 10.0
    ) -> None:
        self.store = store
        self.hub = hub
        self.base_url = base_url
        self.topics = topics
        self.timeout = timeout
        self._announced: dict[str, int] = {}

    def _feed_urls(self, key: str) -> list[str]:
        path = "all" if key == ALL_FEED else f"topics/{key}"
        return [f"{self.base_url}{path}.{fmt}" for fmt in FORMATS]

    def changed(self) -> dict[str, int]:
        """Feeds (topic id or '*') whose version moved since the last announcement."""
        rows = self.store.reader().execute("SELECT topic, version FROM feed_versions")
        known = set(self.topics) | {ALL_FEED}
        return {t: v for t, v in rows if t in known and self._announced.get(t) != v}

    def ping_changed(self) -> PingReport:
        moved = self.changed()
        report = PingReport()
        if not moved:
            return report
        urls = [u for key in sorted(moved) for u in self._feed_urls(key)]
        report = asyncio.run(self._ping(urls))
        failed_keys = {
            key for key in moved if any(u in report.failed for u in self._feed_urls(key))
        }
        for key, version in moved.items():
            if key not in failed_keys:  # a failed ping is retried on the next call
                self._announced[key] = version
        return report

    async def _ping(self, urls: list[str]) -> PingReport:
        report = PingReport()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url in urls:
                try:
                    async with session.post(
                        self.hub, data={"hub.mode": "publish", "hub.url": url}
                    ) as resp:
                        if 200 <= resp.status < 300:
                            report.pinged.append(url)
                        else:
                            report.failed[url] = f"HTTP {resp.status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    report.failed[url] = f"{type(exc).__name__}: {exc}"
        for url, reason in report.failed.items():
            log.warning("event=websub_ping_failed hub=%s url=%s reason=%r", self.hub, url, reason)
        if report.pinged:
            log.info("event=websub_pinged hub=%s feeds=%d", self.hub, len(report.pinged))
        return report
