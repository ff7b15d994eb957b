"""SQuAD 2.0 articles as corpus files, split by article, with labelled questions and gold offsets.

Split rule (by article, never by question; see ``eval/SQUAD.md``):

- test: ``TEST_ARTICLES`` plus the one-paragraph articles at positions 0, 4, 8, ... (``i % 4 == 0``)
  of the 29 one-paragraph articles sorted by title;
- dev: ``DEV_ARTICLES`` plus the one-paragraph articles at positions 1, 5, 9, ... (``i % 4 == 1``);
- train: every other article (Beyoncé, Chopin, Spectre, Sichuan, New York City, United Methodist
  Church and the remaining one-paragraph articles).

Corpus variants of a split, each a folder of ``.txt`` files (first line the title, a blank line,
then the paragraphs separated by blank lines) plus the same ``DISTRACTOR_COUNT`` BBC articles:

- ``full``: the split's articles as they are; SQuAD's own unanswerable questions ("native")
  are the only unanswerable ones.
- ``withheld``: a seeded third of the split's paragraphs is removed; questions on a removed
  paragraph become unanswerable ("withheld"), the others keep their answers at recomputed offsets.
- ``offtopic-a`` / ``offtopic-b``: the split's articles are dealt alternately into halves A and B
  (multi-paragraph articles first, each group in title order); ``offtopic-a`` holds half A and asks
  half B's questions, ``offtopic-b`` the reverse. Every question is unanswerable ("off-topic"):
  its own article is absent, other Wikipedia articles and the BBC news are there.

Folders are built under ``CACHE_DIR`` (gitignored) and rewritten only where a file differs, so a
re-run changes nothing and an index built on a folder stays valid. The BBC text is read from the
shared data folder and written only there: it must not be committed (its licence is research use).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from retrieval.settings import Settings

REPO_DIR = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_DIR / "training" / "cache"
SQUAD_FILE = "squad2-train-subset.json"
DISTRACTORS_FILE = "news-distractors.jsonl"

SEED = 13                       # the issue number; every random choice below derives from it
DISTRACTOR_COUNT = 150
WITHHELD_SHARE = 1 / 3

SPLITS = ("train", "dev", "test")
VARIANTS = ("full", "withheld", "offtopic-a", "offtopic-b")
TEST_ARTICLES = ("The_Legend_of_Zelda:_Twilight_Princess", "To_Kill_a_Mockingbird", "Solar_energy")
DEV_ARTICLES = ("Sino-Tibetan_relations_during_the_Ming_dynasty", "IPod")

# What makes an example (un)answerable in its corpus.
ANSWERABLE, NATIVE, WITHHELD, OFF_TOPIC = "answerable", "native", "withheld", "off-topic"


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository, or ``$QA_SHARED_DATA``."""
    return Path(os.environ.get("QA_SHARED_DATA") or REPO_DIR.parent / "shared" / "data")


@dataclass(frozen=True)
class Article:
    title: str                          # SQuAD's title, e.g. "Solar_energy"
    paragraphs: tuple[str, ...]

    @property
    def heading(self) -> str:
        """The first line of the corpus file: "Solar energy"."""
        return unquote(self.title).replace("_", " ")

    @property
    def file_name(self) -> str:
        return f"squad-{_slug(unquote(self.title))}.txt"


@dataclass(frozen=True)
class Span:
    source: str                         # corpus file name
    start: int
    end: int

    def overlaps(self, source: str, start: int, end: int) -> bool:
        return source == self.source and start < self.end and self.start < end


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    article: str                        # Article.title
    paragraph: int                      # index in Article.paragraphs
    answerable: bool                    # SQuAD's own label
    answers: tuple[str, ...]            # distinct answer texts; empty when unanswerable
    answer_starts: tuple[int, ...]      # offsets of the answers in their paragraph
    spans: tuple[Span, ...] = ()        # the answers' offsets in the full-corpus file


@dataclass(frozen=True)
class Example:
    """A question as labelled against one corpus variant."""
    question: Question
    answerable: bool
    label: str                          # ANSWERABLE, NATIVE, WITHHELD or OFF_TOPIC
    spans: tuple[Span, ...]             # gold offsets in this variant's files; empty when unanswerable

    def to_dict(self) -> dict:
        q = self.question
        return {"id": q.id, "question": q.text, "article": q.article, "answerable": self.answerable,
                "label": self.label, "answers": list(q.answers),
                "spans": [[s.source, s.start, s.end] for s in self.spans]}


