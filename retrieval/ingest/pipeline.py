"""Corpus -> cleaned, chunked, embedded articles in the index. Incremental and idempotent:
an unchanged file is skipped, a changed one replaced, a removed one deleted, and text
already embedded is never embedded again."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
from filelock import FileLock, Timeout

from retrieval.errors import IndexBusy, UnreadableFile
from retrieval.index.embedding import Embedder
from retrieval.index.store import Index
from retrieval.ingest.chunking import chunk_article
from retrieval.ingest.cleaning import body_spans, label_lines
from retrieval.ingest.admission import NAME_LIMIT, SIDECAR, admit, content_hash
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
    renamed: list[tuple[str, str]] = field(default_factory=list)      # (file, its corpus name): the name was taken
    replaced: list[str] = field(default_factory=list)                 # corpus files overwritten (``replace=True``)
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
        lines += [f"  renamed: {a} was saved as {b}: another article already had its name (to replace that one, "
                  "ingest with --replace)" for a, b in self.renamed]
        lines += [f"  replaced: {name}" for name in self.replaced]
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


def _sidecar(path: Path) -> dict:
    """The file's sidecar metadata; none when no sidecar name fits beside it (a 250-byte name)."""
    return read_sidecar(path) if len((path.name + SIDECAR).encode()) <= NAME_LIMIT else {}


