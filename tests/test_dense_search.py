"""Dense search is exact: over every committed chunk vector, each row the vector of its chunk."""
from __future__ import annotations

import numpy as np


def brute_force(vectors: np.ndarray, query: np.ndarray, n: int, allowed: np.ndarray) -> list[int]:
    ranked = sorted((i for i in range(len(vectors)) if allowed[i]), key=lambda i: -float(vectors[i] @ query))
    return ranked[:n]


def test_each_row_is_the_vector_of_its_chunk(assistant, embedder):
    snapshot = assistant.snapshot
    assert snapshot.vectors.shape == (len(snapshot.chunks), 384) == (53, 384)
    picked = [0, 17, 52]
    fresh = np.array(embedder.embed_documents([snapshot.chunks[i].text for i in picked]), dtype=np.float32)
    assert np.allclose(snapshot.vectors[picked], fresh, atol=1e-5)


def test_nearest_is_the_exact_ranking_with_and_without_a_source_mask(assistant):
    snapshot = assistant.snapshot
    rng = np.random.default_rng(7)
    sources = frozenset(sorted(snapshot.articles)[:2])
    mask = snapshot.mask(sources)
    everything = np.ones(len(snapshot.chunks), dtype=bool)
    for _ in range(5):
        query = rng.normal(size=384).astype(np.float32)
        query /= np.linalg.norm(query)
        got = snapshot.nearest(query, 10)
        assert [pos for pos, _ in got] == brute_force(snapshot.vectors, query, 10, everything)
        assert [sim for _, sim in got] == sorted((sim for _, sim in got), reverse=True)
        masked = snapshot.nearest(query, 10, mask)
        assert [pos for pos, _ in masked] == brute_force(snapshot.vectors, query, 10, mask)
        assert {snapshot.chunks[pos].source for pos, _ in masked} <= sources
    query = snapshot.vectors[5]
    assert len(snapshot.nearest(query, 1000)) == 53
    assert snapshot.nearest(query, 1)[0][0] == 5
    assert snapshot.nearest(query, 5, np.zeros(53, dtype=bool)) == []


def test_the_retrievers_similarity_is_the_cosine_of_question_and_chunk(assistant, embedder):
    question = assistant.analyze("What did Khamenei say about the PMF?")
    query = np.array(embedder.embed_query(question.dense_text or question.text), dtype=np.float32)
    for hit in assistant.retriever.hits(question):
        row = assistant.snapshot.vectors[assistant.snapshot.position[hit.chunk.id]]
        assert abs(hit.dense - float(row @ query)) < 1e-6
