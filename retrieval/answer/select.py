"""Choosing the sentences that answer a question: every sentence of the retrieved chunks is
described by its features (answer shape, coverage of the question, meaning) and put through
the gates of the ``AnswerPolicy``; the ones that pass are ranked and chosen."""
from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.answer.policy import AnswerPolicy, Reason, SentenceFeatures, Verdict
from retrieval.index.snapshot import Snapshot
from retrieval.text.normalize import terms
from retrieval.text.question import Concept, Question
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

    def weight(self, concept: Concept) -> float:
        """Rarer terms weigh more; names count more (``policy.name_weight``)."""
        first = concept.alternatives[0]
        rarity = max(self.snapshot.lexical.idf(t) for slot in first for t in slot)
        return rarity * (self.policy.name_weight if concept.named else 1.0)

    def assess(self, question: Question, hits: list[Hit], policy: AnswerPolicy, explain: bool = False) -> list[Assessment]:
        """Every sentence of the retrieved chunks with its verdicts; without ``explain``, the
        sentences of an article that fails the article gate are left out."""
        found = []
        for hit in hits:
            source = hit.chunk.source
            article = policy.article(question, self.snapshot.article_terms(source))
            if not article.passed and not explain:
                continue   # the article never mentions someone the question is about
            sentences = self.snapshot.sentences(source)
            for i, (s, e) in enumerate(sentences):
                if hit.chunk.start <= s and e <= hit.chunk.end:
                    found.append(self._assess_sentence(question, hit, sentences, i, policy, article))
        return found

    def _assess_sentence(self, question: Question, hit: Hit, sentences: list[tuple[int, int]], i: int,
                         policy: AnswerPolicy, article: Verdict) -> Assessment:
        text = self.snapshot.articles[hit.chunk.source].text
        s, e = sentences[i]
        sentence_terms = set(terms(text[s:e]))
        context = sentences[max(i - policy.context_before, 0):i + 1 + policy.context_after]
        context_terms = set(terms(" ".join(text[a:b] for a, b in context)))
        weights = [self.weight(c) for c in question.concepts]
        coverage = sum(w * policy.concept_credit(c.found_in(sentence_terms), c.found_in(context_terms))
                       for c, w in zip(question.concepts, weights)) / sum(weights)
        features = SentenceFeatures(hit.chunk.source, s, e, policy.answer_shape(question, text[s:e]), coverage, hit.dense)
        score = policy.score(features)
        if not article.passed:
            return Assessment(hit.chunk.source, s, e, [article], score)
        verdicts = policy.sentence(features)
        start = self._extend_back(question, text, sentences, i, sentence_terms) if verdicts[-1].passed else s
        return Assessment(hit.chunk.source, start, e, verdicts, score)

    def _extend_back(self, question, text, sentences, i, sentence_terms) -> int:
        """Start the quote one sentence earlier when that sentence names who is speaking."""
        s, e = sentences[i]
        missing = [c for c in question.named if not c.found_in(sentence_terms)]
        if missing and i > 0:
            ps, _ = sentences[i - 1]
            between = text[sentences[i - 1][1]:s]
            if "\n" not in between and e - ps <= self.policy.max_quote_chars:
                previous = set(terms(text[ps:sentences[i - 1][1]]))
                if any(c.found_in(previous) for c in missing):
                    return ps
        return s

    def select(self, question: Question, hits: list[Hit], policy: AnswerPolicy | None = None,
               explain: bool = False) -> Selection:
        """The best quote, then the others the policy lets join it, best first."""
        policy = policy or self.policy
        verdict = policy.question(question)
        if not verdict.passed:
            return Selection([], verdict)
        assessed = self.assess(question, hits, policy, explain)
        chosen: list[Candidate] = []
        for item in sorted((a for a in assessed if a.passed), key=lambda a: -a.score):
            choice = policy.choice(item.score, item.source, item.start, item.end, chosen)
            item.verdicts.append(choice)
            if choice.passed:
                chosen.append(item.candidate)
        if not chosen:
            verdict = Verdict(False, Reason.NO_CANDIDATE, f"none of {len(assessed)} sentences passed every gate", "selection")
        return Selection(chosen, verdict, assessed)
