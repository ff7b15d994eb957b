"""Dense search: exact over the snapshot's vectors (each row the vector of its chunk), or by the
index's HNSW graph (``QA_DENSE_SEARCH=graph``), which must find what exact search finds and skip what the
snapshot does not hold."""
from __future__ import annotations

import time

import numpy as np
import pytest

from retrieval.index.snapshot import Snapshot


def brute_force(vectors: np.ndarray, query: np.ndarray, n: int, allowed: np.ndarray) -> list[int]:
    ranked = sorted((i for i in range(len(vectors)) if allowed[i]), key=lambda i: -float(vectors[i] @ query))
    return ranked[:n]


def test_each_row_is_the_vector_of_its_chunk(assistant, embedder):
    snapshot = assistant.snapshot
    vectors = snapshot.rows(np.arange(len(snapshot.chunks)))
    assert vectors.shape == (len(snapshot.chunks), 384) == (53, 384)
    picked = [0, 17, 52]
    fresh = np.array(embedder.embed_documents([snapshot.chunks[i].text for i in picked]), dtype=np.float32)
    assert np.allclose(vectors[picked], fresh, atol=1e-5)
    assert np.array_equal(np.array([snapshot.vector(i) for i in picked]), vectors[picked])


def test_nearest_is_the_exact_ranking_with_and_without_a_source_mask(assistant):
    snapshot = assistant.snapshot
    vectors = snapshot.rows(np.arange(len(snapshot.chunks)))
    rng = np.random.default_rng(7)
    sources = frozenset(sorted(snapshot.articles)[:2])
    mask = snapshot.mask(sources)
    everything = np.ones(len(snapshot.chunks), dtype=bool)
    for _ in range(5):
        query = rng.normal(size=384).astype(np.float32)
        query /= np.linalg.norm(query)
        got = snapshot.nearest(query, 10)
        assert [pos for pos, _ in got] == brute_force(vectors, query, 10, everything)
        assert [sim for _, sim in got] == sorted((sim for _, sim in got), reverse=True)
        masked = snapshot.nearest(query, 10, mask)
        assert [pos for pos, _ in masked] == brute_force(vectors, query, 10, mask)
        assert {snapshot.chunks[pos].source for pos, _ in masked} <= sources
    query = vectors[5]
    assert len(snapshot.nearest(query, 1000)) == 53
    assert snapshot.nearest(query, 1)[0][0] == 5
    assert snapshot.nearest(query, 5, np.zeros(53, dtype=bool)) == []


def test_the_retrievers_similarity_is_the_cosine_of_question_and_chunk(assistant, embedder):
    question = assistant.analyze("What did Khamenei say about the PMF?")
    query = np.array(embedder.embed_query(question.dense_text or question.text), dtype=np.float32)
    for hit in assistant.retriever.hits(question):
        row = assistant.snapshot.vector(assistant.snapshot.position[hit.chunk.id])
        assert abs(hit.dense - float(row @ query)) < 1e-6


def graph_instance(make_assistant, corpus=None, **overrides):
    """An assistant whose dense search asks the index's HNSW graph."""
    from tests.conftest import CORPUS

    built = make_assistant(corpus or CORPUS, dense_search="graph", **overrides)
    built.ingest()
    return built


