"""Topic classification speed, and `reclassify` on a big store, each with its baseline.

    python -m benchmarks.bench_topics                   # classification figures
    python -m benchmarks.bench_topics --reclassify 100000   # + the 100k-article store run

Articles are the labelled set's stories padded to ~2 KB with paragraphs of the others.
Baselines measured in the same run: tokenising the three fields alone (the floor any
word matcher pays), and the naive design: one case-insensitive regex alternation per
topic, searched in every field.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.eval_topics import REPO, load_articles
from ingest.rules import TopicRule, WeightedTerm
from ingest.stemming import tokenize
from ingest.topics import Matcher

Doc = tuple[str, str, str]
VOCABULARY = 50_000


def corpus(size: int = 2000) -> list[Doc]:
    arts = load_articles()
    paras = [p for a in arts for p in a.paragraphs[1:]]
    rng = random.Random(7)
    docs = []
    for a in arts:
        lead, *rest = a.paragraphs
        body = "\n\n".join(rest)
        same = [p for b in arts if b.lang == a.lang for p in b.paragraphs[1:]] or paras
        while len(lead) + len(body) < size:
            body += "\n\n" + rng.choice(same)
        docs.append((a.headline, lead, body))
    return docs


def generated_rules(
    n_topics: int, n_terms: int, docs: list[Doc], *, real_share: float | None = None
) -> list[TopicRule]:
    """Topics drawn from a 50,000-word vocabulary: the corpus's content words (all but
    its 300 most frequent: the, said, that...) and invented words to fill it, as a real
    desk's vocabulary is far bigger than 100 articles'. `real_share` instead fixes the
    share of corpus words (a stress case: the denser, the more topics each article
    wakes). Terms: 60% single words, 30% two-word phrases, 10% prefixes; both scripts."""
    rng = random.Random(42)
    counts = Counter(t for d in docs for f in d for t in tokenize(f) if len(t) > 3 and t.isalpha())
    common = {w for w, _ in counts.most_common(300)}
    vocab = sorted(w for w in counts if w not in common)
    share = real_share if real_share is not None else len(vocab) / VOCABULARY
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word() -> str:
        return rng.choice(vocab) if rng.random() < share else "".join(rng.choices(letters, k=7))

    rules = []
    for i in range(n_topics):
        terms = []
        for j in range(n_terms):
            r = rng.random()
            if r < 0.6:
                text = word()
            elif r < 0.9:
                text = f"{word()} {word()}"
            else:
                text = word()[:5] + "*"
            terms.append(WeightedTerm(text, rng.choice([0.5, 1, 1.5, 2, -1]) if j else 2, "any"))
        rules.append(TopicRule(f"g{i}", 4, terms))
    return rules


def rate(fn: Callable[[Doc], object], docs: list[Doc], seconds: float = 2.0) -> float:
    """Articles per second of `fn`, looping over `docs` for at least `seconds`."""
    for d in docs:
        fn(d)  # one pass warms the caches (stems, tokens) as a running daemon has them
    n, start = 0, time.process_time()
    while True:
        for d in docs:
            fn(d)
        n += len(docs)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return n / elapsed


def naive_regex(rules: list[TopicRule]) -> Callable[[Doc], object]:
    pats = []
    for r in rules:
        alts = []
        for t in r.terms:
            words = [
                re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else "")
                for w in t.text.split()
            ]
            alts.append(r"\s+".join(words))
        pats.append(re.compile(r"\b(?:" + "|".join(alts) + r")\b", re.IGNORECASE))

    def run(d: Doc) -> object:
        return [p.findall(f) for p in pats for f in d]

    return run


def shipped_rules() -> list[TopicRule]:
    from wiredesk.config import load_config

    return load_config(REPO / "config.yaml").topic_rules()


def bench_classification() -> None:
    docs = corpus()
    kb = sum(len("".join(d)) for d in docs) / len(docs) / 1024
    print(f"{len(docs)} articles, {kb:.1f} KB each on average; one core; best of the run")

    def tok(d: Doc) -> object:
        return [tokenize(f) for f in d]

    base = rate(tok, docs)
    print(f"  baseline: tokenising alone                {base:>9,.0f} articles/s")
    for name, rules in (
        ("shipped topics", shipped_rules()),
        ("1,000 topics x 50 terms", generated_rules(1000, 50, docs)),
        (
            "stress: 1,000 x 50, 30% corpus words",
            generated_rules(1000, 50, docs, real_share=0.3),
        ),
    ):
        t0 = time.process_time()
        m = Matcher(rules)
        compile_s = time.process_time() - t0
        n_terms = sum(len(r.terms) for r in rules)
        hits = sum(len(m.classify(*d)) for d in docs) / len(docs)
        phrases = sum(len(m._read(*d).found["body"]) for d in docs) / len(docs)
        ours = rate(lambda d, m=m: m.classify(*d), docs)  # type: ignore[misc]
        naive = rate(naive_regex(rules), docs[:20], seconds=1.0)
        print(
            f"  {name} ({len(rules)} topics, {n_terms:,} terms; compile {compile_s:.2f} s,"
            f" {phrases:.0f} distinct phrases found per body, {hits:.1f} topics/article)"
        )
        print(
            f"    one index (ours)                        {ours:>9,.0f} articles/s"
            f"  = {ours / base:.2f} x tokenising alone"
        )
        print(
            f"    naive regex per topic                   {naive:>9,.0f} articles/s"
            f"  -> ours is {ours / naive:,.1f} x faster"
        )


def _cli(cfg: Path, *args: str) -> tuple[str, float]:
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "--log-level", "warning", *args],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )  # stderr (the progress bar) goes to the terminal
    return run.stdout, time.perf_counter() - start


def bench_reclassify(n: int) -> None:
    """A store of `n` articles classified by the shipped rules, then `wiredesk reclassify
    --dry-run` and `wiredesk reclassify` with edited rules, through the real CLI."""
    from db import Store
    from db.models import ArticleData
    from ingest.pipeline import article_guid
    from ingest.reclassify import fields_of

    tmp = Path(tempfile.mkdtemp(prefix="wiredesk-bench-"))
    try:
        data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
        data.update(database=str(tmp / "db.sqlite"), sources=[], log_level="warning")
        data["drops"] = {"path": str(tmp / "drops")}
        store = Store(tmp / "db.sqlite")
        m = Matcher(shipped_rules())
        arts = load_articles()
        start = time.perf_counter()
        batch = 5000
        for lo in range(0, n, batch):
            with store.write() as w:
                for i in range(lo, min(n, lo + batch)):
                    a = arts[i % len(arts)]
                    body = "\n\n".join([*a.paragraphs, f"Item {i}."])
                    aid = w.insert_article(
                        ArticleData(
                            guid=article_guid("bench", str(i)),
                            title=a.headline,
                            summary=None,
                            body=body,
                            content_html=None,
                            url=None,
                            canonical_url=None,
                            published="2024-01-01T00:00:00Z",
                            published_raw=None,
                            source="bench",
                            fingerprint=f"{i:064x}",
                            language=a.lang,
                        ),
                        [],
                    )
                    lead, rest = fields_of(body)
                    w.set_topics(aid, m.classify(a.headline, lead, rest, language=a.lang))
        store.close()
        print(f"store of {n:,} articles built in {time.perf_counter() - start:.1f} s")
        topics = data["topics"]
        topics["defense"]["threshold"] = 9
        topics["alliances"] = {"threshold": 2, "terms": {"nato": 2, "csto": 2, "одкб": 2}}
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        dry, dry_s = _cli(cfg, "reclassify", "--dry-run", "--batch", "2000")
        real, real_s = _cli(cfg, "reclassify", "--batch", "2000")
        print(f"  reclassify --dry-run: {dry_s:.1f} s ({n / dry_s:,.0f} articles/s)")
        print(f"  reclassify:           {real_s:.1f} s ({n / real_s:,.0f} articles/s)")
        print("  dry run said:\n    " + dry.strip().replace("\n", "\n    "))
        print("  the run did:\n    " + real.strip().replace("\n", "\n    "))
        same = dry.replace("would change", "changed") == real
        print(f"  the run changed exactly what the dry run said: {'yes' if same else 'NO'}")
        again, _ = _cli(cfg, "reclassify", "--dry-run")
        print("  a dry run afterwards: " + again.strip().splitlines()[0])
        if not same:
            raise SystemExit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reclassify", type=int, metavar="N", help="also run reclassify on N articles")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as promised
    bench_classification()
    if args.reclassify:
        bench_reclassify(args.reclassify)


if __name__ == "__main__":
    main()
