"""wiredesk's store: one SQLite file, its schema, every write and every read."""

from db.clock import epoch_iso, iso, now_iso, parse_iso
from db.models import ArticleData, SightingData, SourceState, TopicHit
from db.store import Store, StoreError
from db.writer import ALL_FEED, Writer

__all__ = [
    "ALL_FEED",
    "ArticleData",
    "SightingData",
    "SourceState",
    "Store",
    "StoreError",
    "TopicHit",
    "Writer",
    "epoch_iso",
    "iso",
    "now_iso",
    "parse_iso",
]
