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


def test_a_renamed_file_is_moved_not_taken_for_a_duplicate_and_not_embedded_again(corpus, make_assistant):
    assistant = make_assistant(corpus)
    assistant.ingest()
    chunks = assistant.index.chunks.count()
    (corpus / "004_9f3c536fd21fedea.txt").rename(corpus / "khamenei.txt")
    report = assistant.ingest()
    assert (report.added, report.removed, report.duplicates, report.chunks_embedded) == \
        (["khamenei.txt"], ["004_9f3c536fd21fedea.txt"], [], 0)
    assert sorted(assistant.snapshot.articles) == ["001_adf714cf9f5e1bca.txt", "khamenei.txt"]
    assert assistant.index.chunks.count() == chunks
    answer = assistant.ask("What did Khamenei say about the Popular Mobilization Forces?")
    assert answer.quotes and {q.source for q in answer.quotes} == {"khamenei.txt"}
    text = (corpus / "khamenei.txt").read_text(encoding="utf-8")
    assert all(text[q.start:q.end] == q.text for q in answer.quotes)


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


# -- unchanged files recognised by their stamp, without reading them ------------------------------------------
def no_reading(monkeypatch):
    """Fail the test if ingest reads an article file or every committed record with its text."""
    from retrieval.index.store import Index
    from retrieval.ingest import pipeline

    monkeypatch.setattr(pipeline, "read_article", lambda *a, **k: pytest.fail("read an article file"))
    monkeypatch.setattr(Index, "committed", lambda self: pytest.fail("read every committed record's text"))


def stamps(assistant) -> dict[str, str]:
    return {s: state.stamp for s, state in assistant.index.record_states().items()}


def test_an_unchanged_corpus_is_synced_without_reading_a_file(corpus, make_assistant, monkeypatch):
    from retrieval.ingest import pipeline

    monkeypatch.setattr(pipeline, "RACY_SECONDS", 0.0)
    assistant = make_assistant(corpus)
    first = assistant.ingest()
    assert (len(first.added), first.read) == (2, 2)
    assert all(stamps(assistant).values())
    ids = chunk_ids(assistant)
    with monkeypatch.context() as m:
        no_reading(m)
        again = assistant.ingest()
    assert (again.added, again.updated, again.removed, again.read, again.chunks_embedded) == ([], [], [], 0, 0)
    assert sorted(again.skipped) == sorted(p.name for p in corpus.iterdir())
    assert chunk_ids(assistant) == ids


def test_edits_are_seen_even_with_the_size_and_modification_time_kept(corpus, make_assistant, monkeypatch):
    import os

    from retrieval.ingest import pipeline

    monkeypatch.setattr(pipeline, "RACY_SECONDS", 0.0)
    assistant = make_assistant(corpus)
    assistant.ingest()
    path = corpus / "004_9f3c536fd21fedea.txt"
    text = path.read_text(encoding="utf-8")
    before = path.stat()
    edited = text.replace("Iraq", "Irak", 1)
    assert edited != text and len(edited.encode()) == len(text.encode())
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))      # size and mtime as they were
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    report = assistant.ingest()
    assert (report.updated, report.read, report.skipped) == (["004_9f3c536fd21fedea.txt"], 1, ["001_adf714cf9f5e1bca.txt"])
    record, chunks = prepare_article(path.name, edited, {}, assistant.settings.chunk_chars)
    assert assistant.index.record_states()[path.name].doc_hash == record.doc_hash
    assert set(chunk_ids(assistant)) >= {chunk_id(record.doc_hash, c) for c in chunks}
    # A sidecar added beside an unchanged file is an update too (its metadata is part of the version).
    (corpus / "001_adf714cf9f5e1bca.txt.meta.json").write_text(json.dumps({"outlet": "Example Wire"}))
    report = assistant.ingest()
    assert (report.updated, report.read) == (["001_adf714cf9f5e1bca.txt"], 1)
    assert assistant.snapshot.articles["001_adf714cf9f5e1bca.txt"].meta.outlet == "Example Wire"
    # Touched, not changed: read once, nothing written but the new stamp, then not read again.
    old = stamps(assistant)["004_9f3c536fd21fedea.txt"]
    os.utime(path)
    report = assistant.ingest()
    assert (report.updated, report.read, report.chunks_embedded) == ([], 1, 0)
    assert stamps(assistant)["004_9f3c536fd21fedea.txt"] not in ("", old)
    with monkeypatch.context() as m:
        no_reading(m)
        assert assistant.ingest().read == 0


