"""Index: the Chroma store, the encoders that fill it, and the in-memory snapshot (vectors, BM25, analyzer) read from it."""
