"""Dense search: the chunks nearest to a question's vector, exact or by the index's HNSW graph.

Up to ``exact_up_to`` committed chunks, the search is exact, over the snapshot's own vectors. Past it,
Chroma's HNSW index answers (the server's, when the index is on one; ``ef_search`` 400 found every one
of the 30 true neighbours at 100k and 1M real-text chunks, README), so an instance never reads most of
its vectors: they stay mapped from the saved copy, on disk. The index may hold chunks the snapshot does
not (an ingest under way, another instance's write not yet applied, chunks not yet collected): those
are skipped, and a little more is asked for to make up for them. A filter to a few articles is
searched exactly over their rows; a wider one asks the graph for more neighbours in proportion and
searches exactly only if too few of them pass."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index.snapshot import Snapshot
from retrieval.index.store import Index

SLACK = 10          # neighbours asked for beyond ``n``: room for chunks the snapshot does not hold
MAX_ASKED = 2000    # a filter needing more neighbours than this from the graph is searched exactly


@dataclass(frozen=True)
class DenseSearch:
    index: Index
    exact_up_to: int

    def nearest(self, snapshot: Snapshot, vector: np.ndarray, n: int,
                mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """``(position in snapshot, cosine similarity)`` of up to ``n`` nearest committed chunks (of those
        in ``mask``), best first."""
        live = snapshot.live()
        wanted = live if mask is None else int((mask & snapshot.alive).sum() if snapshot.alive is not None
                                                else mask.sum())
        if live <= self.exact_up_to or wanted <= self.exact_up_to:
            return snapshot.nearest(vector, n, mask)
        asked = (n + SLACK) * max(1, -(-live // wanted))     # a filter passes ~wanted/live of them
        if asked > MAX_ASKED:
            return snapshot.nearest(vector, n, mask)
        found = []
        for cid, similarity in self.index.query(vector.tolist(), asked, count=live):
            position = snapshot.position.get(cid)
            if position is not None and (mask is None or mask[position]):
                found.append((position, similarity))
        return found[:n] if len(found) >= min(n, wanted) else snapshot.nearest(vector, n, mask)
