"""What a question asks for: its concepts (names and key terms, with every spelling and
alias they may take in the corpus) and the kind of answer it expects."""
from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from retrieval.errors import InvalidQuestion
from retrieval.text.aliases import AliasTable
from retrieval.text.lexicon import STOPWORDS
from retrieval.text.normalize import ascii_words, cased_words, term, terms

# Words that shape a question without being what it is about.
_FRAME_WORDS = frozenset(term(w) for w in """
what which who whom whose when where why how many much did does do done say said says saying tell told
report reported reports reporting according mention mentioned describe described article articles outlet
outlets source sources news think thought view views give list explain happen happened anything something
know known please summarize summarise summary regarding concerning mean meant exactly kind sort type
was were is are be been being there any also current currently recent recently ever still us long far often
role play plays played stance position opinion
""".split())

# The kind of answer a question expects, by its wording; the first pattern that matches decides.
_EXPECTS = (
    ("number", re.compile(r"\bhow (many|much|long|old|far(?!\s+along)|large|big|tall|high|deep|wide|often|strong)\b|\bnumber of\b|"
                          r"\bwhat (percentage|percent|share|proportion|size|amount|population|price|cost)\b", re.I)),
    ("date", re.compile(r"^\W*when\b|\b(what|which|in what) (date|year|month|day|decade|century|period|era|season)\b|"
                        r"\bsince when\b|\bhow long ago\b|\bon what day\b|\bwhen (did|was|were|is|will)\b", re.I)),
    ("name", re.compile(r"\bwhat (is|was|are|were) the names? of\b|\bwhat names?\b|\b(is|was|are|were) (called|named|known as)\b",
                        re.I)),
    ("person", re.compile(r"^\W*(who|whom)\b|\bwhose\b|\bwhich (person|people|official|leader|commander|politician|"
                          r"minister|analyst|spokesman|spokeswoman|journalist|president|king|queen|artist|singer|actor|"
                          r"author|writer|player|coach|director|founder|ceo|chief)\b|\bwho (is|was|are|were|said|leads|led|"
                          r"heads|founded|killed|wrote|won)\b", re.I)),
    ("place", re.compile(r"^\W*where\b|\b(which|what|in what) (city|cities|country|countries|place|region|province|state|"
                         r"town|continent|island|area|location|county|capital)\b", re.I)),
    ("organization", re.compile(r"\b(which|what) (company|companies|organi[sz]ations?|group|groups|party|parties|team|club|"
                                r"band|newspaper|network|agency|university|firm|militia|militias|faction|factions|"
                                r"broadcaster|bank|government)\b", re.I)),
)
# Every kind of answer, "other" for questions of none of them (what, how, why ...).
KINDS = tuple(kind for kind, _ in _EXPECTS) + ("other",)


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

    def found_in_sequence(self, words: list[str]) -> bool:
        """Whether ``words`` hold one of the term sequences, slot after slot."""
        return any(all(words[i + k] in slot for k, slot in enumerate(alt))
                   for alt in self.alternatives for i in range(len(words) - len(alt) + 1))


# "according to X", "per X", "the X article": X names a source, not what the answer is about.
_SOURCE_REFERENCE = re.compile(
    r"\b(?:according to|as per|per|as reported by|reported by)\s+(?:the\s+)?((?:[A-Z][\w'’.-]*\s*)+)"
    r"|((?:[A-Z][\w'’.-]*\s+)+)(?=(?:piece|article|report|story|version|op-ed|summary|coverage|account)\b)")
_PHRASE_ENDS = {"inside", "within", "across", "among", "per", "according", "including", "say", "said"}
_DEMONYM_SUFFIXES = ("i", "ian", "an", "n", "ese")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_question(question: str, max_chars: int) -> str:
    """The question without control characters, or ``InvalidQuestion``."""
    if not isinstance(question, str):
        raise InvalidQuestion("The question must be text.")
    question = " ".join(_CONTROL.sub(" ", question).split())
    if not question:
        raise InvalidQuestion("Please type a question.")
    if len(question) > max_chars:
        raise InvalidQuestion(f"The question is {len(question):,} characters long; the limit is {max_chars:,}. "
                              "Please ask a shorter question.")
    return question


