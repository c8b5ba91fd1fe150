"""Prometheus metrics of the ingest side: items by source and outcome, fetches, drop queue."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ITEMS = Counter("wiredesk_items_total", "Items taken in", ["source", "outcome"])
FETCHES = Counter(
    "wiredesk_fetches_total", "Feed polls by result (ok, not_modified, error)", ["source", "result"]
)
FETCH_SECONDS = Histogram(
    "wiredesk_fetch_seconds",
    "Time to fetch, parse and store one source",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
SOURCES_QUEUED = Gauge(
    "wiredesk_sources_queued", "Sources of the running pass not yet fetched and parsed"
)
PARSE_QUEUE = Gauge("wiredesk_parse_queue", "Feed documents waiting for or in a parse worker")
DROP_QUEUE = Gauge("wiredesk_drop_queue", "Files waiting in the drop folder")
DROP_FILES = Counter("wiredesk_drop_files_total", "Dropped files handled", ["result"])
