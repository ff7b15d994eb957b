"""Wiring: settings -> index, model, snapshot, retriever, chain. ``ask`` is the programmatic API."""
from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Iterator

from langchain_core.language_models import BaseChatModel

from prompts import LOADING, UNDATED_LEFT_OUT, fill

from retrieval.answer.chain import Answerer, answerer_chain
from retrieval.answer.generative import make_llm
from retrieval.answer.features import SentenceRow
from retrieval.answer.policy import AnswerPolicy
from retrieval.answer.scorer import AnswerScorer
from retrieval.answer.select import QuoteSelector
from retrieval.errors import AssistantError, InvalidMetadata, InvalidQuestion
from retrieval.index.embedding import Embedder
from retrieval.index.saved import SavedCopy, snapshot_folder
from retrieval.index.snapshot import Snapshot
from retrieval.index.store import Index, collection_name, open_client
from retrieval.ingest.cleaning import label_lines
from retrieval.ingest.metadata import merge, meta_from_text, write_sidecar
from retrieval.ingest.pipeline import IngestReport, Progress, ingest
from retrieval.search.dense import DenseSearch
from retrieval.search.filters import Filters, resolve
from retrieval.search.hybrid import HybridRetriever
from retrieval.settings import Settings
from retrieval.text.followup import condense
from retrieval.text.aliases import AliasTable
from retrieval.text.entities import find_entities
from retrieval.text.question import QuestionAnalyzer, clean_question
from retrieval.types import Answer, ArticleMeta


def corpus_analyzer(snapshot: Snapshot, aliases: AliasTable) -> QuestionAnalyzer:
    """The question analyzer of a corpus: the alias table plus the acronyms its articles define and
    the initials of its names, the indexed vocabulary and every other term the articles know."""
    known, acronyms, initialisms = snapshot.corpus_terms()
    aliases.learn_acronyms(acronyms)
    aliases.learn_initialisms(initialisms)
    return QuestionAnalyzer(aliases, snapshot.lexical.vocabulary, known)


@dataclass(frozen=True)
class _Loaded:
    """Everything built from one snapshot, swapped as one, so a question never mixes two snapshots."""
    snapshot: Snapshot
    analyzer: QuestionAnalyzer
    analyze: Callable
    retriever: HybridRetriever
    selector: QuoteSelector
    answerer: Answerer
    chain: object


REFRESH_SECONDS = 1.0   # how often a question checks the index for other instances' writes


