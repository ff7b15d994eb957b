"""Files brought into the corpus folder (CLI ``ingest PATHS``, UI uploads): every file is read,
validated and converted *before* anything is written, so a rejected or duplicate file never lands
in corpus/; an article already there is never replaced unless the caller asks for it.

- Folders are walked recursively for supported files; the same path given twice counts once.
- Names are normalized (NFC; characters other than letters, digits, ``.``, ``-``, ``_`` become
  ``-``) and capped so the name, its ``.meta.json`` sidecar and a collision suffix fit the
  255-byte limit of common file systems.
- A name already used by a different article keeps both: the newcomer is renamed (``name-2.txt``)
  and the report says so. ``replace=True`` (``ingest --replace``, the UI's confirmation) overwrites
  instead; an existing sidecar is kept unless the newcomer brings its own metadata.
- Files are written atomically (a hidden temporary file, then a rename), the sidecar first, so a
  re-scan never sees half a file or an article without its metadata."""
from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import UnreadableFile
from retrieval.index.store import content_hash  # the hash article records keep
from retrieval.ingest.cleaning import body_spans, label_lines
from retrieval.ingest.converters import CONVERTIBLE, convert
from retrieval.ingest.loading import ARTICLE_SUFFIXES, decode, read_article
from retrieval.ingest.metadata import read_sidecar
from retrieval.settings import Settings

SUPPORTED = ARTICLE_SUFFIXES + CONVERTIBLE
SIDECAR = ".meta.json"
NAME_LIMIT = 255                      # bytes in one file name (ext4, XFS, APFS, NTFS in UTF-16 units)
# The longest corpus name: room left for ".meta.json" and a collision suffix such as "-123".
MAX_NAME_BYTES = NAME_LIMIT - len(SIDECAR) - 8
FORMATS = "supported formats are .txt, .md, .html, .pdf, .jsonl and .json"


@dataclass
class Admitted:
    """One article ready to be written: its corpus name, its bytes, and its sidecar metadata."""
    origin: str                # what the user gave: a file name, or "wires.jsonl record 3"
    name: str                  # normalized corpus file name
    data: bytes
    meta: dict | None          # None: no sidecar to write
    text: str                  # decoded, for duplicate detection


def corpus_name(name: str, suffix: str = ".txt") -> str:
    """A file name safe in the corpus folder: normalized, no path, no leading dot, capped in bytes.
    ``suffix`` is used when the name does not end with an article suffix."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name)
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    cleaned = cleaned.strip("-.") or "article"
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or f".{ext.lower()}" not in ARTICLE_SUFFIXES:
        stem, ext = cleaned, suffix.lstrip(".")
    stem = _cap(stem, MAX_NAME_BYTES - len(ext.encode()) - 1)
    return f"{stem}.{ext}"


def _cap(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore").rstrip("-.") or "article"


def expand(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to bring in: each given file, and the supported files under each given folder
    (recursively, hidden files and sidecars left out); a path given twice counts once.
    Returns ``(files, failures)``."""
    files: dict[Path, None] = {}
    failed = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in _walk(path) if _is_candidate(p))
            if not found:
                failed.append((path.name, f"{path.name} holds no article files ({FORMATS})."))
            files.update(dict.fromkeys(p.resolve() for p in found))
        else:
            files[path.resolve() if path.exists() else path] = None
    return list(files), failed


def _walk(folder: Path):
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(root) / n for n in names)


def _is_candidate(path: Path) -> bool:
    return (path.suffix.lower() in SUPPORTED and not path.name.startswith(".")
            and not path.name.lower().endswith(SIDECAR) and path.is_file())


