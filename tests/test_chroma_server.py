"""The same code against a real Chroma server (``chroma run``), as past one machine."""
import shutil

from tests.conftest import CORPUS


def test_ingest_and_ask_through_a_chroma_server(chroma_server, tmp_path, make_assistant):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_9f3c536fd21fedea.txt", corpus)
    assistant = make_assistant(corpus, chroma_host="127.0.0.1", chroma_port=chroma_server)
    assert assistant.ingest().added == ["004_9f3c536fd21fedea.txt"]
    assert not (tmp_path / "index" / "chroma").exists()     # nothing was written locally
    answer = assistant.ask("What did Khamenei say about the PMF?")
    assert any("must be preserved and strengthened" in q.text for q in answer.quotes)
    # A second process (a fresh assistant) sees the same index, BM25 rebuilt from the server.
    again = make_assistant(corpus, chroma_host="127.0.0.1", chroma_port=chroma_server)
    assert again.ingest().skipped == ["004_9f3c536fd21fedea.txt"]
    assert len(again.snapshot.chunks) == len(assistant.snapshot.chunks) > 0