def test_a_file_changed_just_before_the_ingest_gets_no_stamp(corpus, make_assistant):
    # Default RACY_SECONDS: the files were written a moment ago, so a second change within the same tick of
    # the file system's clock could keep their times; they are read again next time (nothing is re-embedded).
    assistant = make_assistant(corpus)
    assistant.ingest()
    assert set(stamps(assistant).values()) == {""}
    again = assistant.ingest()
    assert (again.read, again.added, again.updated, again.chunks_embedded) == (2, [], [], 0)


def test_a_named_file_is_ingested_without_reading_the_other_records(corpus, tmp_path, make_assistant, monkeypatch):
    from retrieval.index.store import Index

    assistant = make_assistant(corpus)
    assistant.ingest()
    outside = tmp_path / "incoming"
    outside.mkdir()
    (outside / "talks.txt").write_text(ARTICLE, encoding="utf-8")
    (outside / "copy.txt").write_text((corpus / "004_9f3c536fd21fedea.txt").read_text(encoding="utf-8"),
                                      encoding="utf-8")
    monkeypatch.setattr(Index, "committed", lambda self: pytest.fail("read every committed record's text"))
    monkeypatch.setattr(Index, "collect_garbage", lambda self, committed: pytest.fail("read every chunk id"))
    real_states = Index.record_states

    def named_only(self, sources=None):
        assert sources is not None, "read every record"
        return real_states(self, sources)

    monkeypatch.setattr(Index, "record_states", named_only)
    report = assistant.ingest([outside / "talks.txt", outside / "copy.txt"])
    assert (report.added, report.duplicates) == (["talks.txt"], [("copy.txt", "004_9f3c536fd21fedea.txt")])
    assert not (corpus / "copy.txt").exists()
    assert assistant.ingest([outside / "talks.txt"]).skipped == ["talks.txt"]
    record, chunks = prepare_article("talks.txt", ARTICLE, {}, assistant.settings.chunk_chars)
    assert sorted(c for c in chunk_ids(assistant) if c.startswith(record.doc_hash[:24])) == \
        sorted(chunk_id(record.doc_hash, c) for c in chunks)


def test_a_named_ingest_removes_what_an_interrupted_write_of_its_file_left(tmp_path, make_assistant):
    corpus = tmp_path / "c"
    corpus.mkdir()
    assistant = make_assistant(corpus)
    stale, stale_chunks = prepare_article("talks.txt", ARTICLE + "\nAn earlier draft.\n", {}, 600)
    # A crash after an earlier version's chunks were written, before its record committed them:
    assistant.index.chunks.upsert(ids=[chunk_id(stale.doc_hash, c) for c in stale_chunks],
                                  embeddings=assistant.embedder.embed_documents([c.text for c in stale_chunks]),
                                  documents=[c.text for c in stale_chunks],
                                  metadatas=[{"source": "talks.txt", "doc_hash": stale.doc_hash, "start": c.start,
                                              "end": c.end, "index": c.index, "text_hash": c.text_hash}
                                             for c in stale_chunks])
    incoming = tmp_path / "talks.txt"
    incoming.write_text(ARTICLE, encoding="utf-8")
    assert assistant.ingest([incoming]).added == ["talks.txt"]
    record, chunks = prepare_article("talks.txt", ARTICLE, {}, 600)
    assert chunk_ids(assistant) == sorted(chunk_id(record.doc_hash, c) for c in chunks)


