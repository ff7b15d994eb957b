"""What the answer scorer knows about a candidate sentence: one row of numbers per sentence of
the retrieved chunks, computed the same way at training and at answer time.

Each row describes the sentence with its neighbours against the question: meaning (the
chunk's and the sentence's own cosine similarity, the sentence's from its chunk's token
vectors), words (coverage of the question's names and key terms weighted by rarity, in the
sentence and around it; shared word pairs), the kind of answer expected and whether the
sentence holds an entity of that kind that the question does not already name (spaCy, stored
at ingest), the question's names the corpus or the article never mentions, stance (refusal
versus readiness), reported speech (for "what did X say" questions), and where the sentence
stands. Gaps to the best sentence of the same
question make rows of different questions comparable."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from retrieval.index.snapshot import Snapshot
from retrieval.text.entities import ANSWER_LABELS
from retrieval.text.normalize import terms
from retrieval.text.question import KINDS, Question
from retrieval.text.stance import ASKS_SPEECH, SPEECH, stance
from retrieval.types import Hit

NAME_WEIGHT = 2.0      # names weigh double in coverage
CONTEXT = 1            # sentences on each side that make a sentence's context

FEATURES = (
    "chunk_dense", "chunk_dense_gap", "chunk_rank", "fused_score", "bm25", "dense_only",
    "sentence_dense", "sentence_dense_gap", "context_dense",
    "coverage", "coverage_gap", "context_coverage", "context_coverage_gap", "coverage_share_of_best",
    "names_in_sentence", "names_in_context", "names_in_article", "unknown_names", "concepts", "shared_pairs",
    "answer_entity", "new_entities", "has_number", "length", "position",
    "match_spread", "answer_beside_match", "new_terms",
    "question_stance", "sentence_stance", "stance_agrees", "reported_speech", "speech_asked_and_given",
    *(f"expects_{kind}" for kind in KINDS),
)


@dataclass(frozen=True)
class SentenceRow:
    """A candidate sentence and its features (in the order of ``FEATURES``)."""
    source: str
    start: int
    end: int
    index: int              # the sentence's place among its article's sentences
    values: np.ndarray


class FeatureExtractor:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def weights(self, question: Question) -> list[float]:
        """Rarer terms weigh more; names count double."""
        idf = self.snapshot.lexical.idf
        return [max(idf(t) for slot in c.alternatives[0] for t in slot) * (NAME_WEIGHT if c.named else 1.0)
                for c in question.concepts]

    def rows(self, question: Question, vector: np.ndarray, hits: list[Hit]) -> list[SentenceRow]:
        """One row per sentence of the retrieved chunks, in retrieval order."""
        if not hits:
            return []
        shared = _QuestionContext(question, self.weights(question), hits)
        words = _SentenceTerms(self.snapshot)
        raw = [self._describe(shared, words, vector, rank, hit, i)
               for rank, hit in enumerate(hits)
               for i, (s, e) in enumerate(self.snapshot.sentences(hit.chunk.source))
               if hit.chunk.start <= s and e <= hit.chunk.end]
        if not raw:
            return []
        best = {key: max(r[key] for _, r in raw) for key in ("coverage", "context_coverage", "sentence_dense")}
        out = []
        for (source, start, end, index), r in raw:
            r["coverage_gap"] = best["coverage"] - r["coverage"]
            r["context_coverage_gap"] = best["context_coverage"] - r["context_coverage"]
            r["coverage_share_of_best"] = r["coverage"] / best["coverage"] if best["coverage"] else 0.0
            r["sentence_dense_gap"] = best["sentence_dense"] - r["sentence_dense"]
            out.append(SentenceRow(source, start, end, index, np.array([r[name] for name in FEATURES], dtype=np.float64)))
        return out

    def _describe(self, q: "_QuestionContext", words: "_SentenceTerms", vector: np.ndarray, rank: int, hit: Hit,
                  i: int):
        snapshot = self.snapshot
        source = hit.chunk.source
        text = snapshot.articles[source].text
        sentences = snapshot.sentences(source)
        s, e = sentences[i]
        sentence = text[s:e]
        sentence_words = words(source, i)
        sentence_terms = set(sentence_words)
        around = range(max(i - CONTEXT, 0), min(i + CONTEXT + 1, len(sentences)))
        context = [sentences[j] for j in around]
        context_terms = set().union(*(words(source, j) for j in around))
        sentence_vector = snapshot.sentence_vector(source, s, e)
        sentence_dense = float(sentence_vector @ vector) if sentence_vector is not None else hit.dense
        context_vectors = [v for v in (snapshot.sentence_vector(source, a, b) for a, b in context) if v is not None]
        entities = [(a, b, label) for a, b, label in snapshot.entities(source) if s <= a and b <= e]
        new = [label for a, b, label in entities if not set(terms(text[a:b])) <= q.asked]
        wanted = ANSWER_LABELS[q.question.expects or ("statement" if q.asks_speech else "other")]
        sentence_stance = stance(sentence)
        speech = bool(SPEECH.search(sentence))
        matched = [n for n, t in enumerate(sentence_words) if t in q.asked]
        answer_places = [len(terms(text[s:a])) for a, b, label in entities
                         if label in wanted and not set(terms(text[a:b])) <= q.asked]
        return (source, s, e, i), {
            "chunk_dense": hit.dense, "chunk_dense_gap": q.best_dense - hit.dense, "chunk_rank": rank / len(q.hits),
            "fused_score": hit.score / q.best_fused, "bm25": hit.lexical / q.best_bm25, "dense_only": float(hit.lexical == 0),
            "sentence_dense": sentence_dense,
            "context_dense": float(np.mean(context_vectors, axis=0) @ vector) if context_vectors else sentence_dense,
            "coverage": q.coverage(sentence_terms), "context_coverage": q.coverage(context_terms),
            "names_in_sentence": q.named_share(sentence_terms), "names_in_context": q.named_share(context_terms),
            "names_in_article": q.named_share(snapshot.article_terms(source)), "unknown_names": q.unknown,
            "concepts": math.log1p(len(q.question.concepts)),
            "shared_pairs": q.shared_pairs(sentence_words),
            "answer_entity": float(any(label in wanted for label in new)),
            "new_entities": math.log1p(len(new)), "has_number": float(any(c.isdigit() for c in sentence)),
            "length": math.log(max(e - s, 1)), "position": i / max(len(sentences), 1),
            "match_spread": _spread(matched), "answer_beside_match": _beside(answer_places, matched),
            "new_terms": math.log1p(sum(t not in q.asked for t in sentence_words)),
            "question_stance": float(q.stance), "sentence_stance": float(sentence_stance),
            "stance_agrees": float(q.stance * sentence_stance), "reported_speech": float(speech),
            "speech_asked_and_given": float(q.asks_speech and speech),
            **{f"expects_{kind}": float((q.question.expects or "other") == kind) for kind in KINDS},
        }


def _spread(matched: list[int]) -> float:
    """How far apart the question's terms stand in the sentence: the window that holds them all,
    per term matched (1 when they stand side by side; 0 with fewer than two)."""
    if len(matched) < 2:
        return 0.0
    return math.log((matched[-1] - matched[0] + 1) / len(matched))


def _beside(places: list[int], matched: list[int]) -> float:
    """How close the nearest possible answer (an entity of the expected kind the question does
    not name) stands to a term of the question: 1 beside it, falling with each word between."""
    if not places or not matched:
        return 0.0
    return 1.0 / (1.0 + min(abs(p - m) for p in places for m in matched))


def _inside(pair: tuple[str, str], slots: tuple[frozenset[str], ...]) -> bool:
    """Whether two consecutive slots of a name's term sequence hold the pair."""
    return any(pair[0] in a and pair[1] in b for a, b in zip(slots, slots[1:]))


