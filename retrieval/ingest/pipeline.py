"""Corpus -> cleaned, chunked, embedded articles in the index. Incremental and idempotent:
an unchanged file is skipped, a changed one replaced, a removed one deleted, and text
already embedded is never embedded again."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from filelock import FileLock, Timeout

from retrieval.errors import IndexBusy, UnreadableFile
from retrieval.index.embedding import Embedder
from retrieval.index.store import Index
from retrieval.ingest.chunking import chunk_article
from retrieval.ingest.cleaning import body_spans, label_lines
from retrieval.ingest.converters import CONVERTIBLE, convert
from retrieval.ingest.loading import is_article_file, read_article
from retrieval.ingest.metadata import merge, meta_from_text, read_sidecar
from retrieval.settings import Settings
from retrieval.text.entities import find_entities
from retrieval.text.sentences import split_sentences
from retrieval.types import ArticleRecord, Chunk, ChunkEncoding

# Part of every article's hash: bump it when cleaning or chunking changes, so that the next
# ingest re-chunks every article (encodings of unchanged chunk texts are reused).
PIPELINE_VERSION = "3"

MOSTLY_FURNITURE = 0.5   # a file with less than this share of its text indexed is warned about
Progress = Callable[[int, int], None]   # (chunks embedded so far, chunks to embed)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)   # (file, the file it repeats)
    failed: list[tuple[str, str]] = field(default_factory=list)       # (file, reason)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    # Per file added or updated: (file, characters indexed, characters of text); the rest was
    # set aside as page furniture (banners, bylines, comment forms, headings).
    indexed: list[tuple[str, int, int]] = field(default_factory=list)

    def note_indexed(self, source: str, text: str, chunks: list[Chunk]) -> None:
        kept = sum(len("".join(c.text.split())) for c in chunks)
        self.indexed.append((source, kept, len("".join(text.split()))))

    def indexed_lines(self) -> list[str]:
        """``indexed: a.txt — 4,210 of 4,800 characters (88%)``, and a warning where most of a
        file was set aside (white space is not counted)."""
        lines = []
        for source, kept, total in self.indexed:
            share = kept / total if total else 0.0
            lines.append(f"  indexed: {source} — {kept:,} of {total:,} characters ({share:.0%})")
            if share < MOSTLY_FURNITURE:
                lines.append(f"  warning: only {share:.0%} of {source} was indexed; the rest was set aside as page "
                             "furniture (headings, banners, comments). Check the file, or convert it to plain "
                             "text with one paragraph a line.")
        return lines

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated", f"{len(self.skipped)} unchanged",
                 f"{len(self.removed)} removed", f"{len(self.duplicates)} duplicates", f"{len(self.failed)} failed",
                 f"{self.chunks_embedded} chunks embedded", f"{self.chunks_reused} reused"]
        lines = [", ".join(parts)]
        lines += [f"  duplicate: {a} repeats {b}" for a, b in self.duplicates]
        lines += [f"  failed: {reason}" for _, reason in self.failed]
        lines += self.indexed_lines()
        return "\n".join(lines)


@dataclass
class _Prepared:
    record: ArticleRecord
    chunks: list[Chunk]
    reusable: dict[str, ChunkEncoding]
    is_update: bool


def prepare_article(source: str, text: str, sidecar: dict, max_chars: int) -> tuple[ArticleRecord, list[Chunk]]:
    """Clean, describe and chunk one article (no model, no index)."""
    lines = label_lines(text)
    meta = merge(meta_from_text(text, lines), sidecar)
    doc_hash = hashlib.sha256("\0".join([PIPELINE_VERSION, text, json.dumps(sidecar, sort_keys=True)]).encode()).hexdigest()
    chunks = chunk_article(source, text, body_spans(lines), max_chars)
    return ArticleRecord(source, doc_hash, text, meta, len(chunks)), chunks


def corpus_files(settings: Settings) -> list[Path]:
    root = settings.corpus_dir
    return sorted(p for p in root.rglob("*") if p.is_file() and is_article_file(p)) if root.is_dir() else []


def source_name(path: Path, settings: Settings) -> str:
    """The file's path under the corpus folder. A symbolic link is named by itself, not by its
    target (which may lie outside the folder, or be another article of it)."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(settings.corpus_dir)).as_posix()
    except ValueError:   # e.g. a resolved path when the corpus folder's own path goes through a link
        return path.resolve().relative_to(settings.corpus_dir.resolve()).as_posix()


def add_to_corpus(paths: list[Path], settings: Settings, report: IngestReport) -> list[Path]:
    """Bring files into the corpus folder (the corpus is the source of truth): articles from
    outside it are copied; .html, .pdf and .jsonl/.json are converted to ``.txt`` files with a
    metadata sidecar. A file that cannot be brought in is reported and the others go on."""
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    inside = []
    for path in paths:
        try:
            inside += _bring_in(path.resolve(), settings)
        except UnreadableFile as err:
            report.failed.append((path.name, str(err)))
        except OSError as err:
            report.failed.append((path.name, f"{path.name} cannot be read ({err.strerror or err})."))
    return inside


