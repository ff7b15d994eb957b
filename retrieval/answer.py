"""The answer chain (question -> retrieve -> select quotes -> compose) and its result types."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from prompts import (ABSTENTION, ATTRIBUTION, DISAGREEMENT_ITEM, DISAGREEMENTS_HEADER, LLM_UNAVAILABLE,
                     NESTED_QUOTE_MARKS, NO_DISAGREEMENT, QUOTE_MARKS, QUOTE_NEW_SOURCE, QUOTE_SAME_SOURCE,
                     TIMELINE_ENTRY, UNDATED, fill)

from .errors import InvalidQuestion
from .generative import Claim, LLMUnavailable, QuoteChecks, generate_claims, unsupported
from .quotes import Candidate, QuoteSelector, verify_quote
from .search import HybridRetriever
from .snapshot import Snapshot

TIMELINE_QUOTES = 8
TIMELINE_NEAR_BEST = 0.6
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
    # Generative mode only: how many quotes the model emitted / were verified / repaired / dropped.
    quote_checks: dict | None = None
    # Something the user should know about how the answer was made (e.g. the LLM was unreachable).
    notice: str | None = None
    # A follow-up question rewritten to stand alone (what was actually searched for).
    standalone_question: str | None = None
    # Timeline mode: where the quoted sources give different figures or opposite stances.
    disagreements: list[str] | None = None

    def to_dict(self) -> dict:
        """The JSON contract; the optional fields appear only when set."""
        data = asdict(self)
        for optional in ("quote_checks", "notice", "standalone_question", "disagreements"):
            if data[optional] is None:
                del data[optional]
        return data


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


def source_label(outlet: str | None, title: str | None, source: str) -> str:
    """The outlet, else the title, else the file name."""
    return outlet or (f"“{title}”" if title else source)


def attribution(outlet: str | None, title: str | None, source: str, published: str | None) -> str:
    return fill(ATTRIBUTION, label=source_label(outlet, title, source), date=published or UNDATED)


def quote_attribution(quote: Quote) -> str:
    return attribution(quote.outlet, quote.title, quote.source, quote.published)


def document_attribution(doc: Document) -> str:
    m = doc.metadata
    return attribution(m.get("outlet"), m.get("title"), m["source"], m.get("published"))


def compose(question: str, quotes: list[Quote]) -> Answer:
    """Weave verified quotes into a short answer, or abstain when there are none."""
    if not quotes:
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


def quote_marks(text: str) -> tuple[str, str]:
    return NESTED_QUOTE_MARKS if re.search(r'[“”"]', text) else QUOTE_MARKS


def compose_timeline(question: str, quotes: list[Quote], action_terms: set[str]) -> Answer:
    """The quotes by publication date, grouped by source, then the points where sources differ."""
    if not quotes:
        return Answer(question, ABSTENTION, True, [], disagreements=[])
    from .timeline import chronological, disagreements

    ordered = [q for _, _, group in chronological(quotes) for q in group]
    lines = []
    for n, quote in enumerate(ordered, start=1):
        opening, closing = quote_marks(quote.text)
        lines.append(fill(TIMELINE_ENTRY, date=quote.published or UNDATED,
                          label=source_label(quote.outlet, quote.title, quote.source),
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
    meta = record.meta
    return Quote(text, cand.source, meta.title, meta.outlet, meta.published, meta.url, cand.start, cand.end,
                 round(cand.score, 4))


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
    if not quotes:
        return Answer(question, ABSTENTION, True, [], quote_checks=report)
    return Answer(question, "\n".join(lines), False, quotes, quote_checks=report)


def extractive_answer(question: str, documents: list[Document], snapshot: Snapshot, selector: QuoteSelector) -> Answer:
    return compose(question, to_quotes(selector.select(snapshot.analyze(question), documents), snapshot))


def with_llm_notice(answer: Answer, llm_name: str, err: Exception) -> Answer:
    """The extractive answer, saying that the language model could not be used."""
    return replace(answer, notice=fill(LLM_UNAVAILABLE, llm=llm_name, error=str(err)))


def build_chain(retriever: HybridRetriever, snapshot: Snapshot, selector: QuoteSelector,
                llm: BaseChatModel | None = None, llm_name: str = "") -> Runnable:
    """question -> {question, documents} -> verified quotes -> Answer. The input is the question,
    or ``{"question": ..., "sources": frozenset of file names}`` to search some articles only.

    With ``llm`` the model phrases the claims and its quotes are verified; if the model cannot
    be used, the extractive answer is returned with a notice saying so."""
    def answer(inputs: dict) -> Answer:
        question: str = inputs["question"]
        documents: list[Document] = inputs["documents"]
        if inputs.get("mode") == "timeline":
            parsed = snapshot.analyze(question)
            chosen = selector.select(parsed, documents, max_quotes=TIMELINE_QUOTES, near_best=TIMELINE_NEAR_BEST)
            action = {t for c in parsed.concepts if not c.named for t in c.all_terms}
            return compose_timeline(question, to_quotes(chosen, snapshot), action)
        if llm is None:
            return extractive_answer(question, documents, snapshot, selector)
        try:
            claims, checks = generate_claims(llm, question, documents, document_attribution)
        except LLMUnavailable as err:
            fallback = extractive_answer(question, documents, snapshot, selector)
            return with_llm_notice(fallback, llm_name or type(llm).__name__, err)
        return compose_generative(question, claims, checks, snapshot)

    def retrieve(inputs: dict) -> list[Document]:
        # The timeline casts a wider net: every source that speaks to the point.
        k = 2 * retriever.k if inputs.get("mode") == "timeline" else None
        return retriever.documents(inputs["question"], inputs.get("sources"), k)

    as_inputs = RunnableLambda(lambda x: x if isinstance(x, dict) else {"question": x})
    return as_inputs | RunnablePassthrough.assign(documents=RunnableLambda(retrieve)) | RunnableLambda(answer)
