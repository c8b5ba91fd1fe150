"""Polls feed sources: which are due (the store decides), fetch, parse, store, next due time.

One pass is one asyncio loop. Each source waits for a slot of its host (per-host limit)
and then a global slot, so a slow host queues only its own feeds; the fetch deadline
starts once both are held. Every document is parsed in `ingest.parsepool` (worker
processes under a CPU and memory cap per document: untrusted bytes never run the parser
in the daemon), storing in a worker thread through the store's single writer, so the
event loop keeps fetching while both happen. `stop()` cancels a running pass from any
thread: fetches and parses in flight are abandoned (those sources stay due), what was
already parsed is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver

from db import SourceState, Store, Writer, iso, parse_iso, queries
from ingest.feedparse import FeedFormatError, ParsedFeed, parse_feed
from ingest.fetcher import FetchResult, FetchSettings, IPAddress, Sessions, fetch, private_ip
from ingest.identity import assign_keys
from ingest.item import Item
from ingest.metrics import FETCH_SECONDS, FETCHES, PARSE_QUEUE, SOURCES_QUEUED
from ingest.parsepool import Limits, ParseAborted, ParsePool
from ingest.pipeline import Pipeline, Summary
from ingest.prepare import PackedRules, parse_and_prepare, use_rules
from ingest.rules import TopicRule
from ingest.schedule import Policy, next_delay, publish_interval

log = logging.getLogger("wiredesk.poll")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    url: str
    interval: float = 900.0


@dataclass(frozen=True)
class PollSettings:
    concurrency: int = 32  # fetches at once, all hosts
    per_host: int = 2  # fetches at once against one host
    parse_workers: int = -1  # processes parsing feeds; -1: CPUs minus one, 0: none
    max_items: int = 5000  # entries taken from one document; more is a recorded error
    jitter: float = 0.1
    adaptive: bool = False
    parse_cpu: float = 20.0  # CPU seconds one document may take in a parse worker
    parse_memory: int = 1 << 30  # address-space cap of one parse worker (0: none)


def _pool_size(wanted: int) -> int:
    if wanted >= 0:
        return wanted
    # storing is serial in this process and the slowest stage: leave it a core
    # (measured on 2 cores: 1 worker 0.93x feedparser-alone time, 2 workers 1.7x)
    cpus = os.cpu_count() or 1
    return cpus - 1 if cpus > 1 else 0


_Job = tuple[SourceSpec, SourceState, FetchResult, ParsedFeed | None, str | None]


@dataclass
class _Staged:
    """One fetched source ready to store (see `Poller._stage`)."""

    spec: SourceSpec
    state: SourceState
    items: list[Item]
    failures: list[tuple[str | None, str]]
    summary: Summary


class _GroupCommit:
    """Sources whose parse finished while a commit was running go into the next commit
    together (at most `max_items` items, or one source however large), stored by
    `finish_group` in a worker thread, one group at a time.

    While sources of the pass are still being fetched or parsed (`expect`), a group of
    fewer than `batch_items` items waits up to `linger` seconds for more: a writer that
    keeps up with the parse worker would otherwise commit every source on its own, and
    on the first-poll farm a commit of ~50 items cost ~155 us an item in the commit and
    the full-text index against ~90 for ~400 items. The last source of a pass never
    waits."""

    def __init__(
        self,
        finish_group: Callable[[list[_Job]], list[Summary | Exception]],
        max_items: int = 2000,
        *,
        batch_items: int = 250,
        linger: float = 0.1,
    ) -> None:
        self.finish_group = finish_group
        self.max_items = max_items
        self.batch_items = batch_items
        self.linger = linger
        self._expected = 0  # sources of the pass not submitted yet
        self._waiting: list[tuple[_Job, asyncio.Future[Summary]]] = []
        self._draining: asyncio.Task[None] | None = None
        self._more = asyncio.Event()  # enough waits, or nothing more is coming

    def expect(self, sources: int) -> None:
        self._expected += sources

    def gone(self) -> None:
        """A source expected will not be submitted (it crashed before storing)."""
        self._expected -= 1
        self._wake()

    def _items(self) -> int:
        """Items waiting."""
        return sum(_count(job) for job, _ in self._waiting)

    def _wake(self) -> None:
        if self._expected <= 0 or self._items() >= self.batch_items:
            self._more.set()

    async def submit(self, job: _Job) -> Summary:
        future: asyncio.Future[Summary] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        self._expected -= 1
        self._wake()
        if self._draining is None or self._draining.done():
            self._draining = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            if self.linger > 0 and self._expected > 0 and self._items() < self.batch_items:
                self._more.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._more.wait(), self.linger)
            group: list[tuple[_Job, asyncio.Future[Summary]]] = []
            items = 0
            while self._waiting and (
                not group or items + _count(self._waiting[0][0]) <= self.max_items
            ):
                job, future = self._waiting.pop(0)
                group.append((job, future))
                items += _count(job)
            log.debug("event=group_commit sources=%d items=%d", len(group), items)
            try:
                results = await asyncio.to_thread(self.finish_group, [j for j, _ in group])
            except BaseException as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                raise
            for (_, future), result in zip(group, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def _count(job: _Job) -> int:
    parsed = job[3]
    return len(parsed.items) if parsed is not None else 0


class Poller:
    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        settings: FetchSettings,
        poll: PollSettings | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.settings = settings
        self.poll_settings = poll or PollSettings()
        self.rng = random.Random()
        # what the connect-time guard resolves with and refuses (tests: a fake DNS)
        self.resolver_factory: Callable[[], AbstractResolver] | None = None
        self.blocked_address: Callable[[IPAddress], bool] = private_ip
        self._pool: ParsePool | None = None
        # topic rules handed to the parse workers, so they prepare and classify each
        # item there and this process only looks up and writes (None: parse only)
        self._rules: PackedRules | None = None
        self._stopping = threading.Event()
        self._pass: tuple[asyncio.AbstractEventLoop, set[asyncio.Task[None]]] | None = None

    @property
    def rules(self) -> PackedRules | None:
        return self._rules

    @rules.setter
    def rules(self, rules: list[TopicRule] | None) -> None:
        self._rules = None if rules is None else PackedRules.of(rules)

    # -- the parse pool ------------------------------------------------------

    def _parser(self) -> ParsePool | None:
        """The isolated parse pool; None only when `parse_workers` is 0 (parse in a thread,
        no CPU or memory cap: for tests and embedding, never for untrusted feeds)."""
        workers = _pool_size(self.poll_settings.parse_workers)
        if not workers:
            return None
        if self._pool is None:
            ps = self.poll_settings
            self._pool = ParsePool(
                workers,
                Limits(ps.parse_cpu, ps.parse_memory),
                preload=("ingest.feedparse", "ingest.prepare"),
            )
        return self._pool

    def start(self) -> None:
        """Start the parse workers (and give them the topic rules) before the first poll
        needs them; where no pool can run, parsing falls back as `_parse` does."""
        pool = self._parser()
        if pool is None:
            return
        try:
            pool.start(functools.partial(use_rules, self.rules))
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            self._pool_unavailable(exc)

    def _pool_unavailable(self, exc: BaseException) -> None:
        # the pool cannot start here (no __main__ guard, no /dev/shm)
        log.warning("event=parse_pool_unavailable error=%r", str(exc)[:200])
        self.poll_settings = replace(self.poll_settings, parse_workers=0)
        self._close_pool()

    async def _parse(self, body: bytes, spec: SourceSpec, result: FetchResult) -> ParsedFeed:
        kwargs: dict[str, Any] = {
            "base_url": result.url,
            "response_headers": result.headers,
            "max_items": self.poll_settings.max_items,
        }
        pool = self._parser()
        if pool is not None:
            try:
                PARSE_QUEUE.inc()
                task = functools.partial(parse_and_prepare, rules=self.rules)
                parsed: ParsedFeed = await pool.run(task, body, spec.name, **kwargs)
                return parsed
            except (BrokenProcessPool, RuntimeError, OSError) as exc:
                self._pool_unavailable(exc)
            finally:
                PARSE_QUEUE.dec()
        return await asyncio.to_thread(parse_feed, body, spec.name, **kwargs)

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close(self) -> None:
        self.stop()
        self._close_pool()

    def stop(self) -> None:
        """Cancel the running pass, from any thread, and refuse new ones."""
        self._stopping.set()
        running = self._pass
        if running is not None:
            loop, tasks = running

            def cancel() -> None:
                for t in tasks:
                    t.cancel()

            # RuntimeError: the loop closed meanwhile, nothing left to cancel
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(cancel)

    # -- what is due ---------------------------------------------------------

    def register(self, specs: list[SourceSpec]) -> None:
        with self.store.write() as w:
            for s in specs:
                w.ensure_source(s.name, s.url)

    def due(self, specs: list[SourceSpec], now: datetime) -> list[SourceSpec]:
        sched = queries.source_schedule(self.store.reader())
        out = []
        for s in specs:
            next_fetch, gone = sched.get(s.name, (None, False))
            if not gone and (next_fetch is None or parse_iso(next_fetch) <= now):
                out.append(s)
        return out

    def poll(
        self, specs: list[SourceSpec], *, due_only: bool = False, include_gone: bool = False
    ) -> dict[str, Summary]:
        """Poll the sources (only those due, with `due_only`); a source that answered
        410 Gone is skipped unless `include_gone` (an operator asking for it by name)."""
        self.register(specs)
        if due_only:
            specs = self.due(specs, datetime.now(UTC))
        elif not include_gone:
            sched = queries.source_schedule(self.store.reader())
            specs = [s for s in specs if not sched.get(s.name, (None, False))[1]]
        if not specs or self._stopping.is_set():
            return {}
        return asyncio.run(self._poll_all(specs))

    # -- one pass ------------------------------------------------------------

    async def _poll_all(self, specs: list[SourceSpec]) -> dict[str, Summary]:
        ps = self.poll_settings
        hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(ps.per_host)
        )
        slots = asyncio.Semaphore(ps.concurrency)
        summaries: dict[str, Summary] = {}
        commits = _GroupCommit(self._finish_group)
        resolver = self.resolver_factory() if self.resolver_factory else None
        async with Sessions(
            self.settings, ps.concurrency, resolver, self.blocked_address
        ) as sessions:

            async def one(spec: SourceSpec) -> None:
                started = time.monotonic()
                SOURCES_QUEUED.inc()
                try:
                    state, result, parsed, error = await self._fetch_and_parse(
                        sessions, spec, hosts, slots
                    )
                    finish = commits.submit((spec, state, result, parsed, error))
                    not_modified = result.not_modified
                except asyncio.CancelledError:
                    log.info("event=poll_cancelled source=%s", spec.name)
                    commits.gone()
                    raise
                except Exception as exc:  # one source's bug must not sink the pass
                    log.exception("event=poll_crashed source=%s", spec.name)
                    commits.gone()
                    not_modified = False
                    finish = asyncio.to_thread(
                        self._record_crash, spec, f"internal error: {type(exc).__name__}: {exc}"
                    )
                finally:
                    SOURCES_QUEUED.dec()
                # storing is never abandoned half-way: a stop waits for it to commit
                committing = asyncio.ensure_future(finish)
                try:
                    summary = await asyncio.shield(committing)
                except asyncio.CancelledError:
                    summaries[spec.name] = await committing
                    raise
                except Exception as exc:
                    log.exception("event=store_failed source=%s", spec.name)
                    summary = await asyncio.to_thread(
                        self._record_crash, spec, f"internal error: {type(exc).__name__}: {exc}"
                    )
                summaries[spec.name] = summary
                outcome = "error" if summary.error else "not_modified" if not_modified else "ok"
                FETCHES.labels(spec.name, outcome).inc()
                FETCH_SECONDS.observe(time.monotonic() - started)

            commits.expect(len(specs))
            tasks = {asyncio.ensure_future(one(s)) for s in specs}
            self._pass = (asyncio.get_running_loop(), tasks)
            try:
                if self._stopping.is_set():  # stop() came before the tasks existed
                    for t in tasks:
                        t.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                self._pass = None
        for r in results:
            # a cancelled source stays due; anything else (the store itself failing) is raised
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r
        return summaries

    async def _fetch_and_parse(
        self,
        sessions: Sessions,
        spec: SourceSpec,
        hosts: defaultdict[str, asyncio.Semaphore],
        slots: asyncio.Semaphore,
    ) -> tuple[SourceState, FetchResult, ParsedFeed | None, str | None]:
        state = self._load(spec)
        url = state.url or spec.url
        async with hosts[(urlsplit(url).hostname or "").lower()], slots:
            result = await fetch(
                sessions, url, self.settings, etag=state.etag, last_modified=state.last_modified
            )
        parsed: ParsedFeed | None = None
        error = result.error
        if result.status == 200 and result.body is not None and error is None:
            try:
                parsed = await self._parse(result.body, spec, result)
            except (FeedFormatError, ParseAborted) as exc:
                error = str(exc)
        return state, result, parsed, error

    def ingest_bytes(
        self, spec: SourceSpec, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[Summary, ParsedFeed | None]:
        """The parse + store half of a poll, for bytes fetched elsewhere (tests, tools)."""
        self.register([spec])
        state = self._load(spec)
        result = FetchResult(spec.url, 200, body=body, headers=dict(headers or {}))
        parsed: ParsedFeed | None = None
        error = None
        try:
            parsed = parse_feed(
                body,
                spec.name,
                base_url=spec.url,
                response_headers=result.headers,
                max_items=self.poll_settings.max_items,
            )
        except FeedFormatError as exc:
            error = str(exc)
        return self._finish((spec, state, result, parsed, error)), parsed

    def _load(self, spec: SourceSpec) -> SourceState:
        state = queries.source_state(self.store.reader(), spec.name)
        return state or SourceState(spec.name, spec.url, config_url=spec.url)

    # -- storing -------------------------------------------------------------

    def _key_items(
        self, spec: SourceSpec, state: SourceState, parsed: ParsedFeed, summary: Summary
    ) -> tuple[list[Item], list[tuple[str | None, str]]]:
        """The items under their keys (see `assign_keys`) and the entries to record as
        failed; a switch of identity moves the source's sightings first."""
        conn = self.store.reader()
        keys = assign_keys(
            parsed.items,
            state.identity,
            lambda ks: queries.known_item_keys(conn, spec.name, ks),
            lambda urls: queries.item_keys_for_urls(conn, spec.name, urls),
        )
        if keys.rekey or keys.identity != state.identity:
            log.warning("event=identity_switched source=%s to=%s", spec.name, keys.identity)
            with self.store.write() as w:
                w.rekey_sightings(spec.name, keys.rekey)
            state.identity = keys.identity
        failures: list[tuple[str | None, str]] = list(parsed.failures)
        if parsed.skipped:
            failures.append(
                (
                    None,
                    f"feed has {parsed.entries_total} entries, more than fetch.max_items="
                    f"{self.poll_settings.max_items}: {parsed.skipped} not taken in",
                )
            )
        summary.counts["failed"] += len(failures)
        summary.counts["repeated"] += keys.dropped
        notes = [n for n in (parsed.warning, *keys.notes) if n]
        state.last_warning = "; ".join(notes) if notes else None
        return keys.items, failures

    def _stage(
        self,
        spec: SourceSpec,
        state: SourceState,
        result: FetchResult,
        parsed: ParsedFeed | None,
        error: str | None,
    ) -> _Staged:
        """A fetched source made ready to store: its items keyed, its next fetch state."""
        summary = Summary()
        now = datetime.now(UTC)
        state.last_fetch = iso(now)
        state.last_status = result.status
        items: list[Item] = []
        failures: list[tuple[str | None, str]] = []
        if parsed is not None:
            items, failures = self._key_items(spec, state, parsed, summary)
            state.etag, state.last_modified = result.etag, result.last_modified
            if result.permanent_url:
                state.url = result.permanent_url  # only now that it parsed
            state.ttl_seconds = parsed.ttl_seconds
            dates = [i.published for i in parsed.items if i.published is not None]
            state.publish_interval = publish_interval(dates) or state.publish_interval
            if parsed.skipped:
                error = (
                    f"feed has {parsed.entries_total} entries:"
                    f" only the first {self.poll_settings.max_items} taken in"
                )
        if result.status == 410:
            state.gone = True
            error = "410 Gone: polling stopped (change the source's url or ingest it by name)"
        if error:
            state.error_count += 1
            state.last_error = error
            state.last_error_at = state.last_fetch
            log.warning(
                "event=fetch_failed source=%s status=%s errors=%d error=%r",
                spec.name,
                result.status,
                state.error_count,
                error,
            )
        else:
            state.error_count = 0
            state.last_error = None
            state.last_success = state.last_fetch
        policy = Policy(
            spec.interval, jitter=self.poll_settings.jitter, adaptive=self.poll_settings.adaptive
        )
        floor = max(result.cache_seconds or 0.0, float(state.ttl_seconds or 0))
        delay = next_delay(
            policy,
            status=result.status,
            errors=state.error_count,
            retry_after=result.retry_after,
            floor=floor,
            observed=state.publish_interval,
            rng=self.rng,
        )
        state.next_fetch = None if state.gone else iso(now + timedelta(seconds=delay))
        summary.error = error
        return _Staged(spec, state, items, failures, summary)

    def _store(self, staged: list[_Staged]) -> list[Summary]:
        """Several sources' items, failed entries and fetch state in one transaction: a
        source's validators (ETag) are never saved without its items, nor the reverse."""

        def then(w: Writer) -> None:
            for st in staged:
                for key, reason in st.failures:
                    w.record_failure(st.spec.name, key, reason)
                w.save_source(st.state)

        outcomes = self.pipeline.ingest([i for st in staged for i in st.items], then)
        at = 0
        for st in staged:
            for outcome in outcomes[at : at + len(st.items)]:
                st.summary.add(outcome)
            at += len(st.items)
        return [st.summary for st in staged]

    def _finish(self, job: _Job) -> Summary:
        return self._store([self._stage(*job)])[0]

    def _finish_group(self, jobs: list[_Job]) -> list[Summary | Exception]:
        """`_finish` for sources that finished while the previous commit ran, in one
        transaction (a commit per source measured ~8% of the writer's time per item);
        if it fails, each of them gets the exception (and records it on its own)."""
        out: list[Summary | Exception] = []
        staged: list[tuple[int, _Staged]] = []
        for job in jobs:
            try:
                staged.append((len(out), self._stage(*job)))
                out.append(RuntimeError("not stored"))
            except Exception as exc:
                out.append(exc)
        try:
            for (i, _), summary in zip(staged, self._store([st for _, st in staged]), strict=True):
                out[i] = summary
        except Exception as exc:
            for i, _ in staged:
                out[i] = exc
        return out

    def _record_crash(self, spec: SourceSpec, error: str) -> Summary:
        state = self._load(spec)
        return self._finish((spec, state, FetchResult(state.url), None, error))
