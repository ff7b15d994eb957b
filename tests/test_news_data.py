"""The hand-written news questions (training/news_questions.jsonl, training/news.py): every answer
verbatim in its article, exact offsets in the built corpus, split by article with the documented
rule, no article text in the committed file, determinism. No model is loaded."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import needs_shared_data, printed_json_per_hash_seed
from training import news, squad
from training.news import (
    CATEGORIES,
    MAX_ANSWER_WORDS,
    QUESTIONS_FILE,
    UNANSWERABLE_NEWS,
    VARIANT,
    answer_pattern,
    article_splits,
    build_news_corpus,
    load_news_questions,
    news_corpus,
    news_file_name,
    news_records,
    question_sources,
    split_sources,
)

ROOT = Path(__file__).resolve().parent.parent

pytestmark = needs_shared_data


def _rows() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def _body(source: str) -> str:
    return news_records()[source]["text"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, squad.Corpus]:
    cache = tmp_path_factory.mktemp("news-cache")
    return {split: build_news_corpus(split, cache) for split in squad.SPLITS}


def test_squad_helpers_are_imported_not_copied():
    assert news.render_article is squad.render_article
    assert news.distractor_files is squad.distractor_files
    assert news.write_corpus is squad.write_corpus
    assert (news.Corpus, news.Example, news.Span, news.Question) == (squad.Corpus, squad.Example, squad.Span,
                                                                    squad.Question)


def test_articles_follow_the_documented_rule():
    distractors = {name for name, _ in squad.distractor_files()}
    sources = question_sources()
    assert len(news.batches()) == news.BATCHES == 3
    assert len(sources) == len(set(sources)) == 180
    assert sources == news.batches()[0] + news.batches()[1] + news.batches()[2]
    for batch in news.batches():
        assert Counter(s.split(":")[1].split("/")[0] for s in batch) == {c: 12 for c in CATEGORIES}
    for source in sources:
        assert news_file_name(source) not in distractors
        assert sum(1 for p in _body(source).strip().split("\n\n") if p.strip()) >= news.MIN_PARAGRAPHS
    # re-derive the rule: per category, in source order, the first 36 that qualify; batch 1 the first 12, batch 2 the next
    for category in CATEGORIES:
        mine = [s for s in sources if f":{category}/" in s]
        assert mine == sorted(mine) and len(mine) == 36
        for n, batch in enumerate(news.batches()):
            assert [s for s in batch if f":{category}/" in s] == mine[12 * n:12 * (n + 1)]
        candidates = sorted(s for s in news_records() if s.startswith(f"{news.SOURCE_PREFIX}{category}/"))
        skipped = [s for s in candidates if s < mine[-1] and s not in mine]
        for s in skipped:
            assert (news_file_name(s) in distractors
                    or sum(1 for p in _body(s).strip().split("\n\n") if p.strip()) < news.MIN_PARAGRAPHS
                    or news._near_duplicate_of_distractor(s)), s
    assert "bbc-news-2004-2005:tech/064.txt" not in sources    # reworded twin of distractor tech/338


def test_question_file_shape_and_counts():
    rows = _rows()
    assert len(rows) == 900
    assert sum(r["answerable"] for r in rows) == 240 + 180 + 180  # batch 1: 4 of 5 per article, batches 2 and 3: 3 of 5
    assert len({r["id"] for r in rows}) == len(rows)
    per_article = Counter(r["source"] for r in rows)
    assert set(per_article) == set(question_sources())
    for r in rows:
        assert set(r) == {"id", "source", "question", "answerable", "answers"}
        category, number = r["source"].removeprefix(news.SOURCE_PREFIX).removesuffix(".txt").split("/")
        assert r["id"].startswith(f"news-{category}-{number}-")
        assert r["question"].strip().endswith("?")
        assert r["answerable"] == bool(r["answers"])
    for batch, answerable_per_article in zip(news.batches(), (4, 3, 3), strict=True):
        for source in batch:
            answerable = [r for r in rows if r["source"] == source and r["answerable"]]
            assert per_article[source] == 5 and len(answerable) == answerable_per_article, source


def test_every_answer_is_verbatim_in_its_article():
    for r in _rows():
        body = _body(r["source"])
        for answer in r["answers"]:
            assert answer in body, (r["id"], answer)
            assert answer_pattern(answer).search(body), (r["id"], answer)   # as whole tokens
    assert len(load_news_questions()) == 900                                 # the loader's own checks pass


def test_no_article_text_in_the_question_file():
    """Only short answers and hand-written questions: every answer at most 12 words, and no question
    repeats more than 8 consecutive words of its article."""
    rows = _rows()
    assert QUESTIONS_FILE.stat().st_size < 240_000
    words = lambda text: re.findall(r"[\w'£$%.,-]+", text.lower())
    for r in rows:
        for answer in r["answers"]:
            assert 0 < len(answer.split()) <= MAX_ANSWER_WORDS, (r["id"], answer)
            assert "\n" not in answer
        assert len(r["question"].split()) <= 30
        article = " " + " ".join(words(_body(r["source"]))) + " "
        q = words(r["question"])
        for i in range(len(q) - 8):
            assert " " + " ".join(q[i:i + 9]) + " " not in article, (r["id"], r["question"])
    paragraphs = {p.strip() for s in question_sources() for p in _body(s).split("\n") if len(p.strip()) >= 60}
    text = QUESTIONS_FILE.read_text(encoding="utf-8")
    assert not [p for p in paragraphs if p in text]


def test_split_is_by_article_with_the_documented_rule():
    splits = article_splits()
    assert Counter(splits.values()) == {"train": 108, "dev": 36, "test": 36}
    # independent re-derivation, batch by batch: rank by sha256 within category, round robin, 60/20/20
    digest = lambda s: hashlib.sha256(s.encode()).hexdigest()
    category = lambda s: s.split(":")[1].split("/")[0]
    expected = {}
    for batch in news.batches():
        order = sorted(batch, key=lambda s: (
            sorted((x for x in batch if category(x) == category(s)), key=digest).index(s), CATEGORIES.index(category(s))))
        expected |= {s: "train" if i < 36 else "dev" if i < 48 else "test" for i, s in enumerate(order)}
    assert splits == expected
    for split in squad.SPLITS:
        assert {s.split(":")[1].split("/")[0] for s in split_sources(split)} == set(CATEGORIES)
    by_source: dict[str, set[str]] = {}
    for split in squad.SPLITS:
        for q in news.split_news_questions(split):
            by_source.setdefault(q.article, set()).add(split)
    assert all(len(s) == 1 for s in by_source.values())
    assert sum(len(news.split_news_questions(s)) for s in squad.SPLITS) == 900


def test_corpus_files_and_labels(built):
    distractors = dict(squad.distractor_files())
    for split, corpus in built.items():
        assert corpus.variant == VARIANT and corpus.name == f"{split}-news"
        assert corpus.root.name == f"{split}-news"
        own = {news_file_name(s) for s in split_sources(split)}
        assert set(corpus.files) == set(distractors) | own and len(distractors) == squad.DISTRACTOR_COUNT
        assert {p.name for p in corpus.corpus_dir.glob("*.txt")} == set(corpus.files)
        for name, text in distractors.items():
            assert (corpus.corpus_dir / name).read_bytes().decode("utf-8") == text
        for source in split_sources(split):
            record = news_records()[source]
            assert (corpus.corpus_dir / news_file_name(source)).read_bytes().decode("utf-8") == \
                f"{record['title'].strip()}\n\n{record['text'].strip()}\n"
        labels = Counter(e.label for e in corpus.examples)
        assert set(labels) == {squad.ANSWERABLE, UNANSWERABLE_NEWS}
        for e in corpus.examples:
            assert e.answerable == (e.label == squad.ANSWERABLE) == bool(e.spans) == e.question.answerable
        saved = [json.loads(line)
                 for line in (corpus.root / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
        assert saved == [e.to_dict() for e in corpus.examples]


def test_offsets_exact_in_the_built_corpus(built):
    checked = 0
    for corpus in built.values():
        texts = {name: (corpus.corpus_dir / name).read_bytes().decode("utf-8") for name in corpus.files}
        for e in corpus.examples:
            assert len(e.spans) == len(e.question.answers)
            for span, answer in zip(e.spans, e.question.answers):
                assert span.source == news_file_name(e.question.article)
                assert texts[span.source][span.start:span.end] == answer, (e.question.id, answer)
                heading_end = texts[span.source].index("\n\n")
                assert span.start > heading_end                     # in the body, not the headline
                checked += 1
    assert checked == sum(len(r["answers"]) for r in _rows())


def _digest(files: dict[str, str], examples: list) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    for e in examples:
        h.update(json.dumps(e.to_dict(), sort_keys=True).encode())
    return h.hexdigest()


def _digests() -> dict[str, str]:
    return {s: _digest(*news_corpus(s)) for s in squad.SPLITS}


def test_deterministic_across_processes():
    here = _digests()
    for printed in printed_json_per_hash_seed("tests.test_news_data", "_digests"):
        assert printed == here


def test_rebuild_is_idempotent_and_removes_stale_files(tmp_path):
    first = build_news_corpus("dev", tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in first.corpus_dir.iterdir()}
    (first.corpus_dir / "stale.txt").write_text("left over\n")
    again = build_news_corpus("dev", tmp_path)
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in again.corpus_dir.iterdir()} == stamps


def test_cache_is_gitignored():
    assert squad.CACHE_DIR == ROOT / "training" / "cache"
    ignored = lambda path: subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False).returncode == 0
    assert ignored("training/cache/test-news/corpus/x.txt")
    assert not ignored("training/news_questions.jsonl")
