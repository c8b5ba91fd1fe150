"""Precision and recall from true/false positive counts, shared by the evaluation scripts."""

from __future__ import annotations


class Rates:
    """Mixed into a dataclass that counts `tp`, `fp` and `fn`; an empty denominator
    counts as perfect (nothing predicted, or nothing to find)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
