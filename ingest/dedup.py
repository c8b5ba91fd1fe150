"""Near-duplicate detection: finds the stored article that tells the same story in other words.

The exact layer (guid, canonical URL, fingerprint) lives in the pipeline's key lookup;
this module owns only the similarity layer.
"""

from __future__ import annotations

from db import ArticleData, Writer


class Deduplicator:
    """The foundation ships the exact layer only: `find` never matches yet."""

    def find(self, w: Writer, art: ArticleData) -> tuple[int, float, str] | None:
        return None

    def add(self, article_id: int, art: ArticleData) -> None:
        return None

    def forget(self, article_id: int) -> None:
        return None
