"""Articles in other formats (.html, .pdf, .jsonl/.json) turned into plain-text corpus files.

The extracted text is written into the corpus folder as ``<original name>.txt`` with a
``.meta.json`` sidecar, so that every quote's offsets stay offsets into a file an analyst
can open: ``text == <that .txt file>[start:end]``."""
from __future__ import annotations

import json
import re
from pathlib import Path

from retrieval.errors import UnreadableFile
from retrieval.ingest.metadata import FIELDS
from retrieval.text.dates import parse_date

CONVERTIBLE = (".html", ".htm", ".pdf", ".jsonl", ".json")
_SAFE_NAME = re.compile(r"[^\w.-]+")


def _meta(**values) -> dict:
    meta = {k: str(v).strip() for k, v in values.items() if k in FIELDS and v and str(v).strip()}
    if "published" in meta:
        meta["published"] = parse_date(meta["published"]) or None
    return {k: v for k, v in meta.items() if v}


def _html(path: Path) -> list[tuple[str, str, dict]]:
    import trafilatura

    doc = trafilatura.bare_extraction(path.read_text(encoding="utf-8", errors="replace"), with_metadata=True,
                                      include_comments=False, include_tables=False)
    if doc is None or not (doc.text or "").strip():
        raise UnreadableFile(f"{path.name}: no article text could be extracted from this page.")
    meta = _meta(title=doc.title, outlet=doc.sitename, published=doc.date, url=doc.url, author=doc.author)
    return [(f"{path.name}.txt", doc.text.strip() + "\n", meta)]


def _pdf(path: Path) -> list[tuple[str, str, dict]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata or {}
    except (PdfReadError, OSError, ValueError) as err:
        raise UnreadableFile(f"{path.name} is not a readable PDF ({err}).") from None
    text = "\n\n".join(join_wrapped_lines(p) for p in pages if p)
    if not text.strip():
        raise UnreadableFile(f"{path.name} has no extractable text (a scanned PDF needs OCR first).")
    return [(f"{path.name}.txt", text + "\n", _meta(title=info.get("/Title"), author=info.get("/Author")))]


_FULL_LINE = 0.75      # a line this much of the page's usual width or longer was wrapped, not ended
_SENTENCE_END = re.compile(r"[.!?:;\"'”’)\]…]$")


def join_wrapped_lines(page: str) -> str:
    """A PDF page's text with its wrapped lines joined into paragraphs (one a line, a blank line
    between them), so cleaning sees sentences, not short lines it would take for headings.

    A line that runs (nearly) to the usual width of the page's lines continues on the next one;
    a shorter line ends its paragraph, and so does a blank line. A word hyphenated at the end of
    a line keeps its hyphen (``Iran-`` + ``backed``); nothing else of the text changes."""
    lines = [line.strip() for line in page.splitlines()]
    widths = sorted(len(line) for line in lines if line)
    if not widths:
        return ""
    usual = widths[int(len(widths) * 0.8)] if len(widths) >= 3 else widths[-1]
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        current = f"{current}{'' if current.endswith('-') or not current else ' '}{line}"
        wrapped = len(line) >= _FULL_LINE * usual and not (_SENTENCE_END.search(line) and len(line) < 0.9 * usual)
        if not wrapped:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _records(path: Path) -> list[tuple[str, str, dict]]:
    raw = path.read_text(encoding="utf-8-sig")
    try:
        if path.suffix.lower() == ".jsonl":
            records = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            data = json.loads(raw)
            records = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as err:
        raise UnreadableFile(f"{path.name} is not valid JSON ({err}).") from None
    out = []
    for i, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            raise UnreadableFile(f"{path.name}: record {i} has no \"text\" field.")
        stem = _SAFE_NAME.sub("-", str(record.get("id") or f"{path.stem}-{i:04d}")).strip("-.") or f"record-{i}"
        out.append((f"{stem}.txt", record["text"].strip() + "\n", _meta(**record)))
    return out


def convert(path: Path) -> list[tuple[str, str, dict]]:
    """``(corpus file name, text, metadata)`` for each article in ``path``."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return _html(path)
    if suffix == ".pdf":
        return _pdf(path)
    if suffix in (".jsonl", ".json"):
        return _records(path)
    raise UnreadableFile(f"{path.name}: unsupported format.")
