"""Exact and near duplicates through the real pipeline and store: sightings, updates,
the representative copy, credits in the published feeds, restarts."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner

from ingest.item import Item
from ingest.minhash import Features
from ingest.prepare import prepare
from ingest.wire import parse_wire
from tests.conftest import write_config
from wiredesk.cli import cli
from wiredesk.config import load_config
from wiredesk.desk import Desk

DATA = Path(__file__).parent / "data" / "dedup"


def manifest() -> list[dict[str, str]]:
    with (DATA / "manifest.tsv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def wire_item(name: str, source: str, **extra: object) -> Item:
    """A file of our labelled set as the item its source would hand the pipeline."""
    rows = {r["file"]: r for r in manifest()}
    published = datetime.fromisoformat(rows[name]["published"].replace("Z", "+00:00"))
    s = parse_wire((DATA / name).read_text(encoding="utf-8"), reference=published)
    fields: dict[str, object] = {
        "source": source,
        "item_key": name,
        "title": None if s.title_from_lead else s.title,
        "body": s.body,
        "published": s.published or published,
        "agency": s.agency,
        "dateline": s.dateline,
    }
    fields.update(extra)
    return Item(**fields)  # type: ignore[arg-type]


def db(desk: Desk) -> sqlite3.Connection:
    conn = sqlite3.connect(desk.config.database)
    conn.row_factory = sqlite3.Row
    return conn


def kinds(desk: Desk, *items: Item) -> list[str]:
    return [o.kind for o in desk.pipeline.ingest(list(items))]


# -- exact layer ----------------------------------------------------------------


def test_url_guid_and_text_variants_are_exact_sightings(desk: Desk) -> None:
    body = (DATA / "en_quake_rasht_tass.txt").read_text(encoding="utf-8")
    base = Item("tass", "g1", "Quake", body=body, url="https://tass.com/world/1?utm_source=rss")
    same_url = Item(
        "mirror", "m1", "Quake!", body="other words", url="HTTP://www.tass.com/world/1/"
    )
    same_guid = Item("tass", "g2", "Q", body="x", guid="https://tass.com/world/1", url=None)
    quoted = Item("copy", "c1", "Quake", body=body.replace('"', "«", 1))
    assert kinds(desk, base, same_url, quoted) == ["new", "exact", "exact"]
    reasons = [r["reason"] for r in db(desk).execute("SELECT reason FROM sightings ORDER BY id")]
    assert reasons == [None, "same url", "same fp"]
    assert db(desk).execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    # a guid that is a URL is global: another item naming it is the same story
    base_guid = Item("agency", "a1", "Quake", body=body, guid="https://tass.com/world/1")
    desk2_kinds = kinds(desk, base_guid, same_guid)
    assert desk2_kinds == ["exact", "exact"]


# -- near layer -------------------------------------------------------------------


def test_rewrite_is_a_near_sighting_with_its_similarity_and_reason(desk: Desk) -> None:
    assert kinds(
        desk,
        wire_item("en_csto_exercise_tass.txt", "tass"),
        wire_item("en_csto_exercise_akipress.txt", "akipress", url="https://akipress.com/n/1"),
        wire_item("en_csto_exercise_24kg.txt", "24kg", url="https://24.kg/n/2"),
    ) == ["new", "near", "near"]
    rows = (
        db(desk).execute("SELECT match, similarity, reason FROM sightings ORDER BY id").fetchall()
    )
    for r in rows[1:]:
        assert r["match"] == "near"
        assert 0.5 <= r["similarity"] <= 1.0
        assert r["reason"].split()[0] in {"words", "lead", "containment", "title"}


def test_template_stories_with_other_numbers_and_names_stay_apart(desk: Desk) -> None:
    got = kinds(
        desk,
        wire_item("en_drugs_almaty_kazinform.txt", "kazinform"),
        wire_item("en_drugs_bishkek_kabar.txt", "kabar"),
        wire_item("en_football_dordoi_kabar.txt", "kabar"),
        wire_item("en_football_abdysh_kabar.txt", "kabar-sport"),
        wire_item("ru_zemletryasenie_almaty_tass.txt", "tass-ru"),
        wire_item("ru_zemletryasenie_issykkul_kabar.txt", "kabar"),
    )
    assert got == ["new"] * 6


def test_every_file_of_the_labelled_set_gets_its_expected_outcome(desk: Desk) -> None:
    rows = manifest()
    rows.sort(key=lambda r: (r["published"], r["file"]))
    items = [wire_item(r["file"], r["source"]) for r in rows]
    got = {r["file"]: o.kind for r, o in zip(rows, desk.pipeline.ingest(items), strict=True)}
    assert got == {r["file"]: r["expect"] for r in rows}


def test_an_update_replaces_the_text_and_keeps_the_guid(desk: Desk) -> None:
    assert kinds(desk, wire_item("en_csto_exercise_tass.txt", "tass")) == ["new"]
    before = db(desk).execute("SELECT * FROM articles").fetchone()
    assert kinds(desk, wire_item("en_csto_exercise_tass_update.txt", "tass")) == ["update"]
    after = db(desk).execute("SELECT * FROM articles").fetchall()
    assert len(after) == 1
    a = after[0]
    assert a["guid"] == before["guid"]
    assert a["updated"] >= before["updated"] and a["updated"] != before["updated"]
    assert "Bekbolotov" in a["body"] and "Bekbolotov" not in before["body"]
    # the marker line is not the headline
    assert not a["title"].lower().startswith("updated")
    matches = [r["match"] for r in db(desk).execute("SELECT match FROM sightings ORDER BY id")]
    assert matches == ["new", "update"]


def test_a_correction_that_changes_numbers_is_an_update_not_a_new_story(desk: Desk) -> None:
    assert kinds(
        desk,
        wire_item("ru_zemletryasenie_almaty_tass.txt", "tass-ru"),
        wire_item("ru_zemletryasenie_almaty_tass_obnovleno.txt", "tass-ru"),
    ) == ["new", "update"]
    body = db(desk).execute("SELECT body FROM articles").fetchone()[0]
    assert "12 человек" in body


def test_agency_original_represents_the_story_and_credits_the_rewrite(
    desk: Desk, tmp_path: Path
) -> None:
    rewrite = wire_item(
        "en_quake_rasht_asiaplus.txt",
        "asiaplus",
        url="https://asiaplus.tj/news/quake",
        published=datetime(2024, 7, 8, 6, 0, tzinfo=UTC),
    )
    original = wire_item("en_quake_rasht_tass.txt", "tass", url="https://tass.com/world/77")
    assert kinds(desk, rewrite, original) == ["new", "near"]
    a = db(desk).execute("SELECT * FROM articles").fetchone()
    assert a["agency"] == "TASS" and a["url"] == "https://tass.com/world/77"
    assert a["body"].startswith("An earthquake of magnitude 5.2")
    assert a["source"] == "asiaplus"  # where it first came from
    guid = a["guid"]
    out = tmp_path / "site"
    desk.publisher.export(out)
    for fmt in ("atom", "rss"):
        feed = feedparser.parse((out / f"all.{fmt}").read_bytes())
        assert len(feed.entries) == 1
        e = feed.entries[0]
        assert e.id == guid
        html = e.content[0].value
        assert "Also reported by" in html
        assert 'href="https://asiaplus.tj/news/quake"' in html
        assert 'href="https://tass.com/world/77">' not in html  # not credited to itself


def test_representative_rule_is_configurable(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, dedup={"prefer": ["longest"]}))
    d = Desk(cfg)
    try:
        brief = wire_item("en_quake_rasht_brief.txt", "eurasianet")
        full = wire_item("en_quake_rasht_asiaplus.txt", "asiaplus")
        assert kinds(d, full, brief) == ["new", "near"]
        body = db(d).execute("SELECT body FROM articles").fetchone()[0]
        assert body.startswith("Three houses were damaged")  # the longer copy stays
    finally:
        d.close()


def test_copies_further_apart_than_the_window_are_not_compared(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, dedup={"window": "1d"}))
    d = Desk(cfg)
    try:
        first = wire_item("en_csto_exercise_tass.txt", "tass")
        late = wire_item(
            "en_csto_exercise_akipress.txt",
            "akipress",
            published=datetime(2024, 9, 2, tzinfo=UTC) + timedelta(days=3),
        )
        assert kinds(d, first, late) == ["new", "new"]
    finally:
        d.close()


def test_a_story_ingested_before_a_restart_is_matched_after_it(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    first = Desk(cfg)
    assert kinds(first, wire_item("ru_odkb_ucheniya_tass.txt", "tass-ru")) == ["new"]
    first.close()
    second = Desk(cfg)
    try:
        assert len(second.dedup) == 1  # loaded from dedup_signatures, not rebuilt
        assert kinds(second, wire_item("ru_odkb_ucheniya_sputnik.txt", "sputnik")) == ["near"]
    finally:
        second.close()


def test_an_index_lost_from_the_store_is_rebuilt_from_the_articles(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    first = Desk(cfg)
    kinds(first, wire_item("en_drugs_almaty_kazinform.txt", "kazinform"))
    first.close()
    conn = sqlite3.connect(cfg.database)
    conn.execute("DELETE FROM dedup_signatures")
    conn.commit()
    conn.close()
    second = Desk(cfg)
    try:
        assert len(second.dedup) == 1
        assert kinds(second, wire_item("en_drugs_almaty_tengrinews.txt", "tengrinews")) == ["near"]
    finally:
        second.close()


def test_a_failed_batch_leaves_no_ghost_in_the_index(desk: Desk) -> None:
    class Boom(Exception):
        pass

    item = wire_item("en_quake_rasht_tass.txt", "tass")
    original = desk.pipeline._classify

    def explode(*args: object) -> None:
        raise Boom("disk full")

    desk.pipeline._classify = explode  # type: ignore[method-assign]
    assert kinds(desk, item) == ["failed"]
    desk.pipeline._classify = original  # type: ignore[method-assign]
    assert len(desk.dedup) == 0
    assert db(desk).execute("SELECT count(*) FROM dedup_signatures").fetchone()[0] == 0
    assert db(desk).execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert kinds(desk, item) == ["new"]


def test_one_failing_item_of_a_batch_is_recorded_and_the_rest_stored(desk: Desk) -> None:
    """The batch is stored without savepoints first; an item that fails sends it back to
    be stored item by item: the failure recorded, the others stored once, as before."""
    batch = [
        wire_item("en_quake_rasht_tass.txt", "tass"),
        wire_item("en_drugs_almaty_tengrinews.txt", "tengrinews"),
        wire_item("en_csto_exercise_tass.txt", "tass"),
        wire_item("en_quake_rasht_asiaplus.txt", "asiaplus", url="https://asiaplus.tj/n/1"),
    ]
    original = desk.pipeline._classify

    def second_fails(w: object, article_id: int, p: object, *, new: bool = False) -> None:
        if batch[1].source == p.art.source:  # type: ignore[attr-defined]
            raise RuntimeError("topic rules broke")
        original(w, article_id, p, new=new)  # type: ignore[arg-type]

    desk.pipeline._classify = second_fails  # type: ignore[method-assign]
    assert kinds(desk, *batch) == ["new", "failed", "new", "near"]
    desk.pipeline._classify = original  # type: ignore[method-assign]
    conn = db(desk)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == 3
    assert [tuple(r) for r in conn.execute("SELECT source, reason FROM failures")] == [
        ("tengrinews", "RuntimeError: topic rules broke")
    ]
    # two articles, three copies indexed: the failed one left nothing in the index
    assert len(desk.dedup) == 3
    assert conn.execute("SELECT count(*) FROM dedup_signatures").fetchone()[0] == 3
    assert kinds(desk, batch[1]) == ["new"]


def test_sightings_command_shows_each_copy_and_why(desk: Desk, config_path: Path) -> None:
    kinds(
        desk,
        wire_item("en_csto_exercise_tass.txt", "tass"),
        wire_item("en_csto_exercise_akipress.txt", "akipress", url="https://akipress.com/n/1"),
    )
    article_id = db(desk).execute("SELECT id FROM articles").fetchone()[0]
    res = CliRunner().invoke(cli, ["--config", str(config_path), "sightings", str(article_id)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith(f"article {article_id}: ")
    assert any(line.startswith("*") and "tass" in line and " new " in line for line in lines)
    near = next(line for line in lines if " near " in line)
    assert "akipress" in near
    assert "https://akipress.com/n/1" in res.output
    missing = CliRunner().invoke(cli, ["--config", str(config_path), "sightings", "999"])
    assert missing.exit_code == 2 and "no article with id 999" in missing.output
    status = CliRunner().invoke(cli, ["--config", str(config_path), "status"])
    assert "dedup: 0 exact, 1 near, 0 updates; 2 copies" in status.output


def test_templated_look_alikes_cost_a_bounded_number_of_comparisons(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of copies sharing every LSH bucket (a daily template with other numbers)
    are kept apart, each query verifies at most `max_candidates` of them, and a real
    rewrite ingested after them still finds its story."""
    import ingest.dedup

    calls: list[int] = []
    real_compare = ingest.dedup.compare

    def counting(a: Features, b: Features, threshold: float = 0.0) -> ingest.dedup.Verdict:
        calls[-1] += 1
        return real_compare(a, b, threshold)

    monkeypatch.setattr(ingest.dedup, "compare", counting)
    real_find = desk.dedup.find

    def find(*args: Any, **kwargs: Any) -> ingest.dedup.Match | None:
        calls.append(0)
        return real_find(*args, **kwargs)

    monkeypatch.setattr(desk.dedup, "find", find)
    assert kinds(desk, wire_item("en_csto_exercise_tass.txt", "tass")) == ["new"]
    template = (
        "The city weather service said on {d} that the temperature in the capital would"
        " reach {t} degrees in the afternoon, with light winds from the north-west and no"
        " rain expected until the evening, when clouds move in from the mountains."
    )
    look_alikes = [
        Item(
            source=f"meteo{i % 7}",
            item_key=f"w{i}",
            title=f"Weather for day {i + 1}",
            body=template.format(d=f"day {i + 1}", t=1000 + i),
        )
        for i in range(300)
    ]
    outcomes = kinds(desk, *look_alikes)
    assert outcomes.count("new") == 300  # other numbers: other stories
    assert max(calls) <= desk.dedup.settings.max_candidates
    assert kinds(
        desk, wire_item("en_csto_exercise_akipress.txt", "akipress", url="https://akipress.com/n/1")
    ) == ["near"]


