"""Article metadata, read from the text only where it plainly says so, or from a sidecar.

A sidecar ``<file>.meta.json`` (keys: title, outlet, published, url, author) overrides
what the text says; anything neither gives stays ``None``: never guessed."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

from .cleaning import Line
from .errors import UnreadableFile

FIELDS = ("title", "outlet", "published", "url", "author")
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MDY = re.compile(r"([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})", re.I)
_DMY = re.compile(r"(\d{1,2})\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4})", re.I)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_OUTLET = re.compile(r"^(?:discover more from|more from|subscribe to|©\s*\d{4})\s+(.+?)(?:\s+[|–—-]\s+.*)?$", re.I)
_BYLINE = re.compile(r"^by\s+(.+?)\s*(?:[|,].*|\s[–—-]\s.*)?$", re.I)
_URL = re.compile(r"^(?:source|url|originally published at|read the original at)\s*:?\s*(https?://\S+)$", re.I)


@dataclass(frozen=True)
class ArticleMeta:
    title: str | None = None
    outlet: str | None = None
    published: str | None = None   # ISO date
    url: str | None = None
    author: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def parse_date(text: str) -> str | None:
    """ISO form of the first "June 14, 2025", "14 June 2025" or "2025-06-14" in ``text``."""
    try:
        if m := _ISO.search(text):
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        if (m := _MDY.search(text)) and m[1].lower() in _MONTHS:
            return date(int(m[3]), _MONTHS[m[1].lower()], int(m[2])).isoformat()
        if (m := _DMY.search(text)) and m[2].lower() in _MONTHS:
            return date(int(m[3]), _MONTHS[m[2].lower()], int(m[1])).isoformat()
    except ValueError:
        return None
    return None


def meta_from_text(text: str, lines: list[Line]) -> ArticleMeta:
    """Title, byline, outlet and date where the page states them.

    A date counts as the publication date only beside the headline or byline: a date
    separated from them by site banners is the page's date, not the article's."""
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        value = text[line.start:line.end]
        if line.label == "title":
            found.setdefault("title", value)
        elif line.label == "byline" and (m := _BYLINE.match(value)):
            found.setdefault("author", m[1])
        elif line.label == "dateline" and _beside_header(lines, i):
            if iso := parse_date(value):
                found.setdefault("published", iso)
        if (m := _OUTLET.match(value)) and not line.indexed:
            found.setdefault("outlet", m[1].strip())
        if (m := _URL.match(value)) and not line.indexed:
            found.setdefault("url", m[1])
    return ArticleMeta(**found)


def _beside_header(lines: list[Line], i: int) -> bool:
    neighbours = lines[max(i - 1, 0):i] + lines[i + 1:i + 2]
    return any(n.label in ("title", "byline") for n in neighbours)


def read_sidecar(path: Path) -> dict:
    """The metadata a user wrote in ``<file>.meta.json``, or ``{}``."""
    sidecar = path.with_name(path.name + ".meta.json")
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnreadableFile(f"{sidecar.name} is not valid JSON ({err}).") from err
    if not isinstance(data, dict) or set(data) - set(FIELDS):
        raise UnreadableFile(f"{sidecar.name} must be a JSON object with only these keys: {', '.join(FIELDS)}.")
    if data.get("published"):
        data["published"] = parse_date(str(data["published"])) or None
    return {k: (str(v) if v is not None else None) for k, v in data.items()}


def merge(meta: ArticleMeta, overrides: dict) -> ArticleMeta:
    return replace(meta, **overrides)