def read_incoming(path: Path, settings: Settings) -> list[Admitted]:
    """Read, validate and convert one incoming file; nothing is written. Raises ``UnreadableFile``."""
    if not path.is_file():
        raise UnreadableFile(f"{path.name} is not a file.")
    if path.name.lower().endswith(SIDECAR):
        raise UnreadableFile(f"{path.name} is metadata, not an article: put it beside its article file.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(f"{path.name}: {FORMATS}.")
    if path.stat().st_size > settings.max_file_bytes:
        read_article(path, settings.max_file_bytes)   # raises the size message
    if suffix in CONVERTIBLE:
        converted = convert(path)
        many = len(converted) > 1
        out = []
        for i, (name, text, meta) in enumerate(converted, start=1):
            origin = f"{path.name} record {i}" if many else path.name
            _require_body(text, origin)
            out.append(Admitted(origin, corpus_name(name), text.encode("utf-8"), meta or None, text))
        return out
    text = read_article(path, settings.max_file_bytes)
    _require_body(text, path.name)
    sidecar = read_sidecar(path) if _sidecar_fits(path) else {}
    return [Admitted(path.name, corpus_name(path.name, suffix), path.read_bytes(), sidecar or None, text)]


def _sidecar_fits(path: Path) -> bool:
    return len((path.name + SIDECAR).encode()) <= NAME_LIMIT


def _require_body(text: str, origin: str) -> None:
    if not text.strip():
        raise UnreadableFile(f"{origin} is empty.")
    if not body_spans(label_lines(text)):
        raise UnreadableFile(f"{origin} has no article text left after removing page furniture.")


def place(item: Admitted, folder: Path, replace: bool, taken: set[str]) -> tuple[Path, str | None]:
    """Where ``item`` goes: its own name when free, holding the same text, or ``replace`` is set;
    else the first free ``name-2``, ``name-3`` … Returns ``(path, how)``, ``how`` being
    ``"replaced"``, ``"renamed"`` or None."""
    target = folder / item.name
    if item.name not in taken and not target.exists():
        return target, None
    if item.name not in taken and _same_text(target, item.text):
        return target, None
    if replace and item.name not in taken:
        return target, "replaced"
    stem, ext = item.name.rsplit(".", 1)
    n = 2
    while (f"{stem}-{n}.{ext}" in taken) or (folder / f"{stem}-{n}.{ext}").exists():
        n += 1
    return folder / f"{stem}-{n}.{ext}", "renamed"


def _same_text(path: Path, text: str) -> bool:
    try:
        return decode(path.read_bytes(), path.name) == text
    except (OSError, UnreadableFile):
        return False


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` at ``path`` all at once: a hidden temporary file beside it, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_article(item: Admitted, target: Path) -> None:
    """The sidecar (when the item brings metadata), then the article."""
    if item.meta:
        write_atomically(target.with_name(target.name + SIDECAR),
                         (json.dumps(item.meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    write_atomically(target, item.data)


def admit(paths: list[Path], settings: Settings, report, by_content, replace: bool = False) -> list[Path]:
    """Bring ``paths`` into the corpus folder; returns the corpus files to index. Failures, duplicates
    (``by_content``: text hash -> the article holding it, a dict or ``KnownContent``; updated as files are
    admitted), renamed and replaced files go to ``report`` (an ``IngestReport``)."""
    folder = settings.corpus_dir
    folder.mkdir(parents=True, exist_ok=True)
    inside = os.path.abspath(folder) + os.sep
    files, failed = expand(paths)
    report.failed += failed
    admitted: list[Path] = []
    taken: set[str] = set()           # names given in this call
    for path in files:
        if os.path.abspath(path).startswith(inside) and path.is_file():
            admitted.append(path)     # already in the corpus: index it where it is
            continue
        try:
            items = read_incoming(path, settings)
        except UnreadableFile as err:
            report.failed.append((path.name, str(err)))
            continue
        except OSError as err:
            report.failed.append((path.name, f"{path.name} cannot be read ({err.strerror or err})."))
            continue
        for item in items:
            key = content_hash(item.text)
            holder = by_content.get(key)
            if holder is not None and not (holder == item.name and (folder / item.name).exists()):
                report.duplicates.append((item.origin, holder))
                continue
            target, how = place(item, folder, replace, taken)
            try:
                if how is not None or not target.exists():
                    write_article(item, target)
            except OSError as err:
                report.failed.append((item.origin, f"{item.origin} cannot be written to the corpus folder "
                                                    f"({err.strerror or err})."))
                continue
            if how == "renamed":
                report.renamed.append((item.origin, target.name))
            elif how == "replaced":
                report.replaced.append(target.name)
            taken.add(target.name)
            by_content[key] = target.name
            admitted.append(target)
    return admitted


def collisions(paths: list[Path], settings: Settings) -> list[str]:
    """Corpus names that ``paths`` would take from a different article (nothing is written): what
    the UI asks about before replacing."""
    found = []
    files, _ = expand(paths)
    for path in files:
        try:
            items = read_incoming(path, settings)
        except (UnreadableFile, OSError):
            continue
        for item in items:
            target = settings.corpus_dir / item.name
            if target.exists() and not _same_text(target, item.text):
                found.append(item.name)
    return sorted(set(found))
