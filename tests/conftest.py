"""Shared fixtures: one real assistant (real model, real Chroma on a temporary index) over
the real corpus, built once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.assistant import Assistant
from retrieval.embedding import Embedder
from retrieval.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, embedder) -> Assistant:
    settings = Settings(index_dir=tmp_path_factory.mktemp("index"), corpus_dir=CORPUS)
    built = Assistant(settings, embedder=embedder)
    built.ingest()
    return built


@pytest.fixture
def make_assistant(tmp_path, embedder):
    """A fresh assistant over a corpus folder of the test's own (shares the loaded model)."""
    def make(corpus: Path, **overrides) -> Assistant:
        return Assistant(Settings(index_dir=tmp_path / "index", corpus_dir=corpus, **overrides), embedder=embedder)
    return make