def ingest(settings: Settings, index: Index, embedder: Embedder, paths: list[Path] | None = None,
           progress: Progress | None = None, flush_chunks: int = 256, wait: float = 0,
           replace: bool = False) -> IngestReport:
    """Bring the index in line with the corpus folder (``paths=None``), or add ``paths`` (files or
    folders; see ``admission``: validated before anything is written, a same-named article kept
    unless ``replace``).

    Only one ingest runs at a time (a lock file in the index folder; ``wait`` seconds are
    allowed for another to finish before ``IndexBusy``). Articles are embedded
    and committed in batches of about ``flush_chunks`` chunks, a long article in parts, so an
    interrupted ingest resumes from the last committed batch or part."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / "ingest.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexBusy("Another ingest is running on this index; try again when it has finished.") from None
    try:
        with index.writing(wait):   # and, on a Chroma server, the lease that keeps other machines out
            return _ingest(settings, index, embedder, paths, progress, flush_chunks, replace)
    finally:
        lock.release()


def _ingest(settings, index, embedder, paths, progress, flush_chunks, replace=False) -> IngestReport:
    report = IngestReport()
    committed = index.committed()
    index.collect_garbage(committed)
    by_content = {content_hash(r.text): s for s, r in committed.items()}
    files = corpus_files(settings) if paths is None else admit(paths, settings, report, by_content, replace)
    writer = _PartWriter(index, embedder, report, flush_chunks, progress)
    seen: set[str] = set()
    for path in files:
        source = source_name(path, settings)
        if source in seen:
            continue
        seen.add(source)
        try:
            text = read_article(path, settings.max_file_bytes)
            record, chunks = prepare_article(source, text, _sidecar(path), settings.chunk_chars)
        except UnreadableFile as err:
            report.failed.append((source, str(err)))
            continue
        except OSError as err:
            report.failed.append((source, f"{source} cannot be read ({err.strerror or err})."))
            continue
        old = committed.get(source)
        resume_at = 0
        if old and old.doc_hash == record.doc_hash:
            if old.n_chunks >= len(chunks):
                report.skipped.append(source)
                continue
            resume_at = old.n_chunks      # an interrupted ingest committed its first parts
        content = content_hash(text)
        if by_content.get(content, source) != source:
            report.duplicates.append((source, by_content[content]))
            continue
        by_content[content] = source
        if not chunks:
            report.failed.append((source, f"{source} has no article text left after removing page furniture."))
            continue
        report.note_indexed(source, text, chunks)
        reusable = index.reusable_encodings(source) if old and not resume_at else {}
        writer.add(record, chunks, resume_at, reusable, is_update=old is not None and not resume_at)
    writer.finish()
    if paths is None:
        present = {source_name(p, settings) for p in files}
        for source in sorted(set(committed) - present):
            index.delete_article(source)
            report.removed.append(source)
    return report


PARTS_PER_ARTICLE = 8


def part_chunks(n_chunks: int, flush_chunks: int) -> int:
    """Chunks in one committed part of a long article: about an eighth of it, at least a batch.
    Each commit rewrites the article's record, whole text included (Chroma: 4.4 s and ~50-100 MB
    more resident memory per write of a 50 MB text, measured), so a long article is committed a
    few times, not once per batch; it is still encoded a batch at a time (bounded memory, progress)."""
    return max(flush_chunks, -(-n_chunks // PARTS_PER_ARTICLE))


class _PartWriter:
    """Prepared articles handed to ``_embed_and_write`` in bounded batches: short articles share a
    batch of about ``flush_chunks`` chunks; a long one is encoded ``flush_chunks`` at a time and
    committed in parts, in chunk order, each with ``n_chunks`` = the chunks in so far, so memory
    stays bounded, readers see whole chunks of the new version, and the next ingest resumes after
    the last committed part."""

    def __init__(self, index: Index, embedder: Embedder, report: IngestReport, flush_chunks: int,
                 progress: Progress | None):
        self.index, self.embedder, self.report, self.flush_chunks = index, embedder, report, flush_chunks
        self.progress = progress
        self.batch: list[_Prepared] = []
        self.done = self.total = 0
        self.outcome: dict[str, str] = {}     # source -> "added" | "updated"

    def add(self, record: ArticleRecord, chunks: list[Chunk], start: int, reusable: dict, is_update: bool) -> None:
        self.outcome[record.source] = "updated" if is_update else "added"
        self.total += len(chunks) - start
        if len(chunks) - start <= self.flush_chunks:
            self.batch.append(_Prepared(record, chunks[start:], reusable, is_update))
            if sum(len(p.chunks) for p in self.batch) >= self.flush_chunks:
                self._write()
            return
        self._write()
        self._tell()
        size = part_chunks(len(chunks), self.flush_chunks)
        for lo in range(start, len(chunks), size):
            hi = min(lo + size, len(chunks))
            encoded = self._encode(chunks[lo:hi], reusable)
            self.batch = [_Prepared(replace(record, n_chunks=hi), chunks[lo:hi], {**reusable, **encoded},
                                    is_update or lo > start)]
            self.done -= hi - lo          # counted once, when committed
            self._write()
            self.report.chunks_reused -= sum(c.text_hash in encoded for c in chunks[lo:hi])   # encoded, not reused

    def _encode(self, part: list[Chunk], reusable: dict) -> dict[str, ChunkEncoding]:
        """The part's new encodings, a batch at a time (the encoder holds a batch's token vectors)."""
        encoded: dict[str, ChunkEncoding] = {}
        for lo in range(0, len(part), self.flush_chunks):
            batch = part[lo:lo + self.flush_chunks]
            todo = {c.text_hash: c.text for c in batch if c.text_hash not in reusable and c.text_hash not in encoded}
            # Vectors kept as float32 arrays until the part is written: 7 KB a chunk instead of 19.
            encoded.update((key, replace(enc, vector=np.asarray(enc.vector, dtype=np.float32)))
                           for key, enc in zip(todo, encode_chunks(list(todo.values()), self.embedder)))
            self.report.chunks_embedded += len(todo)
            self.done += len(batch)
            self._tell()
        return encoded

    def finish(self) -> None:
        self._write()
        written = list(dict.fromkeys(self.report.added + self.report.updated))
        self.report.added = [s for s in written if self.outcome.get(s, "added") == "added"]
        self.report.updated = [s for s in written if self.outcome.get(s) == "updated"]

    def _write(self) -> None:
        if self.batch:
            self.done += _embed_and_write(self.batch, self.index, self.embedder, self.report)
            self.batch = []
            self._tell()

    def _tell(self) -> None:
        if self.progress:
            self.progress(self.done, self.total)


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