@dataclass(frozen=True)
class Corpus:
    split: str
    variant: str
    root: Path                          # CACHE_DIR/<split>-<variant>
    examples: tuple[Example, ...]
    files: tuple[str, ...] = field(default=())

    @property
    def corpus_dir(self) -> Path:
        return self.root / "corpus"

    def settings(self) -> Settings:
        """The product's settings on this variant, for training and evaluation alike: its folder, and
        an index per version of the code that builds it, so an index made by an older ingest (other
        sentences, other entities) is never read as this code's."""
        from retrieval.settings import Settings

        return Settings(corpus_dir=self.corpus_dir, index_dir=self.root / f"index-{code_version()[:12]}")

    @property
    def name(self) -> str:
        return f"{self.split}-{self.variant}"


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the ``retrieval`` package's source, which turns a corpus into an index and a
    question into candidate rows."""
    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / "retrieval").rglob("*.py")):
        digest.update(path.relative_to(REPO_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text).strip("_")


def render_article(heading: str, paragraphs: list[str] | tuple[str, ...]) -> tuple[str, list[int]]:
    """The corpus file text and the offset of each paragraph in it (paragraphs are kept verbatim)."""
    parts, starts, pos = [heading, "\n\n"], [], len(heading) + 2
    for i, paragraph in enumerate(paragraphs):
        if i:
            parts.append("\n\n")
            pos += 2
        starts.append(pos)
        parts.append(paragraph)
        pos += len(paragraph)
    parts.append("\n")
    return "".join(parts), starts


def _spans(question: Question, source: str, text: str, paragraph_start: int) -> tuple[Span, ...]:
    spans = []
    for answer, start in zip(question.answers, question.answer_starts):
        span = Span(source, paragraph_start + start, paragraph_start + start + len(answer))
        assert text[span.start:span.end] == answer, (question.id, answer)
        spans.append(span)
    return tuple(spans)


# -- loading and splitting -------------------------------------------------------------------------

@lru_cache(maxsize=4)
def load_squad(path: Path | None = None) -> tuple[tuple[Article, ...], tuple[Question, ...]]:
    """The articles and their questions; each answerable question's spans point into its full-corpus file."""
    data = json.loads((path or shared_data_dir() / SQUAD_FILE).read_text(encoding="utf-8"))["data"]
    articles, questions = [], []
    for entry in data:
        article = Article(entry["title"], tuple(p["context"] for p in entry["paragraphs"]))
        text, starts = render_article(article.heading, article.paragraphs)
        articles.append(article)
        for i, paragraph in enumerate(entry["paragraphs"]):
            for qa in paragraph["qas"]:
                answers = list(dict.fromkeys((a["text"], a["answer_start"]) for a in qa["answers"]))
                question = Question(qa["id"], qa["question"], article.title, i, not qa["is_impossible"],
                                    tuple(a for a, _ in answers), tuple(s for _, s in answers))
                questions.append(replace(question, spans=_spans(question, article.file_name, text, starts[i])))
    return tuple(articles), tuple(questions)


def article_splits(articles: tuple[Article, ...] | None = None) -> dict[str, str]:
    """``{article title: "train" | "dev" | "test"}`` by the rule in the module docstring."""
    articles = articles if articles is not None else load_squad()[0]
    titles = {a.title for a in articles}
    missing = [t for t in TEST_ARTICLES + DEV_ARTICLES if t not in titles]
    assert not missing, f"named split articles not in the data: {missing}"
    splits = {t: "test" for t in TEST_ARTICLES} | {t: "dev" for t in DEV_ARTICLES}
    small = sorted(a.title for a in articles if len(a.paragraphs) == 1)
    for i, title in enumerate(small):
        splits.setdefault(title, {0: "test", 1: "dev"}.get(i % 4, "train"))
    for article in articles:
        splits.setdefault(article.title, "train")
    return splits


def split_articles(split: str) -> list[Article]:
    """The split's articles: multi-paragraph ones first, each group in title order."""
    _check(split, SPLITS)
    articles = load_squad()[0]
    splits = article_splits(articles)
    return sorted((a for a in articles if splits[a.title] == split), key=lambda a: (len(a.paragraphs) == 1, a.title))


def split_questions(split: str) -> list[Question]:
    titles = {a.title for a in split_articles(split)}
    return [q for q in load_squad()[1] if q.article in titles]


