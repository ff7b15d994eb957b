"""What a question asks for: its concepts (names and key terms, with every spelling and
alias they may take in the corpus) and the kind of answer it expects."""
from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .aliases import AliasTable
from .textnorm import STOPWORDS, cased_words, term

# Words that shape a question without being what it is about.
_FRAME_WORDS = frozenset(term(w) for w in """
what which who whom whose when where why how many much did does do done say said says saying tell told
report reported reports reporting according mention mentioned describe described article articles outlet
outlets source sources news think thought view views give list explain happen happened anything something
know known please summarize summarise summary regarding concerning mean meant exactly kind sort type
was were is are be been being there any also current currently recent recently ever still us
""".split())

_EXPECTS = (
    ("number", re.compile(r"\bhow (many|much)\b|\bnumber of\b|\bhow (large|big)\b|\bwhat (percentage|share|proportion|size)\b|\bhow strong\b", re.I)),
    ("date", re.compile(r"^\W*when\b|\b(what|which) (date|year|month|day)\b|\bsince when\b|\bhow long ago\b|\bon what day\b", re.I)),
    ("person", re.compile(r"^\W*(who|whom)\b|\bwhose\b|\bwhich (person|official|leader|commander|politician|minister|analyst|spokesman|journalist)\b|\bwho (is|was|are|were|said|leads|led|heads|founded|killed)\b", re.I)),
    ("place", re.compile(r"^\W*where\b|\bwhich (city|cities|country|countries|place|region|province)\b", re.I)),
)


@dataclass(frozen=True)
class Concept:
    """Something the answer must be about, with every term sequence that expresses it."""
    label: str
    alternatives: tuple[tuple[frozenset[str], ...], ...]
    named: bool   # a name, acronym or number: the quote's context must contain it

    @property
    def all_terms(self) -> set[str]:
        return {t for alt in self.alternatives for slot in alt for t in slot}

    def found_in(self, present: set[str]) -> bool:
        return any(all(slot & present for slot in alt) for alt in self.alternatives)


@dataclass(frozen=True)
class Question:
    text: str
    concepts: tuple[Concept, ...]
    expects: str | None       # "number", "date", "person", "place" or None

    @property
    def query_terms(self) -> list[str]:
        """Every term of every concept and alias, for the lexical index."""
        return sorted({t for c in self.concepts for t in c.all_terms})

    @property
    def named(self) -> tuple[Concept, ...]:
        return tuple(c for c in self.concepts if c.named)


def expected_answer(question: str) -> str | None:
    for kind, pattern in _EXPECTS:
        if pattern.search(question):
            return kind
    return None


class QuestionAnalyzer:
    """Turns a question into concepts, using the alias table and the corpus vocabulary."""

    def __init__(self, aliases: AliasTable, vocabulary: set[str]):
        self.aliases = aliases
        self.vocabulary = vocabulary
        self._vocab_list = sorted(t for t in vocabulary if len(t) >= 4 and not t.isdigit())

    def variants(self, t: str) -> frozenset[str]:
        """A term with its translations, demonym stems (Iranian -> Iran, Syrian -> Syria) and, when the corpus
        never uses it, its close spellings in the corpus (Teheran -> Tehran)."""
        found = {t} | self.aliases.equivalents.get(t, set())
        if len(t) >= 6 and t.endswith("ian"):
            found |= {s for s in (t[:-1], t[:-3]) if s in self.vocabulary}
        if t not in self.vocabulary and len(t) >= 5 and not t.isdigit():
            limit = 1 if len(t) < 8 else 2
            found |= {m for m, _, _ in process.extract(t, self._vocab_list, scorer=Levenshtein.distance,
                                                      score_cutoff=limit, limit=3)}
        return frozenset(found)

    def analyze(self, question: str) -> Question:
        words = cased_words(question)
        tokens = [(w, term(w.lower())) for w in words if w.lower() not in STOPWORDS or w.isupper() and len(w) > 1]
        concepts: list[Concept] = []
        position = 0
        for start, end, group in self.aliases.matches(tokens) + [(len(tokens), len(tokens), [])]:
            for i in range(position, start):
                concept = self._word_concept(tokens[i][0], tokens[i][1], first=words and tokens[i][0] == words[0])
                if concept:
                    concepts.append(concept)
            if group:
                alternatives = tuple(tuple(self.variants(t) for t in phrase) for phrase in group)
                label = " ".join(w for w, _ in tokens[start:end])
                concepts.append(Concept(label, alternatives, named=True))
            position = end
        return Question(question, tuple(_dedupe(concepts)), expected_answer(question))

    def _word_concept(self, word: str, t: str, first: bool) -> Concept | None:
        if t in _FRAME_WORDS or (len(t) < 2 and not t.isdigit()):
            return None
        named = t.isdigit() or (word[0].isupper() and (not first or word.isupper()))
        return Concept(word, ((self.variants(t),),), named)


def _dedupe(concepts: list[Concept]) -> list[Concept]:
    seen, out = set(), []
    for c in concepts:
        key = c.alternatives
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