def test_the_graph_finds_what_exact_search_finds(make_assistant, assistant, monkeypatch):
    from eval.runner import load_questions
    from retrieval.search import dense as dense_module

    monkeypatch.setattr(dense_module, "NARROW", 0)      # filters too go to the graph, however narrow
    graph = graph_instance(make_assistant)
    snapshot, dense = graph.snapshot, graph.retriever.dense
    assert dense.graph and graph.index.chunks.configuration_json["hnsw"]["ef_search"] == 400
    assert not assistant.retriever.dense.graph          # the default on a local index: exact
    sources = frozenset(sorted(snapshot.articles)[:2])
    for item in load_questions()[:40]:
        question = graph.analyze(item["question"])
        vector = graph.embedder.query_vector(question.dense_text or question.text)
        for mask in (None, snapshot.mask(sources)):
            exact = snapshot.nearest(vector, 30, mask)
            with monkeypatch.context() as patch:
                patch.setattr(Snapshot, "nearest", lambda *args: pytest.fail("fell back to exact search"))
                found = dense.nearest(snapshot, vector, 30, mask)
            assert [p for p, _ in found] == [p for p, _ in exact]
            assert np.allclose([s for _, s in found], [s for _, s in exact], atol=1e-4)
        # The whole retrieval and answer are those of the exact instance over the same articles.
        assert [h.chunk.id for h in graph.retriever.hits(question)] == \
               [h.chunk.id for h in assistant.retriever.hits(assistant.analyze(item["question"]))]
    question = "Which militias refuse to disarm?"
    assert graph.ask(question).to_dict()["quotes"] == assistant.ask(question).to_dict()["quotes"]


def test_the_graph_skips_chunks_the_snapshot_does_not_hold(chroma_server, make_assistant, monkeypatch):
    from tests.conftest import CORPUS

    graph = make_assistant(CORPUS, chroma_host="127.0.0.1", chroma_port=chroma_server)
    graph.ingest()
    snapshot, dense = graph.snapshot, graph.retriever.dense
    assert dense.graph          # the default on a Chroma server
    vector = graph.embedder.query_vector("Who commands the Popular Mobilization Forces?")
    before = dense.nearest(snapshot, vector, 10)
    # A chunk in the collection that no record commits (as an interrupted or running ingest leaves),
    # nearer to the question than any: the server returns it first; search skips it, still 10 results.
    graph.index.chunks.upsert(ids=["uncommitted:0:10"], embeddings=[vector.tolist()], documents=["stray"],
                              metadatas=[{"source": "stray.txt", "doc_hash": "x", "start": 0, "end": 5}])
    assert graph.index.query(vector.tolist(), 1)[0][0] == "uncommitted:0:10"
    monkeypatch.setattr(Snapshot, "nearest", lambda *args: pytest.fail("fell back to exact search"))
    assert dense.nearest(snapshot, vector, 10) == before and len(before) == 10


def test_a_collection_made_with_another_ef_search_is_set_to_this_one(tmp_path, embedder):
    from retrieval.index.store import Index, open_client
    from retrieval.settings import Settings

    client = open_client(Settings(index_dir=tmp_path))
    assert Index(client, "chunks", embedder.identity, ef_search=100).chunks.configuration_json["hnsw"]["ef_search"] == 100
    assert Index(client, "chunks", embedder.identity, ef_search=400).chunks.configuration_json["hnsw"]["ef_search"] == 400
    assert client.get_collection("chunks").configuration_json["hnsw"]["ef_search"] == 400


def test_opening_waits_out_a_locked_database_and_then_says_busy(tmp_path, embedder, monkeypatch):
    """The ef_search test above once met SQLite's "database is locked" on a busy 2-core machine:
    opening the collections is tried again, and a lock that lasts is IndexBusy, not a call to
    delete the index."""
    from chromadb.errors import InternalError

    from retrieval.errors import IndexBusy
    from retrieval.index import store
    from retrieval.settings import Settings

    locked = InternalError("Database error: error returned from database: (code: 5) database is locked")
    calls: list[float] = []

    def failing(times: int, error: Exception = locked):
        def step() -> str:
            calls.append(time.perf_counter())
            if len(calls) <= times:
                raise error
            return "opened"
        return step

    assert store._while_locked(failing(2)) == "opened" and len(calls) == 3
    assert [round(b - a, 1) for a, b in zip(calls, calls[1:])] == [0.2, 0.4]    # LOCKED_WAIT, doubling
    calls.clear()
    with pytest.raises(ValueError):                       # any other error is not waited out
        store._while_locked(failing(1, ValueError("no such collection")))
    assert len(calls) == 1

    monkeypatch.setattr(store, "LOCKED_WAIT", 0.0)
    calls.clear()
    opened = store.Index._open
    monkeypatch.setattr(store.Index, "_open", lambda index, *args: failing(99)())
    client = store.open_client(Settings(index_dir=tmp_path))
    with pytest.raises(IndexBusy, match="locked by another process writing to it; try again"):
        store.Index(client, "chunks", embedder.identity)
    assert len(calls) == store.LOCKED_TRIES == 5
    calls.clear()
    monkeypatch.setattr(store.Index, "_open", lambda index, *args: failing(3)() and opened(index, *args))
    assert store.Index(client, "chunks", embedder.identity).chunks.count() == 0 and len(calls) == 4


