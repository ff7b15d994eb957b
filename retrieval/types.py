"""The shared result types, from an article on disk to a quote in an answer. Every layer
imports them from here, so no module has to import a layer above it for a type."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class ArticleMeta:
    title: str | None = None
    outlet: str | None = None
    published: str | None = None   # ISO date
    url: str | None = None
    author: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of an article: ``text == article_text[start:end]``."""
    source: str
    index: int
    start: int
    end: int
    text: str

    @property
    def text_hash(self) -> str:
        """Key of the embedding: equal texts share one, wherever they stand."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ArticleRecord:
    """A committed article version in the index."""
    source: str
    doc_hash: str
    text: str
    meta: ArticleMeta
    n_chunks: int


@dataclass(frozen=True)
class ChunkEncoding:
    """What ingest computes once from a chunk's text: its vector, its sentences with theirs
    (pooled from the same pass's token vectors) and its named entities. Offsets are relative to
    the chunk, so an unchanged text keeps its encoding wherever it moves."""
    vector: list[float]
    sentences: tuple[tuple[int, int], ...] = ()
    sentence_vectors: np.ndarray | None = None          # float16, a row per sentence
    entities: tuple[tuple[int, int, str], ...] = ()      # (start, end, spaCy label)


@dataclass(frozen=True)
class StoredChunk:
    """A committed chunk as read back from the index (its vector is a row of the snapshot's matrix)."""
    id: str
    source: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = ()
    sentence_vectors: np.ndarray | None = field(default=None, compare=False, repr=False)
    entities: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its article's metadata and its scores."""
    chunk: StoredChunk
    meta: ArticleMeta
    score: float      # fused reciprocal-rank score
    dense: float      # cosine similarity of chunk and question
    lexical: float    # BM25 score (0 when BM25 did not find it)


@dataclass(frozen=True)
class Candidate:
    """A span of an article offered as a quote, with the score it was ranked by."""
    source: str
    start: int
    end: int
    score: float

    def overlaps(self, source: str, start: int, end: int) -> bool:
        return source == self.source and start < self.end and self.start < end


@dataclass(frozen=True)
class Quote:
    text: str
    source: str
    title: str | None
    outlet: str | None
    published: str | None
    url: str | None
    start: int
    end: int
    score: float
    # Optional, in ``to_dict()`` only when set: the article's readable label (its headline, else
    # its opening words, marked as such), its author, and for an undated article the latest
    # date its text names (never its publication date).
    label: str | None = None
    author: str | None = None
    mentions_until: str | None = None

    OPTIONAL = ("label", "author", "mentions_until")


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    quotes: list[Quote] = field(default_factory=list)
    # Generative mode only: how many quotes the model emitted / were verified / repaired / dropped.
    quote_checks: dict | None = None
    # Something the user should know about how the answer was made (e.g. the LLM was unreachable).
    notice: str | None = None
    # A follow-up question rewritten to stand alone (what was actually searched for).
    standalone_question: str | None = None
    # Timeline mode: where the quoted sources give different figures or opposite stances.
    disagreements: list[str] | None = None
    # Only when asked for (``explain=True``): for the top candidate sentences, each gate of the
    # answer policy with its verdict, and the final decision.
    explanation: dict | None = None
    # The filters the question was searched under, when any: {"outlets": [...], "sources": [...],
    # "since": ..., "until": ...} (the brief lists them).
    filters: dict | None = None

    def to_dict(self) -> dict:
        """The JSON contract; the optional fields appear only when set."""
        data = asdict(self)
        for quote in data["quotes"]:
            for optional in Quote.OPTIONAL:
                if quote[optional] is None:
                    del quote[optional]
        for optional in ("quote_checks", "notice", "standalone_question", "disagreements", "explanation",
                         "filters"):
            if data[optional] is None:
                del data[optional]
        return data
