"""BM25 over the committed chunks (bm25s: sparse matrices, not a Python scan).

bm25s cannot add a document to a built index, and rebuilding it costs ~3.5 s at 100k chunks. So
chunks written after the build go to a small delta beside it, scored by the same (Lucene) BM25 with
the main index's average length and the document frequencies of both; chunks deleted since are
masked out. ``rebuilt()`` folds everything into a new main index from the kept term ids (no text is
tokenized again)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized
from scipy import sparse

from retrieval.text.normalize import terms
from retrieval.types import StoredChunk

K1, B = 1.5, 0.75       # bm25s's defaults, used for the delta too


class LexicalIndex:
    def __init__(self, chunks: list[StoredChunk], tokens: list[np.ndarray] | None = None,
                 vocab: dict[str, int] | None = None, bm25: bm25s.BM25 | None = None, df: np.ndarray | None = None):
        """``tokens`` (a chunk's term ids) and ``vocab`` when known, else the chunks' text is tokenized;
        ``bm25`` a saved main index over all of them."""
        self.chunks = chunks
        self._vocab = dict(vocab or {})
        self._tokens = tokens if tokens is not None else [self._ids(terms(c.text)) for c in chunks]
        self.n_main = len(chunks)
        self._alive: np.ndarray | None = None
        self._df = df if df is not None else np.bincount(
            np.concatenate([np.unique(ids) for ids in self._tokens] or [np.zeros(0, np.int32)]),
            minlength=len(self._vocab)).astype(np.int64)
        lengths = [len(ids) for ids in self._tokens]
        self._avg_len = max(float(np.mean(lengths)), 1.0) if lengths else 1.0
        self._main_vocab = set(self._vocab)
        self._bm25 = bm25
        if bm25 is None and chunks:
            self._bm25 = bm25s.BM25()
            self._bm25.index(Tokenized(ids=[ids.tolist() for ids in self._tokens], vocab=self._vocab),
                             show_progress=False)
        self._delta: sparse.csc_matrix | None = None
        self._set_idf()

    def _ids(self, chunk_terms: list[str]) -> np.ndarray:
        return np.fromiter((self._vocab.setdefault(t, len(self._vocab)) for t in chunk_terms), dtype=np.int32,
                           count=len(chunk_terms))

    def _set_idf(self) -> None:
        n = max(len(self.chunks) if self._alive is None else int(self._alive.sum()), 1)
        self._idf_array = np.log(1 + (n - self._df + 0.5) / (self._df + 0.5))
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.vocabulary = set(self._vocab)

    # -- reading ---------------------------------------------------------------------------
    def idf(self, term: str) -> float:
        """Rarity of a term in the corpus; a term the corpus never uses is rarest."""
        i = self._vocab.get(term)
        return self._max_idf if i is None or not self._df[i] else float(self._idf_array[i])

    def search(self, query_terms: list[str], n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """``(chunk position, BM25 score)`` of the best ``n`` chunks with a positive score;
        ``mask`` (one boolean a chunk) keeps only some chunks."""
        known = [t for t in query_terms if t in self._vocab]
        if not known or not self.chunks:
            return []
        main = [t for t in known if t in self._main_vocab]
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        if main and self.n_main:
            scores[:self.n_main] = self._bm25.get_scores(main)
        if self._delta is not None:
            ids = [self._vocab[t] for t in known]
            scores[self.n_main:] = self._delta[:, ids] @ self._idf_array[ids]
        for keep in (mask, self._alive):
            if keep is not None:
                scores = np.where(keep, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    # -- changing ------------------------------------------------------------------------
    def changed(self, chunks: list[StoredChunk], alive: np.ndarray | None) -> "LexicalIndex":
        """This index over ``chunks``: the ones it holds, in the same positions, then new ones (put in
        the delta); ``alive`` marks the chunks still committed. The main index is shared, not copied."""
        new = object.__new__(LexicalIndex)
        new.__dict__.update(self.__dict__)
        new.chunks, new._alive = chunks, alive
        new._vocab = dict(self._vocab)
        added = [new._ids(terms(c.text)) for c in chunks[len(self.chunks):]]
        new._tokens = self._tokens + added
        new._df = np.zeros(len(new._vocab), dtype=np.int64)
        new._df[:len(self._df)] = self._df
        for ids in added:
            np.add.at(new._df, np.unique(ids), 1)
        if alive is not None and self._alive is not None:
            gone = np.flatnonzero(self._alive & ~alive[:len(self._alive)])
        else:
            gone = np.flatnonzero(~alive[:len(self.chunks)]) if alive is not None else np.array([], dtype=int)
        for pos in gone:
            np.subtract.at(new._df, np.unique(new._tokens[pos]), 1)
        delta = new._tokens[new.n_main:]
        if not new.n_main:      # nothing built yet: the delta's own average length
            new._avg_len = max(float(np.mean([len(ids) for ids in delta])), 1.0) if delta else 1.0
        if delta:
            rows = np.repeat(np.arange(len(delta)), [len(ids) for ids in delta])
            cols = np.concatenate(delta) if rows.size else np.array([], dtype=np.int32)
            tf = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                   shape=(len(delta), len(new._vocab)))
            tf.sum_duplicates()
            lengths = np.asarray([len(ids) for ids in delta], dtype=np.float32)
            norm = K1 * (1 - B + B * lengths / new._avg_len)
            tf.data = tf.data / (np.repeat(norm, np.diff(tf.indptr)) + tf.data)
            new._delta = tf.tocsc()
        new._set_idf()
        return new

    @property
    def delta_size(self) -> int:
        return len(self.chunks) - self.n_main

    def rebuilt(self, keep: np.ndarray, chunks: list[StoredChunk]) -> "LexicalIndex":
        """A fresh main index over the chunks at positions ``keep`` (``chunks``, in that order), from their
        term ids: no text is tokenized again."""
        return LexicalIndex(chunks, [self._tokens[i] for i in keep], self._vocab)

    # -- saving ------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """The main index by bm25s's own save, and the term ids (everything must be in the main index)."""
        assert self.delta_size == 0 and self._alive is None, "save a rebuilt index"
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder / "bm25"))
        lengths = np.asarray([len(ids) for ids in self._tokens], dtype=np.int64)
        np.save(folder / "token_offsets.npy", np.concatenate([[0], np.cumsum(lengths)]))
        np.save(folder / "tokens.npy", np.concatenate(self._tokens) if self._tokens else np.zeros(0, np.int32))
        np.save(folder / "df.npy", self._df)
        (folder / "vocab.json").write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, chunks: list[StoredChunk]) -> "LexicalIndex":
        offsets = np.load(folder / "token_offsets.npy")
        flat = np.asarray(np.load(folder / "tokens.npy", mmap_mode="r"))    # views, not 100k memmap slices
        tokens = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=True) if (folder / "bm25").exists() else None
        return cls(chunks, tokens, vocab, bm25, np.load(folder / "df.npy"))
