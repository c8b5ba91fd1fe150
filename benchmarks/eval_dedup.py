"""Pairwise precision and recall of deduplication (exact + near layers) on labelled sets.

Every set goes through the real pipeline on a temporary SQLite store, in publication
order; two items are predicted to be one story when they end up in the same article.

    python benchmarks/eval_dedup.py            # every set, full figures
    python benchmarks/eval_dedup.py own scoop  # some sets

Sets (see docs/dedup.md for why these subsets):
  own       tests/data/dedup: our wire-format stories, EN + RU, with template twins
  scoop     near-duplicates/scoop: pairwise over the ground-truth clusters (516 items)
  tg-en     tgcontest OK/BAD pairs, English pool
  tg-ru     tgcontest OK/BAD pairs, the three Russian pools
  sem-en    SemEval-2022 task 8, en-en pairs: Overall <= 1.5 same, >= 3.5 distinct
  sem-ru    SemEval-2022 task 8, ru-ru pairs, same rule
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.scoring import Rates  # noqa: E402
from db import Store  # noqa: E402
from ingest.dedup import Deduplicator, DedupSettings  # noqa: E402
from ingest.item import Item  # noqa: E402
from ingest.pipeline import Pipeline  # noqa: E402
from ingest.topics import Matcher  # noqa: E402
from ingest.wire import parse_wire  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "near-duplicates"
OWN = REPO / "tests" / "data" / "dedup"
csv.field_size_limit(10**9)


@dataclass
class Score(Rates):
    name: str
    items: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"{self.name:<8} items={self.items:<5} pairs+={self.tp + self.fn:<5} "
            f"pairs-={self.fp + self.tn:<7} precision={self.precision:.3f} "
            f"recall={self.recall:.3f} f1={self.f1:.3f} tp={self.tp} fp={self.fp} fn={self.fn}"
        )


@dataclass
class LabelledSet:
    """Items in ingest order, and either story labels (clusters) or labelled pairs."""

    name: str
    items: list[Item]
    stories: dict[str, str] | None = None  # item_key -> story id
    pairs: list[tuple[str, str, bool]] | None = None  # (item_key, item_key, same story)


def run(items: list[Item], settings: DedupSettings | None = None) -> dict[str, int]:
    """Ingest `items` into a fresh store; item_key -> the article it ended up in."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "eval.db")
        pipeline = Pipeline(store, Matcher([]), Deduplicator(settings))
        found: dict[str, int] = {}
        for start in range(0, len(items), 50):
            batch = items[start : start + 50]
            for item, outcome in zip(batch, pipeline.ingest(batch), strict=True):
                if outcome.article_id is None:
                    raise RuntimeError(f"{item.item_key}: {outcome.kind} {outcome.reason}")
                found[item.item_key] = outcome.article_id
        store.close()
    return found


def score(s: LabelledSet, settings: DedupSettings | None = None) -> Score:
    got = run(s.items, settings)
    tp = fp = fn = tn = 0
    if s.stories is not None:
        pairs: Iterable[tuple[str, str, bool]] = (
            (a, b, s.stories[a] == s.stories[b]) for a, b in itertools.combinations(s.stories, 2)
        )
    else:
        pairs = s.pairs or []
    for a, b, same in pairs:
        predicted = got[a] == got[b]
        tp += predicted and same
        fp += predicted and not same
        fn += same and not predicted
        tn += not same and not predicted
    return Score(s.name, len(s.items), tp, fp, fn, tn)


