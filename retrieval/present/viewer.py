"""The cleaned article for the source viewer: its paragraphs (title, headings and body; no
page furniture), as offsets into the original text so a quote can be highlighted by its own."""
from __future__ import annotations

from retrieval.ingest.cleaning import label_lines

SHOWN = ("title", "heading", "body")


def cleaned_paragraphs(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` of each paragraph a reader should see, in order."""
    return [(line.start, line.end, line.label) for line in label_lines(text) if line.label in SHOWN]


def highlight_parts(text: str, start: int, end: int) -> list[list[tuple[str, bool]]]:
    """Each shown paragraph as pieces ``(text, inside the quote)``; a quote spanning paragraphs
    is highlighted in each."""
    paragraphs = []
    for p_start, p_end, _ in cleaned_paragraphs(text):
        cuts = sorted({p_start, p_end, min(max(start, p_start), p_end), min(max(end, p_start), p_end)})
        paragraphs.append([(text[a:b], start <= a and b <= end) for a, b in zip(cuts, cuts[1:]) if b > a])
    return paragraphs