class Assistant:
    """Holds the loaded model and index; safe to share between threads. Several assistants (processes,
    machines) may share one Chroma server: each notices the others' writes within ``REFRESH_SECONDS``
    of its next question and applies them without reloading (``refresh``)."""

    snapshot = property(lambda self: self._loaded.snapshot)
    analyzer = property(lambda self: self._loaded.analyzer)
    analyze = property(lambda self: self._loaded.analyze)
    retriever = property(lambda self: self._loaded.retriever)
    selector = property(lambda self: self._loaded.selector)
    answerer = property(lambda self: self._loaded.answerer)
    chain = property(lambda self: self._loaded.chain)

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 llm: BaseChatModel | None = None, scorer: AnswerScorer | None = None):
        """``llm``: a LangChain chat model for generative answers; by default the one named by
        ``settings.llm`` (``QA_LLM``), else none: answers are extractive. ``scorer``: the answer
        scorer; by default the one in ``settings.answer_model``."""
        self.settings = settings or Settings()
        self.scorer = scorer or AnswerScorer.load(self.settings.answer_model)
        s = self.settings
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        self.llm = llm or (make_llm(s.llm, s.llm_base_url, s.llm_timeout, key) if s.llm else None)
        self.embedder = embedder or Embedder.from_settings(self.settings)
        self.index = Index(open_client(self.settings), collection_name(self.settings.collection, self.embedder.encoder),
                           self.embedder.identity, s.hnsw_ef_search)
        graph = s.dense_search == "graph" or (s.dense_search == "auto" and bool(s.chroma_host))
        self._dense = DenseSearch(self.index, graph)
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        place = f"{s.chroma_host}-{s.chroma_port}-" if s.chroma_host else ""
        self._saved = SavedCopy(self.index, snapshot_folder(s.index_dir, place + self.index.chunks.name))
        self._install(self._saved.open())

    def _install(self, snapshot: Snapshot, changed: set[str] | None = None) -> None:
        """Build the question analyzer, retriever and chain on ``snapshot``; with ``changed`` (the sources
        that differ from the current snapshot), the analyzer learns only those articles' terms."""
        s = self.settings
        if changed is None:
            self._aliases = AliasTable.load(s.aliases_file)
            analyzer = corpus_analyzer(snapshot, self._aliases)
        else:
            self._aliases.learn_acronyms(snapshot.acronym_definitions(changed))
            self._aliases.learn_initialisms(snapshot.initialisms(changed))
            analyzer = QuestionAnalyzer(self._aliases, snapshot.lexical.vocabulary,
                                        self.analyzer.known | snapshot.known_terms(changed))
        analyze = lru_cache(maxsize=1024)(analyzer.analyze)
        retriever = HybridRetriever(snapshot=snapshot, embedder=self.embedder, dense=self._dense, analyze=analyze,
                                    candidates=s.candidates, k=s.retrieve_k)
        selector = QuoteSelector(snapshot, AnswerPolicy.from_settings(s, self.scorer))
        answerer = Answerer(retriever, snapshot, selector, self.llm, s.llm or "")
        self._loaded = _Loaded(snapshot, analyzer, analyze, retriever, selector, answerer, answerer_chain(answerer))

    def refresh(self, force: bool = False) -> bool:
        """Apply what other instances wrote since the last check (at most one check a ``REFRESH_SECONDS``
        unless ``force``; one cheap call when nothing changed). Returns whether anything was applied.
        A check already under way (or an ingest here) is not waited for."""
        if not force and time.monotonic() - self._checked < REFRESH_SECONDS:
            return False
        if not self._lock.acquire(blocking=force):
            return False
        try:
            self._checked = time.monotonic()
            return self._apply(self.index.log.changed())
        finally:
            self._lock.release()

    def _apply(self, sources: set[str] | None) -> bool:
        """Bring the snapshot up to date for ``sources`` (``None``: every article), reading only the
        articles whose committed version differs from the snapshot's."""
        snapshot = self.snapshot
        stale = self._saved.stale(snapshot, sources)
        if not stale:
            return False
        self._install(self._saved.changed(snapshot, stale), stale)
        return True

    def ingest(self, paths=None, progress: Progress | None = None, wait: float = 0, replace: bool = False) -> IngestReport:
        """Sync the index with the corpus folder, or bring ``paths`` (files, folders) into it; an
        article of the same name is kept (the newcomer renamed) unless ``replace``."""
        with self._lock:
            report = ingest(self.settings, self.index, self.embedder, paths, progress, wait=wait, replace=replace)
            if report.changed:
                self._apply(set(report.added + report.updated + report.removed))
            return report

    def warm_ingest(self) -> None:
        """Load now what the first ingest of this process would otherwise wait for: spaCy's NER
        pipeline and the Chroma collection's vector index (about 2 s at 100k chunks)."""
        find_entities(["Warm-up."])
        self.index.warm()

    def update_meta(self, source: str, changes: dict) -> ArticleMeta:
        """Correct or add an article's metadata (title, outlet, published, url, author; an empty value
        removes a correction): saved to its ``.meta.json`` sidecar and applied at once to filters,
        timeline and citations, without re-embedding. Returns the article's metadata now."""
        with self._lock:
            record = self.snapshot.articles.get(source)
            if record is None:
                raise InvalidMetadata(f"No article is called {source}.")
            sidecar = write_sidecar(self.settings.corpus_dir / source, changes)
            meta = merge(meta_from_text(record.text, label_lines(record.text)), sidecar)
            self.index.update_meta(source, meta)
            self.snapshot.articles[source] = replace(record, meta=meta)
            return meta

    def candidate_rows(self, question: str) -> list[SentenceRow]:
        """What the answer scorer sees for a standalone question: every sentence of the retrieved
        chunks with its features (``python -m training`` learns from these)."""
        parsed = self.analyze(question)
        vector = self.embedder.query_vector(parsed.dense_text or parsed.text)
        return self.selector.rows(parsed, vector, self.retriever.hits(parsed))

    def ask(self, question: str, history: list | None = None, filters: Filters | None = None,
            mode: str = "answer", explain: bool = False) -> Answer:
        """Answer ``question``; ``history`` (earlier questions, ``(question, answer)`` pairs or chat
        messages) lets a follow-up refer back ("What did he say about the US?"); ``filters``
        narrows the search to some articles; ``mode="timeline"`` orders the supporting quotes by
        date and flags where sources disagree; ``explain=True`` adds ``explanation``: the answer
        policy's gates for the top candidate sentences and the final decision."""
        question, standalone, scope = self._prepare(question, history, filters, mode)
        answer = self.chain.invoke({"question": standalone, "sources": scope.sources if scope else None, "mode": mode,
                                    "explain": explain})
        return self._finish(answer, question, standalone, scope, filters)

    def stream(self, question: str, history: list | None = None, filters: Filters | None = None,
               explain: bool = False) -> Iterator[str | Answer]:
        """Like ``ask``, but with a language model the claims written so far are yielded as text
        while it writes; the last item is the ``Answer``, its quotes verified."""
        question, standalone, scope = self._prepare(question, history, filters, "answer")
        for item in self.answerer.stream(standalone, scope.sources if scope else None, explain):
            yield item if isinstance(item, str) else self._finish(item, question, standalone, scope, filters)

    def _prepare(self, question: str, history: list | None, filters: Filters | None, mode: str):
        """The cleaned question, its standalone form, and the articles the filters allow."""
        if mode not in MODES:
            raise InvalidQuestion(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
        question = clean_question(question, self.settings.max_question_chars)
        self.refresh()
        standalone = condense(question, history, self.analyze, self.llm)
        scope = resolve(filters, self.snapshot.articles) if filters and filters.active else None
        return question, standalone, scope

    @staticmethod
    def _finish(answer: Answer, question: str, standalone: str, scope, filters: Filters | None = None) -> Answer:
        if filters is not None and filters.active:
            answer = replace(answer, filters=filters.to_dict())
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


def default_assistant(settings: Settings | None = None) -> Assistant:
    """The process-wide assistant (on ``settings``, else the defaults and the environment),
    built and the corpus ingested once."""
    global _default
    with _default_lock:
        if _default is None:
            assistant = Assistant(settings)
            # Another process may be ingesting the same index: wait for it rather than fail.
            assistant.ingest(wait=STARTUP_INGEST_WAIT)
            _default = assistant
        return _default


def ask(question: str, history: list | None = None, filters: Filters | None = None, mode: str = "answer") -> Answer:
    """Answer ``question`` from the articles in the corpus folder, with verified quotes."""
    return default_assistant().ask(question, history, filters, mode)


class Warmup:
    """Builds the assistant in a background thread, so the page is served at once; calling the
    object waits until the assistant is ready and returns it."""

    def __init__(self, factory: Callable[[], Assistant]):
        self._factory = factory
        self._assistant: Assistant | None = None
        self._done = threading.Event()

    def start(self) -> "Warmup":
        threading.Thread(target=self._run, name="warmup", daemon=True).start()
        return self

    def _run(self) -> None:
        print(LOADING, flush=True)
        try:
            self._assistant = self._factory()
            print(f"Ready: {len(self._assistant.snapshot.articles)} articles indexed.", flush=True)
        except AssistantError as err:
            print(f"The assistant could not start: {err}", file=sys.stderr, flush=True)
        except Exception:  # unexpected: keep the server up, show the trace on the console
            traceback.print_exc()
        finally:
            self._done.set()
        if self._assistant is not None:    # after "ready": questions do not wait for it
            self._assistant.warm_ingest()

    def __call__(self) -> Assistant:
        self._done.wait()
        if self._assistant is None:     # the warm-up failed: try again (e.g. the index was busy)
            self._assistant = self._factory()
        return self._assistant
