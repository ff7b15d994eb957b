"""Search: hybrid (dense + BM25) retrieval of chunks, narrowed by filters."""
