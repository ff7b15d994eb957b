"""Scale benchmark on real news text: the BBC articles of ``../shared/data/news-distractors.jsonl``
mixed with the five real articles of ``corpus/``.

    python bench/realtext.py embed                   # chunk and encode the BBC text once (resumable)
    python bench/realtext.py build --size 100000     # a Chroma index of that many chunks (resumable)
    python bench/realtext.py measure --size 100000   # open s, RSS, Hits@4, ask p50/p95, one article in and out
    python bench/realtext.py hnsw --size 100000      # Chroma HNSW recall@30 against exact, per M and ef_search
    python bench/realtext.py dense --size 1000000    # exact dense search p50 and memory with composed vectors
    python bench/realtext.py sync [--runs 3]         # ``ingest()`` of a corpus folder of 2,097 real files
    python bench/realtext.py records --size 100000   # the record passes of a sync, and the format-2 migration

The text is read from the shared folder and never committed; what is derived from it lives in
``bench/cache/realtext/`` (gitignored). Chunks are made exactly as ingest makes them
(``prepare_article``) and encoded by ingest's own ``encode_chunks`` (chunk vector, sentences with
their vectors, entities), in shards of 256 chunks, so an interrupted run resumes.

The BBC text gives ~9k chunks: the 10k index is all real. Larger indexes reuse the real chunks
(see ``composed_chunk``): copy ``k`` of a chunk keeps its text and gets its vector perturbed by
Gaussian noise (``PERTURB``) and renormalized, so copies are near but not equal to the original
(cosine ~0.9 to it) and the dense neighbourhoods stay like real news, not like templates. Copies are
distractors only: the eval questions' gold passages are in the five real articles."""
from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import append_result  # noqa: E402  (needs the repository on sys.path)

DATA = ROOT.parent / "shared" / "data" / "news-distractors.jsonl"
from retrieval.settings import Settings  # noqa: E402

# Vectors are cached per encoder (QA_ENCODER): the README's figures were measured with torch.
ENCODER = Settings().encoder
CACHE = ROOT / "bench" / "cache" / ("realtext" if ENCODER == "torch" else f"realtext-{ENCODER}")
SHARD = 256
PERTURB = 0.025     # noise per dimension; with 384 dimensions a copy keeps cosine ~0.90 to its original


def bbc_articles(path: Path = DATA) -> list[tuple[str, str]]:
    """``(source name, text)`` of each BBC article: the headline, a blank line, the body."""
    articles = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        name = "bbc-" + row["source"].split(":", 1)[1].replace("/", "-")
        articles.append((name, f"{row['title']}\n\n{row['text']}\n"))
    return articles


def real_chunks(max_chars: int = 600):
    """Every BBC article chunked as ingest chunks it: ``[(record, chunks)]``."""
    from retrieval.ingest.pipeline import prepare_article

    return [prepare_article(name, text, {}, max_chars) for name, text in bbc_articles()]


