"""Crash safety of ``python app.py ingest``: real subprocesses (real model, real Chroma on disk)
killed with SIGKILL in the middle of an ingest, then resumed. The index must end up holding
exactly the chunks of the corpus on disk (none lost, none duplicated), and at every crash point
a reader must see only whole article versions.

The kill points are placed inside the ingest's own work: the child's hold on the ingest lock is
read from ``/proc/locks`` and its writes from the growth of the Chroma database file (neither
touches the child's files or locks). A first, uninterrupted run measures how long the writes
take; the crash runs are killed at seeded random fractions of that time after they start writing."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli
from retrieval.assistant import Assistant
from retrieval.index.store import Index, chunk_id, collection_name, open_client
from retrieval.ingest.loading import read_article
from retrieval.ingest.pipeline import prepare_article
from retrieval.settings import Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads the ingest lock from /proc/locks (Linux)")

SEED = 20250607
TOWNS = ["Aldermoor", "Brackenhythe", "Corrowick", "Dunmere", "Elsbridge", "Farrowdale", "Glenhallow", "Harrowgate",
         "Ivyreach", "Jesmond Bay", "Kestrel Point", "Lowmarsh"]
SUBJECTS = ["ferry operators", "the harbour board", "fishing crews", "the town council", "dock workers",
            "shipyard owners", "a tenants' group", "the coastguard", "local grocers", "the rowing club"]
VERBS = ["debated", "criticised", "welcomed", "postponed", "approved", "rejected", "questioned", "celebrated",
         "reviewed", "funded"]
OBJECTS = ["a new breakwater", "the winter timetable", "the toll on the bridge", "a plan for cheaper moorings",
           "the lighthouse repairs", "a festival on the quay", "the school bus route", "new lamps on the promenade",
           "the sale of the old warehouse", "a survey of the estuary"]


# -- the synthetic corpus ------------------------------------------------------------------------------------
def paragraph(article: int, para: int, version: int) -> str:
    """Three distinct sentences (distinct by their numbers), ~500 characters."""
    rng = random.Random(f"{SEED}:{article}:{para}:{version}")
    return " ".join(
        f"On day {article * 31 + para * 7 + k} of the season, {rng.choice(SUBJECTS)} in {rng.choice(TOWNS)} "
        f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} after {rng.randint(2, 900)} residents signed petition "
        f"{article}-{para}-{k}-{version}, a spokesperson said." for k in range(3))


def article_text(article: int, changed_para: int | None = None) -> str:
    paras = [paragraph(article, p, 2 if p == changed_para else 1) for p in range(3)]
    return f"Harbour news item {article}\n\n" + "\n\n".join(paras) + "\n"


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_bytes(text.encode("utf-8"))


def make_corpus_v1(folder: Path) -> None:
    """30 articles of ~3 chunks each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(30):
        write(folder, f"article_{i:03d}.txt", article_text(i))


def make_corpus_v2(folder: Path) -> None:
    """From v1: 20 articles changed (one paragraph rewritten: some chunks new, some reused), 7 left as they
    are, 3 removed, 8 added; an ingest then adds, replaces and deletes."""
    for i in range(20):
        write(folder, f"article_{i:03d}.txt", article_text(i, changed_para=i % 3))
    for i in range(27, 30):
        (folder / f"article_{i:03d}.txt").unlink()
    for i in range(30, 38):
        write(folder, f"article_{i:03d}.txt", article_text(i))


def expected_versions(folder: Path, settings: Settings) -> dict[tuple[str, str], set[str]]:
    """``(source, doc_hash) -> chunk ids`` of every article file in ``folder``."""
    versions = {}
    for path in sorted(folder.glob("*.txt")):
        record, chunks = prepare_article(path.name, read_article(path, settings.max_file_bytes), {},
                                         settings.chunk_chars)
        versions[(record.source, record.doc_hash)] = {chunk_id(record.doc_hash, c) for c in chunks}
    return versions


# -- running and killing the real CLI ------------------------------------------------------------------------
def lock_holders(lock: Path) -> set[int]:
    """Pids holding an flock on ``lock``, from /proc/locks (reading it takes no lock)."""
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return set()
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 3113 fe:00:2146461 0 EOF" (blocked waiters have a "->" field)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[2] != "->" and \
                fields[5].rsplit(":", 1)[-1] == str(inode):
            holders.add(int(fields[4]))
    return holders


def cli_env(corpus: Path, index: Path) -> dict:
    env = dict(os.environ, QA_CORPUS_DIR=str(corpus), QA_INDEX_DIR=str(index), PYTHONUNBUFFERED="1")
    for key in ("CHROMA_HOST", "QA_CHROMA_HOST"):
        env.pop(key, None)
    return env


