"""The answer chain: question -> retrieve -> select quotes -> compose, as a LangChain runnable.

``Answerer`` holds the steps once; the runnable (``build_chain``) and the streaming path of
``Assistant.stream`` both go through it, so the extractive fallback after a model failure is
written once."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from prompts import LLM_UNAVAILABLE, fill
from retrieval.answer.compose import compose, compose_generative, compose_timeline, to_quotes
from retrieval.answer.generative import ask_model, stream_model, verify_reply
from retrieval.answer.policy import AnswerPolicy
from retrieval.answer.select import QuoteSelector, Selection
from retrieval.errors import LLMUnavailable
from retrieval.index.snapshot import Snapshot
from retrieval.search.hybrid import HybridRetriever
from retrieval.text.question import Question
from retrieval.types import Answer, Hit


class Answerer:
    """Retrieves passages for a question and answers from them: extractive, timeline, or
    phrased by ``llm`` with its quotes verified (the extractive answer, with a notice, when the
    model cannot be used)."""

    def __init__(self, retriever: HybridRetriever, snapshot: Snapshot, selector: QuoteSelector,
                 llm: BaseChatModel | None = None, llm_name: str = ""):
        self.retriever = retriever
        self.snapshot = snapshot
        self.selector = selector
        self.llm = llm
        self.llm_name = llm_name or (type(llm).__name__ if llm is not None else "")

    def retrieve(self, question: str, sources: frozenset[str] | None = None, mode: str = "answer") -> list[Hit]:
        # The timeline casts a wider net: every source that speaks to the point.
        k = 2 * self.retriever.k if mode == "timeline" else None
        return self.retriever.hits(self.retriever.analyze(question), k=k, sources=sources)

    def answer(self, question: str, hits: list[Hit], mode: str = "answer", explain: bool = False) -> Answer:
        if mode == "timeline":
            return self.timeline(question, hits, explain)
        if self.llm is None:
            return self.extractive(question, hits, explain)
        try:
            reply = ask_model(self.llm, question, hits)
        except LLMUnavailable as err:
            return self.fallback(question, hits, err, explain)
        return self._explained(compose_generative(question, *verify_reply(reply, hits), self.snapshot), None, explain)

    def stream(self, question: str, sources: frozenset[str] | None = None,
               explain: bool = False) -> Iterator[str | Answer]:
        """With a model, the claims written so far as text while it writes (never a quote: quotes
        are verified once the reply is whole); the last item is the Answer."""
        hits = self.retrieve(question, sources)
        if self.llm is None:
            yield self.extractive(question, hits, explain)
            return
        reply = None
        try:
            for reply in stream_model(self.llm, question, hits):
                yield reply.draft()
        except LLMUnavailable as err:   # the server went away: the extractive answer, with a notice
            yield self.fallback(question, hits, err, explain)
            return
        message = reply.message if reply else None
        yield self._explained(compose_generative(question, *verify_reply(message, hits), self.snapshot), None, explain)

    def extractive(self, question: str, hits: list[Hit], explain: bool = False) -> Answer:
        selection = self._select(self.retriever.analyze(question), hits, self.selector.policy)
        return self._explained(compose(question, to_quotes(selection.chosen, self.snapshot)), selection, explain)

    def timeline(self, question: str, hits: list[Hit], explain: bool = False) -> Answer:
        parsed = self.retriever.analyze(question)
        selection = self._select(parsed, hits, self.selector.policy.for_timeline())
        action = {t for c in parsed.concepts if not c.named for t in c.all_terms}
        answer = compose_timeline(question, to_quotes(selection.chosen, self.snapshot), action)
        return self._explained(answer, selection, explain)

    def _select(self, question: Question, hits: list[Hit], policy: AnswerPolicy) -> Selection:
        vector = self.retriever.embedder.query_vector(question.dense_text or question.text)
        return self.selector.select(question, vector, hits, policy)

    def fallback(self, question: str, hits: list[Hit], err: Exception, explain: bool = False) -> Answer:
        """The extractive answer, saying that the language model could not be used."""
        answer = self.extractive(question, hits, explain)
        return replace(answer, notice=fill(LLM_UNAVAILABLE, llm=self.llm_name, error=str(err)))

    @staticmethod
    def _explained(answer: Answer, selection: Selection | None, explain: bool) -> Answer:
        if not explain:
            return answer
        decision = AnswerPolicy.decision(len(answer.quotes), generative=selection is None)
        explanation = selection.explanation(decision) if selection else {"decision": decision.to_dict(), "candidates": []}
        return replace(answer, explanation=explanation)


def build_chain(retriever: HybridRetriever, snapshot: Snapshot, selector: QuoteSelector,
                llm: BaseChatModel | None = None, llm_name: str = "") -> Runnable:
    """question -> {question, hits} -> verified quotes -> Answer. The input is the question, or
    ``{"question": ..., "sources": frozenset of file names, "mode": ..., "explain": bool}``."""
    return answerer_chain(Answerer(retriever, snapshot, selector, llm, llm_name))


def answerer_chain(answerer: Answerer) -> Runnable:
    """``answerer`` as a LangChain runnable: retrieve, then answer."""
    def retrieve(inputs: dict) -> list[Hit]:
        return answerer.retrieve(inputs["question"], inputs.get("sources"), inputs.get("mode", "answer"))

    def answer(inputs: dict) -> Answer:
        return answerer.answer(inputs["question"], inputs["hits"], inputs.get("mode", "answer"),
                               bool(inputs.get("explain")))

    as_inputs = RunnableLambda(lambda x: x if isinstance(x, dict) else {"question": x})
    return as_inputs | RunnablePassthrough.assign(hits=RunnableLambda(retrieve)) | RunnableLambda(answer)
