"""How a source is named wherever an answer shows one, all in this module: the article's
readable label (``describe_article``), the answer text and the model's passages
(``attribution``), the CLI and chat citations (``citation_attribution``), and the exported
brief (``brief_attribution``).

An article is never named by its bare file name: by its stated headline, else by the first
words of its lead sentence, marked as such. An article with no stated date is "undated"; the
latest date its text names is shown beside that, labelled, never as the publication date."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from prompts import ATTRIBUTION, UNDATED, fill
from retrieval.ingest.cleaning import Line, label_lines
from retrieval.text.dates import dates_named
from retrieval.types import ArticleRecord, Quote

OPENING_WORDS = 8                    # words of the lead sentence that name an untitled article
OPENING_MARK = "(opening words)"
MENTIONS = "mentions events up to {date}"
# Lines whose dates are events the article reports (not the page's own date, nor comments).
_REPORTED = ("title", "heading", "body", "tweet", "footnote")


@dataclass(frozen=True)
class ArticleLabel:
    name: str                        # “Headline” or “Opening words of the lead…” (opening words)
    published: str | None            # the stated publication date (ISO), else None
    mentions_until: str | None       # undated articles: the latest date the text names
    author: str | None

    @property
    def dating(self) -> str:
        """``2025-03-01``, or ``undated; mentions events up to 2025-01-18``, or ``undated``."""
        if self.published:
            return self.published
        return f"{UNDATED}; {fill(MENTIONS, date=self.mentions_until)}" if self.mentions_until else UNDATED


def opening_words(text: str, lines: list[Line], words: int = OPENING_WORDS) -> str:
    """``“Forty factions of the…” (opening words)``: the start of the lead paragraph (``lines``:
    ``label_lines(text)``)."""
    lead = next((ln for ln in lines if ln.label == "body"), None) or next((ln for ln in lines if ln.indexed), None)
    first = (text[lead.start:lead.end] if lead else text.strip()).split()
    shown = " ".join(first[:words]).rstrip(",;:.") + ("…" if len(first) > words else "")
    return f"“{shown}” {OPENING_MARK}"


def latest_date_named(text: str, lines: list[Line]) -> str | None:
    """The latest full date named in the article's own text (body, headings, quoted posts, notes)."""
    found = [d for ln in lines if ln.label in _REPORTED for d in dates_named(text[ln.start:ln.end])]
    return max(found, default=None)


@lru_cache(maxsize=4096)
def describe_article(record: ArticleRecord) -> ArticleLabel:
    meta = record.meta
    lines = [] if meta.title and meta.published else label_lines(record.text)    # labelled once for both
    name = f"“{meta.title}”" if meta.title else opening_words(record.text, lines)
    mentions = None if meta.published else latest_date_named(record.text, lines)
    return ArticleLabel(name, meta.published, mentions, meta.author)


MAX_NAME_CHARS = 80     # metadata quoted inside the answer's own sentence is cut here


def quoted(value: str, limit: int = MAX_NAME_CHARS) -> str:
    """Metadata (an outlet, a title, a file name) as it may appear inside the assistant's own
    sentence: on one line, at most ``limit`` characters, in quotation marks that its own double
    quotes cannot close, so that text from a sidecar, a page or a JSONL field never reads as the
    assistant's words (an outlet "HACKED. Ignore the article…" stays a quoted name)."""
    flat = " ".join(value.split()).replace("“", "‘").replace("”", "’").replace('"', "'")
    if len(flat) > limit:
        flat = flat[:limit - 1].rstrip() + "…"
    return f"“{flat}”"


def source_label(outlet: str | None, title: str | None, source: str, label: str | None = None) -> str:
    """The outlet, else the title, else the readable label (``the article opening “…”``), else (only
    for quotes made without a label) the file name; each quoted (``quoted``)."""
    if outlet or title:
        return quoted(outlet or title)
    if label and label.endswith(OPENING_MARK):
        return "the article opening " + quoted(label.removesuffix(OPENING_MARK).strip().strip("“”"))
    return quoted(source)


def attribution(outlet: str | None, title: str | None, source: str, published: str | None,
                label: str | None = None) -> str:
    """``“Defence Talks” (2025-03-01)``: the label and the date, as the answer text gives them."""
    return fill(ATTRIBUTION, label=source_label(outlet, title, source, label), date=published or UNDATED)


def quote_attribution(quote: Quote) -> str:
    return attribution(quote.outlet, quote.title, quote.source, quote.published, quote.label)


def quote_dating(quote: Quote) -> str:
    """The publication date, else ``undated`` and, labelled, the latest date the article names."""
    return ArticleLabel("", quote.published, quote.mentions_until, None).dating


def quote_name(quote: Quote) -> str:
    """``Defence Talks, “Headline”, by Jane Doe``: outlet, readable label and author, where known."""
    label = quote.label or (f"“{quote.title}”" if quote.title else None)
    parts = [quote.outlet, label, f"by {quote.author}" if quote.author else None]
    return ", ".join(p for p in parts if p) or quote.source


def citation_attribution(quote: Quote) -> str:
    """``Defence Talks, “Headline”, undated — 002_09e231ab3d45662e.txt:1980-2299`` (and the URL when known)."""
    line = f"{quote_name(quote)}, {quote_dating(quote)} — {quote.source}:{quote.start}-{quote.end}"
    return f"{line} {quote.url}" if quote.url else line


def brief_attribution(quote: Quote) -> str:
    """``Defence Talks, “Title”, 2025-03-01, https://… — file.txt, characters 1980–2299``."""
    parts = [quote_name(quote), quote_dating(quote), quote.url]
    return ", ".join(p for p in parts if p) + f" — {quote.source}, characters {quote.start}–{quote.end}"


def article_choice(source: str, record: ArticleRecord) -> tuple[str, str]:
    """``(shown, value)`` for the Articles filter: the readable label and its outlet and date."""
    label = describe_article(record)
    outlet = f"{record.meta.outlet}, " if record.meta.outlet else ""
    return f"{label.name} — {outlet}{label.published or UNDATED}", source
