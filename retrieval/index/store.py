"""The Chroma index: chunk vectors plus one committed record per article.

Writing articles is ordered so that a crash at any point leaves a consistent index: their
new chunks are written first (invisible: their ``doc_hash`` is not committed), then the
article records that commit them, then the old versions' chunks are deleted.
Readers only see chunks whose ``(source, doc_hash)`` is committed."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np

from retrieval.errors import IndexBusy, IndexUnavailable
from retrieval.index.changes import ChangeLog
from retrieval.index.lease import ServerLease
from retrieval.index.onnx_encoder import FORMAT as EXPORT_FORMAT
from retrieval.settings import Settings
from retrieval.types import ArticleMeta, ArticleRecord, Chunk, ChunkEncoding, StoredChunk

_PAGE = 2000
# The chunk collection's HNSW graph (new collections; ``ef_search`` is the Index's): ef_construction 200
# is what the recall figures of README, "Dense search", were measured with (Chroma's default: 100).
HNSW = {"space": "cosine", "ef_construction": 200}
_IDS_PER_CALL = 1000     # ids named in one call to the server (read, update, delete)
# Version of the article records' metadata, kept in the record collection's own metadata. 2: each record
# also holds ``content_hash`` (its text's hash) and ``stamp`` (the file it was read from, see
# ``ingest.pipeline.file_stamp``), so ingest recognises an unchanged file, and a duplicate, without reading
# every text. Older records are brought up to it by ``Index.migrate_records``.
RECORD_FORMAT = 2
LOCKED_TRIES = 5         # opening the collections, while the local store's database is locked
LOCKED_WAIT = 0.2        # seconds before the second try, doubling
T = TypeVar("T")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RecordState:
    """What ingest needs of a committed article record, read without its text."""
    doc_hash: str
    n_chunks: int
    content_hash: str
    stamp: str          # "" when unknown: the file is then read and compared


def open_client(settings: Settings):
    """A Chroma server when ``CHROMA_HOST`` is set, else the persistent store on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.index_dir / "chroma"), settings=chroma_settings)
    except Exception as err:
        if settings.chroma_host:
            raise IndexUnavailable(f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                                   f"({err}). Check that 'chroma run' is up, or unset CHROMA_HOST.") from err
        _forget_failed_store(str(settings.index_dir / "chroma"))
        raise IndexUnavailable(f"Cannot open the index at {settings.index_dir} ({err}). Delete that folder and run "
                               "'python app.py ingest' to rebuild it.") from err


