"""The answer chain: question -> retrieve -> select quotes -> compose, as a LangChain runnable."""
from __future__ import annotations

from dataclasses import replace

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from prompts import LLM_UNAVAILABLE, fill
from retrieval.answer.compose import compose, compose_generative, compose_timeline, to_quotes
from retrieval.answer.generative import generate_claims
from retrieval.answer.select import QuoteSelector
from retrieval.errors import LLMUnavailable
from retrieval.index.snapshot import Snapshot
from retrieval.present.attribution import attribution
from retrieval.search.hybrid import HybridRetriever
from retrieval.types import Answer

TIMELINE_QUOTES = 8
TIMELINE_NEAR_BEST = 0.6


def document_attribution(doc: Document) -> str:
    m = doc.metadata
    return attribution(m.get("outlet"), m.get("title"), m["source"], m.get("published"))


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
