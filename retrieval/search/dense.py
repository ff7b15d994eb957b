"""Dense search: the chunks nearest to a question's vector, exact or by the index's HNSW graph.

Exact (the default on a local index): one matrix product over the vectors the instance holds, mapped
from its saved copy. By the graph (the default on a Chroma server): Chroma's HNSW index answers, so an
instance never reads most of its vectors. Measured (README, "Dense search"): at 100k real-text chunks
the graph found all 30 true neighbours with ``ef_search`` 400; at 1M composed chunks, where every
chunk has ~100 near copies, half of them (but 90% of their texts), with the same Hits@4 as exact
search, a third of its time and 1.4 GB less per instance. The index may hold chunks the snapshot
does not (an ingest under way, another instance's write not yet applied, chunks not yet collected):
those are skipped, and a little more is asked for to make up for them. A filter to few chunks is
searched exactly over their rows; a wider one asks the graph for more neighbours in proportion, and
is searched exactly if too few of them pass."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index.snapshot import Snapshot
from retrieval.index.store import Index

SLACK = 10            # neighbours asked for beyond ``n``: room for chunks the snapshot does not hold
MAX_ASKED = 2000      # a filter needing more neighbours than this from the graph is searched exactly
NARROW = 20_000       # a filter to at most this many chunks is searched exactly (~3 ms)


@dataclass(frozen=True)
class DenseSearch:
    index: Index
    graph: bool = False

    def nearest(self, snapshot: Snapshot, vector: np.ndarray, n: int,
                mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """``(position in snapshot, cosine similarity)`` of up to ``n`` nearest committed chunks (of those
        in ``mask``), best first."""
        if not self.graph:
            return snapshot.nearest(vector, n, mask)
        live = snapshot.live()
        wanted = live if mask is None else int((mask & snapshot.alive).sum() if snapshot.alive is not None
                                                else mask.sum())
        asked = (n + SLACK) * max(1, -(-live // max(wanted, 1)))     # a filter passes ~wanted/live of them
        if (mask is not None and wanted <= NARROW) or asked > MAX_ASKED:
            return snapshot.nearest(vector, n, mask)
        found = []
        for cid, similarity in self.index.query(vector.tolist(), asked, count=live):
            position = snapshot.position.get(cid)
            if position is not None and (mask is None or mask[position]):
                found.append((position, similarity))
        return found[:n] if len(found) >= min(n, wanted) else snapshot.nearest(vector, n, mask)
