"""The change log every writer of an index appends to, kept in Chroma beside the index itself, so
instances sharing one Chroma server notice each other's writes without restarting.

An entry names the articles a write touched, nothing more: a reader then reads those articles'
committed state from the index (``Index.read_sources``), so applying an entry twice, late or out of
order gives the same result. A write is announced twice: before it starts, so a writer killed after
committing still leaves an entry, and after it is complete, so a reader that applied the first entry
too early (nothing committed yet) looks again. A saved snapshot keeps the reader's place in the log
(``state``), so opening it reads only the articles named since (``restore``, then ``changed``).

The log is pruned (``prune``, by each ingest, under the ingest lock and the server's lease): entries
older than ``RETENTION_SECONDS`` go, the newest ``KEEP_ENTRIES`` always stay. The collection's own
metadata keeps the tally of entries pruned, so a reader counts every entry ever written (stored +
pruned) and still notices any write with a count. An instance that had not checked since before
entries it needed were pruned finds fewer new entries than the count says: it then compares every
article's committed version with its snapshot (``None`` from ``changed``; the full comparison reads
no text, then only the articles that differ), as it does for any entry it missed."""
from __future__ import annotations

import json
import time
import uuid

# Entries are fetched by their writer's clock, going back this far before the newest one seen, so a
# writer whose clock is a little behind is still caught; anything else the count check catches.
CLOCK_SLACK_NS = 120 * 10**9
# Entries older than this (by the pruning writer's clock) are pruned, but never the newest KEEP_ENTRIES.
# An instance that checks less often than this (no question for an hour) does one full comparison.
RETENTION_SECONDS = 3600.0
KEEP_ENTRIES = 1000
# Entries are read this many a call: Chroma fails a read of ~30,000 or more entries at once on a server
# ("too many SQL variables": SQLite's limit), which an unpruned log reaches.
PAGE = 5000


class ChangeLog:
    def __init__(self, collection, client=None):
        """``client``: the Chroma client the collection belongs to, to read the pruned tally afresh."""
        self.collection = collection
        self._client = client
        self._count = self.total()           # entries accounted for (stored + pruned)
        self._newest = 0                     # newest ``at`` seen
        self._seen: dict[str, int] = {}      # id -> at, of the entries within the slack of the newest

    def total(self) -> int:
        """Every entry ever written: those stored plus those pruned (two cheap calls). While a prune runs
        the sum can be off by the entries it deletes; a reader then takes the next check's (see ``prune``)."""
        return self.collection.count() + self.pruned()

    def pruned(self) -> int:
        """How many entries were pruned, as the collection's metadata says now."""
        collection = (self._client.get_collection(self.collection.name, embedding_function=None)
                      if self._client is not None else self.collection)
        return int((collection.metadata or {}).get("pruned", 0))

    def record(self, sources: list[str]) -> None:
        """Announce that ``sources`` changed (added, replaced, re-described or deleted)."""
        if sources:
            self.collection.add(ids=[uuid.uuid4().hex], embeddings=[[0.0]], documents=[""],
                                metadatas=[{"at": time.time_ns(), "sources": json.dumps(sorted(set(sources)))}])

    def changed(self) -> set[str] | None:
        """The sources named by entries written since the last call, in two cheap calls (a count and the
        pruned tally) when there are none; ``None`` when the log cannot say which (entries missed, or
        pruned before this instance saw them): compare every article's version."""
        count = self.total()
        if count == self._count:
            return set()
        sources: set[str] = set()
        found = 0
        for entry, meta in self._entries({"at": {"$gte": max(0, self._newest - CLOCK_SLACK_NS)}}):
            if entry not in self._seen:
                self._seen[entry] = meta["at"]
                sources.update(json.loads(meta["sources"]))
                found += 1
        self._newest = max([self._newest, *self._seen.values()])
        self._seen = {k: at for k, at in self._seen.items() if at >= self._newest - CLOCK_SLACK_NS}
        complete = self._count + found == count
        self._count = count
        return sources if complete else None

    def state(self) -> dict:
        """This reader's place in the log: everything written before it has been applied."""
        return {"count": self._count, "newest": self._newest, "seen": dict(self._seen)}

    def restore(self, state: dict) -> None:
        """Go back to a place ``state`` gave: ``changed`` then names what was written since."""
        self._count, self._newest, self._seen = int(state["count"]), int(state["newest"]), dict(state["seen"])

    def mark(self) -> None:
        """Take every entry written so far as applied: called before reading the whole index, so an
        entry written while it is read is applied afterwards (again, harmlessly)."""
        self._count = self.total()
        entries = [(entry, meta["at"]) for entry, meta in self._entries()] if self._count else []
        self._newest = max((at for _, at in entries), default=0)
        self._seen = {entry: at for entry, at in entries if at >= self._newest - CLOCK_SLACK_NS}

    def prune(self) -> int:
        """Delete the entries older than ``RETENTION_SECONDS``, keeping the newest ``KEEP_ENTRIES``; returns
        how many went. One pruner at a time: called by an ingest, under the ingest lock and the lease.
        The entries are deleted first, then the tally raised by as many: a reader checking in between
        counts too few (it then finds fewer new entries than the count says, and compares every version:
        nothing is lost), and a crash in between leaves the tally short for good, which readers take
        the same way once. Raising the tally first could count entries twice after such a crash."""
        stored = self.collection.count()
        if stored <= KEEP_ENTRIES:
            return 0
        cutoff = time.time_ns() - int(RETENTION_SECONDS * 1e9)
        victims = sorted((meta["at"], entry) for entry, meta in self._entries({"at": {"$lt": cutoff}}))[:stored - KEEP_ENTRIES]
        if not victims:
            return 0
        for i in range(0, len(victims), 1000):
            self.collection.delete(ids=[entry for _, entry in victims[i:i + 1000]])
        self.collection.modify(metadata={"pruned": self.pruned() + len(victims), "horizon": victims[-1][0]})
        return len(victims)

    def _entries(self, where: dict | None = None):
        """``(id, metadata)`` of the stored entries (matching ``where``), ``PAGE`` a call."""
        offset = 0
        while True:
            got = self.collection.get(where=where, include=["metadatas"], limit=PAGE, offset=offset)
            yield from zip(got["ids"], got["metadatas"])
            if len(got["ids"]) < PAGE:
                return
            offset += len(got["ids"])
