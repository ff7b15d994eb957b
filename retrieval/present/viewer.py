"""The cleaned article for the source viewer: its paragraphs (title, headings and body; no
page furniture), as offsets into the original text so a quote can be highlighted by its own."""
from __future__ import annotations

from retrieval.ingest.cleaning import label_lines

SHOWN = ("title", "heading", "body")
Paragraphs = list[tuple[int, int, str]]     # (start, end, label) of each shown paragraph


def cleaned_paragraphs(text: str) -> Paragraphs:
    """``(start, end, label)`` of each paragraph a reader should see, in order."""
    return [(line.start, line.end, line.label) for line in label_lines(text) if line.label in SHOWN]


def highlight_pieces(text: str, a: int, b: int, start: int, end: int) -> list[tuple[str, bool]]:
    """``text[a:b]`` as pieces ``(text, inside the quote text[start:end])``."""
    cuts = sorted({a, b, min(max(start, a), b), min(max(end, a), b)})
    return [(text[x:y], start <= x and y <= end) for x, y in zip(cuts, cuts[1:]) if y > x]


def highlight_parts(text: str, start: int, end: int,
                    paragraphs: Paragraphs | None = None) -> list[list[tuple[str, bool]]]:
    """Each shown paragraph (``paragraphs``: the text's ``cleaned_paragraphs``, when the caller has
    them) as pieces ``(text, inside the quote)``; a quote spanning paragraphs is highlighted in each."""
    paragraphs = cleaned_paragraphs(text) if paragraphs is None else paragraphs
    return [highlight_pieces(text, p_start, p_end, start, end) for p_start, p_end, _ in paragraphs]
