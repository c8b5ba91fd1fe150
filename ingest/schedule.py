"""When a source is next due: interval, the feed's own cache lifetime, backoff, Retry-After, jitter.

Pure functions of the fetch outcome and the stored state; the poller writes the answer to
`sources.next_fetch`, so the store, not the scheduler, knows what is due.
"""

from __future__ import annotations

import itertools
import random
import statistics
from dataclasses import dataclass
from datetime import datetime

MAX_BACKOFF = 24 * 3600.0  # the longest a failing source waits between tries
MAX_RETRY_AFTER = 7 * 24 * 3600.0  # the longest a server may ask us to stay away
THROTTLED = frozenset({429, 503})


@dataclass(frozen=True)
class Policy:
    interval: float = 900.0
    jitter: float = 0.1  # ± share of the delay, so a thousand feeds do not fire at once
    adaptive: bool = False  # follow how often the feed really publishes
    max_backoff: float = MAX_BACKOFF


def publish_interval(dates: list[datetime], window: int = 20) -> float | None:
    """Median seconds between the newest `window` distinct item dates (None if < 3)."""
    distinct = sorted(set(dates), reverse=True)[:window]
    if len(distinct) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(distinct)]
    return float(statistics.median(gaps))


def base_interval(policy: Policy, observed: float | None) -> float:
    """The configured interval, or (adaptive) the feed's own rhythm kept within a quarter
    and eight times the configured interval."""
    if not policy.adaptive or not observed:
        return policy.interval
    return min(max(observed, policy.interval / 4, 60.0), policy.interval * 8)


def next_delay(
    policy: Policy,
    *,
    status: int | None,
    errors: int,
    retry_after: float | None = None,
    floor: float | None = None,
    observed: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll.

    * a 429/503 with Retry-After: what the server asked (at least the interval);
    * after `errors` consecutive failures: the interval doubled per failure, capped;
    * otherwise the (adaptive) interval, never below `floor` (ttl, max-age, Expires).
    """
    rng = rng or random.Random()
    if status in THROTTLED and retry_after is not None:
        return min(max(retry_after, policy.interval), MAX_RETRY_AFTER)
    if errors:
        delay = min(policy.interval * 2.0 ** min(errors, 20), policy.max_backoff)
    else:
        delay = max(base_interval(policy, observed), min(floor or 0.0, policy.max_backoff))
    return delay * (1 + rng.uniform(-policy.jitter, policy.jitter))
