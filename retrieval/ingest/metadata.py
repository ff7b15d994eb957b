"""Article metadata, read from the text only where it plainly says so, or from a sidecar.

A sidecar ``<file>.meta.json`` (keys: title, outlet, published, url, author) overrides
what the text says; anything neither gives stays ``None``: never guessed."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from retrieval.errors import InvalidMetadata, UnreadableFile
from retrieval.ingest.cleaning import Line
from retrieval.text.dates import parse_date
from retrieval.types import ArticleMeta

FIELDS = ("title", "outlet", "published", "url", "author")
_OUTLET = re.compile(r"^(?:discover more from|more from|subscribe to|©\s*\d{4})\s+(.+?)(?:\s+[|–—-]\s+.*)?$", re.I)
_BYLINE = re.compile(r"^by\s+(.+?)\s*(?:[|,].*|\s[–—-]\s.*)?$", re.I)
_URL = re.compile(r"^(?:source|url|originally published at|read the original at)\s*:?\s*(https?://\S+)$", re.I)


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


def write_sidecar(path: Path, changes: dict) -> dict:
    """Merge ``changes`` (field -> value; an empty value removes the field, so the text's own
    value, if any, applies again) into ``<file>.meta.json`` and return what it now holds."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidMetadata(f"Unknown metadata field(s): {', '.join(sorted(unknown))}; use {', '.join(FIELDS)}.")
    try:
        data = read_sidecar(path)
    except UnreadableFile:       # a broken sidecar is replaced by the one being written
        data = {}
    for key, value in changes.items():
        value = (value or "").strip()
        if key == "published" and value:
            iso = parse_date(value)
            if iso is None:
                raise InvalidMetadata(f"{value!r} is not a date; write it as 2025-03-01.")
            value = iso
        if value:
            data[key] = value
        else:
            data.pop(key, None)
    sidecar = path.with_name(path.name + ".meta.json")
    if data:
        sidecar.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    else:
        sidecar.unlink(missing_ok=True)
    return data


def sidecar_target(name: str, sources) -> str | None:
    """The article an uploaded ``<file>.meta.json`` belongs to: ``<file>``, or the ``<file>.txt``
    a converted .html/.pdf became; None when neither is in ``sources``."""
    article = name.removesuffix(".meta.json")
    return next((s for s in (article, f"{article}.txt") if s in sources), None)
