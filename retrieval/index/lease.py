"""One writer at a time on a shared Chroma server: a lease kept in a collection of the server itself.

The ingest lock file only protects one machine. Chroma has no compare-and-swap, so the lease is
taken like a bakery ticket: a writer adds its claim (its clock, a random id), waits ``SETTLE`` seconds
so that every claim made before its own is visible, then reads the claims: the oldest live one holds
the lease, the others withdraw and try again. Two writers agree on the holder as long as their clocks
differ by less than ``SETTLE``. The holder renews its claim while it writes; a claim not renewed for
``TTL`` seconds (a crashed writer) is ignored and removed."""
from __future__ import annotations

import threading
import time
import uuid

from retrieval.errors import IndexBusy

SETTLE = 0.5
TTL = 60.0


class ServerLease:
    def __init__(self, collection):
        self.collection = collection
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, wait: float) -> None:
        """Hold the lease, trying for ``wait`` seconds before ``IndexBusy``."""
        deadline = time.monotonic() + wait
        since = time.time()
        while True:
            self._claim(since)
            time.sleep(SETTLE)
            holder = self._holder()
            if holder == self.token:
                self._stop.clear()
                self._renewer = threading.Thread(target=self._renew, args=(since,), name="lease", daemon=True)
                self._renewer.start()
                return
            self.collection.delete(ids=[self.token])
            if time.monotonic() >= deadline:
                raise IndexBusy("Another ingest is writing to this index (on another machine); try again when it "
                                "has finished.")
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            since = time.time()

    def release(self) -> None:
        self._stop.set()
        if self._renewer:
            self._renewer.join()
        self.collection.delete(ids=[self.token])

    def _claim(self, since: float) -> None:
        self.collection.upsert(ids=[self.token], embeddings=[[0.0]], documents=[""],
                               metadatas=[{"since": since, "renewed": time.time()}])

    def _holder(self) -> str | None:
        got = self.collection.get(include=["metadatas"])
        now = time.time()
        dead = [cid for cid, meta in zip(got["ids"], got["metadatas"]) if now - meta["renewed"] > TTL]
        if dead:
            self.collection.delete(ids=dead)
        live = sorted((meta["since"], cid) for cid, meta in zip(got["ids"], got["metadatas"]) if cid not in dead)
        return live[0][1] if live else None

    def _renew(self, since: float) -> None:
        while not self._stop.wait(TTL / 4):
            try:
                self._claim(since)
            except Exception:  # the server is unreachable: the write it guards fails on its own
                pass
