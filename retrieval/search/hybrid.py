"""Hybrid retrieval as a LangChain retriever: dense (Chroma) and BM25, fused by reciprocal rank."""
from __future__ import annotations

from typing import Callable

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.index.embedding import Embedder
from retrieval.index.snapshot import Snapshot
from retrieval.search.dense import DenseSearch
from retrieval.text.question import Question
from retrieval.types import Hit

RRF_K = 60


class HybridRetriever(BaseRetriever):
    """Finds the chunks that best match a question, by meaning and by words."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    snapshot: Snapshot
    embedder: Embedder
    dense: DenseSearch
    analyze: Callable[[str], Question]
    candidates: int = 30
    k: int = 8

    def hits(self, question: Question, k: int | None = None, sources: frozenset[str] | None = None) -> list[Hit]:
        """The ``k`` best chunks (default ``self.k``) by fused rank, of ``sources`` only if given."""
        vector = self.embedder.query_vector(question.dense_text or question.text)
        mask = self.snapshot.mask(sources) if sources is not None else None
        dense = self.dense.nearest(self.snapshot, vector, self.candidates, mask)
        lexical = self.snapshot.lexical.search(question.query_terms, self.candidates, mask)
        fused: dict[int, float] = {}
        for ranked in (dense, lexical):
            for rank, (pos, _) in enumerate(ranked):
                fused[pos] = fused.get(pos, 0.0) + 1.0 / (RRF_K + rank + 1)
        top = sorted(fused, key=fused.get, reverse=True)[:k or self.k]
        bm25, similarity = dict(lexical), dict(dense)
        chunks, articles = self.snapshot.chunks, self.snapshot.articles
        return [Hit(chunks[pos], articles[chunks[pos].source].meta, fused[pos],
                    similarity[pos] if pos in similarity else float(self.snapshot.vector(pos) @ vector),
                    bm25.get(pos, 0.0)) for pos in top]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return self.documents(query)

    def documents(self, query: str, sources: frozenset[str] | None = None, k: int | None = None) -> list[Document]:
        """The best chunks for ``query`` as documents (of ``sources`` only, if given)."""
        return [self.to_document(hit) for hit in self.hits(self.analyze(query), k=k, sources=sources)]

    def to_document(self, hit: Hit) -> Document:
        return Document(page_content=hit.chunk.text, id=hit.chunk.id, metadata={
            "source": hit.chunk.source, "start": hit.chunk.start, "end": hit.chunk.end, **hit.meta.to_dict(),
            "score": hit.score, "dense": hit.dense, "bm25": hit.lexical})
