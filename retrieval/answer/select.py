"""Choosing the sentences that answer a question, and proving each quote is verbatim.

The assistant abstains when the question names someone or something the corpus never
mentions in any spelling, and never quotes an article that does not mention every name in
the question. Otherwise a sentence is a candidate answer only when (1) it
holds the kind of answer the question expects (a number for "how many", a date for
"when", a name for "who"), and (2) enough of the question's names and key terms, in any
spelling or alias and weighted by rarity, stand in it or the sentences around it, and
its meaning is close enough."""
from __future__ import annotations

import re

from langchain_core.documents import Document

from retrieval.index.snapshot import Snapshot
from retrieval.text.lexicon import MONTH, NUMBER_WORD, WEEKDAY
from retrieval.text.normalize import terms
from retrieval.text.question import Question
from retrieval.types import Candidate

_ANSWER_SHAPES = {
    "number": re.compile(rf"\d|\b(?:{NUMBER_WORD})\b", re.I),
    "date": re.compile(rf"\b{MONTH}\b|\b(19|20)\d\d\b|\b{WEEKDAY}\b|"
                       r"\b(last|next|this|previous) (year|month|week)\b|\b\d+ (days|weeks|months|years) ago\b|"
                       r"\byesterday\b", re.I),
}
# A proper name: capitalized words ("Akram al-Kaabi", "Reuters"), not at the start of the sentence.
_NAME = re.compile(r"(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:al-|bin\s+|of\s+)?[A-Z][\w’'-]+)*")
_NAMED_ANSWERS = ("person", "place", "name")
MAX_QUOTE_CHARS = 700
NAME_WEIGHT = 2.0
NEAR_BEST = 0.8     # further quotes must score this share of the best one
COVERAGE_WEIGHT = 0.5


def has_answer_shape(question: Question, sentence: str) -> bool:
    """Whether the sentence holds the kind of answer asked for: a number, a date, or a name
    that the question itself does not already give."""
    kind = question.expects
    if kind is None:
        return True
    if kind in _NAMED_ANSWERS:
        asked = {t for c in question.concepts for t in c.all_terms}
        return any(set(terms(name)) - asked for name in _NAME.findall(sentence))
    if question.focus and not question.focus.found_in(set(terms(sentence))):
        return False
    return bool(_ANSWER_SHAPES[kind].search(sentence))


class QuoteSelector:
    def __init__(self, snapshot: Snapshot, min_coverage: float, min_score: float, max_quotes: int):
        self.snapshot = snapshot
        self.min_coverage = min_coverage
        self.min_score = min_score
        self.max_quotes = max_quotes

    def weight(self, concept) -> float:
        """Rarer terms weigh more; names count double."""
        first = concept.alternatives[0]
        rarity = max(self.snapshot.lexical.idf(t) for slot in first for t in slot)
        return rarity * (NAME_WEIGHT if concept.named else 1.0)

    def candidates(self, question: Question, documents: list[Document]) -> list[Candidate]:
        """Every sentence of the retrieved chunks that passes the checks, best first."""
        if not question.concepts or question.unknown:
            return []
        weights = [self.weight(c) for c in question.concepts]
        total = sum(weights)
        found = []
        for doc in documents:
            source = doc.metadata["source"]
            article_terms = self.snapshot.article_terms(source)
            if not all(c.found_in(article_terms) for c in question.named):
                continue   # the article never mentions someone the question is about
            text = self.snapshot.articles[source].text
            sentences = self.snapshot.sentences(source)
            for i, (s, e) in enumerate(sentences):
                if s < doc.metadata["start"] or e > doc.metadata["end"]:
                    continue
                sentence_terms = set(terms(text[s:e]))
                context = sentences[max(i - 2, 0):i + 2]
                context_terms = set(terms(" ".join(text[a:b] for a, b in context)))
                if not has_answer_shape(question, text[s:e]):
                    continue
                coverage = sum(w * (1.0 if c.found_in(sentence_terms) else 0.6 if c.found_in(context_terms) else 0.0)
                               for c, w in zip(question.concepts, weights)) / total
                dense = float(doc.metadata["dense"])
                score = COVERAGE_WEIGHT * coverage + (1 - COVERAGE_WEIGHT) * dense
                if coverage < self.min_coverage or score < self.min_score:
                    continue
                start = self._extend_back(question, text, sentences, i, sentence_terms)
                found.append(Candidate(source, start, e, score))
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

    def select(self, question: Question, documents: list[Document], max_quotes: int | None = None,
               near_best: float = NEAR_BEST) -> list[Candidate]:
        """The best quote, then others scoring at least ``near_best`` of it, no two overlapping,
        at most two per article."""
        chosen: list[Candidate] = []
        ranked = self.candidates(question, documents)
        for cand in ranked:
            if len(chosen) == (max_quotes or self.max_quotes):
                break
            if chosen and cand.score < near_best * chosen[0].score:
                break
            if sum(c.source == cand.source for c in chosen) >= 2:
                continue
            if any(c.source == cand.source and c.start < cand.end and cand.start < c.end for c in chosen):
                continue
            chosen.append(cand)
        return chosen
