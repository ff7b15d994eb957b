"""Hand-written news questions over BBC articles as a corpus variant "news", split by article.

The questions (``training/news_questions.jsonl``, committed) were written by hand, in the style of
an analyst asking about the news: factoids (who, when, how many, which company), reported speech
("What did <person> say about <topic>?"), stance and negation ("Which party opposes ...", "What did
<person> decline to say ..."), questions that name the source ("according to the BBC report ..."),
all paraphrased rather than copied. Each answerable question stores only its short answer strings
(at most ``MAX_ANSWER_WORDS`` words, verbatim substrings of the article body); each unanswerable one
asks, about the same story, for something the article does not state (a figure, a name, a date).
The file never holds article text: the articles are read from the shared data folder and written
only into the gitignored cache (their licence is research use).

Article choice (``batches``): from ``news-distractors.jsonl``, per category (business,
entertainment, politics, sport, tech), in source-id order, the first ``BATCHES * PER_CATEGORY``
articles that are not among the fixed distractor sample of ``training/squad.py``
(``distractor_files()``) and whose body has at least ``MIN_PARAGRAPHS`` non-empty paragraphs
(blank-line separated) and that is not a near-duplicate of a distractor (Jaccard similarity of
5-word shingles >= 0.5; the shared file removed exact duplicates only, and tech/064 has a reworded
twin, tech/338, among the distractors). The first ``PER_CATEGORY`` of each category are batch 1,
the next ones batch 2, then batch 3: 3 x 5 x 12 = 180 articles. Batch 1 has 4 answerable and 1
unanswerable question per article (300), batch 2, written later to give the abstention more to learn
from, 3 and 2 (300), batch 3 3 and 2 as well (300), about a third of its answerable questions worded
as news-quiz items that do not name the article ("Which mobile phone maker recently reported ...?"):
900 questions, 600 answerable.

Split (``article_split``): by article, never by question, batch by batch, so a later batch never
moves an article of an earlier one. Within each category of a batch the sources are ranked by the
SHA-256 hex digest of the source id (``bbc-news-2004-2005:<category>/<nnn>.txt``); the batch's 60
are then ordered by (that rank, category order above), a round robin over the categories, and the
first 60% (36) of that order are train, the next 20% (12) dev, the last 20% (12) test. So every
category is spread over the three splits (batch 1 train/dev/test articles: business 8/2/2,
entertainment 7/3/2, politics 7/3/2, sport 7/2/3, tech 7/2/3); over the three batches 108 / 36 / 36
articles.

Corpus (``build_news_corpus(split)``): the split's question articles plus the same 150 distractors
as every SQuAD variant, written under ``CACHE_DIR/<split>-news/corpus``; each answerable question
is an ``Example`` labelled ``ANSWERABLE`` with one ``Span`` per answer (its first whole-token
occurrence in the article body), each unanswerable one is labelled ``UNANSWERABLE_NEWS`` with no spans.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from training.squad import (
    ANSWERABLE,
    DISTRACTORS_FILE,
    SPLITS,
    Corpus,
    Example,
    Question,
    Span,
    _check,
    _slug,
    distractor_files,
    render_article,
    shared_data_dir,
    write_corpus,
)

QUESTIONS_FILE = Path(__file__).resolve().with_name("news_questions.jsonl")
VARIANT = "news"
UNANSWERABLE_NEWS = "unanswerable-news"
SOURCE_PREFIX = "bbc-news-2004-2005:"
CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")
PER_CATEGORY = 12
BATCHES = 3
MIN_PARAGRAPHS = 6
MAX_ANSWER_WORDS = 12
SHINGLE_WORDS = 5               # near-duplicate test: Jaccard similarity of 5-word shingles
NEAR_DUPLICATE = 0.5
SPLIT_SHARES = {"train": 0.6, "dev": 0.2, "test": 0.2}


# -- articles ------------------------------------------------------------------------------------------

def news_file_name(source: str) -> str:
    """The corpus file name of a BBC article, named as ``distractor_files()`` names them:
    ``bbc-news-2004-2005:sport/061.txt`` -> ``bbc-sport-061.txt``."""
    return "bbc-" + _slug(source.split(":", 1)[-1].removesuffix(".txt").replace("/", "-")) + ".txt"


@lru_cache(maxsize=2)
def news_records(path: Path | None = None) -> dict[str, dict]:
    """``{source: {"title", "text", "source"}}`` of every article in the shared BBC file."""
    lines = (path or shared_data_dir() / DISTRACTORS_FILE).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return {r["source"]: r for r in records}


def article_paragraphs(source: str) -> tuple[str, ...]:
    """The body split on blank lines (empty pieces kept, so rendering gives back the body verbatim)."""
    return tuple(news_records()[source]["text"].strip().split("\n\n"))


def article_heading(source: str) -> str:
    return news_records()[source]["title"].strip()


def render_news_article(source: str) -> tuple[str, list[int]]:
    """The corpus file text (headline, blank line, body, newline: the same layout as a distractor
    file) and the offset of each paragraph in it."""
    return render_article(article_heading(source), article_paragraphs(source))


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


@lru_cache(maxsize=1)
def _distractor_shingles() -> tuple[set[tuple[str, ...]], ...]:
    return tuple(_shingles(text) for _, text in distractor_files())


def _near_duplicate_of_distractor(source: str) -> bool:
    """True when the article is a reworded copy of a distractor (the shared file removed exact
    duplicates only): its answers would then also stand in a file with no gold span."""
    mine = _shingles(render_news_article(source)[0])
    return any(len(mine & other) >= NEAR_DUPLICATE * len(mine | other) for other in _distractor_shingles())


@lru_cache(maxsize=1)
def batches() -> tuple[tuple[str, ...], ...]:
    """The question articles, ``BATCHES`` batches of ``PER_CATEGORY`` per category, by the rule in the
    module docstring: batch 1 the first that qualify in each category, batch 2 and 3 the next ones."""
    distractors = {name for name, _ in distractor_files()}
    chosen: list[list[str]] = [[] for _ in range(BATCHES)]
    for category in CATEGORIES:
        picked = 0
        for source in sorted(s for s in news_records() if s.startswith(f"{SOURCE_PREFIX}{category}/")):
            if picked == BATCHES * PER_CATEGORY:
                break
            if news_file_name(source) in distractors:
                continue
            if sum(1 for p in article_paragraphs(source) if p.strip()) < MIN_PARAGRAPHS:
                continue
            if _near_duplicate_of_distractor(source):
                continue
            chosen[picked // PER_CATEGORY].append(source)
            picked += 1
    return tuple(tuple(batch) for batch in chosen)


def question_sources() -> tuple[str, ...]:
    """Every question article, batch by batch, category by category."""
    return tuple(s for batch in batches() for s in batch)


def _rank_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def split_order(batch: tuple[str, ...]) -> list[str]:
    """The batch's sources ranked by SHA-256 of the source id within their category, then
    ordered by (that rank, category): a round robin over the categories."""
    by_category: dict[str, list[str]] = {}
    for source in batch:
        by_category.setdefault(source.split(":", 1)[1].split("/")[0], []).append(source)
    ranked = {c: sorted(sources, key=_rank_key) for c, sources in by_category.items()}
    return [s for _, _, s in sorted((i, CATEGORIES.index(c), s) for c, ss in ranked.items() for i, s in enumerate(ss))]


@lru_cache(maxsize=1)
def article_splits() -> dict[str, str]:
    """``{source: "train" | "dev" | "test"}``: in each batch, the first 60% of ``split_order()`` train,
    the next 20% dev, the last 20% test (a later batch never moves an article of an earlier one)."""
    splits = {}
    for batch in batches():
        ranked = split_order(batch)
        n_train = round(len(ranked) * SPLIT_SHARES["train"])
        n_dev = round(len(ranked) * SPLIT_SHARES["dev"])
        splits.update({s: "train" if i < n_train else "dev" if i < n_train + n_dev else "test"
                       for i, s in enumerate(ranked)})
    return splits


def article_split(source: str) -> str:
    return article_splits()[source]


def split_sources(split: str) -> list[str]:
    """The split's question articles in source-id order."""
    _check(split, SPLITS)
    return sorted(s for s, sp in article_splits().items() if sp == split)


