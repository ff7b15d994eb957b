"""An in-memory view of what the index has committed: article texts, chunks and their vectors,
sentences and the lexical index, and the terms the corpus knows.

A change (an article added, replaced, re-described or deleted, here or by another instance) makes a
new snapshot that shares the old one's arrays (``changed``): new chunks are appended, the chunks of
old versions only marked dead, so a question being answered on the old snapshot is not disturbed and
nothing is read back from the index but the changed articles. ``compacted`` drops the dead rows."""
from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from retrieval.index.lexical import LexicalIndex
from retrieval.index.store import Index
from retrieval.text.aliases import NAME_LABELS, bare_name, defined_acronyms, initialism
from retrieval.text.normalize import terms
from retrieval.text.sentences import split_sentences
from retrieval.types import ArticleMeta, ArticleRecord, StoredChunk


# A snapshot with more dead or delta chunks than this share of its chunks, or than this many, is
# compacted (its BM25 rebuilt: cheap on a small index, ~3.5 s at 100k chunks).
COMPACT_SHARE = 0.2
COMPACT_MIN = 5000
_META = [f.name for f in dataclasses.fields(ArticleMeta)]     # read by name: dataclasses.asdict is slow at 100k


class Snapshot:
    def __init__(self, articles: dict[str, ArticleRecord], chunks: list[StoredChunk], vectors: np.ndarray,
                 lexical: LexicalIndex | None = None, ordered: bool = False,
                 corpus_terms: tuple[set[str], list[tuple[str, str]]] | None = None):
        """``vectors``: one row per chunk, in the order of ``chunks``; ``ordered``: the chunks are already
        sorted by source and offset (and ``lexical``, when given, is built over them in that order);
        ``corpus_terms``: ``corpus_terms()`` of these articles, when known (a saved copy keeps them)."""
        self.articles = articles
        if not ordered:
            order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].start))
            chunks, vectors = [chunks[i] for i in order], vectors[order]
        self.chunks = chunks
        self.vectors = vectors      # the rows the snapshot was made with (a saved copy's are memory-mapped)
        self.added = vectors[:0]    # rows appended by changes since, after those
        self.alive: np.ndarray | None = None      # None: every chunk is committed
        self.position = {c.id: i for i, c in enumerate(self.chunks)}
        self._source_code = {source: code for code, source in enumerate(articles)}
        self._chunk_source = np.fromiter((self._source_code[c.source] for c in self.chunks), dtype=np.int32,
                                         count=len(self.chunks))
        self._by_source: dict[str, list[StoredChunk]] = defaultdict(list)
        for chunk in self.chunks:
            self._by_source[chunk.source].append(chunk)
        self.lexical = lexical or LexicalIndex(self.chunks)
        self._sentences: dict[str, list[tuple[int, int]]] = {}
        self._sentence_vectors: dict[str, dict[tuple[int, int], np.ndarray]] = {}
        self._entities: dict[str, list[tuple[int, int, str]]] = {}
        self._terms: dict[str, set[str]] = {}
        self._corpus_terms = corpus_terms

    def version(self, source: str) -> tuple[str, int, str] | None:
        """``(doc_hash, n_chunks, metadata JSON)`` as the index records it (``Index.committed_versions``)."""
        record = self.articles.get(source)
        return record and (record.doc_hash, record.n_chunks, json.dumps({f: getattr(record.meta, f) for f in _META}))

    def chunks_of(self, source: str) -> list[StoredChunk]:
        """A source's committed chunks, in reading order."""
        return self._by_source.get(source, [])

    def corpus_terms(self) -> tuple[set[str], list[tuple[str, str]], list[tuple[str, str, int]]]:
        """What the question analyzer learns from the whole corpus: ``known_terms()``,
        ``acronym_definitions()`` and ``initialisms()``. Computed once (~1 s at 100k chunks) and kept
        with the saved copy."""
        if self._corpus_terms is None:
            self._corpus_terms = (self.known_terms(), self.acronym_definitions(), self.initialisms())
        return self._corpus_terms

    def _chosen(self, sources) -> Iterable[str]:
        """Of ``sources`` (``None``: every article), those this snapshot has."""
        return self.articles if sources is None else set(sources) & self.articles.keys()

    def acronym_definitions(self, sources=None) -> list[tuple[str, str]]:
        """Every acronym definition of the articles (of ``sources``, else all), in source order, not in
        the order the index gave them in: where two articles define one acronym, the first names it."""
        return [d for source in sorted(self._chosen(sources)) for d in defined_acronyms(self.articles[source].text)]

    def initialisms(self, sources=None) -> list[tuple[str, str, int]]:
        """``(name, initials, occurrences)`` of the names of several words ingest found (of ``sources``,
        else all), for acronyms no article defines."""
        found: Counter = Counter()
        for source in self._chosen(sources):
            for chunk in self.chunks_of(source):
                found.update(bare_name(chunk.text[a:b]) for a, b, label in chunk.entities if label in NAME_LABELS)
        return [(name, initials, n) for name, n in found.items() if (initials := initialism(name))]

    def known_terms(self, sources=None) -> set[str]:
        """Every term of the articles (of ``sources``, else all) beyond the indexed chunks: page furniture
        (a source named only in its banner is still a known name) and metadata."""
        records = [(s, self.articles[s]) for s in self._chosen(sources)]
        known = {t for source, record in records for t in terms(self._outside_chunks(source, record.text))}
        return known | {t for _, record in records for value in (getattr(record.meta, f) for f in _META) if value
                        for t in terms(value)}

    # -- changes ---------------------------------------------------------------------------
    def changed(self, sources: set[str], records: dict[str, ArticleRecord], chunks: list[StoredChunk],
                vectors: np.ndarray) -> "Snapshot":
        """This snapshot after ``sources`` changed: ``records`` are the committed ones of them now (a source
        missing was deleted), ``chunks``/``vectors`` their committed chunks (``Index.read_sources``)."""
        articles = dict(self.articles)
        replaced = set()
        for source in sources:
            old, new = self.articles.get(source), records.get(source)
            if old and new and (old.doc_hash, old.n_chunks) == (new.doc_hash, new.n_chunks):
                articles[source] = new          # new metadata only: the chunks stay
                continue
            if old:
                replaced.add(source)
                del articles[source]
            if new:
                replaced.add(source)
                articles[source] = new
        fresh = sorted((i for i, c in enumerate(chunks) if c.source in replaced and c.source in articles),
                       key=lambda i: (chunks[i].source, chunks[i].start))
        snap = object.__new__(Snapshot)
        snap.__dict__.update(self.__dict__)
        snap.articles = articles
        n_old, added = len(self.chunks), [chunks[i] for i in fresh]
        snap.chunks = self.chunks + added
        snap.added, snap._buffer = self._grown(vectors[fresh] if fresh else None)
        alive = np.ones(len(snap.chunks), dtype=bool) if self.alive is None else np.concatenate(
            [self.alive, np.ones(len(added), dtype=bool)])
        snap.position = dict(self.position)
        for source in replaced & set(self._by_source):
            for chunk in self._by_source[source]:
                alive[snap.position.pop(chunk.id)] = False
        for i, chunk in enumerate(added, start=n_old):
            snap.position[chunk.id] = i
        snap.alive = None if alive.all() else alive
        snap._source_code = dict(self._source_code)
        for source in articles:
            snap._source_code.setdefault(source, len(snap._source_code))
        snap._chunk_source = np.concatenate(
            [self._chunk_source, np.fromiter((snap._source_code[c.source] for c in added), dtype=np.int32,
                                             count=len(added))])
        snap._by_source = defaultdict(list, {s: cs for s, cs in self._by_source.items() if s not in replaced})
        for chunk in added:
            snap._by_source[chunk.source].append(chunk)
        snap.lexical = self.lexical.changed(snap.chunks, snap.alive)
        snap._sentences, snap._sentence_vectors, snap._entities, snap._terms = (
            {s: v for s, v in cache.items() if s not in replaced}
            for cache in (self._sentences, self._sentence_vectors, self._entities, self._terms))
        snap._corpus_terms = None       # computed again if asked: an assistant learns a change's terms alone
        stale = snap.lexical.delta_size + (0 if snap.alive is None else int((~snap.alive).sum()))
        return snap.compacted() if stale > min(COMPACT_MIN, COMPACT_SHARE * len(snap.chunks)) else snap

    def _grown(self, rows: np.ndarray | None) -> tuple[np.ndarray, list | None]:
        """The appended vectors (``added``) with ``rows`` appended, and the buffer they live in. The base
        rows (``vectors``, mapped from a saved copy) are never copied. The buffer has spare rows, so
        appending copies only the new rows: each snapshot sees its own prefix of it, and a buffer is only
        appended to by the snapshot that used it last (``[array, rows used]``)."""
        holder = getattr(self, "_buffer", None)
        if rows is None or not len(rows):
            return self.added, holder
        n = len(self.added)
        if holder is None or holder[1] != n or len(holder[0]) < n + len(rows):
            array = np.empty((max(n + len(rows), int(n * 1.25) + 1024), rows.shape[1]), dtype=np.float32)
            if n:
                array[:n] = self.added
            holder = [array, n]
        holder[0][n:n + len(rows)] = rows
        holder[1] = n + len(rows)
        return holder[0][:n + len(rows)], holder

    def compacted(self) -> "Snapshot":
        """The same committed chunks without dead rows and with one BM25 index (rebuilt from the kept term
        ids: ~3.5 s at 100k chunks); itself when there is nothing to drop."""
        if self.alive is None and not self.lexical.delta_size:
            return self
        keep = sorted(np.flatnonzero(self.alive) if self.alive is not None else range(len(self.chunks)),
                      key=lambda i: (self.chunks[i].source, self.chunks[i].start))
        chunks = [self.chunks[i] for i in keep]
        keep = np.asarray(keep, dtype=int)
        return Snapshot(dict(self.articles), chunks, self.rows(keep), self.lexical.rebuilt(keep, chunks),
                        ordered=True, corpus_terms=self._corpus_terms)

    def _outside_chunks(self, source: str, text: str) -> str:
        """The article's text that no chunk holds (page furniture): names there are still known."""
        pieces, cut = [], 0
        for chunk in self._by_source[source]:
            pieces.append(text[cut:chunk.start])
            cut = chunk.end
        pieces.append(text[cut:])
        return "\n".join(pieces)

    @classmethod
    def load(cls, index: Index) -> "Snapshot":
        articles = index.committed()
        return cls(articles, *index.committed_chunks(articles))

    def vector(self, position: int) -> np.ndarray:
        """The vector of the chunk at ``position``."""
        base = len(self.vectors)
        return self.vectors[position] if position < base else self.added[position - base]

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The vectors of the chunks at ``positions``, in that order (a copy)."""
        base = len(self.vectors)
        out = np.empty((len(positions), max(a.shape[-1] for a in (self.vectors, self.added))), dtype=np.float32)
        old = positions < base
        if old.any():
            out[old] = self.vectors[positions[old]]
        if not old.all():
            out[~old] = self.added[positions[~old] - base]
        return out

    def nearest(self, vector: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """``(position, cosine similarity)`` of the ``n`` chunks nearest to ``vector`` (of those in
        ``mask``), by exact search: a matrix product over every row (~15 ms at 100k chunks, 150 ms at
        1M), or over the masked rows only when they are few."""
        if not len(self.chunks):
            return []
        if self.alive is not None:
            mask = self.alive if mask is None else mask & self.alive
        if mask is not None and mask.sum() * 4 < len(mask):
            chosen = np.flatnonzero(mask)
            found = self.rows(chosen) @ vector
            top = np.argsort(-found, kind="stable")[:n]
            return [(int(chosen[i]), float(found[i])) for i in top]
        similarity = np.concatenate([part @ vector for part in (self.vectors, self.added) if len(part)])
        if mask is not None:
            similarity = np.where(mask, similarity, -np.inf)
            n = min(n, int(mask.sum()))
        n = min(n, len(similarity))
        if n <= 0:
            return []
        top = np.argpartition(-similarity, n - 1)[:n]
        top = top[np.argsort(-similarity[top], kind="stable")]
        return [(int(i), float(similarity[i])) for i in top]

    def live(self) -> int:
        """How many committed chunks the snapshot holds."""
        return len(self.chunks) if self.alive is None else int(self.alive.sum())

    def mask(self, sources: frozenset[str]) -> np.ndarray:
        """One boolean a chunk: whether it belongs to one of ``sources``."""
        return np.isin(self._chunk_source, [self._source_code[s] for s in sources if s in self._source_code])

    def article_terms(self, source: str) -> set[str]:
        """Every index term of a source's indexed text."""
        if source not in self._terms:
            self._terms[source] = {t for c in self._by_source[source] for t in terms(c.text)}
        return self._terms[source]

    def sentences(self, source: str) -> list[tuple[int, int]]:
        """Sentence offsets of a source's indexed text, in reading order (as ingest split them)."""
        if source not in self._sentences:
            text = self.articles[source].text
            self._sentences[source] = [
                (c.start + a, c.start + b) for c in self._by_source[source]
                for a, b in (c.sentences or ((s - c.start, e - c.start) for s, e in split_sentences(text, c.start, c.end)))]
        return self._sentences[source]

    def sentence_vector(self, source: str, start: int, end: int) -> np.ndarray | None:
        """The vector ingest stored for the sentence at ``start:end`` (float32), if any."""
        if source not in self._sentence_vectors:
            self._sentence_vectors[source] = {
                (c.start + a, c.start + b): c.sentence_vectors[i] for c in self._by_source[source]
                if c.sentence_vectors is not None for i, (a, b) in enumerate(c.sentences)}
        vector = self._sentence_vectors[source].get((start, end))
        return None if vector is None or not vector.any() else vector.astype(np.float32)

    def entities(self, source: str) -> list[tuple[int, int, str]]:
        """The named entities ingest found in a source's indexed text, as article offsets."""
        if source not in self._entities:
            self._entities[source] = [(c.start + a, c.start + b, label) for c in self._by_source[source]
                                      for a, b, label in c.entities]
        return self._entities[source]
