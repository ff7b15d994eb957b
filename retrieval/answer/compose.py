"""Turning chosen spans into an answer: each quote cut from its article at its offsets and
checked verbatim, then woven into the answer text (extractive, timeline or generative)."""
from __future__ import annotations

import re
from dataclasses import asdict

from prompts import (ABSTENTION, DISAGREEMENT_ITEM, DISAGREEMENTS_HEADER, NESTED_QUOTE_MARKS, NO_DISAGREEMENT,
                     QUOTE_MARKS, QUOTE_NEW_SOURCE, QUOTE_SAME_SOURCE, TIMELINE_ENTRY, UNDATED, fill)
from retrieval.answer.generative import Claim, QuoteChecks, unsupported
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


def compose_generative(question: str, claims: list[Claim], checks: QuoteChecks, snapshot: Snapshot) -> Answer:
    """The model's claims, each followed by the number of its verified quote, or marked unsupported."""
    quotes: list[Quote] = []
    lines = []
    for claim in claims:
        quote = quote_at(claim.candidate, snapshot) if claim.candidate else None
        if quote is None:
            lines.append(unsupported(claim.text))
            continue
        if quote not in quotes:
            quotes.append(quote)
        lines.append(f"{claim.text} [{quotes.index(quote) + 1}]")
    report = asdict(checks)
    if not AnswerPolicy.decision(len(quotes), generative=True).passed:
        return Answer(question, ABSTENTION, True, [], quote_checks=report)
    return Answer(question, "\n".join(lines), False, quotes, quote_checks=report)