# -- questions -----------------------------------------------------------------------------------------

def answer_pattern(answer: str) -> re.Pattern:
    """The answer as a whole token sequence: not inside a longer word or number, so "£10" does not
    match "£10,000" and "7.96 seconds" does not match "47.96 seconds"."""
    return re.compile(r"(?<![\w£$€])" + re.escape(answer) + r"(?![\w£$€]|[.,]\d)")


def _locate(answer: str, paragraphs: tuple[str, ...]) -> tuple[int, int]:
    """(paragraph index, offset in it) of the answer's first whole-token occurrence in the body.
    Where an answer occurs more than once, the first occurrence is the one that answers the
    question (checked by hand when the questions were written)."""
    pattern = answer_pattern(answer)
    for i, paragraph in enumerate(paragraphs):
        match = pattern.search(paragraph)
        if match:
            return i, match.start()
    raise ValueError(f"answer not found verbatim in the article: {answer!r}")


@lru_cache(maxsize=2)
def load_news_questions(path: Path | None = None) -> tuple[Question, ...]:
    """The hand-written questions as ``training.squad.Question``s (``article`` is the source id,
    ``paragraph`` the paragraph of the first answer or -1, ``spans`` point into the corpus file).
    Checks the file: unique ids, known sources, short verbatim answers, none for unanswerable ones."""
    lines = (path or QUESTIONS_FILE).read_text(encoding="utf-8").splitlines()
    sources = set(question_sources())
    seen: set[str] = set()
    questions = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        qid, source, answers = row["id"], row["source"], tuple(row["answers"])
        assert set(row) == {"id", "source", "question", "answerable", "answers"}, qid
        assert qid not in seen, f"duplicate id {qid}"
        seen.add(qid)
        assert source in sources, f"{qid}: {source} is not one of the chosen question articles"
        assert row["answerable"] == bool(answers), f"{qid}: answerable questions need answers, unanswerable none"
        paragraphs = article_paragraphs(source)
        text, starts = render_news_article(source)
        located = []
        for answer in answers:
            assert answer.strip() == answer and 0 < len(answer.split()) <= MAX_ANSWER_WORDS, (qid, answer)
            located.append(_locate(answer, paragraphs))
        question = Question(qid, row["question"], source, located[0][0] if located else -1, bool(answers), answers,
                            tuple(at for _, at in located))
        spans = []
        for answer, (i, at) in zip(answers, located):
            span = Span(news_file_name(source), starts[i] + at, starts[i] + at + len(answer))
            assert text[span.start:span.end] == answer, (qid, answer)
            spans.append(span)
        questions.append(replace(question, spans=tuple(spans)))
    return tuple(questions)


