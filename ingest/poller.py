"""Polls feed sources: which are due (the store decides), fetch, parse, store, next due time."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp

from db import SourceState, Store, iso, parse_iso
from ingest.feedparse import FeedFormatError, parse_feed
from ingest.fetcher import FetchResult, FetchSettings, fetch
from ingest.pipeline import Pipeline, Summary

log = logging.getLogger("wiredesk.poll")

MAX_BACKOFF = 24 * 3600.0
JITTER = 0.1  # ± share of the interval, so a thousand feeds do not fire at once


@dataclass(frozen=True)
class SourceSpec:
    name: str
    url: str
    interval: float = 900.0


def load_state(store: Store, spec: SourceSpec) -> SourceState:
    row = store.reader().execute("SELECT * FROM sources WHERE name = ?", (spec.name,)).fetchone()
    if row is None:
        return SourceState(spec.name, spec.url)
    return SourceState(
        name=row["name"],
        url=row["url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_fetch=row["last_fetch"],
        last_success=row["last_success"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        error_count=row["error_count"],
        next_fetch=row["next_fetch"],
        gone=bool(row["gone"]),
    )


def next_delay(spec: SourceSpec, result: FetchResult, errors: int, rng: random.Random) -> float:
    """Seconds until the next poll: the interval (never below the feed's own cache
    lifetime), or an exponential backoff after errors, or what Retry-After asks."""
    if result.retry_after is not None and result.status in (429, 503):
        return float(min(max(result.retry_after, spec.interval), MAX_BACKOFF))
    if errors:
        return float(min(spec.interval * 2.0 ** min(errors, 16), MAX_BACKOFF))
    base = max(spec.interval, min(result.cache_seconds or 0.0, MAX_BACKOFF))
    return base * (1 + rng.uniform(-JITTER, JITTER))


class Poller:
    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        settings: FetchSettings,
        *,
        concurrency: int = 32,
        per_host: int = 2,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.settings = settings
        self.concurrency = concurrency
        self.per_host = per_host
        self.rng = random.Random()

    def register(self, specs: list[SourceSpec]) -> None:
        with self.store.write() as w:
            for s in specs:
                w.ensure_source(s.name, s.url)

    def due(self, specs: list[SourceSpec], now: datetime) -> list[SourceSpec]:
        rows = {
            r["name"]: r
            for r in self.store.reader().execute("SELECT name, next_fetch, gone FROM sources")
        }
        out = []
        for s in specs:
            r = rows.get(s.name)
            if r is None or (
                not r["gone"] and (r["next_fetch"] is None or parse_iso(r["next_fetch"]) <= now)
            ):
                out.append(s)
        return out

    def poll(self, specs: list[SourceSpec], *, due_only: bool = False) -> dict[str, Summary]:
        self.register(specs)
        if due_only:
            specs = self.due(specs, datetime.now(UTC))
        if not specs:
            return {}
        return asyncio.run(self._poll_all(specs))

    async def _poll_all(self, specs: list[SourceSpec]) -> dict[str, Summary]:
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.per_host)
        summaries: dict[str, Summary] = {}
        # one worker thread owns parsing and storing, so writes stay serial
        sem = asyncio.Semaphore(self.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(spec: SourceSpec) -> None:
                async with sem:
                    state = load_state(self.store, spec)
                    result = await fetch(
                        session,
                        state.url or spec.url,
                        self.settings,
                        etag=state.etag,
                        last_modified=state.last_modified,
                    )
                summaries[spec.name] = await asyncio.to_thread(self._finish, spec, state, result)

            await asyncio.gather(*(one(s) for s in specs))
        return summaries

    def _finish(self, spec: SourceSpec, state: SourceState, result: FetchResult) -> Summary:
        summary = Summary()
        now = datetime.now(UTC)
        state.last_fetch = iso(now)
        state.last_status = result.status
        error = result.error
        if result.status == 200 and result.body is not None and error is None:
            try:
                parsed = parse_feed(
                    result.body, spec.name, base_url=result.url, response_headers=result.headers
                )
            except FeedFormatError as exc:
                error = str(exc)
            else:
                for outcome in self.pipeline.ingest(parsed.items):
                    summary.add(outcome)
                if parsed.failures:
                    with self.store.write() as w:
                        for key, reason in parsed.failures:
                            w.record_failure(spec.name, key, reason)
                            summary.counts["failed"] += 1
                state.etag, state.last_modified = result.etag, result.last_modified
                if result.permanent_url:
                    state.url = result.permanent_url  # only now that it parsed
                if parsed.ttl_seconds and not result.cache_seconds:
                    result.cache_seconds = float(parsed.ttl_seconds)
        if result.status == 410:
            state.gone = True
            error = error or "410 Gone: polling stopped"
        if error:
            state.error_count += 1
            state.last_error = error
            log.warning(
                "event=fetch_failed source=%s status=%s error=%r", spec.name, result.status, error
            )
        else:
            state.error_count = 0
            state.last_error = None
            state.last_success = state.last_fetch
        delay = next_delay(spec, result, state.error_count, self.rng)
        state.next_fetch = None if state.gone else iso(now + timedelta(seconds=delay))
        with self.store.write() as w:
            w.save_source(state)
        summary.error = error
        return summary