def _forget_failed_store(path: str) -> None:
    """Chroma caches one system per path in the process, and caches it before starting it: one that
    failed to start (a corrupt database) would be handed to every later client of that path, so the
    index could not be opened again after being rebuilt. Drop it unless a live client uses that path."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        if path not in SharedSystemClient._identifier_to_refcount:
            SharedSystemClient._identifier_to_system.pop(path, None)
    except Exception:  # another Chroma version: nothing to undo
        pass


def _locked(err: BaseException) -> bool:
    """SQLite's "database is locked": another connection holds the write lock (Chroma gives it no
    exception class of its own)."""
    return "database is locked" in str(err)


def _while_locked(step: Callable[[], T]) -> T:
    """Run ``step``, an idempotent series of Chroma calls, again while the local store reports its
    database locked: another writer holds the lock for a moment (on a busy 2-core machine a test
    once met one when setting ``ef_search``). ``LOCKED_TRIES`` tries, ``LOCKED_WAIT`` seconds apart
    and doubling: 3 s in all."""
    for attempt in range(LOCKED_TRIES - 1):
        try:
            return step()
        except Exception as err:
            if not _locked(err):
                raise
            time.sleep(LOCKED_WAIT * 2 ** attempt)
    return step()


def collection_name(base: str, encoder: str) -> str:
    """The collection of one encoder's vectors: ``base`` for torch (the first encoder, so indexes
    written before there were others stay valid), else suffixed by the encoder and the version of
    its export recipe, so switching encoders, or upgrading to a new export, makes a new index
    instead of mixing the vectors of two."""
    return base if encoder == "torch" else f"{base}-{encoder}-v{EXPORT_FORMAT}"


def chunk_id(doc_hash: str, chunk: Chunk) -> str:
    return f"{doc_hash[:24]}:{chunk.start}:{chunk.end}"


class Index:
    """Chunks (with their vectors) and article records in two Chroma collections. The chunk
    collection records the identity of the embedder that wrote its vectors (``embedder``); an
    index written by another model cannot be opened with this one."""

    def __init__(self, client, name: str, embedder: str, ef_search: int = 400):
        """``ef_search``: the breadth of the chunk collection's HNSW search (``query``); set on a collection
        made before with another, which takes effect in processes that load its index afterwards."""
        self.embedder = embedder
        self._client = client
        try:
            recorded = _while_locked(lambda: self._open(client, name, embedder, ef_search))
        except Exception as err:
            if _locked(err):
                raise IndexBusy("The index is locked by another process writing to it; try again when it has "
                                "finished.") from err
            raise IndexUnavailable(f"Cannot open the index collections ({err}). Delete the index folder "
                                   "and run 'python app.py ingest' to rebuild it.") from err
        if recorded not in (None, embedder):
            raise IndexUnavailable(f"The index collection {name!r} holds vectors of {recorded!r}, not of {embedder!r}. "
                                   "Set QA_EMBED_MODEL back, or use another QA_COLLECTION or QA_INDEX_DIR for this "
                                   "model (it is then indexed afresh).")

    def _open(self, client, name: str, embedder: str, ef_search: int) -> str | None:
        """Get or make the collections (idempotent, so it can be run again); returns the embedder the
        chunk collection recorded before, if any."""
        self.chunks = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {**HNSW, "ef_search": ef_search}},
            metadata={"embedder": embedder})
        if (self.chunks.configuration_json.get("hnsw") or {}).get("ef_search", ef_search) != ef_search:
            self.chunks.modify(configuration={"hnsw": {"ef_search": ef_search}})
        # Article records carry no meaningful vector; Chroma requires one, so it is [0].
        self.articles = client.get_or_create_collection(f"{name}-articles", embedding_function=None)
        # Every write is announced here, so other instances on the same server apply it.
        self.log = ChangeLog(client.get_or_create_collection(f"{name}-changes", embedding_function=None), client)
        # On a server, writers on other machines are kept out by a lease the server holds.
        self.lease = (ServerLease(client.get_or_create_collection(f"{name}-lease", embedding_function=None))
                      if "fastapi" in client.get_settings().chroma_api_impl.lower() else None)
        recorded = (self.chunks.metadata or {}).get("embedder")
        if recorded is None:       # written before embedders were recorded
            self.chunks.modify(metadata={"embedder": embedder})
        if self._record_format(self.articles) < RECORD_FORMAT and not self.articles.count():
            self.articles.modify(metadata={"record_format": RECORD_FORMAT})     # a new index
        return recorded

    # -- reading -------------------------------------------------------------------------
    def warm(self) -> None:
        """Have Chroma load the chunk collection's vector index, as a write would."""
        if self.chunks.count():
            vector = self.chunks.get(limit=1, include=["embeddings"])["embeddings"][0]
            self.chunks.query(query_embeddings=[vector], n_results=1, include=[])

    @property
    def identity(self) -> str:
        """Names this index and no other: a collection deleted and created again gets a new id."""
        return f"{self.chunks.id}:{self.articles.id}"

    def committed(self) -> dict[str, ArticleRecord]:
        records = {}
        for ids, docs, metas in self._pages(self.articles, ["documents", "metadatas"]):
            records.update(_records(ids, docs, metas))
        return records

    def _record_pages(self, sources: set[str] | None, include: list[str]):
        """``(ids, documents, metadatas)`` of the committed records of ``sources`` (else all), a page at a
        time: a server refuses one read of too many ids ("too many SQL variables")."""
        if sources is None:
            yield from self._pages(self.articles, include)
            return
        names = sorted(sources)
        for i in range(0, len(names), _IDS_PER_CALL):
            got = self.articles.get(ids=names[i:i + _IDS_PER_CALL], include=include)
            yield got["ids"], got.get("documents") or [None] * len(got["ids"]), got["metadatas"]

    def committed_versions(self, sources: set[str] | None = None) -> dict[str, tuple[str, int, str]]:
        """``source -> (doc_hash, n_chunks, metadata JSON)`` of every committed article (of ``sources``,
        else all), without the texts: what tells a snapshot which articles changed."""
        return {source: (meta["doc_hash"], meta["n_chunks"], meta["meta"])
                for ids, _, metas in self._record_pages(sources, ["metadatas"]) for source, meta in zip(ids, metas)}

    def record_states(self, sources: set[str] | None = None) -> dict[str, RecordState]:
        """``source -> RecordState`` of every committed article (of ``sources``, else all), without the texts."""
        return {source: RecordState(meta["doc_hash"], meta["n_chunks"], meta.get("content_hash", ""), meta.get("stamp", ""))
                for ids, _, metas in self._record_pages(sources, ["metadatas"]) for source, meta in zip(ids, metas)}

    def holders(self, hashes: list[str]) -> dict[str, str]:
        """``content hash -> source`` of the committed articles whose text has one of ``hashes`` (one lookup)."""
        if not hashes:
            return {}
        got = self.articles.get(where={"content_hash": {"$in": sorted(set(hashes))}}, include=["metadatas"])
        return {meta["content_hash"]: source for source, meta in zip(got["ids"], got["metadatas"])}

    def committed_chunks(self, committed: dict[str, ArticleRecord]) -> tuple[list[StoredChunk], np.ndarray]:
        """Every chunk of a committed article version, in storage order, and their vectors (a row each)."""
        chunks, rows = [], []
        for ids, docs, metas, vectors in self._pages(self.chunks, ["documents", "metadatas", "embeddings"]):
            page, page_rows = _stored_chunks(ids, docs, metas, vectors, committed)
            chunks += page
            rows += [page_rows] if page else []
        return chunks, (np.concatenate(rows) if chunks else np.empty((0, 0), dtype=np.float32))

    def read_sources(self, sources: set[str]) -> tuple[dict[str, ArticleRecord], list[StoredChunk], np.ndarray]:
        """The committed state of some articles: the records of those still committed, their chunks and
        vectors. What another writer changed is applied from this, not from the change log."""
        records = {}
        for ids, docs, metas in self._record_pages(sources, ["documents", "metadatas"]):
            records.update(_records(ids, docs, metas))
        names = sorted(records)
        chunks, rows = [], []
        for i in range(0, len(names), 100):
            batch = names[i:i + 100]
            got = self.chunks.get(where={"source": {"$in": batch}}, include=["documents", "metadatas", "embeddings"])
            page, page_rows = _stored_chunks(got["ids"], got["documents"], got["metadatas"], got["embeddings"], records)
            chunks += page
            rows += [page_rows] if page else []
        return records, chunks, (np.concatenate(rows) if chunks else np.empty((0, 0), dtype=np.float32))

    def query(self, vector: list[float], n: int, count: int | None = None) -> list[tuple[str, float]]:
        """``(chunk id, cosine similarity)`` of the ``n`` nearest chunks by Chroma's approximate (HNSW)
        search, with the collection's ``ef_search``; done by the server when there is one. ``count``:
        how many chunks the collection holds, when known (else asked: one more call). The ids may
        include chunks that are not committed (an ingest under way, or not yet collected)."""
        count = self.chunks.count() if count is None else count
        if not count:
            return []
        got = self.chunks.query(query_embeddings=[vector], n_results=min(n, count), include=["distances"])
        return [(cid, 1.0 - dist) for cid, dist in zip(got["ids"][0], got["distances"][0])]

    def reusable_encodings(self, source: str) -> dict[str, ChunkEncoding]:
        """Encodings of a source's stored chunks by text hash, so unchanged text is not encoded again."""
        got = self.chunks.get(where={"source": source}, include=["metadatas", "embeddings"])
        return {meta["text_hash"]: _read_encoding(meta, list(vec)) for meta, vec in zip(got["metadatas"], got["embeddings"])
                if meta.get("sentences")}   # chunks written before sentences were encoded are encoded again

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def writing(self, wait: float):
        """Hold the server's write lease (when the index is on a server) for the duration."""
        if self.lease is None:
            yield
            return
        self.lease.acquire(wait)
        try:
            yield
        finally:
            self.lease.release()

    @contextmanager
    def _announced(self, sources: list[str]):
        """Announce a write of ``sources`` in the change log before it starts (a writer killed after
        committing still leaves an entry) and once it is complete (a reader that looked in between
        looks again)."""
        self.log.record(sources)
        yield
        self.log.record(sources)

    def write_articles(self, items: list[tuple[ArticleRecord, list[Chunk], list[ChunkEncoding]]],
                       batch: int = 1000, stamps: dict[str, str] | None = None) -> None:
        """Write articles in three steps, each safe to be interrupted: every new chunk (invisible:
        not committed), then the article records that commit them all (with their text's hash and the
        ``stamps`` of their files; none: ""), then, in one call, any other version's chunks of these
        sources (a previous version, or chunks an interrupted write of another version left). Few
        calls: a Chroma write costs ~40 ms, whatever its size."""
        if not items:
            return
        stamps = stamps or {}
        records = [record for record, _, _ in items]
        with self._announced([r.source for r in records]):
            ids, texts, vectors, metas = [], [], [], []
            for record, chunks, encodings in items:
                ids += [chunk_id(record.doc_hash, c) for c in chunks]
                texts += [c.text for c in chunks]
                vectors += [e.vector for e in encodings]
                metas += [{"source": record.source, "doc_hash": record.doc_hash, "start": c.start, "end": c.end,
                           "index": c.index, "text_hash": c.text_hash, **_encoding_metadata(e)}
                          for c, e in zip(chunks, encodings)]
            for i in range(0, len(ids), batch):
                self.chunks.upsert(ids=ids[i:i + batch], embeddings=vectors[i:i + batch], documents=texts[i:i + batch],
                                   metadatas=metas[i:i + batch])
            # Every key written each time: an upsert keeps the keys it is not given (a stale stamp would stay).
            self.articles.upsert(ids=[r.source for r in records], embeddings=[[0.0]] * len(records),
                                 documents=[r.text for r in records],
                                 metadatas=[{"doc_hash": r.doc_hash, "n_chunks": r.n_chunks,
                                             "meta": json.dumps(r.meta.to_dict()), "content_hash": content_hash(r.text),
                                             "stamp": stamps.get(r.source, "")} for r in records])
            self.chunks.delete(where={"$and": [{"source": {"$in": [r.source for r in records]}},
                                               {"doc_hash": {"$nin": [r.doc_hash for r in records]}}]})

    def set_stamps(self, stamps: dict[str, str]) -> None:
        """Record the files' stamps of committed articles whose text did not change (one write per 1,000):
        not a change of the article, so nothing is announced."""
        names = sorted(stamps)
        for i in range(0, len(names), _IDS_PER_CALL):
            part = names[i:i + _IDS_PER_CALL]
            self.articles.update(ids=part, metadatas=[{"stamp": stamps[s]} for s in part])

    def migrate_records(self) -> int:
        """Bring records written before ``RECORD_FORMAT`` up to it: each text read once, its hash written
        beside it (stamp unknown: the next sync reads each file once and records it). Returns how many
        records were rewritten. Run under the ingest lock (and lease); interrupted, it starts again."""
        if self._record_format(self.articles) >= RECORD_FORMAT:
            return 0
        current = self._client.get_collection(self.articles.name, embedding_function=None)
        if self._record_format(current) >= RECORD_FORMAT:      # another process did it since this one opened
            self.articles = current
            return 0
        done = 0
        for ids, docs, metas in self._pages(self.articles, ["documents", "metadatas"]):
            todo = [(source, text) for source, text, meta in zip(ids, docs, metas) if "content_hash" not in meta]
            if todo:
                self.articles.update(ids=[s for s, _ in todo],
                                     metadatas=[{"content_hash": content_hash(t), "stamp": ""} for _, t in todo])
            done += len(todo)
        self.articles.modify(metadata={"record_format": RECORD_FORMAT})
        return done

    @staticmethod
    def _record_format(collection) -> int:
        return int((collection.metadata or {}).get("record_format", 1))

    def update_meta(self, source: str, meta: ArticleMeta) -> None:
        """Replace an article's metadata in its committed record, one write: its text, chunks and
        vectors are untouched (an analyst's correction needs no re-embedding)."""
        with self._announced([source]):
            self.articles.update(ids=[source], metadatas=[{"meta": json.dumps(meta.to_dict())}])

    def delete_article(self, source: str) -> None:
        with self._announced([source]):
            self.articles.delete(ids=[source])
            self.chunks.delete(where={"source": source})

    def collect_garbage(self, committed: dict) -> int:
        """Delete chunks left by an interrupted write; returns how many. ``committed``: every committed
        article's record or ``RecordState`` (only ``doc_hash`` is used). A chunk's id starts with its
        article version's hash (``chunk_id``), so only ids are read: the metadata (sentence vectors
        included) of every chunk, a page at a time, took ~10 s at 100k chunks; every id in one call takes
        0.3 s. Run by a sync (``ingest`` of the whole corpus folder); an ingest of named files instead
        deletes the stray chunks of the sources it writes (``write_articles``)."""
        live = {record.doc_hash[:24] for record in committed.values()}
        orphans = [cid for cid in self.chunks.get(include=[])["ids"] if cid.split(":", 1)[0] not in live]
        for i in range(0, len(orphans), _IDS_PER_CALL):
            self.chunks.delete(ids=orphans[i:i + _IDS_PER_CALL])
        return len(orphans)

    @staticmethod
    def _pages(collection, include: list[str]):
        """``(ids, documents, metadatas[, embeddings])`` a page at a time."""
        offset = 0
        while True:
            got = collection.get(include=include, limit=_PAGE, offset=offset)
            if not got["ids"]:
                return
            page = (got["ids"], got.get("documents") or [None] * len(got["ids"]), got["metadatas"])
            yield page + (got["embeddings"],) if "embeddings" in include else page
            offset += len(got["ids"])


