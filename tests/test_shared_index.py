"""Instances that share one index: the saved snapshot, incremental changes, and writes made by another
instance (or the command line) applied without a restart, against a real ``chroma run`` on loopback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from retrieval.index import saved
from retrieval.index import snapshot as snapshot_module
from retrieval.index.snapshot import Snapshot
from retrieval.types import StoredChunk
from tests.conftest import CORPUS, ROOT

BASE = "004_9f3c536fd21fedea.txt"
NEW = "000_52a231bc96e83ae4.txt"
NEW_QUESTION = "In which Iraqi city is the Shi'ite political figure who briefed Al-Nahar based?"


def corpus_of(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / name, folder)
    return folder


def answered_from(assistant, question: str, source: str) -> bool:
    return any(q.source == source for q in assistant.ask(question).quotes)


def chunk_table(snapshot: Snapshot) -> dict[str, tuple]:
    """Every committed chunk with what ingest stored for it (vector, sentences, their vectors, entities)."""
    live = range(len(snapshot.chunks)) if snapshot.alive is None else np.flatnonzero(snapshot.alive)
    table = {}
    for i in live:
        c: StoredChunk = snapshot.chunks[i]
        vectors = None if c.sentence_vectors is None else np.asarray(c.sentence_vectors, np.float32).round(3).tobytes()
        table[c.id] = (c.source, c.start, c.end, c.text, c.sentences, c.entities, vectors,
                       np.asarray(snapshot.vector(i)).round(5).tobytes())
    return table


def test_saved_snapshot_reopens_without_reading_chunks(tmp_path, make_assistant, monkeypatch):
    monkeypatch.setattr(saved, "RESAVE_CHUNKS", 0)     # saved again after any change
    corpus = corpus_of(tmp_path / "corpus", BASE, NEW)
    first = make_assistant(corpus)
    first.ingest()
    folder = next((tmp_path / "index" / "snapshot").iterdir())
    assert (folder / "vectors.npy").exists() and (folder / "lexical" / "bm25").is_dir()
    monkeypatch.setattr(Snapshot, "load", classmethod(lambda cls, index: pytest.fail("read the index whole")))
    monkeypatch.setattr("retrieval.index.snapshot.defined_acronyms", lambda text: pytest.fail("read every article again"))
    again = make_assistant(corpus)
    assert chunk_table(again.snapshot) == chunk_table(first.snapshot)
    from retrieval.text.aliases import defined_acronyms      # the corpus terms came with the copy, the same

    assert again.snapshot.corpus_terms() == (again.snapshot.known_terms(), [
        d for record in again.snapshot.articles.values() for d in defined_acronyms(record.text)],
        again.snapshot.initialisms())
    assert isinstance(again.snapshot.vectors, np.memmap)
    for chunk in again.snapshot.chunks:
        assert chunk.text == again.snapshot.articles[chunk.source].text[chunk.start:chunk.end]
    assert again.snapshot.lexical.search(["nahar"], 5) == first.snapshot.lexical.search(["nahar"], 5)
    assert answered_from(again, NEW_QUESTION, NEW)


def test_a_stale_saved_snapshot_is_brought_up_to_date(tmp_path, make_assistant):
    corpus = corpus_of(tmp_path / "corpus", BASE)
    make_assistant(corpus).ingest()
    writer = make_assistant(corpus_of(tmp_path / "corpus", NEW))   # writes without saving the snapshot again
    writer.ingest()
    reopened = make_assistant(corpus)
    assert set(reopened.snapshot.articles) == {BASE, NEW}
    assert chunk_table(reopened.snapshot) == chunk_table(writer.snapshot)


def test_reopening_compares_only_the_articles_the_log_names_since_the_copy(tmp_path, make_assistant, monkeypatch):
    from retrieval.index.changes import ChangeLog
    from retrieval.index.store import Index

    resave = saved.RESAVE_CHUNKS
    monkeypatch.setattr(saved, "RESAVE_CHUNKS", 0)     # the writer saves its copy after its ingest
    corpus = corpus_of(tmp_path / "corpus", BASE, NEW, "001_adf714cf9f5e1bca.txt")
    make_assistant(corpus).ingest()
    monkeypatch.setattr(saved, "RESAVE_CHUNKS", resave)
    asked = []
    real = Index.committed_versions
    monkeypatch.setattr(Index, "committed_versions", lambda self, sources=None: asked.append(sources) or real(self, sources))
    make_assistant(corpus)
    # The copy's place is before the writer's own entries: they name the three articles, which the copy
    # holds all the same (the writer applied them before saving), so its place moves to the log's end.
    assert asked == [{BASE, NEW, "001_adf714cf9f5e1bca.txt"}]
    asked.clear()
    make_assistant(corpus)
    assert asked == [set()]                      # nothing written since: no article read
    # Another writer changes one article, and is killed after committing it, before its closing entry.
    writer = make_assistant(corpus, index_dir=tmp_path / "index")
    (corpus / BASE).write_text((CORPUS / "002_09e231ab3d45662e.txt").read_text(encoding="utf-8"), encoding="utf-8")
    calls = []
    real_record = ChangeLog.record

    def record(self, sources):
        calls.append(sources)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real_record(self, sources)

    monkeypatch.setattr(ChangeLog, "record", record)
    with pytest.raises(KeyboardInterrupt):
        writer.ingest()
    monkeypatch.setattr(ChangeLog, "record", real_record)
    asked.clear()
    reopened = make_assistant(corpus)
    assert asked == [{BASE}]                     # the entry written before the write names it
    assert reopened.snapshot.version(BASE) == writer.index.committed_versions({BASE})[BASE]
    assert chunk_table(reopened.snapshot) == chunk_table(Snapshot.load(reopened.index))
    # A copy saved before copies kept their place in the log: every article is compared, once (the copy
    # is saved again with the change, and its place).
    next((tmp_path / "index" / "snapshot").iterdir()).joinpath("log_place.json").unlink()
    monkeypatch.setattr(saved, "RESAVE_CHUNKS", 0)
    asked.clear()
    make_assistant(corpus)
    make_assistant(corpus)
    assert asked == [None, set()]


def test_incremental_changes_equal_a_full_reload(tmp_path, make_assistant, monkeypatch):
    monkeypatch.setattr(snapshot_module, "COMPACT_MIN", 10**6)    # keep the delta and the dead rows
    monkeypatch.setattr(snapshot_module, "COMPACT_SHARE", 10.0)
    corpus = corpus_of(tmp_path / "corpus", BASE)
    assistant = make_assistant(corpus)
    assistant.ingest()
    monkeypatch.setattr(Snapshot, "load", classmethod(lambda cls, index: pytest.fail("reloaded the whole index")))
    shutil.copy(CORPUS / NEW, corpus)
    assert assistant.ingest().added == [NEW]
    assert answered_from(assistant, NEW_QUESTION, NEW)
    # Replace the base article with other text, then delete the new one.
    (corpus / BASE).write_text((CORPUS / "002_09e231ab3d45662e.txt").read_text(encoding="utf-8"), encoding="utf-8")
    assert assistant.ingest().updated == [BASE]
    (corpus / NEW).unlink()
    assert assistant.ingest().removed == [NEW]
    assert assistant.snapshot.alive is not None and assistant.snapshot.lexical.delta_size
    monkeypatch.undo()
    full = Snapshot.load(assistant.index)
    assert chunk_table(assistant.snapshot) == chunk_table(full)
    assert set(assistant.snapshot.articles) == {BASE}
    # BM25 of the changed snapshot scores new chunks with the statistics of the index built before them
    # and dropped chunks still count in its idf: the same best chunks, the tail may differ a little.
    for terms in (["nahar"], ["militia", "disarm"], ["khamenei"]):
        got = [assistant.snapshot.chunks[i].id for i, _ in assistant.snapshot.lexical.search(terms, 5)]
        want = [full.chunks[i].id for i, _ in full.lexical.search(terms, 5)]
        assert got[:2] == want[:2] and len(set(got) & set(want)) >= min(4, len(want))
    assert not answered_from(assistant, NEW_QUESTION, NEW)


def test_compaction_keeps_the_same_chunks(tmp_path, make_assistant, monkeypatch):
    monkeypatch.setattr(snapshot_module, "COMPACT_MIN", 10**6)
    monkeypatch.setattr(snapshot_module, "COMPACT_SHARE", 10.0)
    corpus = corpus_of(tmp_path / "corpus", BASE, NEW)
    assistant = make_assistant(corpus)
    assistant.ingest()
    (corpus / NEW).unlink()
    assistant.ingest()
    snapshot = assistant.snapshot
    assert snapshot.alive is not None
    compact = snapshot.compacted()
    assert compact.alive is None and len(compact.chunks) == int(snapshot.alive.sum())
    assert chunk_table(compact) == chunk_table(snapshot)


def wait_for(condition, seconds: float) -> float:
    """Seconds until ``condition()`` held; fails after ``seconds``."""
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < seconds, f"not within {seconds} s"
        time.sleep(0.2)
    return time.monotonic() - t0


def committed_chunk_count(assistant) -> tuple[int, int]:
    """Chunks in the server's collection, and the chunks the committed records account for."""
    records = assistant.index.committed()
    return assistant.index.chunks.count(), sum(r.n_chunks for r in records.values())


