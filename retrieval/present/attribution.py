"""How a source is named wherever an answer shows one: in the answer text and the model's
passages, in the CLI and chat citations, and in the exported brief."""
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
