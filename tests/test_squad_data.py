"""The SQuAD training/evaluation data (training/squad.py): split by article, deterministic,
exact offsets in every corpus variant, withheld paragraphs really absent, and no BBC text
written inside the repository outside the gitignored cache. No model is loaded."""
from __future__ import annotations

import hashlib
import inspect
import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import needs_shared_data, printed_json_per_hash_seed
from training import squad
from training.squad import (ANSWERABLE, NATIVE, OFF_TOPIC, SPLITS, VARIANTS, WITHHELD, article_splits, build_corpus,
                            corpus_variant, distractor_files, load_squad, split_articles, split_questions,
                            withheld_paragraphs)

ROOT = Path(__file__).resolve().parent.parent

pytestmark = needs_shared_data


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[tuple[str, str], squad.Corpus]:
    cache = tmp_path_factory.mktemp("squad-cache")
    return {(split, variant): build_corpus(split, variant, cache) for split in SPLITS for variant in VARIANTS}


def _read(corpus: squad.Corpus, name: str) -> str:
    return (corpus.corpus_dir / name).read_bytes().decode("utf-8")


def test_split_is_by_article_with_the_documented_rule():
    articles, questions = load_squad()
    splits = article_splits(articles)
    assert len(articles) == 40 and len(questions) == 4932
    assert {t: splits[t] for t in squad.TEST_ARTICLES + squad.DEV_ARTICLES} == {
        "The_Legend_of_Zelda:_Twilight_Princess": "test", "To_Kill_a_Mockingbird": "test", "Solar_energy": "test",
        "Sino-Tibetan_relations_during_the_Ming_dynasty": "dev", "IPod": "dev"}
    small = sorted(a.title for a in articles if len(a.paragraphs) == 1)
    assert len(small) == 29
    assert [t for t in small if splits[t] == "test"] == small[0::4]
    assert [t for t in small if splits[t] == "dev"] == small[1::4]
    titles = {split: {a.title for a in split_articles(split)} for split in SPLITS}
    assert {split: len(t) for split, t in titles.items()} == {"train": 20, "dev": 9, "test": 11}
    assert titles["train"] & titles["dev"] == titles["train"] & titles["test"] == titles["dev"] & titles["test"] == set()
    assert titles["train"] | titles["dev"] | titles["test"] == {a.title for a in articles}
    assert {"Spectre_(2015_film)", "Beyoncé", "Frédéric_Chopin", "2008_Sichuan_earthquake", "New_York_City",
            "United_Methodist_Church"} <= titles["train"]
    per_split = {split: split_questions(split) for split in SPLITS}
    assert {split: len(q) for split, q in per_split.items()} == {"train": 3448, "dev": 625, "test": 859}
    for split, qs in per_split.items():
        assert {q.article for q in qs} <= titles[split]
    assert sorted(q.id for qs in per_split.values() for q in qs) == sorted(q.id for q in questions)


def test_corpus_file_layout():
    article = next(a for a in load_squad()[0] if a.title == "Solar_energy")
    text, starts = squad.render_article(article.heading, article.paragraphs)
    assert article.heading == "Solar energy" and article.file_name == "squad-Solar_energy.txt"
    assert text.startswith("Solar energy\n\n" + article.paragraphs[0] + "\n\n" + article.paragraphs[1])
    assert text.endswith(article.paragraphs[-1] + "\n")
    assert [text[s:s + len(p)] for s, p in zip(starts, article.paragraphs)] == list(article.paragraphs)
    crisis = next(a for a in load_squad()[0] if a.title.startswith("Financial_crisis"))
    assert crisis.heading == "Financial crisis of 2007–08"
    name, body = distractor_files()[0]
    assert name.startswith("bbc-") and body.split("\n", 2)[1] == "" and len(distractor_files()) == 150


def test_labels_per_variant(built):
    counts = {key: {label: sum(e.label == label for e in c.examples) for label in (ANSWERABLE, NATIVE, WITHHELD, OFF_TOPIC)}
              for key, c in built.items() if key[0] == "test"}
    assert counts == {("test", "full"): {ANSWERABLE: 695, NATIVE: 164, WITHHELD: 0, OFF_TOPIC: 0},
                      ("test", "withheld"): {ANSWERABLE: 478, NATIVE: 164, WITHHELD: 217, OFF_TOPIC: 0},
                      ("test", "offtopic-a"): {ANSWERABLE: 0, NATIVE: 0, WITHHELD: 0, OFF_TOPIC: 378},
                      ("test", "offtopic-b"): {ANSWERABLE: 0, NATIVE: 0, WITHHELD: 0, OFF_TOPIC: 481}}
    for corpus in built.values():
        for e in corpus.examples:
            assert e.answerable == (e.label == ANSWERABLE) == bool(e.spans)


