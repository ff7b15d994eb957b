"""Sentence-aware chunks with offsets: ``chunk.text == article_text[chunk.start:chunk.end]``."""
from __future__ import annotations

from retrieval.text.sentences import split_sentences
from retrieval.types import Chunk


def _blocks(text: str, spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Group spans that only white space separates; furniture between spans breaks a block."""
    blocks: list[list[tuple[int, int]]] = []
    for start, end in spans:
        if blocks and not text[blocks[-1][-1][1]:start].strip():
            blocks[-1].append((start, end))
        else:
            blocks.append([(start, end)])
    return blocks


def chunk_article(source: str, text: str, spans: list[tuple[int, int]], max_chars: int) -> list[Chunk]:
    """Pack whole sentences of the indexed ``spans`` into chunks of at most ``max_chars``
    (a single longer sentence is its own chunk). Chunks never span furniture."""
    pieces: list[tuple[int, int]] = []
    for block in _blocks(text, spans):
        start = end = None
        for span_start, span_end in block:
            for s, e in split_sentences(text, span_start, span_end):
                if start is not None and e - start > max_chars:
                    pieces.append((start, end))
                    start = None
                if start is None:
                    start = s
                end = e
        if start is not None:
            pieces.append((start, end))
    return [Chunk(source, i, s, e, text[s:e]) for i, (s, e) in enumerate(pieces)]
