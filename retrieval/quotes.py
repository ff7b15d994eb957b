"""Choosing the sentences that answer a question, and proving each quote is verbatim.

A sentence is a candidate answer only when (1) every name in the question, in any
spelling or alias, stands in the sentence or the sentences just before and after it,
(2) it holds the kind of answer the question expects (a number for "how many", a date
for "when", a name for "who"), and (3) enough of the question's key terms, weighted by
rarity, are in it and its meaning is close. Otherwise the assistant abstains."""
from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.documents import Document

from .question import Question
from .snapshot import Snapshot
from .textnorm import terms

_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_ANSWER_SHAPES = {
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
                         r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|"
                         r"million|millions|billion|dozen|dozens)\b", re.I),
    "date": re.compile(rf"\b{_MONTH}\b|\b(19|20)\d\d\b|\b(mon|tues|wednes|thurs|fri|satur|sun)day\b|"
                       r"\b(last|next|this|previous) (year|month|week)\b|\b\d+ (days|weeks|months|years) ago\b|"
                       r"\byesterday\b", re.I),
    "person": re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:[ -](?:al-|Al-)?[A-Z][a-z’']+)+"),
    "place": re.compile(r"(?<!^)\b[A-Z][a-z]{2,}"),
}
MAX_QUOTE_CHARS = 700


@dataclass(frozen=True)
class Candidate:
    source: str
    start: int
    end: int
    score: float
    coverage: float
    dense: float


def has_answer_shape(kind: str | None, sentence: str) -> bool:
    return kind is None or bool(_ANSWER_SHAPES[kind].search(sentence))


def verify_quote(article: str, start: int, end: int, text: str) -> bool:
    """The only gate to the user: the quote is exactly the article's text at its offsets."""
    return 0 <= start < end <= len(article) and article[start:end] == text


class QuoteSelector:
    def __init__(self, snapshot: Snapshot, min_coverage: float, min_score: float, max_quotes: int):
        self.snapshot = snapshot
        self.min_coverage = min_coverage
        self.min_score = min_score
        self.max_quotes = max_quotes

    def weight(self, concept) -> float:
        first = concept.alternatives[0]
        return max(self.snapshot.lexical.idf(t) for slot in first for t in slot)

    def candidates(self, question: Question, documents: list[Document]) -> list[Candidate]:
        """Every sentence of the retrieved chunks that passes the three checks, best first."""
        if not question.concepts:
            return []
        weights = [self.weight(c) for c in question.concepts]
        total = sum(weights)
        found = []
        for doc in documents:
            source = doc.metadata["source"]
            text = self.snapshot.articles[source].text
            sentences = self.snapshot.sentences(source)
            for i, (s, e) in enumerate(sentences):
                if s < doc.metadata["start"] or e > doc.metadata["end"]:
                    continue
                sentence_terms = set(terms(text[s:e]))
                context = sentences[max(i - 2, 0):i + 2]
                context_terms = set(terms(" ".join(text[a:b] for a, b in context)))
                if not all(c.found_in(context_terms) for c in question.named):
                    continue
                if not has_answer_shape(question.expects, text[s:e]):
                    continue
                coverage = sum(w * (1.0 if c.found_in(sentence_terms) else 0.6 if c.found_in(context_terms) else 0.0)
                               for c, w in zip(question.concepts, weights)) / total
                dense = float(doc.metadata["dense"])
                score = 0.55 * coverage + 0.45 * dense
                if coverage < self.min_coverage or score < self.min_score:
                    continue
                start = self._extend_back(question, text, sentences, i, sentence_terms)
                found.append(Candidate(source, start, e, score, coverage, dense))
        return sorted(found, key=lambda c: -c.score)

    def _extend_back(self, question, text, sentences, i, sentence_terms) -> int:
        """Start the quote one sentence earlier when that sentence names who is speaking."""
        s, e = sentences[i]
        missing = [c for c in question.named if not c.found_in(sentence_terms)]
        if missing and i > 0:
            ps, _ = sentences[i - 1]
            between = text[sentences[i - 1][1]:s]
            if "\n" not in between and e - ps <= MAX_QUOTE_CHARS:
                previous = set(terms(text[ps:sentences[i - 1][1]]))
                if any(c.found_in(previous) for c in missing):
                    return ps
        return s

    def select(self, question: Question, documents: list[Document]) -> list[Candidate]:
        """The best quote, then others nearly as good, no two overlapping, at most two per article."""
        chosen: list[Candidate] = []
        ranked = self.candidates(question, documents)
        for cand in ranked:
            if len(chosen) == self.max_quotes:
                break
            if chosen and cand.score < 0.8 * chosen[0].score:
                break
            if sum(c.source == cand.source for c in chosen) >= 2:
                continue
            if any(c.source == cand.source and c.start < cand.end and cand.start < c.end for c in chosen):
                continue
            chosen.append(cand)
        return chosen