def _bring_in(path: Path, settings: Settings) -> list[Path]:
    if not path.is_file():
        raise UnreadableFile(f"{path.name} is not a file.")
    if path.stat().st_size > settings.max_file_bytes:
        read_article(path, settings.max_file_bytes)   # raises the size message
    if path.suffix.lower() in CONVERTIBLE:
        targets = []
        for name, text, meta in convert(path):
            target = settings.corpus_dir / name
            target.write_text(text, encoding="utf-8")
            sidecar = target.with_name(name + ".meta.json")
            if meta:
                sidecar.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            else:
                sidecar.unlink(missing_ok=True)
            targets.append(target)
        return targets
    if not is_article_file(path):
        raise UnreadableFile(f"{path.name}: supported formats are .txt, .md, .html, .pdf, .jsonl and .json.")
    if settings.corpus_dir.resolve() in path.parents:
        return [path]
    target = settings.corpus_dir / path.name
    shutil.copyfile(path, target)
    sidecar = path.with_name(path.name + ".meta.json")
    if sidecar.exists():
        shutil.copyfile(sidecar, target.with_name(sidecar.name))
    return [target]


def ingest(settings: Settings, index: Index, embedder: Embedder, paths: list[Path] | None = None,
           progress: Progress | None = None, flush_chunks: int = 256, wait: float = 0) -> IngestReport:
    """Bring the index in line with the corpus folder (``paths=None``), or add ``paths``.

    Only one ingest runs at a time (a lock file in the index folder; ``wait`` seconds are
    allowed for another to finish before ``IndexBusy``). Articles are embedded
    and committed in batches of about ``flush_chunks`` chunks, so an interrupted ingest
    resumes from the last committed batch."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / "ingest.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexBusy("Another ingest is running on this index; try again when it has finished.") from None
    try:
        return _ingest(settings, index, embedder, paths, progress, flush_chunks)
    finally:
        lock.release()


def _ingest(settings, index, embedder, paths, progress, flush_chunks) -> IngestReport:
    report = IngestReport()
    files = corpus_files(settings) if paths is None else add_to_corpus(paths, settings, report)
    committed = index.committed()
    index.collect_garbage(committed)
    by_content = {hashlib.sha256(r.text.encode()).hexdigest(): s for s, r in committed.items()}
    pending: list[_Prepared] = []
    for path in files:
        source = source_name(path, settings)
        try:
            text = read_article(path, settings.max_file_bytes)
            record, chunks = prepare_article(source, text, read_sidecar(path), settings.chunk_chars)
        except UnreadableFile as err:
            report.failed.append((source, str(err)))
            continue
        old = committed.get(source)
        if old and old.doc_hash == record.doc_hash:
            report.skipped.append(source)
            continue
        content = hashlib.sha256(text.encode()).hexdigest()
        if by_content.get(content, source) != source:
            report.duplicates.append((source, by_content[content]))
            continue
        by_content[content] = source
        if not chunks:
            report.failed.append((source, f"{source} has no article text left after removing page furniture."))
            continue
        report.note_indexed(source, text, chunks)
        pending.append(_Prepared(record, chunks, index.reusable_encodings(source) if old else {}, old is not None))
    total = sum(len(p.chunks) for p in pending)
    done = 0
    batch: list[_Prepared] = []
    for i, item in enumerate(pending):
        batch.append(item)
        if sum(len(p.chunks) for p in batch) >= flush_chunks or i == len(pending) - 1:
            done += _embed_and_write(batch, index, embedder, report)
            batch = []
            if progress:
                progress(done, total)
    if paths is None:
        present = {source_name(p, settings) for p in files}
        for source in sorted(set(committed) - present):
            index.delete_article(source)
            report.removed.append(source)
    return report


def _embed_and_write(batch: list[_Prepared], index: Index, embedder: Embedder, report: IngestReport) -> int:
    todo = {c.text_hash: c.text for p in batch for c in p.chunks if c.text_hash not in p.reusable}
    fresh = dict(zip(todo, encode_chunks(list(todo.values()), embedder)))
    report.chunks_embedded += len(todo)
    index.write_articles([(p.record, p.chunks, [p.reusable.get(c.text_hash) or fresh[c.text_hash] for c in p.chunks])
                          for p in batch], replaced={p.record.source for p in batch if p.is_update})
    for p in batch:
        report.chunks_reused += sum(c.text_hash in p.reusable for c in p.chunks)
        (report.updated if p.is_update else report.added).append(p.record.source)
    return sum(len(p.chunks) for p in batch)


def encode_chunks(texts: list[str], embedder: Embedder) -> list[ChunkEncoding]:
    """Each chunk text's vector, its sentences with their vectors (from the same forward pass)
    and its named entities: everything the answer scorer needs that can be computed once."""
    spans = [list(split_sentences(text)) for text in texts]
    encoded = embedder.embed_passages(texts, spans)
    return [ChunkEncoding(vector, tuple(text_spans), sentence_vectors.astype(np.float16), tuple(entities))
            for (vector, sentence_vectors), text_spans, entities in zip(encoded, spans, find_entities(texts))]
