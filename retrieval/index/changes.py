"""The change log every writer of an index appends to, kept in Chroma beside the index itself, so
instances sharing one Chroma server notice each other's writes without restarting.

An entry names the articles a write touched, nothing more: a reader then reads those articles'
committed state from the index (``Index.read_sources``), so applying an entry twice, late or out of
order gives the same result. Entries are written after the write they announce is complete."""
from __future__ import annotations

import json
import time
import uuid

# Entries are fetched by their writer's clock, going back this far before the newest one seen, so a
# writer whose clock is a little behind is still caught; anything else the count check catches.
CLOCK_SLACK_NS = 120 * 10**9


class ChangeLog:
    def __init__(self, collection):
        self.collection = collection
        self._count = collection.count()     # entries accounted for
        self._newest = 0                     # newest ``at`` seen
        self._seen: dict[str, int] = {}      # id -> at, of the entries within the slack of the newest

    def record(self, sources: list[str]) -> None:
        """Announce that ``sources`` changed (added, replaced, re-described or deleted)."""
        if sources:
            self.collection.add(ids=[uuid.uuid4().hex], embeddings=[[0.0]], documents=[""],
                                metadatas=[{"at": time.time_ns(), "sources": json.dumps(sorted(set(sources)))}])

    def changed(self) -> set[str] | None:
        """The sources named by entries written since the last call, in one cheap call (a count) when
        there are none; ``None`` when the log cannot say which (entries missed): re-read everything."""
        count = self.collection.count()
        if count == self._count:
            return set()
        got = self.collection.get(where={"at": {"$gte": max(0, self._newest - CLOCK_SLACK_NS)}}, include=["metadatas"])
        sources: set[str] = set()
        found = 0
        for entry, meta in zip(got["ids"], got["metadatas"]):
            if entry not in self._seen:
                self._seen[entry] = meta["at"]
                sources.update(json.loads(meta["sources"]))
                found += 1
        self._newest = max([self._newest, *self._seen.values()])
        self._seen = {k: at for k, at in self._seen.items() if at >= self._newest - CLOCK_SLACK_NS}
        complete = self._count + found == count
        self._count = count
        return sources if complete else None

    def mark(self) -> None:
        """Take every entry written so far as applied: called before reading the whole index, so an
        entry written while it is read is applied afterwards (again, harmlessly)."""
        self._count = self.collection.count()
        got = self.collection.get(include=["metadatas"]) if self._count else {"ids": [], "metadatas": []}
        ats = [meta["at"] for meta in got["metadatas"]]
        self._newest = max(ats, default=0)
        self._seen = {k: at for k, at in zip(got["ids"], ats) if at >= self._newest - CLOCK_SLACK_NS}
