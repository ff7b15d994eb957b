"""The answer chain (question -> retrieve -> select quotes -> compose) and its result types."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel, RunnablePassthrough

from prompts import (ABSTENTION, ATTRIBUTION, NESTED_QUOTE_MARKS, QUOTE_MARKS, QUOTE_NEW_SOURCE, QUOTE_SAME_SOURCE,
                     UNDATED, fill)

from .errors import InvalidQuestion
from .quotes import Candidate, QuoteSelector, verify_quote
from .snapshot import Snapshot

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Quote:
    text: str
    source: str
    title: str | None
    outlet: str | None
    published: str | None
    url: str | None
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    quotes: list[Quote] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


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


def attribution(quote: Quote) -> str:
    label = quote.outlet or (f"“{quote.title}”" if quote.title else quote.source)
    return fill(ATTRIBUTION, label=label, date=quote.published or UNDATED)


def compose(question: str, quotes: list[Quote]) -> Answer:
    """Weave verified quotes into a short answer, or abstain when there are none."""
    if not quotes:
        return Answer(question, ABSTENTION, True, [])
    parts = []
    for n, quote in enumerate(quotes, start=1):
        opening, closing = NESTED_QUOTE_MARKS if re.search(r'[“”"]', quote.text) else QUOTE_MARKS
        marks = {"open": opening, "close": closing, "quote": quote.text, "n": n}
        if n > 1 and quote.source == quotes[n - 2].source:
            parts.append(fill(QUOTE_SAME_SOURCE, **marks))
        else:
            parts.append(fill(QUOTE_NEW_SOURCE, attribution=attribution(quote), **marks))
    return Answer(question, "\n".join(parts), False, quotes)


def to_quotes(candidates: list[Candidate], snapshot: Snapshot) -> list[Quote]:
    """Quotes cut from the articles at the candidates' offsets, each checked verbatim; same-article
    quotes are put in reading order."""
    order = {c.source: i for i, c in reversed(list(enumerate(candidates)))}
    quotes = []
    for cand in sorted(candidates, key=lambda c: (order[c.source], c.start)):
        record = snapshot.articles[cand.source]
        text = record.text[cand.start:cand.end]
        if not verify_quote(record.text, cand.start, cand.end, text):
            continue
        meta = record.meta
        quotes.append(Quote(text, cand.source, meta.title, meta.outlet, meta.published, meta.url,
                            cand.start, cand.end, round(cand.score, 4)))
    return quotes


def build_chain(retriever: BaseRetriever, snapshot: Snapshot, selector: QuoteSelector) -> Runnable:
    """question -> {question, documents} -> verified quotes -> Answer."""
    def select(inputs: dict) -> dict:
        question: str = inputs["question"]
        documents: list[Document] = inputs["documents"]
        chosen = selector.select(snapshot.analyze(question), documents)
        return {"question": question, "quotes": to_quotes(chosen, snapshot)}

    return (RunnableParallel(question=RunnablePassthrough(), documents=retriever)
            | RunnableLambda(select)
            | RunnableLambda(lambda x: compose(x["question"], x["quotes"])))