def test_instances_on_one_server_see_each_others_writes(chroma_server, tmp_path, make_assistant):
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    # Two "machines": each its own corpus folder and local index folder, one Chroma server.
    a = make_assistant(corpus_of(tmp_path / "a", BASE), **server)
    a.ingest()
    b = make_assistant(corpus_of(tmp_path / "b"), **server, index_dir=tmp_path / "index-b")
    assert set(b.snapshot.articles) == {BASE}
    assert not answered_from(b, NEW_QUESTION, NEW)

    corpus_of(tmp_path / "a", NEW)
    assert a.ingest().added == [NEW]
    seen = wait_for(lambda: answered_from(b, NEW_QUESTION, NEW), 10)
    assert seen < 5
    assert chunk_table(b.snapshot) == chunk_table(a.snapshot)

    # The command line, in a process of its own, adds a third article: both instances answer from it.
    # (It names the file: a bare ``ingest`` syncs the index with *its* corpus folder, removing the rest.)
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server),
           "QA_CORPUS_DIR": str(tmp_path / "cli"), "QA_INDEX_DIR": str(tmp_path / "index-cli")}
    done = subprocess.run([sys.executable, "app.py", "ingest", str(CORPUS / "001_adf714cf9f5e1bca.txt")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    question = "Who heads the Iraqi Center for Strategic Studies?"
    for instance in (a, b):
        wait_for(lambda: "001_adf714cf9f5e1bca.txt" in instance.snapshot.articles or instance.refresh(), 10)
    assert set(a.snapshot.articles) == set(b.snapshot.articles) == {BASE, NEW, "001_adf714cf9f5e1bca.txt"}
    assert answered_from(b, question, "001_adf714cf9f5e1bca.txt")
    stored, committed = committed_chunk_count(a)
    assert stored == committed == len(a.snapshot.chunks) == len(b.snapshot.chunks)


def test_two_instances_ingesting_at_once_neither_corrupt_nor_duplicate(chroma_server, tmp_path, make_assistant):
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    names = [BASE, NEW, "001_adf714cf9f5e1bca.txt", "003_8248b2237cdcb8a2.txt"]
    a = make_assistant(tmp_path / "a", **server)
    b = make_assistant(tmp_path / "b", **server, index_dir=tmp_path / "index-b")
    reports, errors = {}, []
    wanted = {"a": names[:3], "b": names[1:]}     # two overlap

    def run(name, assistant):
        try:
            reports[name] = assistant.ingest([CORPUS / n for n in wanted[name]], wait=120)
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run, args=(n, x)) for n, x in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # The lease made them take turns: each article was written once, by whichever came first; the other
    # found it committed (the same text under the same name: skipped, or a duplicate of it).
    written = reports["a"].added + reports["b"].added
    assert sorted(written) == sorted(set(names))
    for instance in (a, b):
        instance.refresh(force=True)
        assert set(instance.snapshot.articles) == set(names)
    stored, committed = committed_chunk_count(a)
    assert stored == committed == len(a.snapshot.chunks) == len(b.snapshot.chunks)
    assert len({c.id for c in a.snapshot.chunks}) == len(a.snapshot.chunks)


def test_the_change_log_is_pruned_and_an_instance_behind_it_compares_every_version(chroma_server, tmp_path,
                                                                                    make_assistant, monkeypatch):
    from retrieval.index import changes

    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    names = [BASE, NEW, "001_adf714cf9f5e1bca.txt", "002_09e231ab3d45662e.txt", "003_8248b2237cdcb8a2.txt"]
    a = make_assistant(tmp_path / "a", **server)
    b = make_assistant(tmp_path / "b", **server, index_dir=tmp_path / "index-b")
    checks = []
    real_changed = b.index.log.changed

    def changed():
        checks.append(real_changed())
        return checks[-1]

    monkeypatch.setattr(b.index.log, "changed", changed)
    log = a.index.log

    def stored_pruned_total():
        return log.collection.count(), log.pruned(), log.total()

    # Entries younger than the retention are kept, however many. A write is announced twice: before it
    # starts and once complete.
    monkeypatch.setattr(changes, "KEEP_ENTRIES", 0)
    a.ingest([CORPUS / names[0]])
    assert (log.prune(), stored_pruned_total()) == (0, (2, 0, 2))
    b.refresh(force=True)
    assert checks == [{names[0]}]

    # Past the retention, each ingest prunes to the newest two entries (its own write's); an instance that
    # checks after each write never misses one and applies each incrementally.
    monkeypatch.setattr(changes, "RETENTION_SECONDS", 0.0)
    monkeypatch.setattr(changes, "KEEP_ENTRIES", 2)
    for written, name in enumerate(names[1:3], start=2):
        assert a.ingest([CORPUS / name]).added == [name]
        assert stored_pruned_total() == (2, 2 * written - 2, 2 * written)
        b.refresh(force=True)
        assert checks[-1] == {name}

    # The other instance does not check while three more writes happen: the entries it needed are pruned.
    a.ingest([CORPUS / names[3]])
    a.ingest([CORPUS / names[4]])
    (tmp_path / "a" / names[0]).unlink()
    assert a.ingest().removed == [names[0]]          # a sync of a's folder: the deletion is write 6
    assert stored_pruned_total() == (2, 10, 12)
    assert len(log.collection.get(include=[])["ids"]) == 2
    b.refresh(force=True)
    assert checks[-1] is None                         # fewer entries found than the count says
    assert set(b.snapshot.articles) == set(a.snapshot.articles) == set(names[1:])
    assert chunk_table(b.snapshot) == chunk_table(a.snapshot)
    assert not answered_from(b, "What did Khamenei say about the Popular Mobilization Forces?", names[0])
    # Then incremental again.
    a.ingest([CORPUS / names[0]])
    b.refresh(force=True)
    assert checks[-1] == {names[0]}
    assert chunk_table(b.snapshot) == chunk_table(a.snapshot)
    stored, committed = committed_chunk_count(a)
    assert stored == committed == len(b.snapshot.chunks) - (0 if b.snapshot.alive is None
                                                            else int((~b.snapshot.alive).sum()))
