"""Read corpus files into text, refusing what is not an article with a clear reason."""
from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from retrieval.errors import UnreadableFile

ARTICLE_SUFFIXES = (".txt", ".md")
_SNIFF = 8192


def is_article_file(path: Path) -> bool:
    return path.suffix.lower() in ARTICLE_SUFFIXES and not path.name.startswith(".")


def decode(data: bytes, name: str) -> str:
    """UTF-8 (a BOM is dropped), else the encoding charset detection is sure of.
    Line endings are kept as they are, so offsets match the file."""
    head = data[:_SNIFF]
    if b"\x00" in head or sum(b < 32 and b not in (9, 10, 12, 13) for b in head) > len(head) * 0.05:
        raise UnreadableFile(f"{name} looks like a binary file, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is None or best.encoding is None:
            raise UnreadableFile(f"{name} is not UTF-8 and its encoding cannot be detected.") from None
        return str(best)


def _size(n: int) -> str:
    """``50 MB``, ``1.5 MB``, ``12 KB``, ``900 bytes``: a limit set in bytes reads right at any scale."""
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n:,} bytes"


def read_article(path: Path, max_bytes: int) -> str:
    """The decoded text of one article file."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableFile(f"{name} is {_size(size)}; the limit is {_size(max_bytes)} per file.")
        data = path.read_bytes()
    except PermissionError:
        raise UnreadableFile(f"{name} cannot be read (permission denied).") from None
    except OSError as err:
        raise UnreadableFile(f"{name} cannot be read ({err.strerror or err}).") from None
    text = decode(data, name)
    if not text.strip():
        raise UnreadableFile(f"{name} is empty.")
    return text
