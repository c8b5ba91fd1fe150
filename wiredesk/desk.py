"""Builds the running parts (store, pipeline, poller, drop folder, publisher) from a Config."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from db import Store
from db.maintenance import prune
from feeds.publish import Publisher, TopicInfo
from feeds.websub import HubPinger
from ingest.dedup import Deduplicator, DedupSettings
from ingest.dropfolder import SOURCE as DROPS_SOURCE
from ingest.dropfolder import DropFolder, DropResult
from ingest.fetcher import FetchSettings
from ingest.item import Item
from ingest.pipeline import Pipeline, Summary
from ingest.poller import Poller, PollSettings, SourceSpec
from ingest.topics import Matcher
from wiredesk.config import Config

log = logging.getLogger("wiredesk")


def _topic_infos(config: Config) -> list[TopicInfo]:
    return [
        TopicInfo(tid, t.title or tid.replace("-", " ").title(), t.description or "")
        for tid, t in config.topics.items()
    ]


@dataclass
class PassReport:
    """What one ingest pass did, per source, for the CLI summary."""

    sources: dict[str, Summary] = field(default_factory=dict)
    drops: DropResult | None = None
    drop_summary: Summary = field(default_factory=Summary)

    def lines(self) -> list[str]:
        out = [s.line(name) for name, s in sorted(self.sources.items())]
        if self.drops is not None:
            out.append(
                self.drop_summary.line(DROPS_SOURCE)
                + f" files_taken={self.drops.taken} files_failed={self.drops.failed}"
                f" files_waiting={self.drops.waiting}"
            )
        return out


class Desk:
    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(config.database)
        rules = config.topic_rules()  # one list for the matcher and both kinds of worker
        self.matcher = Matcher(rules)
        d = config.dedup
        self.dedup = Deduplicator(
            DedupSettings(
                threshold=d.threshold,
                update_threshold=d.update_threshold,
                window=d.window,
                max_entries=d.max_entries,
            )
        )
        self.pipeline = Pipeline(self.store, self.matcher, self.dedup, prefer=tuple(d.prefer))
        f = config.fetch
        self.poller = Poller(
            self.store,
            self.pipeline,
            FetchSettings(f.timeout, f.max_bytes, f.max_redirects, f.user_agent, f.allow_private),
            PollSettings(
                f.concurrency,
                f.per_host,
                f.parse_workers,
                f.max_items,
                f.jitter,
                f.adaptive,
                f.parse_cpu,
                f.parse_memory,
            ),
        )
        self.poller.rules = rules
        self.drops = DropFolder(
            config.drops.path, settle=config.drops.settle, rules=rules, batch=config.drops.batch
        )
        self.publisher = Publisher(
            self.store,
            _topic_infos(config),
            config.server.base_url,
            title=config.publish.title,
            entries=config.publish.entries,
            drops_counts=self.drops.pending_counts,
            hub=config.publish.websub_hub,
        )
        self.websub = self._pinger(config)

    def _pinger(self, config: Config) -> HubPinger | None:
        hub = config.publish.websub_hub
        if not hub:
            return None
        return HubPinger(self.store, hub, config.server.base_url, list(config.topics))

    def reload(self, config: Config) -> list[str]:
        """Take new sources, topics and publishing settings from a re-read config.
        Returns the changed keys that only a restart applies."""
        restart = [
            key
            for key, old, new in (
                ("database", self.config.database, config.database),
                ("drops.path", self.config.drops.path, config.drops.path),
                ("server", self.config.server, config.server),
                ("fetch", self.config.fetch, config.fetch),
            )
            if old != new
        ]
        rules = config.topic_rules()
        matcher = Matcher(rules)
        self.matcher = matcher
        self.pipeline.matcher = matcher
        self.poller.rules = rules
        self.publisher.hub = config.publish.websub_hub  # set_topics drops the cached feeds
        self.publisher.set_topics(_topic_infos(config))
        self.websub = self._pinger(config)
        self.publisher.title = config.publish.title
        self.publisher.entries = config.publish.entries
        self.drops.settle = config.drops.settle
        self.drops.batch = config.drops.batch
        self.drops.set_rules(rules)
        self.config = config.model_copy(
            update={
                "database": self.config.database,
                "drops": self.config.drops.model_copy(update={"path": self.config.drops.path}),
                "server": self.config.server,
                "fetch": self.config.fetch,
            }
        )
        return restart

    def housekeeping(self) -> int:
        """Retention: prune stories older than `retention`, leaving tombstones."""
        if self.config.retention is None:
            return 0
        return prune(self.store, timedelta(seconds=self.config.retention))

    def source_specs(self, only: str | None = None) -> list[SourceSpec]:
        return [
            SourceSpec(s.name, s.url, s.interval)
            for s in self.config.sources
            if s.enabled and (only is None or s.name == only)
        ]

    def poll_sources(self, *, due_only: bool, only: str | None = None) -> dict[str, Summary]:
        return self.poller.poll(
            self.source_specs(only), due_only=due_only, include_gone=only is not None
        )

    def pick_up_drops(self, summary: Summary | None = None) -> DropResult:
        summary = summary if summary is not None else Summary()

        def store_items(items: list[Item]) -> None:
            for outcome in self.pipeline.ingest(items):
                summary.add(outcome)

        def record_failure(name: str, reason: str) -> None:
            with self.store.write() as w:
                w.record_failure(DROPS_SOURCE, name, reason)
            summary.counts["failed"] += 1

        return self.drops.run_once(store_items, record_failure)

    def ingest_pass(self, *, due_only: bool, only: str | None = None) -> PassReport:
        report = PassReport()
        if only != DROPS_SOURCE:
            report.sources = self.poll_sources(due_only=due_only, only=only)
        if only is None or only == DROPS_SOURCE:
            report.drops = self.pick_up_drops(report.drop_summary)
        return report

    def export(self) -> None:
        if self.config.publish.export_dir is not None:
            self.publisher.export(self.config.publish.export_dir)

    def announce(self) -> None:
        """Ping the WebSub hub (when one is configured) for every feed that changed."""
        if self.websub is not None:
            self.websub.ping_changed()

    def start_workers(self) -> None:
        """Start the parse and drop-reading worker processes now (the daemon does at
        start-up) rather than when the first poll or big pickup needs them."""
        self.poller.start()
        self.drops.start()

    def close(self) -> None:
        self.poller.close()
        self.drops.close()
        self.store.close()