def run_ingest(env: dict, index: Path, kill_after_write: float | None = None, timeout: float = 180) -> dict:
    """``python app.py ingest`` watched every few milliseconds: when it takes the ingest lock, starts
    writing chunks (the database grows; cleaning up orphans alone does not), and lets the lock go. With ``kill_after_write`` it is killed
    (SIGKILL) that many seconds after its first write under the lock."""
    lock, db = index / "ingest.lock", index / "chroma" / "chroma.sqlite3"
    log = index.parent / f"ingest-{time.monotonic_ns()}.log"
    with open(log, "w+") as out:
        child = subprocess.Popen([sys.executable, "app.py", "ingest"], cwd=ROOT, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        seen: dict = {"lock": None, "write": None, "unlock": None, "kill": None, "killed_mid_write": False}
        size_at_lock = None
        while child.poll() is None:
            now = time.monotonic() - t0
            assert now < timeout, f"ingest still running after {timeout} s"
            held = child.pid in lock_holders(lock)
            size = db.stat().st_size if db.exists() else 0
            if held and seen["lock"] is None:
                seen["lock"], size_at_lock = now, size
            elif seen["lock"] is not None and seen["write"] is None and size > size_at_lock:
                seen["write"] = now
            if seen["lock"] is not None and not held and seen["unlock"] is None:
                seen["unlock"] = now
            if kill_after_write is not None and seen["write"] is not None and seen["unlock"] is None \
                    and now >= seen["write"] + kill_after_write:
                os.kill(child.pid, signal.SIGKILL)
                seen["kill"], seen["killed_mid_write"] = now, held
                child.wait()
                break
            time.sleep(0.003)
        seen["returncode"] = child.wait()
        seen["end"] = time.monotonic() - t0
        out.seek(0)
        seen["output"] = out.read()
    return seen


def committed_versions(index_dir: Path, settings: Settings, embedder) -> tuple[dict[tuple[str, str], set[str]], list[str]]:
    """What a reader sees in the index at ``index_dir`` (``embedder``'s collection): ``(source,
    doc_hash) -> chunk ids`` of the committed articles, and every chunk id stored (committed or not)."""
    index = Index(open_client(settings.model_copy(update={"index_dir": index_dir})),
                  collection_name(settings.collection, embedder.encoder), embedder.identity)
    committed = index.committed()
    seen: dict[tuple[str, str], set[str]] = {(s, r.doc_hash): set() for s, r in committed.items()}
    for chunk in index.committed_chunks(committed)[0]:
        seen[(chunk.source, committed[chunk.source].doc_hash)].add(chunk.id)
    return seen, index.chunks.get(include=[])["ids"]


def test_ingest_killed_at_random_points_resumes_to_exactly_the_corpus(tmp_path, embedder, capsys):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    settings = Settings(corpus_dir=corpus, index_dir=index)
    env = cli_env(corpus, index)
    make_corpus_v1(corpus)
    v1 = expected_versions(corpus, settings)

    # 1. An uninterrupted first run, which measures how long the writes last.
    first = run_ingest(env, index)
    assert first["returncode"] == 0, first["output"]
    assert "30 added, 0 updated, 0 unchanged, 0 removed, 0 duplicates, 0 failed, 90 chunks embedded" in first["output"]
    assert None not in (first["lock"], first["write"], first["unlock"]), first
    writing = first["unlock"] - first["write"]

    # 2. The corpus changes; the next ingests are killed at seeded random points of their writes.
    make_corpus_v2(corpus)
    v2 = expected_versions(corpus, settings)
    known = {**v1, **v2}                      # every version a reader could legitimately see
    rng = random.Random(SEED)
    fractions = [rng.uniform(0.15, 0.45), rng.uniform(0.45, 0.85)]
    to_write = sum(version not in v1 for version in v2)       # added and changed articles
    crashes, written = [], 0
    for n, fraction in enumerate(fractions):
        # A fraction of the writes still to do (a resumed run has fewer left).
        run = run_ingest(env, index, kill_after_write=fraction * writing * max(0.2, 1 - written / to_write))
        # Consistency at the crash point, read from a copy (a Chroma client caches its path per process).
        snapshot = tmp_path / f"after-kill-{n}"
        shutil.copytree(index, snapshot)
        visible, stored = committed_versions(snapshot, settings, embedder)
        for version, ids in visible.items():
            assert version in known, f"{version} is neither the old nor the new text of its file"
            assert ids == known[version], f"{version[0]}: a reader sees a partial article after the crash"
        assert len(stored) == len(set(stored))
        written = sum(v in v2 and v not in v1 for v in visible)
        crashes.append({"fraction": round(fraction, 3), "killed": run["kill"] is not None,
                        "mid_write": run["killed_mid_write"], "returncode": run["returncode"],
                        "new_versions_committed": written,
                        "orphan_chunks": len(stored) - sum(map(len, visible.values()))})
    print(f"writes of the first run: {writing:.2f} s; crashes: {crashes}")      # shown when the test fails
    assert any(c["killed"] and c["mid_write"] and c["returncode"] == -signal.SIGKILL for c in crashes), crashes

    # 3. A run to completion: exactly the corpus on disk, none lost, none duplicated.
    last = run_ingest(env, index)
    assert last["returncode"] == 0, last["output"]
    visible, stored = committed_versions(index, settings, embedder)
    expected_ids = sorted(i for ids in v2.values() for i in ids)
    assert sorted(stored) == expected_ids
    assert visible == v2
    assert {s for s, _ in visible} == {p.name for p in corpus.glob("*.txt")}

    # 4. A third ingest (the same CLI command, in-process) has nothing left to do.
    capsys.readouterr()
    assert cli.main(["ingest"], get_assistant=lambda: Assistant(settings, embedder=embedder)) == 0
    assert capsys.readouterr().out == ("0 added, 0 updated, 35 unchanged, 0 removed, 0 duplicates, 0 failed, "
                                       "0 chunks embedded, 0 reused\n")


def test_a_second_ingest_while_one_runs_exits_2_with_one_sentence(tmp_path):
    """The other ingest is this test holding the ingest lock (two real CLIs would race on who gets there)."""
    from filelock import FileLock

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    index.mkdir()
    write(corpus, "a.txt", article_text(0))
    with FileLock(str(index / "ingest.lock")):
        done = subprocess.run([sys.executable, "app.py", "ingest"], cwd=ROOT, env=cli_env(corpus, index),
                              capture_output=True, text=True, timeout=180)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == "Another ingest is running on this index; try again when it has finished.\n"
