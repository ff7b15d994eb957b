"""BM25 over the committed chunks (bm25s: sparse matrices, not a Python scan)."""
from __future__ import annotations

import math
from collections import Counter

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from retrieval.text.normalize import terms
from retrieval.types import StoredChunk


class LexicalIndex:
    def __init__(self, chunks: list[StoredChunk]):
        self.chunks = chunks
        vocab: dict[str, int] = {}
        doc_ids = []
        df: Counter[str] = Counter()
        for chunk in chunks:
            chunk_terms = terms(chunk.text)
            df.update(set(chunk_terms))
            doc_ids.append([vocab.setdefault(t, len(vocab)) for t in chunk_terms])
        self.vocabulary = set(vocab)
        n = max(len(chunks), 1)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        self._bm25 = bm25s.BM25()
        if chunks:
            self._bm25.index(Tokenized(ids=doc_ids, vocab=vocab), show_progress=False)

    def idf(self, term: str) -> float:
        """Rarity of a term in the corpus; a term the corpus never uses is rarest."""
        return self._idf.get(term, self._max_idf)

    def search(self, query_terms: list[str], n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """``(chunk position, BM25 score)`` of the best ``n`` chunks with a positive score;
        ``mask`` (one boolean a chunk) keeps only some chunks."""
        known = [t for t in query_terms if t in self.vocabulary]
        if not known or not self.chunks:
            return []
        scores = self._bm25.get_scores(known)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
