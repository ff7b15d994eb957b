"""The same code against a real Chroma server (``chroma run``), as past one machine."""
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS, free_port


@pytest.fixture
def chroma_server(tmp_path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    proc = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