@dataclass(frozen=True)
class Question:
    text: str
    concepts: tuple[Concept, ...]
    expects: str | None       # one of KINDS but "other", or None
    unknown: tuple[str, ...] = ()   # names the corpus never mentions, in any spelling
    focus: Concept | None = None    # what "how many ..." counts: the number must stand beside it
    dense_text: str = ""            # the question with every alias written one way, for the encoder

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

    def __init__(self, aliases: AliasTable, vocabulary: set[str], known: set[str] | None = None):
        """``vocabulary``: the indexed terms; ``known``: every term of the articles, page
        furniture included (a source named only in its banner is still a known name)."""
        self.aliases = aliases
        self.vocabulary = vocabulary
        self.known = vocabulary | (known or set())
        self._vocab_list = sorted(t for t in vocabulary if len(t) >= 4 and not t.isdigit())

    def variants(self, t: str) -> frozenset[str]:
        """A term with its translations, demonym stems (Iranian -> Iran, Syrian -> Syria) and, when the corpus
        never uses it, its close spellings in the corpus (Teheran -> Tehran)."""
        found = {t} | self.aliases.equivalents.get(t, set())
        if t not in self.known and len(t) >= 5 and not t.isdigit():
            found |= self._close_spellings(t)
        if len(t) >= 4 and not t.isdigit():
            for suffix in _DEMONYM_SUFFIXES:
                found |= {v for v in (t + suffix, t[:-len(suffix)] if t.endswith(suffix) else "")
                          if len(v) >= 4 and v in self.vocabulary}
        return frozenset(found)

    def _close_spellings(self, t: str) -> set[str]:
        limit = 1 if len(t) < 8 else 2
        return {m for m, _, _ in process.extract(t, self._vocab_list, scorer=Levenshtein.distance,
                                                score_cutoff=limit, limit=3)}

    def analyze(self, question: str) -> Question:
        source_words = {w for m in _SOURCE_REFERENCE.finditer(question) for w in cased_words(m[1] or m[2] or "")}
        folded, matches = ascii_words(question)
        words = [m[0] for m in matches]
        kept = [m for m in matches if m[0].lower() not in STOPWORDS or m[0].isupper() and len(m[0]) > 1]
        tokens = [(m[0], term(m[0].lower())) for m in kept]
        concepts: list[Concept] = []
        position = 0
        dense_text, cut = [], 0
        for start, end, number in self.aliases.matches(tokens) + [(len(tokens), len(tokens), None)]:
            for i in range(position, start):
                word, t = tokens[i]
                concept = self._word_concept(word, t, first=bool(words) and word == words[0])
                if concept and word in source_words:
                    # Naming the outlet is not part of what is asked; an outlet the text never names is dropped.
                    concept = Concept(word, concept.alternatives, named=False) if self._is_known(concept) else None
                if concept:
                    concepts.append(concept)
                    names = self._expansions(word, t)
                    if names:      # the encoder reads the name the acronym stands for
                        dense_text += [folded[cut:kept[i].start()], names[0]]
                        cut = kept[i].end()
            if number is not None:
                group = self.aliases.groups[number]
                alternatives = tuple(tuple(self.variants(t) for t in phrase) for phrase in group)
                name_start, name_end = _name_start(folded, matches, kept[start]), kept[end - 1].end()
                concepts.append(Concept(folded[name_start:name_end], alternatives, named=True))   # as written
                dense_text += [folded[cut:name_start], self.aliases.canonical[number]]
                cut = name_end
            position = end
        unknown = tuple(c.label for c in concepts if c.named and not self._is_known(c))
        return Question(question, tuple(_dedupe(concepts)), expected_answer(question), unknown,
                        _counted(question, concepts), "".join(dense_text) + folded[cut:])

    def _is_known(self, concept: Concept) -> bool:
        return bool(concept.all_terms & self.known)

    def _word_concept(self, word: str, t: str, first: bool) -> Concept | None:
        if t in _FRAME_WORDS or (len(t) < 2 and not t.isdigit()):
            return None
        named = t.isdigit() or (word[0].isupper() and (not first or word.isupper()))
        spelled = tuple(tuple(self.variants(x) for x in terms(name)) for name in self._expansions(word, t))
        return Concept(word, ((self.variants(t),), *spelled), named)

    def _expansions(self, word: str, t: str) -> list[str]:
        """The names an acronym the corpus never writes may stand for ("IRI": the Islamic Resistance
        in Iraq), most frequent first; none for any other word."""
        if not (word.isupper() and 2 <= len(word) <= 6 and word.isalpha()) or t in self.known:
            return []
        return self.aliases.expansions(word)


def _name_start(folded: str, matches: list[re.Match], first: re.Match) -> int:
    """Where a name starts, its Arabic article included ("al-Sudani" starts at "al")."""
    i = next(n for n, m in enumerate(matches) if m.start() == first.start())
    if i and matches[i - 1][0].lower() in ("al", "el") and folded[matches[i - 1].end():first.start()] in ("-", " "):
        return matches[i - 1].start()
    return first.start()


def _counted(question: str, concepts: list[Concept]) -> Concept | None:
    """What "how many ..." counts: the last word of the phrase after it ("how many American
    troops were killed" counts troops)."""
    match = re.search(r"\b(?:how many|number of)\s+(.*)", question, re.I)
    if not match:
        return None
    phrase = []
    for word in cased_words(match[1]):
        if word.lower() in STOPWORDS or word.lower() in _PHRASE_ENDS:
            break
        phrase.append(term(word.lower()))
    return next((c for c in reversed(concepts) if phrase and phrase[-1] in c.alternatives[0][-1]), None)


def _dedupe(concepts: list[Concept]) -> list[Concept]:
    seen, out = set(), []
    for c in concepts:
        key = c.alternatives
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
