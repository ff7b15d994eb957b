"""Ingest: article files -> text (loading, converters), cleaned lines, metadata, chunks; the pipeline writes them to the index."""