def embed(cache: Path = CACHE) -> int:
    """Encode every real chunk once, a shard at a time (a finished shard is never redone)."""
    from retrieval.index.embedding import Embedder
    from retrieval.ingest.pipeline import encode_chunks

    cache.mkdir(parents=True, exist_ok=True)
    texts = [c.text for _, chunks in real_chunks() for c in chunks]
    embedder = Embedder.from_settings(Settings())
    shards = range(0, len(texts), SHARD)
    t0 = time.perf_counter()
    for n, lo in enumerate(shards):
        out = cache / f"enc-{n:04d}.pkl"
        if out.exists():
            continue
        encodings = encode_chunks(texts[lo:lo + SHARD], embedder)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(encodings))
        tmp.replace(out)
        print(f"shard {n + 1}/{len(shards)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return len(texts)


def encodings(cache: Path = CACHE) -> list:
    """The cached encodings of every real chunk, in ``real_chunks`` order."""
    out = []
    for path in sorted(cache.glob("enc-*.pkl")):
        out += pickle.loads(path.read_bytes())
    return out


def perturbed(vectors: np.ndarray, copy: int) -> np.ndarray:
    """Copy ``copy`` of unit ``vectors``: Gaussian noise (seeded by the copy), renormalized."""
    rng = np.random.default_rng(copy)
    out = vectors + rng.normal(0.0, PERTURB, vectors.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def settings_for(size: int):
    """The index of one size, over a corpus folder of its own holding the five real articles."""
    import shutil


    corpus = CACHE / "corpus"
    if not corpus.exists():
        shutil.copytree(ROOT / "corpus", corpus)
    return Settings(index_dir=CACHE / f"index-{size}", corpus_dir=corpus)


def build(size: int) -> int:
    """The five real articles ingested as usual, then BBC chunks (and composed copies) written with their
    cached encodings until ``size`` chunks; resumes after the last committed batch."""
    import hashlib
    from dataclasses import replace

    from retrieval.assistant import Assistant

    assistant = Assistant(settings_for(size))
    if not assistant.snapshot.articles:
        assistant.ingest()      # only into an empty index: a sync would delete the BBC articles written below
    index = assistant.index
    done = set(index.committed_versions())
    total = sum(r.n_chunks for r in assistant.snapshot.articles.values())
    pairs, encs = real_chunks(), encodings()
    assert len(encs) == sum(len(c) for _, c in pairs), "run the embed stage first"
    items, t0, copy = [], time.perf_counter(), 0
    while total < size:
        at = 0
        for record, chunks in pairs:
            mine, at = encs[at:at + len(chunks)], at + len(chunks)
            if total >= size:
                break
            total += len(chunks)
            source = record.source if copy == 0 else f"{record.source}~{copy}"
            if source in done:
                continue
            doc_hash = hashlib.sha256(f"{record.doc_hash}:{copy}".encode()).hexdigest()
            if copy:
                vectors = perturbed(np.asarray([e.vector for e in mine], dtype=np.float32), copy * 100003 + at)
                mine = [replace(e, vector=v.tolist()) for e, v in zip(mine, vectors)]
            items.append((replace(record, source=source, doc_hash=doc_hash), chunks, mine))
            if sum(len(c) for _, c, _ in items) >= 2000:
                index.write_articles(items)
                items = []
                print(f"{total} chunks ({time.perf_counter() - t0:.0f} s)", flush=True)
        copy += 1
    if items:
        index.write_articles(items)
    return index.chunks.count()


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(size: int, cold: bool) -> dict:
    """One fresh process: open the index (``cold``: without the saved copy, reading every chunk back
    from Chroma, then saving it), RSS, warm ask p50/p95 and Hits@4 over the eval questions, then one
    article added and deleted: the writer's ingest time and another instance's time to apply each."""
    import shutil

    from retrieval.assistant import Assistant
    from retrieval.index.embedding import Embedder

    settings = settings_for(size)
    embedder = Embedder.from_settings(settings)
    embedder.embed_query("warm up the encoder")
    if cold:
        shutil.rmtree(settings.index_dir / "snapshot", ignore_errors=True)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    assistant = Assistant(settings, embedder=embedder)
    result = {"size": size, "cold": cold, "server": bool(settings.chroma_host),
              "dense_search": settings.dense_search, "encoder": settings.encoder,
              "open_s": time.perf_counter() - t0, "chunks": len(assistant.snapshot.chunks),
              "rss_after_open_mb": rss_mb(), "rss_model_mb": rss0}
    result.update(asked(assistant))
    if not cold:
        result.update(one_article_in_and_out(assistant, Assistant(settings, embedder=embedder), settings))
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def asked(assistant) -> dict:
    """The eval's 115 questions asked once to warm up, then twice timed: warm ``ask`` p50/p95, retrieval
    Hits@4 of the answerable ones, and RSS afterwards."""
    from bench.stats import percentile
    from eval.runner import load_questions

    questions = load_questions()
    texts = [q["question"] for q in questions]
    for t in texts:
        assistant.ask(t)
    ask_ms = []
    for _ in range(2):
        for t in texts:
            t1 = time.perf_counter()
            assistant.ask(t)
            ask_ms.append(1000 * (time.perf_counter() - t1))
    answerable = [q for q in questions if q.get("answerable")]
    hits = sum(any(g in h.chunk.text for h in assistant.retriever.hits(assistant.analyze(q["question"]), k=10)[:4]
                   for g in q["gold"]) for q in answerable)
    return {"ask_p50_ms": percentile(ask_ms, 0.5), "ask_p95_ms": percentile(ask_ms, 0.95),
            "hits_at_4": hits / len(answerable), "rss_after_questions_mb": rss_mb()}


TEST_ARTICLES = (("incremental-test.txt", "001_adf714cf9f5e1bca.txt"),
                 ("incremental-test-2.txt", "003_8248b2237cdcb8a2.txt"))


def one_article_in_and_out(assistant, other, settings) -> dict:
    """One article added by ``assistant`` (``ingest([file])``, embedding included; searchable in it when it
    returns), applied by ``other`` (a second instance on the same index), then deleted and applied again;
    twice, with two articles: the first ingest in a process also loads spaCy's NER model (the questions
    before it do not use it), the second shows an instance that has ingested before."""
    result: dict = {}
    for source, _ in TEST_ARTICLES:
        if source in assistant.snapshot.articles:      # left by an interrupted run
            assistant.index.delete_article(source)
    assistant.refresh(force=True)
    other.refresh(force=True)
    incoming = CACHE / "incoming"
    incoming.mkdir(exist_ok=True)
    for n, (source, model) in enumerate(TEST_ARTICLES):
        key = "add" if n == 0 else "add_again"
        new = incoming / source
        text = (ROOT / "corpus" / model).read_text(encoding="utf-8")
        new.write_text(f"Incremental test wire {n}\n\n" + text.split("\n", 1)[1], encoding="utf-8")
        t1 = time.perf_counter()
        report = assistant.ingest([new])
        result[f"{key}_ingest_s"] = time.perf_counter() - t1
        result[f"{key}_searchable_here"] = source in assistant.snapshot.articles
        t1 = time.perf_counter()
        assert other.refresh(force=True)
        result[f"{key}_apply_other_s"] = time.perf_counter() - t1
        result[f"{key}_searchable"] = source in other.snapshot.articles
        result.setdefault("added", []).extend(report.added)
        # Deleted through the index (a bare ``ingest()`` would sync with the corpus folder, which holds only
        # the five real articles: the BBC ones were written straight into the index).
        (settings.corpus_dir / source).unlink()
        t1 = time.perf_counter()
        assistant.index.delete_article(source)
        assistant.refresh(force=True)
        result[f"{'delete' if n == 0 else 'delete_again'}_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        other.refresh(force=True)
        result[f"{'delete' if n == 0 else 'delete_again'}_apply_other_s"] = time.perf_counter() - t1
    result["deleted_everywhere"] = not any(s in other.snapshot.articles for s, _ in TEST_ARTICLES)
    result["chunks_after"] = len(other.snapshot.chunks) - (0 if other.snapshot.alive is None
                                                            else int((~other.snapshot.alive).sum()))
    return result


def hnsw(size: int, ms: list[int], efs: list[int], composed: bool = False, host: str | None = None,
         built_ef: int | None = None) -> list[dict]:
    """Chroma's HNSW recall@30 against exact search over the same vectors, for the eval questions' vectors,
    per ``M`` (a vectors-only collection of its own, built once, resumable) and ``ef_search``; query p50 per
    setting. ``composed``: the vectors of ``dense`` (no index of that size needed: 1M); ``host``
    (``host:port``): the collections of a ``chroma run`` serving ``hnsw-<size>``, queried over HTTP;
    ``built_ef``: measure the collection built for that ef_search with the one ``efs`` value instead
    (set, then measured by the same command in a fresh process, which loads the graph with it)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from bench.stats import percentile
    from eval.runner import load_questions
    from retrieval.index.embedding import Embedder
    from retrieval.index.saved import SavedCopy, snapshot_folder
    from retrieval.index.store import Index, collection_name, open_client

    settings = settings_for(size)
    embedder = Embedder.from_settings(settings)
    if composed:
        vectors = composed_vectors(size)
    else:       # the index's saved copy, as an assistant opens it (changes applied since folded in)
        index = Index(open_client(settings), collection_name(settings.collection, embedder.encoder), embedder.identity)
        vectors = np.asarray(SavedCopy(index, snapshot_folder(settings.index_dir, index.chunks.name)).open()
                             .compacted().vectors)
    ids = range(len(vectors))
    # Composed row i is a copy of real chunk i % n_real: the text a neighbour would show.
    n_real = len(encodings()) if composed else len(vectors)
    text_of = (lambda i: i % n_real)
    queries = np.asarray([embedder.query_vector(q["question"]) for q in load_questions()])
    exact = [set(np.argpartition(-(vectors @ q), 29)[:30].tolist()) for q in queries]
    client = (chromadb.HttpClient(host=host.split(":")[0], port=int(host.split(":")[1]),
                                  settings=ChromaSettings(anonymized_telemetry=False)) if host else
              chromadb.PersistentClient(path=str(CACHE / f"hnsw-{size}"), settings=ChromaSettings(anonymized_telemetry=False)))
    rows = []
    for m in ms:
        for ef in efs:
            # ef_search given at creation: a modify() takes effect only where the index is loaded afterwards
            # (a new process, a restarted server), not in a process that has it loaded already.
            col = client.get_or_create_collection(f"m{m}-ef{built_ef or ef}", embedding_function=None, configuration={
                "hnsw": {"space": "cosine", "max_neighbors": m, "ef_construction": 200, "ef_search": ef}})
            if col.configuration_json["hnsw"]["ef_search"] != ef:
                assert built_ef and len(efs) == 1 and col.count() == len(ids), "build it first; one ef a process"
                col.modify(configuration={"hnsw": {"ef_search": ef}})
                # This process keeps the configuration it read: the same command again, in a fresh one.
                os.execv(sys.executable, [sys.executable, *sys.argv])
            t0 = time.perf_counter()
            for lo in range(col.count(), len(ids), 5000):
                col.add(ids=[str(i) for i in range(lo, min(lo + 5000, len(ids)))], embeddings=vectors[lo:lo + 5000])
                if lo % 100000 == 0:
                    print(f"{lo + 5000} vectors added ({time.perf_counter() - t0:.0f} s)", flush=True)
            build_s = time.perf_counter() - t0
            recall, text_recall, ms_ = [], [], []
            for _ in range(3):
                for q, want in zip(queries, exact):
                    t1 = time.perf_counter()
                    got = col.query(query_embeddings=[q.tolist()], n_results=30, include=[])
                    ms_.append(1000 * (time.perf_counter() - t1))
                    found = {int(i) for i in got["ids"][0]}
                    recall.append(len(want & found) / 30)
                    texts = {text_of(i) for i in want}
                    text_recall.append(len(texts & {text_of(i) for i in found}) / len(texts))
            rows.append({"size": len(ids), "M": m, "via": "http" if host else "in process", "ef_search": ef,
                         "recall_at_30": float(np.mean(recall)), "text_recall_at_30": float(np.mean(text_recall)),
                         "min_recall": float(np.min(recall)), "query_p50_ms": percentile(ms_, 0.5),
                         "build_s": build_s})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def compose_million(size: int = 1_000_000, m: int = 16) -> dict:
    """A saved snapshot of ``size`` chunks, composed from the 100k index's saved copy (build and measure
    ``--size 100000`` first): copy ``r`` of every article under the name ``<source>~r<r>`` with its
    own text object, its chunks' vectors perturbed as ``perturbed`` does, BM25 built from the copied
    term ids; written as an instance saves its copy, to ``snapshot-<size>/`` (no Chroma index of
    that size is needed: ~5 GB of metadata). Then its vectors under the chunks' ids into an HNSW
    collection (``graph-<size>-m<m>/``, configured as the product's ``Index`` configures its chunks,
    with M ``m``), so the graph's answers are the snapshot's chunks. Both resumable: a finished part is not redone."""
    import math
    from dataclasses import replace

    from retrieval.index import saved
    from retrieval.index.lexical import LexicalIndex
    from retrieval.index.snapshot import Snapshot
    from retrieval.types import StoredChunk

    folder = CACHE / f"snapshot-{size}"
    result: dict = {"size": size}
    if not (folder / "key.json").exists():
        t0 = time.perf_counter()
        base_folder = settings_for(100000).index_dir / "snapshot" / settings_for(100000).collection
        base = saved.load(base_folder, json.loads((base_folder / "key.json").read_text()))
        assert base is not None, "measure --size 100000 first: it saves the copy this starts from"
        copies = math.ceil(size / len(base.chunks))
        articles, chunks, tokens, rows = {}, [], [], []
        base_vectors = np.asarray(base.vectors)
        for r in range(copies):
            before = len(chunks)
            name = (lambda source: source) if r == 0 else (lambda source, r=r: f"{source}~r{r}")
            for source, record in base.articles.items():
                articles[name(source)] = replace(record, source=name(source), text=(record.text + " ")[:-1])
            for i, c in enumerate(base.chunks):
                if len(chunks) == size:
                    break
                text = articles[name(c.source)].text
                chunks.append(StoredChunk(c.id if r == 0 else f"{c.id}~r{r}", name(c.source), c.start, c.end,
                                          text[c.start:c.end], c.sentences, c.sentence_vectors, c.entities))
                tokens.append(base.lexical._tokens[i])
            n = len(chunks) - before
            rows.append(base_vectors[:n] if r == 0 else perturbed(base_vectors[:n], 7919 * r))
        kept = {c.source for c in chunks}
        articles = {s: a for s, a in articles.items() if s in kept}
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].start))
        chunks = [chunks[i] for i in order]
        vectors = np.concatenate(rows)[order]
        lexical = LexicalIndex(chunks, [tokens[i] for i in order], base.lexical._vocab)
        snapshot = Snapshot(articles, chunks, vectors, lexical, ordered=True)
        saved.save(snapshot, folder, {"format": saved.FORMAT, "composed": size})
        result["compose_s"] = time.perf_counter() - t0
        del snapshot, lexical, vectors, chunks, articles
    result.update(_graph_collection(folder, size, m))
    return result


def _graph(size: int, m: int = 16, host: str | None = None):
    """The product's ``Index`` over the graph collection of the composed snapshot (made as ``Index``
    makes its chunk collection, with ``max_neighbors`` ``m``); on the ``chroma run`` at ``host``
    (``host:port``) serving ``graph-<size>-m<m>/chroma``, if given."""
    from retrieval.index.store import HNSW, Index, open_client

    client = open_client(Settings(index_dir=CACHE / f"graph-{size}-m{m}", chroma_host=host and host.split(":")[0],
                                  chroma_port=int(host.split(":")[1]) if host else 8000))
    identity = f"composed-{ENCODER}"
    client.get_or_create_collection("chunks", embedding_function=None, metadata={"embedder": identity},
                                    configuration={"hnsw": {**HNSW, "ef_search": 400, "max_neighbors": m}})
    return Index(client, "chunks", identity)


def _graph_collection(folder: Path, size: int, m: int) -> dict:
    import pickle as pickle_

    index = _graph(size, m)
    table = pickle_.loads((folder / "chunks.pkl").read_bytes())
    ids = [row[0] for row in table]
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    t0 = time.perf_counter()
    for lo in range(index.chunks.count(), len(ids), 5000):
        index.chunks.add(ids=ids[lo:lo + 5000], embeddings=np.asarray(vectors[lo:lo + 5000]))
        if lo % 100000 == 0:
            print(f"{lo + 5000} vectors added ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"graph_build_s": time.perf_counter() - t0, "graph_count": index.chunks.count()}


def measure_million(size: int, graph: bool, m: int = 16, host: str | None = None) -> dict:
    """One fresh process on the composed snapshot (``compose``): open it as an instance opens its saved
    copy, RSS, then the eval's questions with dense search exact or by the graph collection
    (``graph``), through an ``Assistant`` over an empty index given that snapshot."""
    import tempfile

    from retrieval.assistant import Assistant
    from retrieval.index import saved
    from retrieval.index.embedding import Embedder
    from retrieval.search.dense import DenseSearch

    folder = CACHE / f"snapshot-{size}"
    embedder = Embedder.from_settings(Settings())
    embedder.embed_query("warm up the encoder")
    rss0 = rss_mb()
    t0 = time.perf_counter()
    snapshot = saved.load(folder, json.loads((folder / "key.json").read_text()))
    result = {"size": size, "graph": graph, "graph_server": host, "encoder": ENCODER, "open_s": time.perf_counter() - t0,
              "chunks": len(snapshot.chunks), "rss_model_mb": rss0, "rss_after_open_mb": rss_mb()}
    with tempfile.TemporaryDirectory() as empty:
        assistant = Assistant(Settings(index_dir=Path(empty), corpus_dir=Path(empty)), embedder=embedder)
        assistant._dense = DenseSearch(_graph(size, m, host), graph=True) if graph else DenseSearch(assistant.index)
        t0 = time.perf_counter()
        assistant._install(snapshot)
        result["install_s"] = time.perf_counter() - t0
        result.update(asked(assistant))
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def composed_vectors(size: int) -> np.ndarray:
    """``size`` composed vectors (the real chunks' and perturbed copies of them), made once into
    ``dense-<size>.npy`` and opened memory-mapped."""
    path = CACHE / f"dense-{size}.npy"
    if not path.exists():
        real = np.asarray([e.vector for e in encodings()], dtype=np.float32)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(size, real.shape[1]))
        for copy, lo in enumerate(range(0, size, len(real))):
            n = min(len(real), size - lo)
            out[lo:lo + n] = real[:n] if copy == 0 else perturbed(real[:n], copy)
        out.flush()
        del out
    return np.load(path, mmap_mode="r")


def dense(size: int, runs: int = 3) -> dict:
    """Exact dense search at ``size`` chunks from composed vectors (the real ones and perturbed copies),
    in memory only: p50 of one question's matrix product and top 30, and the memory the vectors take."""
    from bench.stats import percentile
    from eval.runner import load_questions
    from retrieval.index.embedding import Embedder

    rss0 = rss_mb()
    vectors = np.array(composed_vectors(size))
    embedder = Embedder.from_settings(Settings())
    queries = [embedder.query_vector(q["question"]) for q in load_questions()]
    times = []
    for _ in range(runs):
        for q in queries:
            t0 = time.perf_counter()
            sim = vectors @ q
            top = np.argpartition(-sim, 29)[:30]
            top[np.argsort(-sim[top])]
            times.append(1000 * (time.perf_counter() - t0))
    return {"size": size, "exact_p50_ms": percentile(times, 0.5), "exact_p95_ms": percentile(times, 0.95),
            "vectors_mb": vectors.nbytes / 2**20, "rss_growth_mb": rss_mb() - rss0}


def sync_settings():
    """A corpus folder of real files (the 2,092 BBC articles and the five real ones: ~9.9k chunks) and an
    index of its own, filled by the real ``ingest()``: what a sync (``python app.py ingest``) does."""
    import shutil


    corpus = CACHE / "sync-corpus"
    if not corpus.exists():
        tmp = CACHE / "sync-corpus.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(ROOT / "corpus", tmp)
        for name, text in bbc_articles():
            (tmp / f"{name}.txt").write_text(text, encoding="utf-8")
        tmp.rename(corpus)
    return Settings(index_dir=CACHE / "index-sync", corpus_dir=corpus)


def sync(runs: int) -> dict:
    """Fresh process: the sync corpus ingested once if needed (the cached encodings used for the BBC chunks:
    ``encode_chunks`` looks each chunk text up first), then ``runs`` syncs with nothing changed, one with a
    file added, one with it removed: seconds and how many files each read."""
    from retrieval.assistant import Assistant
    from retrieval.index.embedding import Embedder
    from retrieval.ingest import pipeline

    cached = dict(zip((c.text for _, chunks in real_chunks() for c in chunks), encodings()))
    real_encode = pipeline.encode_chunks

    def encode(texts, embedder):
        missing = [t for t in texts if t not in cached]
        fresh = dict(zip(missing, real_encode(missing, embedder))) if missing else {}
        return [cached.get(t) or fresh[t] for t in texts]

    settings = sync_settings()
    embedder = Embedder.from_settings(settings)
    embedder.embed_query("warm up the encoder")
    assistant = Assistant(settings, embedder=embedder)
    new = settings.corpus_dir / "sync-test.txt"
    new.unlink(missing_ok=True)
    pipeline.encode_chunks = encode
    try:
        built = assistant.ingest()
    finally:
        pipeline.encode_chunks = real_encode
    result = {"files": len(pipeline.corpus_files(settings)), "chunks": len(assistant.snapshot.chunks),
              "first_sync": {"added": len(built.added), "removed": len(built.removed)}, "unchanged_s": [],
              "unchanged_read": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        report = assistant.ingest()
        result["unchanged_s"].append(time.perf_counter() - t0)
        result["unchanged_read"].append(getattr(report, "read", None))
        assert not report.changed
    text = (ROOT / "corpus" / "002_09e231ab3d45662e.txt").read_text(encoding="utf-8")
    new.write_text("Sync test wire\n\n" + text.split("\n", 1)[1], encoding="utf-8")
    t0 = time.perf_counter()
    report = assistant.ingest()
    result.update(one_added_s=time.perf_counter() - t0, one_added=report.added, one_added_read=getattr(report, "read", None))
    new.unlink()
    t0 = time.perf_counter()
    report = assistant.ingest()
    result.update(one_removed_s=time.perf_counter() - t0, one_removed=report.removed,
                  one_removed_read=getattr(report, "read", None))
    return result


def records(size: int) -> dict:
    """What a sync reads besides the files, at ``size`` chunks: every record's metadata (``record_states``)
    and every chunk id (the garbage pass); then the migration from record format 1, timed on this index
    after taking it back to format 1 (text hashes and stamps removed)."""
    from retrieval.index.embedding import Embedder
    from retrieval.index.store import Index, collection_name, open_client

    settings = settings_for(size)
    embedder = Embedder.from_settings(settings)
    index = Index(open_client(settings), collection_name(settings.collection, embedder.encoder), embedder.identity)
    t0 = time.perf_counter()
    states = index.record_states()
    result = {"size": size, "records": len(states), "record_states_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    index.chunks.get(include=[])
    result["chunk_ids_s"] = time.perf_counter() - t0
    names = sorted(states)
    for lo in range(0, len(names), 1000):
        index.articles.update(ids=names[lo:lo + 1000], metadatas=[{"content_hash": None, "stamp": None}] * len(names[lo:lo + 1000]))
    index.articles.modify(metadata={"record_format": 1})
    t0 = time.perf_counter()
    result["migrated"] = index.migrate_records()
    result["migrate_s"] = time.perf_counter() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["embed", "build", "measure", "hnsw", "dense", "sync", "records",
                                          "compose", "million"])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--cold", action="store_true", help="measure: open without the saved snapshot")
    parser.add_argument("--m", default="16,32", help="hnsw: values of M (max_neighbors)")
    parser.add_argument("--ef", default="100,200,500", help="hnsw: values of ef_search")
    parser.add_argument("--composed", action="store_true", help="hnsw: the composed vectors of dense, no index")
    parser.add_argument("--graph", action="store_true", help="million: dense search by the graph collection")
    parser.add_argument("--built-ef", type=int, help="hnsw: measure the collection built for this ef_search")
    parser.add_argument("--host", help="hnsw, million: host:port of a chroma run serving the collections")
    parser.add_argument("--runs", type=int, default=3, help="sync: syncs with nothing changed")
    parser.add_argument("--out", type=Path, help="append the result as one JSON line to this file")
    args = parser.parse_args(argv)
    if args.stage == "embed":
        result = {"real_chunks": embed()}
    elif args.stage == "build":
        result = {"size": args.size, "chunks": build(args.size)}
    elif args.stage == "measure":
        result = measure(args.size, args.cold)
    elif args.stage == "sync":
        result = sync(args.runs)
    elif args.stage == "compose":
        result = compose_million(args.size, int(args.m.split(",")[0]))
    elif args.stage == "million":
        result = measure_million(args.size, args.graph, int(args.m.split(",")[0]), args.host)
    elif args.stage == "records":
        result = records(args.size)
    elif args.stage == "hnsw":
        result = hnsw(args.size, [int(m) for m in args.m.split(",")], [int(e) for e in args.ef.split(",")],
                      args.composed, args.host, args.built_ef)
    else:
        result = dense(args.size)
    print(json.dumps(result))
    append_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
