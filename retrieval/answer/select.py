"""Choosing the sentences that answer a question: every sentence of the retrieved chunks is
described by its features, scored by the learned model and put through the gates of the
``AnswerPolicy``; the ones that pass are ranked by probability and chosen."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retrieval.answer.features import FeatureExtractor, SentenceRow
from retrieval.answer.policy import AnswerPolicy, Reason, Verdict
from retrieval.index.snapshot import Snapshot
from retrieval.text.normalize import terms
from retrieval.text.question import Question
from retrieval.types import Candidate, Hit

EXPLAINED = 10   # sentences shown by ``--explain``


@dataclass
class Assessment:
    """One sentence and the verdicts of the gates it went through, in order."""
    source: str
    start: int
    end: int
    verdicts: list[Verdict]
    score: float | None = None
    index: int = -1             # the sentence's place among its article's sentences

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.source, self.start, self.end, self.score or 0.0)

    def to_dict(self) -> dict:
        return {"source": self.source, "start": self.start, "end": self.end,
                "score": None if self.score is None else round(self.score, 4),
                "gates": [v.to_dict() for v in self.verdicts], "decision": self.verdicts[-1].reason.value}


@dataclass
class Selection:
    chosen: list[Candidate]
    verdict: Verdict                          # the question gate, or why nothing was chosen
    assessed: list[Assessment] = field(default_factory=list)

    def explanation(self, decision: Verdict) -> dict:
        """The final decision and, for the chosen sentences and then the best-scoring others, every gate."""
        if not self.verdict.passed:
            decision = self.verdict
        ranked = sorted(self.assessed, key=lambda a: (a.verdicts[-1].reason != Reason.CHOSEN,
                                                      -(a.score if a.score is not None else float("-inf"))))
        return {"decision": decision.to_dict(), "sentences_assessed": len(self.assessed),
                "candidates": [a.to_dict() for a in ranked[:EXPLAINED]]}


class QuoteSelector:
    def __init__(self, snapshot: Snapshot, policy: AnswerPolicy):
        self.snapshot = snapshot
        self.policy = policy
        self.features = FeatureExtractor(snapshot)

    def rows(self, question: Question, vector: np.ndarray, hits: list[Hit]) -> list[SentenceRow]:
        """Every sentence of the retrieved chunks, described for the scorer."""
        return self.features.rows(question, vector, hits)

    def assess(self, question: Question, vector: np.ndarray, hits: list[Hit], policy: AnswerPolicy) -> list[Assessment]:
        """Every sentence of the retrieved chunks with its probability and the model gate's verdict."""
        rows = self.rows(question, vector, hits)
        if not rows:
            return []
        probabilities = policy.scorer.probabilities(np.stack([r.values for r in rows]))
        best = float(probabilities.max())
        found = []
        for row, p in zip(rows, probabilities):
            verdict = policy.sentence(float(p), policy.scorer.contributions(row.values), best)
            start = self._extend_back(question, row) if verdict.passed else row.start
            found.append(Assessment(row.source, start, row.end, [verdict], float(p), row.index))
        return found

    def _extend_back(self, question: Question, row: SentenceRow) -> int:
        """Start the quote one sentence earlier when that sentence names who is speaking."""
        text = self.snapshot.articles[row.source].text
        sentences = self.snapshot.sentences(row.source)
        i = row.index
        missing = [c for c in question.named if not c.found_in(set(terms(text[row.start:row.end])))]
        if missing and i > 0:
            ps, pe = sentences[i - 1]
            if self._one_paragraph(row.source, pe, row.start) and row.end - ps <= self.policy.max_quote_chars:
                previous = set(terms(text[ps:pe]))
                if any(c.found_in(previous) for c in missing):
                    return ps
        return row.start

    def _one_paragraph(self, source: str, start: int, end: int) -> bool:
        """Whether the text between two sentences of ``source`` (``start:end``) breaks no line."""
        return "\n" not in self.snapshot.articles[source].text[start:end]

    def _join_neighbour(self, item: Assessment, assessed: list[Assessment], chosen: list[Candidate],
                        policy: AnswerPolicy) -> None:
        """Widen ``item`` over the better-scoring sentence next to it when the policy joins them."""
        taken = [item.candidate, *chosen]
        neighbours = [a for a in assessed if a.source == item.source and abs(a.index - item.index) == 1
                      and a.score is not None and not any(c.overlaps(a.source, a.start, a.end) for c in taken)]
        if not neighbours:
            return
        best = max(neighbours, key=lambda a: a.score)
        start, end = min(item.start, best.start), max(item.end, best.end)
        gap = (min(item.end, best.end), max(item.start, best.start))
        verdict = policy.join(item.score, best.score, end - start, self._one_paragraph(item.source, *gap))
        item.verdicts.append(verdict)
        if verdict.passed:
            item.start, item.end = start, end

    def select(self, question: Question, vector: np.ndarray, hits: list[Hit],
               policy: AnswerPolicy | None = None) -> Selection:
        """The best quote, then the others the policy lets join it, best first."""
        policy = policy or self.policy
        verdict = policy.question(question)
        if not verdict.passed:
            return Selection([], verdict)
        assessed = self.assess(question, vector, hits, policy)
        chosen: list[Candidate] = []
        for item in sorted((a for a in assessed if a.passed), key=lambda a: -a.score):
            self._join_neighbour(item, assessed, chosen, policy)
            choice = policy.choice(item.score, item.source, item.start, item.end, chosen)
            item.verdicts.append(choice)
            if choice.passed:
                chosen.append(item.candidate)
        if not chosen:
            verdict = Verdict(False, Reason.NO_CANDIDATE, f"none of {len(assessed)} sentences passed every gate", "selection")
        return Selection(chosen, verdict, assessed)
