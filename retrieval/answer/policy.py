"""Whether to answer or abstain, and why: every gate and every threshold in one place.

A learned scorer (``scorer.py``, trained by ``python -m training`` on public data) gives each
candidate sentence the probability that it answers the question. The question is answered
when its best sentence's probability reaches ``threshold`` (chosen on held-out articles);
further quotes must pass the same bar, score near the best one, fit the
quoted-characters budget, not overlap a chosen quote, and not over-represent one article.
Each gate returns a ``Verdict`` with a named reason, so ``ask --explain`` shows why a sentence
was kept or dropped."""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from retrieval.answer.scorer import AnswerScorer
from retrieval.settings import Settings
from retrieval.text.question import Question


class Reason(str, Enum):
    """Why a gate passed or failed."""
    NO_CONCEPTS = "NO_CONCEPTS"                    # nothing in the question to look for
    LOW_CONFIDENCE = "LOW_CONFIDENCE"              # the sentence is unlikely to answer the question
    NOT_NEAR_BEST = "NOT_NEAR_BEST"                # far below the best quote
    ARTICLE_FULL = "ARTICLE_FULL"                  # its article already gives the most quotes allowed
    OVERLAPS = "OVERLAPS"                          # overlaps a quote already chosen
    JOINED = "JOINED"                              # an adjacent sentence scores near it: one quote of both
    NOT_JOINED = "NOT_JOINED"                      # the adjacent sentence stays out of the quote
    ENOUGH_QUOTES = "ENOUGH_QUOTES"                # the answer already has the most quotes allowed
    OVER_BUDGET = "OVER_BUDGET"                    # it would take the answer past its quoted-characters budget
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


def _passed(gate: str, detail: str = "") -> Verdict:
    return Verdict(True, Reason.PASSED, detail, gate)


@dataclass(frozen=True)
class AnswerPolicy:
    scorer: AnswerScorer
    threshold: float                  # probability a sentence needs to be quoted
    near_best: float = 0.5            # further quotes: at least this share of the best sentence's probability
    max_quotes: int = 4
    per_article: int = 2              # quotes from one article at most
    quote_chars: int = 600            # quoted characters in one answer at most (the first quote always fits)
    max_quote_chars: int = 700        # a quote extended back to its speaker stays this short
    join_share: float = 0.5           # an adjacent sentence joins a quote when it scores this share of it ...
    join_chars: int = 400             # ... and the two stay this short
    follow_threshold: float = 1.0     # further quotes' bar once the best sentence reached the threshold
    timeline_near_best: float = 0.2   # the timeline gathers every source that speaks to the point
    timeline_quotes: int = 8
    timeline_quote_chars: int = 3000

    @classmethod
    def from_settings(cls, settings: Settings, scorer: AnswerScorer) -> "AnswerPolicy":
        threshold = scorer.threshold if settings.answer_threshold is None else settings.answer_threshold
        return cls(scorer, threshold, max_quotes=settings.max_quotes, quote_chars=settings.quote_chars)

    def for_timeline(self) -> "AnswerPolicy":
        return replace(self, near_best=self.timeline_near_best, max_quotes=self.timeline_quotes,
                       quote_chars=self.timeline_quote_chars, follow_threshold=0.0)

    def question(self, question: Question) -> Verdict:
        if not question.concepts:
            return Verdict(False, Reason.NO_CONCEPTS, "no name or key term to look for", "question")
        return _passed("question", f"looks for: {', '.join(c.label for c in question.concepts)}")

    def sentence(self, probability: float, why: list[tuple[str, float]], best: float | None = None) -> Verdict:
        """Whether a sentence is likely enough to answer the question to be quoted at all. The
        question is answered only if its ``best`` sentence reaches ``threshold``; in the timeline,
        which gathers every source that speaks to the point, the others then need only reach
        ``follow_threshold``."""
        bar = self.threshold if best is None or best < self.threshold else min(self.threshold, self.follow_threshold)
        detail = f"p={probability:.3f} (min {bar:.3f}), chance of a right first quote " \
                 f"{self.scorer.calibrated(probability):.2f}; " + ", ".join(f"{name} {part:+.2f}" for name, part in why)
        if probability < bar:
            return Verdict(False, Reason.LOW_CONFIDENCE, detail, "model")
        return _passed("model", detail)

    def join(self, score: float, neighbour: float, chars: int, same_paragraph: bool) -> Verdict:
        """Whether the sentence next to a quote (scoring ``neighbour`` against the quote's ``score``)
        joins it, making one quote of ``chars`` characters: an answer often spans two sentences
        ("… was installed by the Mongols." | "In 1358 it was overthrown …"), and the model scores
        each alone. The neighbour must be worth quoting itself (the threshold) and score near the
        quote, so an unsure model does not widen its quotes."""
        if not same_paragraph:
            return Verdict(False, Reason.NOT_JOINED, "another paragraph", "join")
        bar = max(self.join_share * score, self.threshold)
        if neighbour < bar:
            return Verdict(False, Reason.NOT_JOINED, f"{neighbour:.3f} < {bar:.3f} ({self.join_share} x {score:.3f}, "
                                                     f"at least the threshold)", "join")
        if chars > self.join_chars:
            return Verdict(False, Reason.NOT_JOINED, f"{chars} > {self.join_chars} characters together", "join")
        return Verdict(True, Reason.JOINED, f"{neighbour:.3f} >= {bar:.3f}", "join")

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
        if any(c.overlaps(source, start, end) for c in chosen):
            return Verdict(False, Reason.OVERLAPS, "overlaps a chosen quote", "choice")
        quoted = sum(c.end - c.start for c in chosen)
        if chosen and quoted + end - start > self.quote_chars:
            return Verdict(False, Reason.OVER_BUDGET, f"{quoted} + {end - start} > {self.quote_chars} characters",
                           "choice")
        return Verdict(True, Reason.CHOSEN, "", "choice")

    @staticmethod
    def decision(quotes: int, generative: bool = False) -> Verdict:
        """Answer when at least one quote is verified, else abstain."""
        if quotes:
            return Verdict(True, Reason.ANSWERED, f"{quotes} verified quote(s)", "answer")
        reason = Reason.NO_SUPPORTED_CLAIM if generative else Reason.NO_VERIFIED_QUOTE
        return Verdict(False, reason, "", "answer")
