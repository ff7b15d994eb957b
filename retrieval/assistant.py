"""Wiring: settings -> index, model, snapshot, retriever, chain. ``ask`` is the programmatic API."""
from __future__ import annotations

import threading
from dataclasses import replace

from .answer import Answer, build_chain, clean_question
from .errors import InvalidQuestion
from langchain_core.language_models import BaseChatModel

from prompts import UNDATED_LEFT_OUT, fill

from .embedding import Embedder
from .filters import Filters, resolve
from .followup import condense
from .generative import make_llm
from .ingest import IngestReport, Progress, ingest
from .quotes import QuoteSelector
from .search import HybridRetriever
from .settings import Settings
from .snapshot import Snapshot
from .store import Index, open_client


class Assistant:
    """Holds the loaded model and index; safe to share between threads."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 llm: BaseChatModel | None = None):
        """``llm``: a LangChain chat model for generative answers; by default the one named by
        ``settings.llm`` (``QA_LLM``), else none: answers are extractive."""
        self.settings = settings or Settings()
        self.llm = llm or (make_llm(self.settings.llm, self.settings.llm_base_url, self.settings.llm_timeout)
                           if self.settings.llm else None)
        self.index = Index(open_client(self.settings), self.settings.collection)
        self.embedder = embedder or Embedder(self.settings.embed_model, self.settings.embed_batch_size)
        self._lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        s = self.settings
        self.snapshot = Snapshot.load(self.index, s.aliases_file)
        self.retriever = HybridRetriever(index=self.index, snapshot=self.snapshot, embedder=self.embedder,
                                         candidates=s.candidates, k=s.retrieve_k)
        self.selector = QuoteSelector(self.snapshot, s.min_coverage, s.min_score, s.max_quotes)
        self.chain = build_chain(self.retriever, self.snapshot, self.selector, self.llm, s.llm or "")

    def ingest(self, paths=None, progress: Progress | None = None, wait: float = 0) -> IngestReport:
        with self._lock:
            report = ingest(self.settings, self.index, self.embedder, paths, progress, wait=wait)
            if report.changed or not self.snapshot.articles:
                self._reload()
            return report

    def ask(self, question: str, history: list | None = None, filters: Filters | None = None,
            mode: str = "answer") -> Answer:
        """Answer ``question``; ``history`` (earlier questions, ``(question, answer)`` pairs or chat
        messages) lets a follow-up refer back ("What did he say about the US?"); ``filters``
        narrows the search to some articles; ``mode="timeline"`` orders the supporting quotes by
        date and flags where sources disagree."""
        if mode not in MODES:
            raise InvalidQuestion(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
        question = clean_question(question, self.settings.max_question_chars)
        standalone = condense(question, history, self.snapshot.analyze, self.llm)
        scope = resolve(filters, self.snapshot.articles) if filters and filters.active else None
        answer = self.chain.invoke({"question": standalone, "sources": scope.sources if scope else None, "mode": mode})
        if standalone != question:
            answer = replace(answer, question=question, standalone_question=standalone)
        if scope and scope.undated:
            undated = fill(UNDATED_LEFT_OUT, n=len(scope.undated), sources=", ".join(scope.undated))
            answer = replace(answer, notice=" ".join(filter(None, [answer.notice, undated])))
        return answer


MODES = ("answer", "timeline")
STARTUP_INGEST_WAIT = 600.0   # seconds
_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The process-wide assistant on default settings, built (and the corpus ingested) once."""
    global _default
    with _default_lock:
        if _default is None:
            assistant = Assistant()
            # Another process may be ingesting the same index: wait for it rather than fail.
            assistant.ingest(wait=STARTUP_INGEST_WAIT)
            _default = assistant
        return _default


def ask(question: str, history: list | None = None, filters: Filters | None = None, mode: str = "answer") -> Answer:
    """Answer ``question`` from the articles in the corpus folder, with verified quotes."""
    return default_assistant().ask(question, history, filters, mode)