def test_an_index_of_the_previous_record_format_is_migrated(corpus, tmp_path, make_assistant, monkeypatch):
    from retrieval.index.store import RECORD_FORMAT, content_hash
    from retrieval.ingest import pipeline

    monkeypatch.setattr(pipeline, "RACY_SECONDS", 0.0)
    assistant = make_assistant(corpus)
    assistant.ingest()
    ids = chunk_ids(assistant)
    # What an index written before record format 2 holds: no text hash, no stamp, no format mark.
    names = sorted(p.name for p in corpus.iterdir())
    assistant.index.articles.update(ids=names, metadatas=[{"content_hash": None, "stamp": None}] * len(names))
    assistant.index.articles.modify(metadata={"record_format": 1})
    old = make_assistant(corpus)
    assert {s.content_hash for s in old.index.record_states().values()} == {""}
    report = old.ingest()
    assert (report.added, report.updated, report.removed, report.read, report.chunks_embedded) == ([], [], [], 2, 0)
    assert old.index.articles.metadata == {"record_format": RECORD_FORMAT}
    assert {s: state.content_hash for s, state in old.index.record_states().items()} == \
        {n: content_hash((corpus / n).read_text(encoding="utf-8")) for n in names}
    assert all(stamps(old).values())
    assert chunk_ids(old) == ids
    with monkeypatch.context() as m:
        no_reading(m)
        assert old.ingest().read == 0
    copy = tmp_path / "copy.txt"
    copy.write_text((corpus / names[0]).read_text(encoding="utf-8"), encoding="utf-8")
    assert old.ingest([copy]).duplicates == [("copy.txt", names[0])]


def test_a_long_article_interrupted_between_parts_keeps_no_stamp_and_resumes(tmp_path, make_assistant, monkeypatch):
    from retrieval.ingest import pipeline

    monkeypatch.setattr(pipeline, "RACY_SECONDS", 0.0)
    corpus = tmp_path / "c"
    corpus.mkdir()
    text = "Harbour records\n\n" + "\n\n".join(
        f"On day {i} the harbour board counted {i * 7 + 3} trawlers at the north quay, report number {i} said."
        for i in range(60)) + "\n"
    (corpus / "long.txt").write_text(text, encoding="utf-8")
    assistant = make_assistant(corpus)
    _, chunks = prepare_article("long.txt", text, {}, assistant.settings.chunk_chars)

    def killed(done, total):
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest(assistant.settings, assistant.index, assistant.embedder, progress=killed, flush_chunks=4)
    state = assistant.index.record_states()["long.txt"]
    assert (state.n_chunks < len(chunks), state.stamp) == (True, "")
    report = pipeline.ingest(assistant.settings, assistant.index, assistant.embedder, flush_chunks=4)
    assert (report.added, report.chunks_embedded) == (["long.txt"], len(chunks) - state.n_chunks)
    assert assistant.index.record_states()["long.txt"].stamp != ""
    assert assistant.index.chunks.count() == len(chunks)


WARMED = """
import sys, time
from pathlib import Path
from retrieval.assistant import Warmup, default_assistant
from retrieval.text import entities

warmup = Warmup(default_assistant).start()
assistant = warmup()
loaded_when_ready = entities._pipeline.cache_info().currsize
deadline = time.monotonic() + 60
while entities._pipeline.cache_info().currsize == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
loaded_before_upload = entities._pipeline.cache_info().currsize
new = Path(sys.argv[1])
new.write_text("Harbour council approves ferry terminal\\n\\nThe council approved the ferry terminal on Tuesday.\\n")
report = assistant.ingest([new])
print(loaded_when_ready, loaded_before_upload, report.added)
"""


def test_the_app_warm_up_loads_what_the_first_upload_needs_after_it_is_ready(tmp_path, make_assistant):
    """The UI's warm-up, once the assistant is ready, loads spaCy's NER and Chroma's vector index
    in the background, so an analyst's first upload does not wait for them (~2 s)."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    make_assistant(corpus).ingest()            # built beforehand: the start-up sync finds nothing to do
    env = dict(os.environ, QA_CORPUS_DIR=str(corpus), QA_INDEX_DIR=str(tmp_path / "index"), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", WARMED, str(tmp_path / "ferry.txt")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "0 1 ['ferry.txt']"
