"""A snapshot saved beside the index, so opening it reads files instead of every chunk back from Chroma.

What start-up used to rebuild is kept under ``<index_dir>/snapshot/<collection>/``: the vectors and the
sentence vectors as memory-mappable ``.npy`` arrays, the BM25 index by bm25s's own save (with the term
ids that let it be rebuilt without tokenizing again), the article records, the chunk table and what
the question analyzer learns from the whole corpus (``Snapshot.corpus_terms``). It is
keyed by the index's generation: the identity of its collections and its place in the change log
(``ChangeLog.state``). At open, the articles the log names since are compared with their committed
version (``Index.committed_versions``, without texts; every article's when the log cannot say), those
that differ read from the index and applied as any change is; the copy is saved again when that
changed more than a few chunks. A copy of another index or encoder, or one that cannot be
read, is never used: the snapshot is then read from the index and saved afresh."""
from __future__ import annotations

import json
import pickle
import shutil
import uuid
from pathlib import Path

import numpy as np

from retrieval.index.lexical import LexicalIndex
from retrieval.index.snapshot import Snapshot
from retrieval.index.store import Index
from retrieval.types import StoredChunk

FORMAT = 4              # 2: the corpus terms (known terms, acronym definitions) are kept too; 3: and initialisms;
                        # 4: acronym definitions in source order
RESAVE_CHUNKS = 1000    # saved again at open when more chunks than this were applied to it


def snapshot_folder(index_dir: Path, collection: str) -> Path:
    return index_dir / "snapshot" / collection


class SavedCopy:
    """The saved copy of one index's snapshot: read at open, written again when enough has changed."""

    def __init__(self, index: Index, folder: Path | None):
        self.index, self.folder = index, folder
        self.key = {"format": FORMAT, "index": index.identity, "embedder": index.embedder}
        self.pending = 0      # chunks added or dropped since the copy was saved

    def open(self) -> Snapshot:
        """The committed index in memory: the saved copy brought up to date, else read whole (and saved).
        The copy keeps its place in the change log: only the articles named there since are compared
        with the index (none: nothing is read); without a place, or past the log's pruned horizon,
        every article's version is. The log is read (or marked) first, so writes made while this
        runs are applied afterwards."""
        snapshot = load(self.folder, self.key) if self.folder else None
        place = _read_place(self.folder) if snapshot is not None else None
        if place is None:
            self.index.log.mark()
            sources = None
        else:
            self.index.log.restore(place)
            sources = self.index.log.changed()
        if snapshot is None:
            snapshot = Snapshot.load(self.index)
            self._save(snapshot)
            return snapshot
        stale = self.stale(snapshot, sources)
        if stale:
            return self.changed(snapshot, stale)
        if self.index.log.state() != place:      # the copy holds all that was written since: start there next time
            _write_place(self.folder, self.index.log.state())
        return snapshot

    def stale(self, snapshot: Snapshot, sources: set[str] | None) -> set[str]:
        """Of ``sources`` (``None``: every article), those whose committed version the snapshot does not
        hold (one read of their records, without texts)."""
        versions = self.index.committed_versions(sources)
        candidates = set(versions) | set(snapshot.articles) if sources is None else sources
        return {source for source in candidates if versions.get(source) != snapshot.version(source)}

    def changed(self, snapshot: Snapshot, stale: set[str]) -> Snapshot:
        """``snapshot`` with the committed state of the ``stale`` sources read from the index and applied;
        saved again (compacted) once more than ``RESAVE_CHUNKS`` chunks changed since the last save."""
        records, chunks, vectors = self.index.read_sources(stale)
        self.pending += len(chunks) + sum(len(snapshot.chunks_of(s)) for s in stale)
        snapshot = snapshot.changed(stale, records, chunks, vectors)
        if self.pending > RESAVE_CHUNKS:
            snapshot = snapshot.compacted()
            self._save(snapshot)
        return snapshot

    def _save(self, snapshot: Snapshot) -> None:
        """Save, unless the folder cannot be written (read-only, full) or another process is saving the
        same snapshot right now: the copy only saves time, the index stays the truth. A (compacted)
        snapshot saved then maps its vectors from the copy instead of holding them."""
        if self.folder is None:
            return
        try:
            save(snapshot, self.folder, self.key, self.index.log.state())
            self.pending = 0
            if snapshot.alive is None and not len(snapshot.added):
                snapshot.vectors = np.load(self.folder / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError):
            pass


