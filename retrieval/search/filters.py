"""Narrowing a question to some articles: by outlet, by file, by publication date range."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from retrieval.errors import InvalidFilter
from retrieval.text.dates import parse_date
from retrieval.types import ArticleRecord


@dataclass(frozen=True)
class Filters:
    outlets: tuple[str, ...] = ()     # any of these (case-insensitive)
    sources: tuple[str, ...] = ()     # any of these file names
    since: str | None = None          # ISO date, inclusive
    until: str | None = None          # ISO date, inclusive

    @classmethod
    def of(cls, outlets=(), sources=(), since: str | None = None, until: str | None = None) -> "Filters":
        """Filters with their dates read in any form ``parse_date`` knows ("2025-03-01", "March 1, 2025")."""
        def iso(value: str | None, name: str) -> str | None:
            if not value:
                return None
            parsed = parse_date(value)
            if parsed is None:
                raise InvalidFilter(f"{name} {value!r} is not a date; write it as 2025-03-01.")
            return parsed
        return cls(tuple(outlets or ()), tuple(sources or ()), iso(since, "since"), iso(until, "until"))

    @property
    def active(self) -> bool:
        return bool(self.outlets or self.sources or self.since or self.until)

    def to_dict(self) -> dict:
        """The filters that are set, as an answer's JSON shows them."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class Scope:
    sources: frozenset[str]
    undated: tuple[str, ...]          # left out by a date filter because their date is unknown


def resolve(filters: Filters, articles: dict[str, ArticleRecord]) -> Scope:
    """The articles the filters let through; articles with no known date are listed, not hidden."""
    outlets = {o.casefold() for o in filters.outlets}
    unknown = set(filters.sources) - set(articles)
    if unknown:
        raise InvalidFilter(f"No article is called {', '.join(sorted(unknown))}.")
    kept, undated = set(), []
    for source, record in articles.items():
        meta = record.meta
        if filters.sources and source not in filters.sources:
            continue
        if outlets and (meta.outlet or "").casefold() not in outlets:
            continue
        if filters.since or filters.until:
            if meta.published is None:
                undated.append(source)
                continue
            day = date.fromisoformat(meta.published)
            if (filters.since and day < date.fromisoformat(filters.since)) or \
                    (filters.until and day > date.fromisoformat(filters.until)):
                continue
        kept.add(source)
    if not kept:
        note = f" ({len(undated)} articles have no known date)" if undated else ""
        raise InvalidFilter(f"No article matches these filters{note}.")
    return Scope(frozenset(kept), tuple(sorted(undated)))
