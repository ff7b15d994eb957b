"""How a source is named wherever an answer shows one, all in this module: in the answer text
and the model's passages (``attribution``), in the CLI and chat citations
(``citation_attribution``), and in the exported brief (``brief_attribution``)."""
from __future__ import annotations

from prompts import ATTRIBUTION, UNDATED, fill
from retrieval.types import Quote


def source_label(outlet: str | None, title: str | None, source: str) -> str:
    """The outlet, else the title, else the file name."""
    return outlet or (f"“{title}”" if title else source)


def attribution(outlet: str | None, title: str | None, source: str, published: str | None) -> str:
    """``Defence Talks (2025-03-01)``: the label and the date, as the answer text gives them."""
    return fill(ATTRIBUTION, label=source_label(outlet, title, source), date=published or UNDATED)


def quote_attribution(quote: Quote) -> str:
    return attribution(quote.outlet, quote.title, quote.source, quote.published)


def citation_attribution(quote: Quote) -> str:
    """``Defence Talks, undated — 002_09e231ab3d45662e.txt:1980-2299`` (and the URL when known);
    an article with neither outlet nor title is named once, by its file."""
    place = f"{quote.source}:{quote.start}-{quote.end}"
    named = quote.outlet or quote.title
    line = f"{named}, {quote.published or UNDATED} — {place}" if named else f"{place}, {quote.published or UNDATED}"
    return f"{line} {quote.url}" if quote.url else line


def brief_attribution(quote: Quote) -> str:
    """``Defence Talks, “Title”, 2025-03-01, https://… — file.txt, characters 1980–2299``."""
    parts = [quote.outlet, f"“{quote.title}”" if quote.title else None, quote.published or UNDATED, quote.url]
    return ", ".join(p for p in parts if p) + f" — {quote.source}, characters {quote.start}–{quote.end}"
