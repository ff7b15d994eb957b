"""Ingest is incremental, idempotent, crash-safe, and refuses bad files one by one."""
import json
import shutil

import pytest

from retrieval.errors import IndexBusy
from retrieval.index.store import chunk_id
from retrieval.ingest.pipeline import prepare_article
from tests.conftest import CORPUS

ARTICLE = ("Militia leaders met in Baghdad\n\n"
           "Leaders of several armed factions met government officials in Baghdad on Sunday to discuss "
           "handing heavy weapons to the state, two officials said. The talks lasted six hours.\n\n"
           "A second round is planned for next month, according to a statement from the prime minister's office.\n")


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("001_adf714cf9f5e1bca.txt", "004_9f3c536fd21fedea.txt"):
        shutil.copy(CORPUS / name, folder / name)
    return folder


def chunk_ids(assistant) -> list[str]:
    return sorted(assistant.index.chunks.get(include=[])["ids"])


def test_reingest_adds_nothing_and_embeds_nothing(corpus, make_assistant):
    assistant = make_assistant(corpus)
    first = assistant.ingest()
    assert (sorted(first.added), first.skipped, first.failed) == (sorted(p.name for p in corpus.iterdir()), [], [])
    ids = chunk_ids(assistant)
    second = assistant.ingest()
    assert (second.added, second.updated, second.removed, second.chunks_embedded) == ([], [], [], 0)
    assert sorted(second.skipped) == sorted(p.name for p in corpus.iterdir())
    assert chunk_ids(assistant) == ids


def test_changed_article_is_replaced_reusing_unchanged_vectors_and_removed_one_is_deleted(corpus, make_assistant):
    assistant = make_assistant(corpus)
    assistant.ingest()
    path = corpus / "004_9f3c536fd21fedea.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\nA new closing paragraph was added by the editors today.\n",
                    encoding="utf-8")
    (corpus / "001_adf714cf9f5e1bca.txt").unlink()
    report = assistant.ingest()
    assert (report.updated, report.removed, report.chunks_embedded) == (["004_9f3c536fd21fedea.txt"],
                                                                        ["001_adf714cf9f5e1bca.txt"], 1)
    record, chunks = prepare_article(path.name, path.read_text(encoding="utf-8"), {}, assistant.settings.chunk_chars)
    assert chunk_ids(assistant) == sorted(chunk_id(record.doc_hash, c) for c in chunks)
    assert set(assistant.snapshot.articles) == {"004_9f3c536fd21fedea.txt"}


def test_bad_files_fail_one_by_one_and_duplicates_are_skipped(corpus, make_assistant):
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (corpus / "empty.md").write_text("   \n")
    (corpus / "latin1.txt").write_bytes(ARTICLE.replace("prime", "prémier").encode("latin-1"))
    (corpus / "copy.txt").write_text((corpus / "004_9f3c536fd21fedea.txt").read_text(encoding="utf-8"), encoding="utf-8")
    report = make_assistant(corpus).ingest()
    assert sorted(report.failed) == [("binary.txt", "binary.txt looks like a binary file, not text."),
                                     ("empty.md", "empty.md is empty.")]
    assert "latin1.txt" in report.added
    assert sorted(report.duplicates) == [("copy.txt", "004_9f3c536fd21fedea.txt")] or \
        sorted(report.duplicates) == [("004_9f3c536fd21fedea.txt", "copy.txt")]


def test_sidecar_metadata_is_used_and_offsets_stay_exact(tmp_path, make_assistant):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "talks.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / "talks.txt.meta.json").write_text(json.dumps({"outlet": "Example Wire", "published": "March 2, 2025"}))
    assistant = make_assistant(corpus)
    assistant.ingest()
    answer = assistant.ask("How many hours did the talks last?")
    assert not answer.abstained
    quote = next(q for q in answer.quotes if "hours" in q.text)
    assert (quote.outlet, quote.published, quote.title) == ("Example Wire", "2025-03-02", "Militia leaders met in Baghdad")
    assert ARTICLE[quote.start:quote.end] == quote.text == "The talks lasted six hours."


def test_interrupted_write_is_invisible_and_cleaned_up(tmp_path, make_assistant):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "talks.txt").write_text(ARTICLE, encoding="utf-8")
    assistant = make_assistant(corpus)
    record, chunks = prepare_article("talks.txt", ARTICLE, {}, 600)
    # A crash after the chunks were written but before the article was committed:
    assistant.index.chunks.upsert(ids=[chunk_id(record.doc_hash, c) for c in chunks],
                                  embeddings=assistant.embedder.embed_documents([c.text for c in chunks]),
                                  documents=[c.text for c in chunks],
                                  metadatas=[{"source": "talks.txt", "doc_hash": record.doc_hash, "start": c.start,
                                              "end": c.end, "index": c.index, "text_hash": c.text_hash} for c in chunks])
    assert assistant.index.committed() == {}
    assert assistant.index.committed_chunks({})[0] == []
    report = assistant.ingest()
    assert report.added == ["talks.txt"]
    assert chunk_ids(assistant) == sorted(chunk_id(record.doc_hash, c) for c in chunks)


def test_a_second_ingest_is_refused_while_one_holds_the_lock(corpus, make_assistant):
    from filelock import FileLock

    assistant = make_assistant(corpus)
    with FileLock(str(assistant.settings.index_dir / "ingest.lock")):
        with pytest.raises(IndexBusy, match="Another ingest is running"):
            assistant.ingest()