def _check(value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")


# -- distractors -------------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def distractor_files(path: Path | None = None) -> tuple[tuple[str, str], ...]:
    """``(file name, text)`` of the fixed seeded sample of BBC articles every corpus variant holds."""
    lines = (path or shared_data_dir() / DISTRACTORS_FILE).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    chosen = sorted(random.Random(f"{SEED}-distractors").sample(range(len(records)), DISTRACTOR_COUNT))
    files = []
    for i in chosen:
        record = records[i]
        name = "bbc-" + _slug(record["source"].split(":", 1)[-1].removesuffix(".txt").replace("/", "-")) + ".txt"
        files.append((name, f"{record['title'].strip()}\n\n{record['text'].strip()}\n"))
    return tuple(files)


# -- corpus variants --------------------------------------------------------------------------------

def withheld_paragraphs(split: str) -> set[tuple[str, int]]:
    """``(article title, paragraph index)`` removed in the split's ``withheld`` variant: a seeded
    sample of round(1/3 of the split's paragraphs)."""
    every = [(a.title, i) for a in split_articles(split) for i in range(len(a.paragraphs))]
    rng = random.Random(f"{SEED}-withheld-{split}")
    return set(rng.sample(every, round(len(every) * WITHHELD_SHARE)))


def offtopic_halves(split: str) -> tuple[list[Article], list[Article]]:
    """The split's articles dealt alternately into halves A and B."""
    articles = split_articles(split)
    return articles[0::2], articles[1::2]


def corpus_variant(split: str, variant: str) -> tuple[dict[str, str], list[Example]]:
    """The files (``{name: text}``) and labelled examples of one variant, built in memory."""
    _check(split, SPLITS)
    _check(variant, VARIANTS)
    files = dict(distractor_files())
    questions = split_questions(split)
    if variant.startswith("offtopic"):
        half_a, half_b = offtopic_halves(split)
        kept, asked = (half_a, half_b) if variant == "offtopic-a" else (half_b, half_a)
        for article in kept:
            files[article.file_name] = render_article(article.heading, article.paragraphs)[0]
        asked_titles = {a.title for a in asked}
        return files, [Example(q, False, OFF_TOPIC, ()) for q in questions if q.article in asked_titles]
    removed = withheld_paragraphs(split) if variant == "withheld" else set()
    starts: dict[tuple[str, int], int] = {}
    texts: dict[str, str] = {}
    sources = {a.title: a.file_name for a in split_articles(split)}
    for article in split_articles(split):
        kept_ids = [i for i in range(len(article.paragraphs)) if (article.title, i) not in removed]
        if not kept_ids:
            continue        # every paragraph withheld: the article is absent
        text, offsets = render_article(article.heading, [article.paragraphs[i] for i in kept_ids])
        files[article.file_name] = texts[article.title] = text
        starts.update({(article.title, i): off for i, off in zip(kept_ids, offsets)})
    examples = []
    for q in questions:
        if not q.answerable:
            examples.append(Example(q, False, NATIVE, ()))
        elif (q.article, q.paragraph) in removed:
            examples.append(Example(q, False, WITHHELD, ()))
        else:
            spans = _spans(q, sources[q.article], texts[q.article], starts[q.article, q.paragraph])
            examples.append(Example(q, True, ANSWERABLE, spans))
    return files, examples


def build_corpus(split: str, variant: str = "full", cache_dir: Path | None = None) -> Corpus:
    """Write the variant's corpus folder under ``cache_dir`` (only files that differ; stale ones
    removed) and return its labelled examples. ``questions.jsonl`` beside the folder holds them too."""
    files, examples = corpus_variant(split, variant)
    return write_corpus(split, variant, files, examples, cache_dir)


def write_corpus(split: str, variant: str, files: dict[str, str], examples: list[Example],
                 cache_dir: Path | None = None) -> Corpus:
    """Write ``files`` into ``<cache_dir>/<split>-<variant>/corpus`` (only those that differ; stale
    ones removed) and ``questions.jsonl`` beside it; return the ``Corpus``."""
    corpus = Corpus(split, variant, (cache_dir or CACHE_DIR) / f"{split}-{variant}", tuple(examples), tuple(sorted(files)))
    folder = corpus.corpus_dir
    folder.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in folder.glob("*.txt")) - set(files):
        (folder / stale).unlink()
    for name, text in files.items():
        _write_if_changed(folder / name, text)
    _write_if_changed(corpus.root / "questions.jsonl",
                      "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples))
    return corpus


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)      # bytes: no newline translation, so offsets hold on any platform