class _SentenceTerms:
    """Each sentence's index terms, tokenized once per question: a sentence's context is the union
    of its neighbours' terms (the same set as the terms of their joined text), so overlapping
    windows and chunks of one article do not tokenize the same sentence again."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self._terms: dict[tuple[str, int], list[str]] = {}

    def __call__(self, source: str, i: int) -> list[str]:
        key = (source, i)
        if key not in self._terms:
            s, e = self.snapshot.sentences(source)[i]
            self._terms[key] = terms(self.snapshot.articles[source].text[s:e])
        return self._terms[key]


class _QuestionContext:
    """What every sentence of one question is compared with, computed once."""

    def __init__(self, question: Question, weights: list[float], hits: list[Hit]):
        self.question = question
        self.weights = weights
        self.total = sum(weights) or 1.0
        self.hits = hits
        self.asked = {t for c in question.concepts for t in c.all_terms}
        question_terms = terms(question.text)
        self.pairs = set(zip(question_terms, question_terms[1:]))
        # a pair inside a name the question uses is also found where the sentence uses another
        # name for the same thing ("Popular Mobilization Forces" | "Hashd al-Shaabi")
        self.pair_concepts = {pair: c for pair in self.pairs for c in question.concepts
                              if len(c.alternatives) > 1 and _inside(pair, c.alternatives[0])}
        self.unknown = len(question.unknown) / len(question.named) if question.named else 0.0
        self.stance = stance(question.text)
        self.asks_speech = bool(ASKS_SPEECH.search(question.text))
        self.best_dense = max(h.dense for h in hits)
        self.best_fused = max(h.score for h in hits) or 1.0
        self.best_bm25 = max(h.lexical for h in hits) or 1.0

    def shared_pairs(self, words: list[str]) -> float:
        """The share of the question's word pairs the sentence holds side by side, or (for a pair
        inside a name) where it holds any of the name's forms in sequence."""
        if not self.pairs:
            return 0.0
        present = set(zip(words, words[1:]))
        found = sum(pair in present or (pair in self.pair_concepts and self.pair_concepts[pair].found_in_sequence(words))
                    for pair in self.pairs)
        return found / len(self.pairs)

    def coverage(self, present: set[str]) -> float:
        return sum(w for c, w in zip(self.question.concepts, self.weights) if c.found_in(present)) / self.total

    def named_share(self, present: set[str]) -> float:
        named = self.question.named
        return sum(c.found_in(present) for c in named) / len(named) if named else 1.0
