"""Hybrid retrieval as a LangChain retriever: dense (Chroma) and BM25, fused by reciprocal rank."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .embedding import Embedder
from .question import Question
from .snapshot import Snapshot
from .store import Index, StoredChunk

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float      # fused reciprocal-rank score
    dense: float      # cosine similarity of chunk and question
    lexical: float    # BM25 score (0 when BM25 did not find it)


class HybridRetriever(BaseRetriever):
    """Finds the chunks that best match a question, by meaning and by words."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    snapshot: Snapshot
    embedder: Embedder
    candidates: int = 30
    k: int = 8

    def hits(self, question: Question, k: int | None = None, sources: frozenset[str] | None = None) -> list[Hit]:
        """The ``k`` best chunks (default ``self.k``) by fused rank, of ``sources`` only if given."""
        vector = np.asarray(self.embedder.embed_query(question.dense_text or question.text), dtype=np.float32)
        dense = [(cid, sim) for cid, sim in self.index.query(vector.tolist(), self.candidates, sources)
                 if cid in self.snapshot.position]
        mask = self.snapshot.mask(sources) if sources is not None else None
        lexical = self.snapshot.lexical.search(question.query_terms, self.candidates, mask)
        fused: dict[str, float] = {}
        for rank, (cid, _) in enumerate(dense):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, (pos, _) in enumerate(lexical):
            cid = self.snapshot.chunks[pos].id
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        top = sorted(fused, key=fused.get, reverse=True)[:k or self.k]
        similarity = dict(dense)
        missing = [cid for cid in top if cid not in similarity]
        if missing:
            for cid, vec in self.index.vectors(missing).items():
                similarity[cid] = float(np.dot(vector, np.asarray(vec, dtype=np.float32)))
        bm25 = {self.snapshot.chunks[pos].id: score for pos, score in lexical}
        return [Hit(self.snapshot.chunks[self.snapshot.position[cid]], fused[cid], similarity[cid], bm25.get(cid, 0.0))
                for cid in top]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return self.documents(query)

    def documents(self, query: str, sources: frozenset[str] | None = None, k: int | None = None) -> list[Document]:
        """The best chunks for ``query`` as documents (of ``sources`` only, if given)."""
        return [self.to_document(hit) for hit in self.hits(self.snapshot.analyze(query), k=k, sources=sources)]

    def to_document(self, hit: Hit) -> Document:
        meta = self.snapshot.articles[hit.chunk.source].meta
        return Document(page_content=hit.chunk.text, id=hit.chunk.id, metadata={
            "source": hit.chunk.source, "start": hit.chunk.start, "end": hit.chunk.end, **meta.to_dict(),
            "score": hit.score, "dense": hit.dense, "bm25": hit.lexical})
