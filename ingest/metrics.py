"""Prometheus metrics of the ingest side: items by source and outcome, fetches, drop queue."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ITEMS = Counter("wiredesk_items_total", "Items taken in", ["source", "outcome"])
FETCHES = Counter("wiredesk_fetches_total", "Feed fetches", ["source", "result"])
FETCH_SECONDS = Histogram("wiredesk_fetch_seconds", "Time to fetch and store one source")
DROP_QUEUE = Gauge("wiredesk_drop_queue", "Files waiting in the drop folder")
DROP_FILES = Counter("wiredesk_drop_files_total", "Dropped files handled", ["result"])
