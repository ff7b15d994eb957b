"""Turning chosen spans into an answer: each quote cut from its article at its offsets and
checked verbatim, then woven into the answer text (extractive, timeline or generative)."""
from __future__ import annotations

import re

from prompts import (ABSTENTION, DISAGREEMENT_ITEM, DISAGREEMENTS_HEADER, MODEL_PHRASING, MODEL_QUOTE,
                     NESTED_QUOTE_MARKS, NO_DISAGREEMENT, QUOTE_MARKS, QUOTE_NEW_SOURCE, QUOTE_SAME_SOURCE,
                     TIMELINE_ENTRY, UNDATED, fill)
from retrieval.answer.generative import Claim, unsupported
from retrieval.answer.llm_reply import QuoteCounts
from retrieval.answer.policy import AnswerPolicy
from retrieval.answer.timeline import chronological, disagreements
from retrieval.index.snapshot import Snapshot
from retrieval.present.attribution import describe_article, quote_attribution, source_label
from retrieval.types import Answer, Candidate, Quote


def verify_quote(article: str, start: int, end: int, text: str) -> bool:
    """The only gate to the user: the quote is exactly the article's text at its offsets."""
    return 0 <= start < end <= len(article) and article[start:end] == text


def quote_marks(text: str) -> tuple[str, str]:
    return NESTED_QUOTE_MARKS if re.search(r'[“”"]', text) else QUOTE_MARKS


def compose(question: str, quotes: list[Quote]) -> Answer:
    """Weave verified quotes into a short answer, or abstain when there are none."""
    if not AnswerPolicy.decision(len(quotes)).passed:
        return Answer(question, ABSTENTION, True, [])
    parts = []
    for n, quote in enumerate(quotes, start=1):
        opening, closing = quote_marks(quote.text)
        marks = {"open": opening, "close": closing, "quote": quote.text, "n": n}
        if n > 1 and quote.source == quotes[n - 2].source:
            parts.append(fill(QUOTE_SAME_SOURCE, **marks))
        else:
            parts.append(fill(QUOTE_NEW_SOURCE, attribution=quote_attribution(quote), **marks))
    return Answer(question, "\n".join(parts), False, quotes)


def compose_timeline(question: str, quotes: list[Quote], action_terms: set[str]) -> Answer:
    """The quotes by publication date, grouped by source, then the points where sources differ."""
    if not AnswerPolicy.decision(len(quotes)).passed:
        return Answer(question, ABSTENTION, True, [], disagreements=[])
    ordered = [q for _, _, group in chronological(quotes) for q in group]
    lines = []
    for n, quote in enumerate(ordered, start=1):
        opening, closing = quote_marks(quote.text)
        lines.append(fill(TIMELINE_ENTRY, date=quote.published or UNDATED,
                          label=source_label(quote.outlet, quote.title, quote.source, quote.label),
                          open=opening, quote=quote.text, close=closing, n=n))
    found = [d.describe() for d in disagreements(ordered, action_terms)]
    lines += ["", DISAGREEMENTS_HEADER, *(fill(DISAGREEMENT_ITEM, point=d) for d in found)] if found else \
        ["", NO_DISAGREEMENT]
    return Answer(question, "\n".join(lines), False, ordered, disagreements=found)


def quote_at(cand: Candidate, snapshot: Snapshot) -> Quote | None:
    """The quote cut from the article at the candidate's offsets, if it checks out verbatim."""
    record = snapshot.articles.get(cand.source)
    if record is None:
        return None
    text = record.text[cand.start:cand.end]
    if not verify_quote(record.text, cand.start, cand.end, text):
        return None
    meta, label = record.meta, describe_article(record)
    return Quote(text, cand.source, meta.title, meta.outlet, meta.published, meta.url, cand.start, cand.end,
                 round(cand.score, 4), label.name, meta.author, label.mentions_until)


def to_quotes(candidates: list[Candidate], snapshot: Snapshot) -> list[Quote]:
    """Verified quotes of the candidates; same-article quotes in reading order."""
    order = {c.source: i for i, c in reversed(list(enumerate(candidates)))}
    ranked = sorted(candidates, key=lambda c: (order[c.source], c.start))
    return [q for q in (quote_at(c, snapshot) for c in ranked) if q is not None]


def compose_generative(question: str, claims: list[Claim], counts: QuoteCounts, snapshot: Snapshot) -> Answer:
    """Each claim in the model's words, set apart from its verified quotes (numbered [n]) on the
    lines under it; a claim none of whose quotes is verified is marked unsupported; with no
    supported claim, the policy's abstention."""
    quotes: list[Quote] = []
    lines = []
    for claim in claims:
        verified = [q for q in (quote_at(c, snapshot) for c in claim.candidates) if q is not None]
        if not verified:
            if claim.text:
                lines.append(fill(MODEL_PHRASING, claim=unsupported(claim.text)))
            continue
        if claim.text:
            lines.append(fill(MODEL_PHRASING, claim=claim.text))
        for quote in verified:
            spans = [(q.source, q.start, q.end) for q in quotes]
            if (quote.source, quote.start, quote.end) not in spans:
                quotes.append(quote)
                spans.append((quote.source, quote.start, quote.end))
            opening, closing = quote_marks(quote.text)
            n = spans.index((quote.source, quote.start, quote.end)) + 1
            lines.append(fill(MODEL_QUOTE, open=opening, quote=quote.text, close=closing, n=n))
    report = counts.to_dict()
    if not AnswerPolicy.decision(len(quotes), generative=True).passed:
        return Answer(question, ABSTENTION, True, [], quote_checks=report)
    return Answer(question, "\n".join(lines), False, quotes, quote_checks=report)
