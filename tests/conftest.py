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


# -- the web UI, launched once for tests/test_ui.py and tests/test_browser.py -----------------------------
def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_ui(get_assistant):
    """``app.build_ui(get_assistant)`` served on a free local port; returns ``(demo, url)``."""
    from app import build_ui

    demo = build_ui(get_assistant)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def ui_url(assistant):
    """The URL of the web UI running on the shared assistant (closed at the end of the session)."""
    demo, url = launch_ui(lambda: assistant)
    yield url
    demo.close()
