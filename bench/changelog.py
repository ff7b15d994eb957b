"""The change log on a real ``chroma run`` (loopback): what a check costs, what a grown log costs an
instance that opens, and what pruning it costs.

    python bench/changelog.py --entries 5000 [--keep 1000] [--out FILE]

Writes ``--entries`` log entries (one source each, as an ingest of one article writes), then measures,
in this order: a check with nothing new (``ChangeLog.changed``: a count and the pruned tally) against
the bare count, 300 times each, p50/p95; ``mark`` (what every instance does at open: it reads every
stored entry); ``prune`` with a retention of 0 s keeping ``--keep`` entries; ``mark`` again; and
what a reader that last checked halfway through the writes gets from its next check (``None``: it
compares every article's version instead)."""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import append_result  # noqa: E402  (needs the repository on sys.path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(call, n: int = 300) -> tuple[float, float]:
    """p50 and p95 of ``n`` calls, in ms."""
    from bench.stats import percentile

    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - t0))
    return percentile(times, 0.5), percentile(times, 0.95)


def run(entries: int, keep: int) -> dict:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from retrieval.index import changes

    folder = Path(tempfile.mkdtemp(prefix="changelog-bench-"))
    port = free_port()
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    server = subprocess.Popen([chroma, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("bench-changes", embedding_function=None)
        log = changes.ChangeLog(collection, client)
        behind = changes.ChangeLog(collection, client)   # last checks a little before the prune horizon
        # The log filled a thousand entries a call (as ``ChangeLog.record`` writes them, one source each),
        # then 50 more written one by one, as ingests write them.
        horizon = max(0, entries - 50 - keep - 10)
        for lo in range(0, entries - 50, 1000):
            ids = [f"fill-{i}" for i in range(lo, min(lo + 1000, entries - 50))]
            collection.add(ids=ids, embeddings=[[0.0]] * len(ids), documents=[""] * len(ids),
                           metadatas=[{"at": time.time_ns(), "sources": json.dumps([f"{i}.txt"])} for i in ids])
            if lo <= horizon < lo + 1000:
                behind.mark()
        if horizon >= entries - 50:
            behind.mark()
        one = []
        for i in range(min(50, entries)):
            t0 = time.perf_counter()
            log.record([f"article-{i}.txt"])
            one.append(1000 * (time.perf_counter() - t0))
        from bench.stats import percentile

        result = {"entries": collection.count(), "record_p50_ms": percentile(one, 0.5)}
        reader = changes.ChangeLog(collection, client)
        reader.mark()
        log.record(["one-more.txt"])
        assert reader.changed() == {"one-more.txt"}
        result["count_p50_ms"], result["count_p95_ms"] = timed(collection.count)
        result["check_p50_ms"], result["check_p95_ms"] = timed(reader.changed)
        t0 = time.perf_counter()
        reader.mark()
        result["mark_before_prune_s"] = time.perf_counter() - t0
        changes.RETENTION_SECONDS, changes.KEEP_ENTRIES = 0.0, keep
        t0 = time.perf_counter()
        result["pruned"] = log.prune()
        result["prune_s"] = time.perf_counter() - t0
        result["stored_after"], result["pruned_tally"] = collection.count(), log.pruned()
        t0 = time.perf_counter()
        reader.mark()
        result["mark_after_prune_s"] = time.perf_counter() - t0
        result["check_after_prune_p50_ms"], result["check_after_prune_p95_ms"] = timed(reader.changed)
        result["reader_behind_gets"] = "None: compare every version" if behind.changed() is None else "a set"
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--keep", type=int, default=1000)
    parser.add_argument("--out", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args(argv)
    result = run(args.entries, args.keep)
    print(json.dumps(result))
    append_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
