"""Whether to answer or abstain, and why: every gate and every threshold in one place.

A question passes when it names nothing the corpus never mentions and has something to look
for; an article only when it mentions every name in the question; a sentence only when it
holds the kind of answer asked for, covers enough of the question (by rarity, with part
credit for terms in the sentences around it) and scores high enough on coverage and meaning
together; further quotes only when they score near the best one. Each gate returns a
``Verdict`` with a named reason, so ``ask --explain`` can show why a sentence was kept or
dropped. The coverage and score gates read only ``SentenceFeatures``: a learned, calibrated
model can take their place behind the same methods."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from retrieval.settings import Settings
from retrieval.text.lexicon import MONTH, NUMBER_WORD, WEEKDAY
from retrieval.text.normalize import terms
from retrieval.text.question import Question


class Reason(str, Enum):
    """Why a gate passed or failed."""
    UNKNOWN_NAME = "UNKNOWN_NAME"                  # the question names something the corpus never mentions
    NO_CONCEPTS = "NO_CONCEPTS"                    # nothing in the question to look for
    ARTICLE_LACKS_NAME = "ARTICLE_LACKS_NAME"      # the article never mentions a name in the question
    NO_ANSWER_SHAPE = "NO_ANSWER_SHAPE"            # no number / date / new name where one is asked for
    LOW_COVERAGE = "LOW_COVERAGE"                  # too little of the question in and around the sentence
    LOW_SCORE = "LOW_SCORE"                        # coverage and meaning together too low
    NOT_NEAR_BEST = "NOT_NEAR_BEST"                # far below the best quote
    ARTICLE_FULL = "ARTICLE_FULL"                  # its article already gives the most quotes allowed
    OVERLAPS = "OVERLAPS"                          # overlaps a quote already chosen
    ENOUGH_QUOTES = "ENOUGH_QUOTES"                # the answer already has the most quotes allowed
    NO_CANDIDATE = "NO_CANDIDATE"                  # no sentence passed every gate
    NO_VERIFIED_QUOTE = "NO_VERIFIED_QUOTE"        # no chosen quote is verbatim at its offsets
    NO_SUPPORTED_CLAIM = "NO_SUPPORTED_CLAIM"      # the model's claims have no verified quote
    PASSED = "PASSED"                              # a gate that let the candidate through
    CHOSEN = "CHOSEN"                              # the sentence is quoted
    ANSWERED = "ANSWERED"                          # the answer has at least one verified quote


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: Reason
    detail: str = ""
    gate: str = ""

    def to_dict(self) -> dict:
        return {"gate": self.gate, "passed": self.passed, "reason": self.reason.value, "detail": self.detail}


@dataclass(frozen=True)
class SentenceFeatures:
    """What the sentence gates know about a candidate sentence."""
    source: str
    start: int
    end: int
    answer_shape: Verdict     # from ``AnswerPolicy.answer_shape``
    coverage: float           # weighted share of the question's concepts in the sentence or its context
    dense: float              # cosine similarity of the sentence's chunk and the question


_ANSWER_SHAPES = {
    "number": re.compile(rf"\d|\b(?:{NUMBER_WORD})\b", re.I),
    "date": re.compile(rf"\b{MONTH}\b|\b(19|20)\d\d\b|\b{WEEKDAY}\b|"
                       r"\b(last|next|this|previous) (year|month|week)\b|\b\d+ (days|weeks|months|years) ago\b|"
                       r"\byesterday\b", re.I),
}
# A proper name: capitalized words ("Akram al-Kaabi", "Reuters"), not at the start of the sentence.
_NAME = re.compile(r"(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:al-|bin\s+|of\s+)?[A-Z][\w’'-]+)*")
_NAMED_ANSWERS = ("person", "place", "name")


def _passed(gate: str, detail: str = "") -> Verdict:
    return Verdict(True, Reason.PASSED, detail, gate)


@dataclass(frozen=True)
class AnswerPolicy:
    min_coverage: float = 0.3         # share of the question's key terms (by rarity) a quote must hold
    min_score: float = 0.47           # coverage_weight x coverage + (1 - coverage_weight) x cosine
    coverage_weight: float = 0.5
    neighbour_credit: float = 0.6     # a term only in the sentences around counts this much
    context_before: int = 2           # sentences before ...
    context_after: int = 1            # ... and after a sentence that make its context
    name_weight: float = 2.0          # names weigh double in coverage
    near_best: float = 0.8            # further quotes must score this share of the best one
    max_quotes: int = 4
    per_article: int = 2              # quotes from one article at most
    max_quote_chars: int = 700        # a quote extended back to its speaker stays this short
    timeline_near_best: float = 0.6   # the timeline gathers every source that speaks to the point
    timeline_quotes: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> "AnswerPolicy":
        return cls(min_coverage=settings.min_coverage, min_score=settings.min_score, max_quotes=settings.max_quotes)

    def for_timeline(self) -> "AnswerPolicy":
        return replace(self, near_best=self.timeline_near_best, max_quotes=self.timeline_quotes)

    # -- the question and the article ---------------------------------------------------------------------
    def question(self, question: Question) -> Verdict:
        if question.unknown:
            return Verdict(False, Reason.UNKNOWN_NAME, f"never mentioned: {', '.join(question.unknown)}", "question")
        if not question.concepts:
            return Verdict(False, Reason.NO_CONCEPTS, "no name or key term to look for", "question")
        return _passed("question", f"looks for: {', '.join(c.label for c in question.concepts)}")

    def article(self, question: Question, article_terms: set[str]) -> Verdict:
        missing = [c.label for c in question.named if not c.found_in(article_terms)]
        if missing:
            return Verdict(False, Reason.ARTICLE_LACKS_NAME, f"article never mentions: {', '.join(missing)}", "article")
        return _passed("article")

    # -- one sentence -------------------------------------------------------------------------------------
    def answer_shape(self, question: Question, sentence: str) -> Verdict:
        """Whether the sentence holds the kind of answer asked for: a number, a date, or a name
        that the question itself does not already give."""
        kind = question.expects
        if kind is None:
            return _passed("answer_shape", "any sentence")
        if kind in _NAMED_ANSWERS:
            asked = {t for c in question.concepts for t in c.all_terms}
            if any(set(terms(name)) - asked for name in _NAME.findall(sentence)):
                return _passed("answer_shape", f"a name ({kind})")
            return Verdict(False, Reason.NO_ANSWER_SHAPE, f"no name the question does not give ({kind})", "answer_shape")
        if question.focus and not question.focus.found_in(set(terms(sentence))):
            return Verdict(False, Reason.NO_ANSWER_SHAPE, f"does not name what is counted ({question.focus.label})",
                           "answer_shape")
        if _ANSWER_SHAPES[kind].search(sentence):
            return _passed("answer_shape", f"a {kind}")
        return Verdict(False, Reason.NO_ANSWER_SHAPE, f"no {kind}", "answer_shape")

    def concept_credit(self, in_sentence: bool, in_context: bool) -> float:
        return 1.0 if in_sentence else self.neighbour_credit if in_context else 0.0

    def score(self, features: SentenceFeatures) -> float:
        return self.coverage_weight * features.coverage + (1 - self.coverage_weight) * features.dense

    def sentence(self, features: SentenceFeatures) -> list[Verdict]:
        """The sentence gates in order, up to the first that fails."""
        verdicts = [features.answer_shape]
        if not features.answer_shape.passed:
            return verdicts
        coverage = f"{features.coverage:.3f} (min {self.min_coverage})"
        if features.coverage < self.min_coverage:
            return verdicts + [Verdict(False, Reason.LOW_COVERAGE, coverage, "coverage")]
        verdicts.append(_passed("coverage", coverage))
        score = self.score(features)
        detail = f"{score:.3f} = {self.coverage_weight} x coverage + {1 - self.coverage_weight} x dense {features.dense:.3f} " \
                 f"(min {self.min_score})"
        verdicts.append(Verdict(score >= self.min_score, Reason.PASSED if score >= self.min_score else Reason.LOW_SCORE,
                                detail, "score"))
        return verdicts

    # -- choosing among the candidates --------------------------------------------------------------------
    def choice(self, score: float, source: str, start: int, end: int, chosen: list) -> Verdict:
        """Whether a candidate (ranked best first) joins the ``chosen`` ones (each with
        ``source``, ``start``, ``end`` and ``score``)."""
        if len(chosen) >= self.max_quotes:
            return Verdict(False, Reason.ENOUGH_QUOTES, f"{self.max_quotes} quotes already", "choice")
        if chosen and score < self.near_best * chosen[0].score:
            return Verdict(False, Reason.NOT_NEAR_BEST, f"{score:.3f} < {self.near_best} x best {chosen[0].score:.3f}",
                           "choice")
        if sum(c.source == source for c in chosen) >= self.per_article:
            return Verdict(False, Reason.ARTICLE_FULL, f"{self.per_article} quotes from {source} already", "choice")
        if any(c.source == source and c.start < end and start < c.end for c in chosen):
            return Verdict(False, Reason.OVERLAPS, "overlaps a chosen quote", "choice")
        return Verdict(True, Reason.CHOSEN, "", "choice")

    # -- the answer ---------------------------------------------------------------------------------------
    @staticmethod
    def decision(quotes: int, generative: bool = False) -> Verdict:
        """Answer when at least one quote is verified, else abstain."""
        if quotes:
            return Verdict(True, Reason.ANSWERED, f"{quotes} verified quote(s)", "answer")
        reason = Reason.NO_SUPPORTED_CLAIM if generative else Reason.NO_VERIFIED_QUOTE
        return Verdict(False, reason, "", "answer")