def split_news_questions(split: str) -> list[Question]:
    sources = set(split_sources(split))
    return [q for q in load_news_questions() if q.article in sources]


# -- corpus --------------------------------------------------------------------------------------------

def news_corpus(split: str) -> tuple[dict[str, str], list[Example]]:
    """The files (``{name: text}``) and labelled examples of the split's "news" variant, in memory."""
    _check(split, SPLITS)
    files = dict(distractor_files())
    for source in split_sources(split):
        name = news_file_name(source)
        assert name not in files, f"{source} is also a distractor"
        files[name] = render_news_article(source)[0]
    examples = []
    for q in split_news_questions(split):
        if q.answerable:
            for span, answer in zip(q.spans, q.answers):
                assert files[span.source][span.start:span.end] == answer, (q.id, answer)
            examples.append(Example(q, True, ANSWERABLE, q.spans))
        else:
            examples.append(Example(q, False, UNANSWERABLE_NEWS, ()))
    return files, examples


def build_news_corpus(split: str, cache_dir: Path | None = None) -> Corpus:
    """Write ``<cache_dir>/<split>-news/corpus`` (only files that differ; stale ones removed) and
    ``questions.jsonl`` beside it; return the ``Corpus`` with its labelled examples."""
    files, examples = news_corpus(split)
    return write_corpus(split, VARIANT, files, examples, cache_dir)