@pytest.mark.usefixtures("speedups")
def test_the_array_screen_computes_exactly_what_compare_does() -> None:
    """`similarities` screens a query's candidates in one pass; it must agree with
    `compare` to the last bit, or the screen would change verdicts. With the compiled
    intersection counts (ingest/_speedups.c) and with numpy's."""
    import random

    from benchmarks.farm import documents
    from ingest.dedup import compare, similarities
    from ingest.feedparse import parse_feed
    from ingest.minhash import features

    feats = [features(i.title, i.body) for r in manifest() for i in [wire_item(r["file"], "s")]]
    feats += [features(i.title, i.body) for d in documents(6, 10) for i in parse_feed(d, "s").items]
    feats += [
        features("Minister resigns over budget row", ""),  # headline only
        features("Minister resigns over the budget row", "A brief"),  # headlines alike
        features("Finance minister resigns over budget row", "Resigns"),
        features("", "Only a handful of words in this one"),
        features("Two words", "x"),
        features(None, None),
    ]
    rng = random.Random(7)
    for _ in range(500):
        f = rng.choice(feats)
        others = [rng.choice(feats) for _ in range(rng.randint(1, 30))]
        assert similarities(f, others).tolist() == [compare(f, o).similarity for o in others]


def test_a_copy_that_cannot_be_signed_fails_alone(desk: Desk) -> None:
    """Signing happens in the writer now (the batch's look-up, then `find`): a copy whose
    features cannot be signed is recorded as a failure; the rest of the batch is stored."""
    batch = [
        wire_item("en_quake_rasht_tass.txt", "tass"),
        wire_item("en_drugs_almaty_tengrinews.txt", "tengrinews"),
        wire_item("en_csto_exercise_tass.txt", "tass"),
    ]
    broken = prepare(batch[1])
    broken.features.__dict__["_parts"] = (b"\x00" * 4, (5, 5, 5))  # sizes without values
    batch[1].prepared = broken
    assert kinds(desk, *batch) == ["new", "failed", "new"]
    conn = db(desk)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
    (reason,) = conn.execute("SELECT reason FROM failures WHERE source = 'tengrinews'").fetchone()
    assert reason.startswith(("IndexError", "ValueError"))