# -- the sets -----------------------------------------------------------------


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def own_set() -> LabelledSet:
    items, stories = [], {}
    with (OWN / "manifest.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    rows.sort(key=lambda r: (r["published"], r["file"]))
    for r in rows:
        published = _date(r["published"])
        story = parse_wire((OWN / r["file"]).read_text(encoding="utf-8"), reference=published)
        items.append(
            Item(
                source=r["source"],
                item_key=r["file"],
                title=None if story.title_from_lead else story.title,
                body=story.body,
                summary=story.summary,
                published=story.published or published,
                agency=story.agency,
                dateline=story.dateline,
            )
        )
        stories[r["file"]] = r["story"]
    return LabelledSet("own", items, stories=stories)


def scoop_set() -> LabelledSet:
    base = CORPUS / "scoop"
    with (base / "dedup_ground_truth_items.jsonl").open(encoding="utf-8") as f:
        truth = {d["file"]: d["story_gt_id"] for d in map(json.loads, f)}
    with (base / "scraped_news.jsonl").open(encoding="utf-8") as f:
        docs = sorted(map(json.loads, f), key=lambda d: d["file"])
    items = [
        Item(
            source=d["source"],
            item_key=d["file"],
            title=d["title"],
            body=d.get("body_text") or None,
            url=d["canonical_url"],
            guid=d["source_item_id"],
            published=_date(d["published_at"]),
        )
        for d in docs
    ]
    return LabelledSet("scoop", items, stories={d["file"]: truth[d["file"]] for d in docs})


def _pair_set(
    name: str, rows: Iterable[tuple[tuple[str, str, str], tuple[str, str, str], bool]]
) -> LabelledSet:
    """Pairs of (title, text, source) documents; a document in several pairs is one item."""
    items: dict[str, Item] = {}
    pairs = []
    for docs_label in rows:
        *docs, same = docs_label
        keys = []
        for title, text, source in docs:
            key = hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:16]
            if key not in items:
                items[key] = Item(source=source, item_key=key, title=title, body=text)
            keys.append(key)
        pairs.append((keys[0], keys[1], bool(same)))
    return LabelledSet(name, list(items.values()), pairs=pairs)


def _host(url: str) -> str:
    return urlsplit(url).hostname or "unknown"


def tgcontest_set(name: str, pools: tuple[str, ...]) -> LabelledSet:
    rows = []
    for pool in pools:
        path = CORPUS / "tgcontest-toloka" / "clustering_pairs" / f"{pool}.tsv"
        with path.open(encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                rows.append(
                    (
                        (
                            r["INPUT:first_title"],
                            r["INPUT:first_text"],
                            _host(r["INPUT:first_url"]),
                        ),
                        (
                            r["INPUT:second_title"],
                            r["INPUT:second_text"],
                            _host(r["INPUT:second_url"]),
                        ),
                        r["GOLDEN:quality"] == "OK",
                    )
                )
    return _pair_set(name, rows)


def semeval_set(name: str, lang: str) -> LabelledSet:
    """Same-language pairs; `Overall` <= 1.5 is one story, >= 3.5 two, the middle is left out."""

    def doc(text: str, source: str) -> tuple[str, str, str]:
        title, _, body = text.strip().partition("\n")
        return title.strip(), body.strip(), source

    rows = []
    with (CORPUS / "semeval2022-task8" / "testing_set.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["lang1"] != lang or r["lang2"] != lang:
                continue
            overall = float(r["Overall"])
            if 1.5 < overall < 3.5:
                continue
            a, b = r["pair_id"].split("_")
            rows.append((doc(r["text1"], f"sem-{a}"), doc(r["text2"], f"sem-{b}"), overall <= 1.5))
    return _pair_set(name, rows)


SETS: dict[str, Callable[[], LabelledSet]] = {
    "own": own_set,
    "scoop": scoop_set,
    "tg-en": lambda: tgcontest_set("tg-en", ("en_train_pool",)),
    "tg-ru": lambda: tgcontest_set("tg-ru", ("ru_exam_pool", "ru_honey_pool", "ru_train_pool")),
    "sem-en": lambda: semeval_set("sem-en", "en"),
    "sem-ru": lambda: semeval_set("sem-ru", "ru"),
}


def main(argv: list[str]) -> int:
    names = argv or list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        print(f"unknown set(s) {unknown}; have {list(SETS)}", file=sys.stderr)
        return 2
    for name in names:
        print(score(SETS[name]()).line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