def save(snapshot: Snapshot, folder: Path, key: dict, place: dict | None = None) -> None:
    """Write the (compacted) snapshot into a new folder, then put it in place of the old one; with
    ``place``, the change log's place it reflects (``ChangeLog.state``)."""
    corpus_terms = snapshot.corpus_terms()
    snapshot = snapshot.compacted()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        chunks = snapshot.chunks
        np.save(tmp / "vectors.npy", np.concatenate([snapshot.vectors, snapshot.added]).astype(np.float32, copy=False))
        dims = next((c.sentence_vectors.shape[1] for c in chunks if c.sentence_vectors is not None
                     and c.sentence_vectors.size), 0)
        sentence_rows = [c.sentence_vectors if c.sentence_vectors is not None and c.sentence_vectors.size
                         else np.zeros((0, dims), np.float16) for c in chunks]
        np.save(tmp / "sentence_vectors.npy",
                np.concatenate(sentence_rows) if sentence_rows and dims else np.zeros((0, dims), np.float16))
        table = [(c.id, c.source, c.start, c.end, c.sentences, c.entities, len(rows), c.sentence_vectors is not None)
                 for c, rows in zip(chunks, sentence_rows)]
        (tmp / "chunks.pkl").write_bytes(pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL))
        (tmp / "articles.pkl").write_bytes(pickle.dumps(snapshot.articles, protocol=pickle.HIGHEST_PROTOCOL))
        (tmp / "corpus_terms.pkl").write_bytes(pickle.dumps(corpus_terms, protocol=pickle.HIGHEST_PROTOCOL))
        snapshot.lexical.save(tmp / "lexical")
        if place is not None:
            _write_place(tmp, place)
        (tmp / "key.json").write_text(json.dumps(key))      # last: a folder without it is incomplete
        old = folder.with_name(f"{folder.name}.old-{uuid.uuid4().hex[:8]}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)       # a process reading it keeps its open maps
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_place(folder: Path, place: dict) -> None:
    """Record the change log's place a saved copy reflects (replacing the file whole, or not at all)."""
    tmp = folder / f"log_place.json.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(place))
        tmp.replace(folder / "log_place.json")
    except OSError:
        tmp.unlink(missing_ok=True)


def _read_place(folder: Path) -> dict | None:
    """The change log's place a saved copy reflects, if it recorded one."""
    try:
        return json.loads((folder / "log_place.json").read_text())
    except (OSError, ValueError):
        return None


def load(folder: Path, key: dict) -> Snapshot | None:
    """The saved snapshot, or ``None`` when there is none for this ``key`` or it cannot be read."""
    try:
        if json.loads((folder / "key.json").read_text()) != key:
            return None
        articles = pickle.loads((folder / "articles.pkl").read_bytes())
        table = pickle.loads((folder / "chunks.pkl").read_bytes())
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        # Plain arrays over the maps: slicing a np.memmap 100k times costs over a second, a view does not.
        sentence_vectors = np.asarray(np.load(folder / "sentence_vectors.npy", mmap_mode="r"))
        chunks, row = [], 0
        for cid, source, start, end, sentences, entities, n_rows, has_vectors in table:
            text = articles[source].text[start:end]
            chunks.append(StoredChunk(cid, source, start, end, text, sentences,
                                      sentence_vectors[row:row + n_rows] if has_vectors else None, entities))
            row += n_rows
        return Snapshot(articles, chunks, vectors, LexicalIndex.load(folder / "lexical", chunks), ordered=True,
                        corpus_terms=pickle.loads((folder / "corpus_terms.pkl").read_bytes()))
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError):
        return None