def test_changes_append_vectors_without_copying_the_mapped_ones(make_assistant, tmp_path, monkeypatch):
    from retrieval.index import saved
    from retrieval.index import snapshot as snapshot_module
    from tests.test_shared_index import BASE, NEW, NEW_QUESTION, answered_from, corpus_of

    monkeypatch.setattr(saved, "RESAVE_CHUNKS", 0)
    corpus = corpus_of(tmp_path / "corpus", BASE)
    make_assistant(corpus, dense_search="graph").ingest()
    graph = make_assistant(corpus, dense_search="graph")       # opened from the saved copy: mapped
    mapped = graph.snapshot.vectors
    assert isinstance(mapped, np.memmap) and len(mapped) == len(graph.snapshot.chunks) == 9
    monkeypatch.setattr(saved, "RESAVE_CHUNKS", 10**6)
    monkeypatch.setattr(snapshot_module, "COMPACT_MIN", 10**6)
    monkeypatch.setattr(snapshot_module, "COMPACT_SHARE", 10.0)
    corpus_of(corpus, NEW)
    assert graph.ingest().added == [NEW]
    assert graph.snapshot.vectors is mapped and len(graph.snapshot.added) == len(graph.snapshot.chunks_of(NEW))
    assert answered_from(graph, NEW_QUESTION, NEW)
    # Saved again (compacted), the snapshot maps the new copy's vectors instead of holding them.
    monkeypatch.setattr(saved, "RESAVE_CHUNKS", 0)
    (corpus / BASE).unlink()
    graph.ingest()
    vectors = graph.snapshot.vectors
    assert isinstance(vectors, np.memmap) and vectors is not mapped and not len(graph.snapshot.added)
    assert len(vectors) == len(graph.snapshot.chunks) == len(graph.snapshot.chunks_of(NEW))
    assert answered_from(graph, NEW_QUESTION, NEW)


def test_too_few_usable_neighbours_from_the_graph_fall_back_to_exact_search(make_assistant, monkeypatch):
    from retrieval.index.store import Index
    from retrieval.search import dense as dense_module

    graph = graph_instance(make_assistant)
    snapshot, dense = graph.snapshot, graph.retriever.dense
    vector = graph.embedder.query_vector("Who commands the Popular Mobilization Forces?")
    monkeypatch.setattr(dense_module, "NARROW", 0)
    sources = frozenset(sorted(snapshot.articles)[:1])
    asked = []
    # The graph answers with chunks the snapshot does not hold (another instance's, not yet applied).
    monkeypatch.setattr(Index, "query", lambda self, vector, n, count=None: asked.append(n) or
                        [(f"elsewhere:{i}", 0.9) for i in range(n)])
    for mask in (None, snapshot.mask(sources)):
        assert dense.nearest(snapshot, vector, 10, mask) == snapshot.nearest(vector, 10, mask)
    # A filter to one article (9 of the 53 chunks) asks the graph for 6 times as many: ceil(53 / 9).
    assert int(snapshot.mask(sources).sum()) == 9 and len(snapshot.chunks) == 53
    assert asked == [20, 120]