def test_offsets_exact_in_every_variant(built):
    checked = 0
    for corpus in built.values():
        texts = {name: _read(corpus, name) for name in corpus.files}
        assert sorted(p.name for p in corpus.corpus_dir.glob("*.txt")) == list(corpus.files)
        for e in corpus.examples:
            assert len(e.spans) == (len(e.question.answers) if e.answerable else 0)
            for span, answer in zip(e.spans, e.question.answers):
                assert texts[span.source][span.start:span.end] == answer
                checked += 1
    full = {q.id: q for q in load_squad()[1]}
    for e in built["test", "full"].examples:
        assert e.spans == full[e.question.id].spans
    assert checked == sum(len(q.answers) for q in full.values() if q.answerable) + sum(
        len(e.spans) for split in SPLITS for e in built[split, "withheld"].examples)


def test_withheld_paragraphs_are_absent(built):
    articles = {a.title: a for a in load_squad()[0]}
    for split in SPLITS:
        corpus = built[split, "withheld"]
        removed = withheld_paragraphs(split)
        total = sum(len(a.paragraphs) for a in split_articles(split))
        assert len(removed) == round(total / 3)
        squad_texts = "\n".join(_read(corpus, n) for n in corpus.files if n.startswith("squad-"))
        for title, i in removed:
            assert articles[title].paragraphs[i] not in squad_texts
        for a in split_articles(split):
            for i, paragraph in enumerate(a.paragraphs):
                if (a.title, i) not in removed:
                    assert paragraph in _read(corpus, a.file_name)
        withheld = [e for e in corpus.examples if e.label == WITHHELD]
        assert withheld and all((e.question.article, e.question.paragraph) in removed for e in withheld)
        assert all((e.question.article, e.question.paragraph) not in removed for e in corpus.examples if e.answerable)


def test_offtopic_corpora_lack_the_asked_articles(built):
    for split in SPLITS:
        asked = set()
        for variant in ("offtopic-a", "offtopic-b"):
            corpus = built[split, variant]
            present = {n for n in corpus.files if n.startswith("squad-")}
            titles = {e.question.article for e in corpus.examples}
            assert present and titles
            assert not present & {squad.Article(t, ()).file_name for t in titles}
            asked |= {e.question.id for e in corpus.examples}
        assert asked == {q.id for q in split_questions(split)}


def _digest(files: dict[str, str], examples: list) -> str:
    payload = json.dumps([sorted(files.items()), [e.to_dict() for e in examples]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _digests() -> dict[str, str]:
    return {v: _digest(*corpus_variant("test", v)) for v in VARIANTS}


def test_deterministic_across_processes():
    here = _digests()
    for printed in printed_json_per_hash_seed("tests.test_squad_data", "_digests"):
        assert printed == here


def test_rebuild_is_idempotent_and_removes_stale_files(tmp_path):
    first = build_corpus("dev", "withheld", tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in first.corpus_dir.iterdir()}
    (first.corpus_dir / "stale.txt").write_text("left over\n")
    again = build_corpus("dev", "withheld", tmp_path)
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in again.corpus_dir.iterdir()} == stamps


def test_no_distractor_text_in_the_repository_outside_the_cache():
    assert inspect.signature(build_corpus).parameters["cache_dir"].default is None  # None: CACHE_DIR
    assert squad.CACHE_DIR == ROOT / "training" / "cache"
    assert subprocess.run(["git", "check-ignore", "-q", "training/cache/test-full/corpus/x.txt"], cwd=ROOT).returncode == 0
    lines = (squad.shared_data_dir() / squad.DISTRACTORS_FILE).read_text(encoding="utf-8").splitlines()
    paragraphs = {p.strip() for line in lines if line.strip() for p in json.loads(line)["text"].split("\n")
                  if len(p.strip()) >= 60}
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    leaks = []
    for name in filter(None, listed):
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 20_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        leaks += [name for line in text.splitlines() if line.strip() in paragraphs][:1]
    assert leaks == []