def _records(ids, docs, metas) -> dict[str, ArticleRecord]:
    return {source: ArticleRecord(source, meta["doc_hash"], text, ArticleMeta(**json.loads(meta["meta"])), meta["n_chunks"])
            for source, text, meta in zip(ids, docs, metas)}


def _stored_chunks(ids, docs, metas, vectors, committed: dict[str, ArticleRecord]) -> tuple[list[StoredChunk], np.ndarray]:
    """The chunks of a page that belong to a committed article version, and their vectors."""
    chunks, keep = [], []
    for row, (cid, text, meta) in enumerate(zip(ids, docs, metas)):
        record = committed.get(meta["source"])
        if record and record.doc_hash == meta["doc_hash"]:
            encoding = _read_encoding(meta, [])
            chunks.append(StoredChunk(cid, meta["source"], meta["start"], meta["end"], text, encoding.sentences,
                                      encoding.sentence_vectors, encoding.entities))
            keep.append(row)
    return chunks, np.asarray(vectors, dtype=np.float32)[keep] if keep else None


def _encoding_metadata(encoding: ChunkEncoding) -> dict:
    """A chunk's sentences, their vectors (float16, base64) and entities as Chroma metadata values."""
    vectors = encoding.sentence_vectors if encoding.sentence_vectors is not None else np.zeros((0, 0), np.float16)
    return {"sentences": json.dumps(encoding.sentences), "entities": json.dumps(encoding.entities),
            "sentence_vectors": base64.b64encode(vectors.astype(np.float16).tobytes()).decode("ascii")}


def _read_encoding(meta: dict, vector: list[float]) -> ChunkEncoding:
    sentences = tuple(tuple(s) for s in json.loads(meta.get("sentences", "[]")))
    raw = base64.b64decode(meta.get("sentence_vectors", ""))
    vectors = np.frombuffer(raw, dtype=np.float16).reshape(len(sentences), -1) if sentences and raw else None
    entities = tuple((a, b, label) for a, b, label in json.loads(meta.get("entities", "[]")))
    return ChunkEncoding(vector, sentences, vectors, entities)
