"""Corpus -> cleaned, chunked, embedded articles in the index. Incremental and idempotent:
an unchanged file is skipped, a changed one replaced, a removed one deleted, and text
already embedded is never embedded again.

What changed is decided without reading every article: each committed record keeps the hash of its
text and the stamp of the file it was read from (``file_stamp``: size, modification and change times,
inode, of the file and its sidecar). A file whose stamp is the recorded one is unchanged and is not
read; any other is read, cleaned and chunked, and compared by its hash as before. An ingest of named
files reads only those files' records and looks their text's hash up in the index (duplicates)."""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
from filelock import FileLock, Timeout

from retrieval.errors import IndexBusy, UnreadableFile
from retrieval.index.embedding import Embedder
from retrieval.index.store import Index, RecordState, content_hash
from retrieval.ingest.chunking import chunk_article
from retrieval.ingest.cleaning import body_spans, label_lines
from retrieval.ingest.admission import NAME_LIMIT, SIDECAR, admit
from retrieval.ingest.loading import is_article_file, read_article
from retrieval.ingest.metadata import merge, meta_from_text, read_sidecar
from retrieval.settings import Settings
from retrieval.text.entities import find_entities
from retrieval.text.sentences import split_sentences
from retrieval.types import ArticleRecord, Chunk, ChunkEncoding

# Part of every article's hash: bump it when cleaning or chunking changes, so that the next
# ingest re-chunks every article (encodings of unchanged chunk texts are reused).
PIPELINE_VERSION = "3"

# A file changed less than this long before it was looked at gets no stamp (it is read again next time):
# a second change within the same tick of the file system's clock could leave the same times.
RACY_SECONDS = 3.0
# An ingest of named files looks each text's hash up in the index; past this many, it reads every record's.
LOOKUPS_BEFORE_LOADING = 200

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
    read: int = 0          # files read (the rest were recognised by their stamp)
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
    stamp: str = ""


def file_stamp(path: Path, max_bytes: int) -> str:
    """What tells, without reading it, that a file and its sidecar are as they were: the pipeline
    version, then the size, modification and change times (ns) and inode of each (``-``: no sidecar).
    The change time moves on any write, rename or ``touch``, even one that sets the modification time
    back, and cannot be set by a user. ``""`` (read the file) when it cannot be looked at, is over the
    size limit (read to report why), or either file changed within ``RACY_SECONDS``."""
    parts = [PIPELINE_VERSION]
    now = time.time_ns()
    for i, candidate in enumerate((path, path.with_name(path.name + SIDECAR))):
        try:
            st = candidate.stat()
        except OSError:
            if i == 0:
                return ""
            parts.append("-")       # no sidecar (or none that fits the name limit: it is not read either)
            continue
        if now - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_SECONDS * 1e9 or (i == 0 and st.st_size > max_bytes):
            return ""
        parts.append(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")
    return "|".join(parts)


class KnownContent:
    """Text hash -> the article holding that text: given whole (a sync reads every record), else looked
    up in the index hash by hash (an ingest of a few named files reads no other record), plus the
    articles taken in this run. Used like the dict it replaces (``get``, ``[key] = source``)."""

    def __init__(self, index: Index, known: dict[str, str] | None = None):
        self.index, self.known, self.complete = index, dict(known or {}), known is not None
        self.looked: set[str] = set()

    def get(self, key: str, default=None):
        if not self.complete and key not in self.known and key not in self.looked:
            if len(self.looked) >= LOOKUPS_BEFORE_LOADING:
                found = {state.content_hash: s for s, state in self.index.record_states().items()}
                self.known, self.complete = {**found, **self.known}, True
            else:
                self.looked.add(key)
                self.known.update(self.index.holders([key]))
        return self.known.get(key, default)

    def __setitem__(self, key: str, source: str) -> None:
        self.known[key] = source


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
    index.migrate_records()
    if paths is None:
        states = index.record_states()          # metadata only: no article text is read
        index.collect_garbage(states)
        known = KnownContent(index, {state.content_hash: s for s, state in states.items() if state.content_hash})
        files = corpus_files(settings)
        present = {source_name(p, settings) for p in files}
    else:
        known = KnownContent(index)
        files = admit(paths, settings, report, known, replace)
        states = index.record_states({source_name(p, settings) for p in files})
    writer = _PartWriter(index, embedder, report, flush_chunks, progress)
    restamp: dict[str, str] = {}      # unchanged articles whose file's stamp is new (touched, or never recorded)
    seen: set[str] = set()
    for path in files:
        source = source_name(path, settings)
        if source in seen:
            continue
        seen.add(source)
        old: RecordState | None = states.get(source)
        stamp = file_stamp(path, settings.max_file_bytes)     # taken before reading: a later change moves it
        if old and stamp and old.stamp == stamp:
            report.skipped.append(source)
            continue
        try:
            text = read_article(path, settings.max_file_bytes)
            record, chunks = prepare_article(source, text, _sidecar(path), settings.chunk_chars)
        except UnreadableFile as err:
            report.failed.append((source, str(err)))
            continue
        except OSError as err:
            report.failed.append((source, f"{source} cannot be read ({err.strerror or err})."))
            continue
        report.read += 1
        resume_at = 0
        if old and old.doc_hash == record.doc_hash:
            if old.n_chunks >= len(chunks):
                report.skipped.append(source)
                if old.stamp != stamp:
                    restamp[source] = stamp
                continue
            resume_at = old.n_chunks      # an interrupted ingest committed its first parts
        content = content_hash(text)
        holder = known.get(content)
        # A sync that finds the text under a new name while its old file is gone: a rename, not a duplicate.
        moved = holder is not None and holder != source and paths is None and holder not in present
        if holder is not None and holder != source and not moved:
            report.duplicates.append((source, holder))
            continue
        known[content] = source
        if not chunks:
            report.failed.append((source, f"{source} has no article text left after removing page furniture."))
            continue
        report.note_indexed(source, text, chunks)
        reusable = index.reusable_encodings(holder) if moved else \
            index.reusable_encodings(source) if old and not resume_at else {}
        writer.add(record, chunks, resume_at, reusable, is_update=old is not None and not resume_at, stamp=stamp)
    writer.finish()
    index.set_stamps(restamp)
    if paths is None:       # after the writes: a renamed article is never missing in between
        for source in sorted(set(states) - present):
            index.delete_article(source)
            report.removed.append(source)
    index.log.prune()       # the change log keeps the last hour (and the last 1,000 entries)
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

    def add(self, record: ArticleRecord, chunks: list[Chunk], start: int, reusable: dict, is_update: bool,
            stamp: str = "") -> None:
        """``stamp``: the file's (``file_stamp``), recorded with the article's last part only, so a file
        whose ingest was interrupted is read again and resumed."""
        self.outcome[record.source] = "updated" if is_update else "added"
        self.total += len(chunks) - start
        if len(chunks) - start <= self.flush_chunks:
            self.batch.append(_Prepared(record, chunks[start:], reusable, is_update, stamp))
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
                                    is_update or lo > start, stamp if hi == len(chunks) else "")]
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
                          for p in batch], stamps={p.record.source: p.stamp for p in batch})
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
