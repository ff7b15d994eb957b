"""Performance benchmark: ingest, latency, memory, cold start and scale with synthetic distractors.

    python bench/run.py [--sizes 1000,10000] [--out bench/results.json]

Each measured configuration runs in its own subprocess (this script with ``--worker``), so
peak RSS is per configuration and every load is from a fresh process."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402  (needs the repository on sys.path)

CORPUS = ROOT / "corpus"
CACHE = ROOT / "bench" / "cache"
COLD_QUESTION = "What did Khamenei say about the PMF?"


# -- helpers ------------------------------------------------------------------------------
def du_bytes(path: Path) -> int:
    """Disk usage like ``du``: allocated blocks of every file under ``path``."""
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil
        ram_gb = psutil.virtual_memory().total / 2**30
    except ImportError:
        ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu, "ram_gb": round(ram_gb, 1),
            "python": platform.python_version(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


# -- worker (runs in a subprocess) ----------------------------------------------------------
def _progress_bar(desc: str):
    from tqdm import tqdm
    state = {}

    def progress(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, unit="chunk", desc=desc, file=sys.stderr, dynamic_ncols=True)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return progress


def measure_queries(assistant, questions: list[dict], passes: int = 2) -> dict:
    """Warm ``ask`` and bare (embed_query + Chroma's index.query(vec, 30)) latency, the recall of
    Chroma's approximate (HNSW) neighbours against the exact ones retrieval uses, and Hits@4."""
    texts = [q["question"] for q in questions]
    for t in texts:                      # warm-up pass (not timed)
        assistant.ask(t)
        assistant.index.query(assistant.embedder.embed_query(t), 30)
    ask_ms, bare_ms = [], []
    for _ in range(passes):              # interleaved, so both see the same machine load
        for t in texts:
            t0 = time.perf_counter()
            assistant.ask(t)
            t1 = time.perf_counter()
            assistant.index.query(assistant.embedder.embed_query(t), 30)
            t2 = time.perf_counter()
            ask_ms.append(1000 * (t1 - t0))
            bare_ms.append(1000 * (t2 - t1))
    recall = []                           # Chroma's approximate neighbours against the exact ones
    for t in texts:
        question = assistant.analyze(t)
        vector = assistant.embedder.embed_query(question.dense_text or question.text)
        exact = {assistant.snapshot.chunks[pos].id for pos, _ in assistant.snapshot.nearest(np.asarray(vector), 30)}
        approx = {cid for cid, _ in assistant.index.query(vector, 30)}
        recall.append(len(exact & approx) / len(exact))
    answerable = [q for q in questions if q.get("answerable")]
    hits = 0
    for q in answerable:
        ranked = assistant.retriever.hits(assistant.analyze(q["question"]), k=10)
        hits += any(g in h.chunk.text for h in ranked[:4] for g in q["gold"])
    return {"questions": len(texts), "ask_p50_ms": percentile(ask_ms, 0.5), "ask_p95_ms": percentile(ask_ms, 0.95),
            "bare_p50_ms": percentile(bare_ms, 0.5), "bare_p95_ms": percentile(bare_ms, 0.95),
            "overhead_ratio": percentile(ask_ms, 0.5) / percentile(bare_ms, 0.5),
            "hnsw_recall_at_30": statistics.mean(recall),
            "answerable": len(answerable), "hits_at_4": hits / len(answerable) if answerable else 0.0}


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def chunk_texts(settings) -> list[str]:
    """The distinct chunk texts ingest will embed, from the corpus files (no index needed)."""
    from retrieval.ingest.loading import read_article
    from retrieval.ingest.metadata import read_sidecar
    from retrieval.ingest.pipeline import corpus_files, prepare_article, source_name

    texts = [c.text for path in corpus_files(settings)
             for c in prepare_article(source_name(path, settings), read_article(path, settings.max_file_bytes),
                                      read_sidecar(path), settings.chunk_chars)[1]]
    return list(dict.fromkeys(texts))


def ingest_vs_bare(settings, embedder, runs: int = 5) -> dict:
    """Ingest of the whole corpus into a fresh index against the encoder alone on the same chunk
    texts, alternated ``runs`` times (a shared CPU varies by ±30% between single runs); medians."""
    from retrieval.assistant import Assistant

    texts = chunk_texts(settings)
    bare_s, ingest_s = [], []
    for _ in range(runs):
        bare_s.append(timed(lambda: embedder.embed_documents(texts)))
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as index_dir:
            fresh = Assistant(settings.model_copy(update={"index_dir": Path(index_dir)}), embedder=embedder)
            ingest_s.append(timed(fresh.ingest))
    bare, ingest = statistics.median(bare_s), statistics.median(ingest_s)
    return {"bare_embed_chunks": len(texts), "bare_embed_s": bare, "bare_embed_runs_s": bare_s,
            "ingest_runs_s": ingest_s, "bare_embed_chunks_per_s": len(texts) / bare,
            "ingest_median_s": ingest, "ingest_throughput_vs_bare": bare / ingest}


def worker(kind: str, corpus_dir: Path, index_dir: Path, label: str) -> dict:
    from eval.runner import load_questions
    from retrieval.assistant import Assistant
    from retrieval.index.embedding import Embedder
    from retrieval.settings import Settings

    settings = Settings(index_dir=index_dir, corpus_dir=corpus_dir)
    t0 = time.perf_counter()
    embedder = Embedder.from_settings(settings)
    embedder.embed_query("warm up the encoder")
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    assistant = Assistant(settings, embedder=embedder)
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = assistant.ingest(progress=_progress_bar(f"embedding {label}"))
    ingest_s = time.perf_counter() - t0
    result = {"label": label, "encoder": embedder.identity, "model_load_s": model_s, "open_index_s": open_s,
              "chunks": assistant.index.chunks.count(), "articles": len(assistant.snapshot.articles),
              "chunks_embedded": report.chunks_embedded, "built_this_run": report.chunks_embedded > 0,
              "ingest_s": ingest_s if report.chunks_embedded else None,
              "ingest_chunks_per_s": report.chunks_embedded / ingest_s if report.chunks_embedded else None,
              "failed": len(report.failed)}
    if kind == "corpus":
        result.update(ingest_vs_bare(settings, embedder))
    result["index_mb"] = du_bytes(index_dir) / 2**20
    result.update(measure_queries(assistant, load_questions()))
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_worker(kind: str, corpus_dir: Path, index_dir: Path, label: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--corpus-dir", str(corpus_dir),
               "--index-dir", str(index_dir), "--label", label, "--worker-out", str(out)]
        subprocess.run(cmd, cwd=ROOT, check=True)
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


# -- cold start ------------------------------------------------------------------------------
def _env(index_dir: Path) -> dict:
    env = dict(os.environ, QA_INDEX_DIR=str(index_dir), QA_CORPUS_DIR=str(CORPUS), GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return env


def cold_first_answer(index_dir: Path, runs: int = 3) -> dict:
    code = ("import time, sys; from retrieval import ask; a = ask(%r); "
            "print('T_ANSWER', time.time(), a.abstained, len(a.quotes)); sys.stdout.flush()" % COLD_QUESTION)
    times = []
    detail = ""
    for _ in range(runs):
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(index_dir),
                              capture_output=True, text=True, timeout=600)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("T_ANSWER")]
        if proc.returncode or not lines:
            return {"first_answer_s": None, "reason": (proc.stderr or proc.stdout).strip()[-400:]}
        _, t_answer, abstained, quotes = lines[-1].split()
        times.append(float(t_answer) - t0)
        detail = f"abstained={abstained}, quotes={quotes}"
    return {"first_answer_s": statistics.median(times), "runs_s": times, "answer": detail}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_ui(index_dir: Path, timeout: float = 240) -> dict:
    app = ROOT / "app.py"
    if not app.exists():
        return {"ui_served_s": None, "reason": "app.py does not exist"}
    helped = subprocess.run([sys.executable, str(app), "--help"], cwd=ROOT, capture_output=True, text=True)
    if helped.returncode or "serve" not in helped.stdout:
        return {"ui_served_s": None, "reason": "app.py has no 'serve' command"}
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log", delete=False)
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, str(app), "serve", "--port", str(port)], cwd=ROOT, env=_env(index_dir),
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        while time.time() - t0 < timeout:
            if proc.poll() is not None:
                return {"ui_served_s": None, "reason": f"server exited with {proc.returncode}: "
                        + Path(log.name).read_text(errors="replace")[-400:]}
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    if resp.status == 200:
                        return {"ui_served_s": time.time() - t0, "port": port}
            except Exception:
                pass
            time.sleep(0.1)
        return {"ui_served_s": None, "reason": f"no HTTP 200 within {timeout:.0f} s"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


# -- scale ----------------------------------------------------------------------------------
def scale(size: int) -> dict:
    from bench.synthetic import build_corpus
    from retrieval.settings import Settings

    base = CACHE / str(size)
    encoder = Settings().encoder        # QA_ENCODER; each encoder's index in its own folder, so sizes stay apart
    index_dir = base / ("index" if encoder == "torch" else f"index-{encoder}")
    corpus_dir, marker = base / "corpus", base / "corpus.json"
    if not marker.exists():
        print(f"[scale {size}] generating synthetic corpus ...", flush=True)
        info = build_corpus(size, corpus_dir, CORPUS)
        marker.write_text(json.dumps(info))
    else:
        info = json.loads(marker.read_text())
        print(f"[scale {size}] reusing cached corpus/index in {base}", flush=True)
    result = run_worker("scale", corpus_dir, index_dir, f"{size} chunks")
    result["synthetic"] = info
    return result


# -- report ---------------------------------------------------------------------------------
def _f(value, fmt="{:.1f}", none="-"):
    return none if value is None else fmt.format(value)


def tables(results: dict) -> tuple[str, str]:
    m = results["machine"]
    rows = []
    c = results["corpus"]
    configs = [("articles (clean)", c)] + [(f"{r['chunks']} chunks (+distractors)", r) for r in results["scale"]]
    header = ["corpus", "chunks", "ingest s", "chunks/s", "index MB", "ask p50/p95 ms", "bare p50/p95 ms",
              "ask/bare p50", "HNSW recall@30", "open s", "peak RSS MB", "Hits@4"]
    for name, r in configs:
        rows.append([name, str(r["chunks"]), _f(r["ingest_s"]), _f(r["ingest_chunks_per_s"]), _f(r["index_mb"]),
                     f"{r['ask_p50_ms']:.1f} / {r['ask_p95_ms']:.1f}", f"{r['bare_p50_ms']:.1f} / {r['bare_p95_ms']:.1f}",
                     f"{r['overhead_ratio']:.1f}x", _f(r.get("hnsw_recall_at_30"), "{:.3f}"), _f(r["open_index_s"]),
                     f"{r['peak_rss_mb']:.0f}",
                     f"{r['hits_at_4']:.3f}" + ("" if r is c else f" ({r['hits_at_4'] - c['hits_at_4']:+.3f})")])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    plain = "\n".join(["  ".join(h.ljust(w) for h, w in zip(header, widths)),
                       "  ".join("-" * w for w in widths)] + ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows])
    md = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    cs = results["cold_start"]
    ratio = c.get("ingest_throughput_vs_bare")
    notes = [
        "",
        f"- Ingest of the article corpus (reading, cleaning, chunking, embedding, writing, reloading): "
        f"{c['chunks_embedded']} chunks in {_f(c.get('ingest_median_s'), '{:.2f}')} s; the encoder alone (`embed_documents` on "
        f"the same texts) took {_f(c.get('bare_embed_s'), '{:.2f}')} s (medians of 5 alternated runs) "
        f"({_f(c.get('bare_embed_chunks_per_s'))} chunks/s), so ingest runs at {_f(ratio, '{:.2f}')}x the bare "
        "encoder's throughput.",
        f"- Cold start, prebuilt index, fresh process: first `ask` answered after "
        f"{_f(cs['first_answer'].get('first_answer_s'), '{:.1f}')} s (median of {len(cs['first_answer'].get('runs_s', []))})"
        + ("" if cs["first_answer"].get("first_answer_s") else f" ({cs['first_answer'].get('reason')})")
        + "; `python app.py serve` returned HTTP 200 on / after "
        + (f"{cs['ui']['ui_served_s']:.1f} s" if cs["ui"].get("ui_served_s") else f"n/a ({cs['ui'].get('reason')})") + ".",
        "- Latency: warm, over all eval questions x 2 passes; bare = `embed_query` + Chroma query for 30 neighbours. "
        "HNSW recall@30: share of the exact 30 nearest chunks (what retrieval uses) that Chroma's approximate "
        "search also returns. Open: building the assistant on the index (reading chunks and vectors, BM25). "
        "Hits@4: answerable eval questions with a gold string in one of the top-4 retrieved chunks "
        "(in brackets: change against the clean corpus). Peak RSS per configuration, each in its own process.",
        f"- Encoder: {c.get('encoder', '-')}. Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}; "
        f"load average at start {m['loadavg_at_start']} (the CPU may have been shared with other jobs).",
    ]
    return plain, "\n".join(md + notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="scale sizes in chunks, comma separated")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--worker", choices=["corpus", "scale"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus-dir", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker(args.worker, Path(args.corpus_dir), Path(args.index_dir), args.label)
        Path(args.worker_out).write_text(json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = {"command": " ".join(["python", "bench/run.py"] + (argv if argv is not None else sys.argv[1:])),
               "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"machine: {results['machine']}", flush=True)
    tmp_index = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        print("[corpus] fresh index in", tmp_index, flush=True)
        results["corpus"] = run_worker("corpus", CORPUS, tmp_index, "articles")
        print("[cold start] first answer ...", flush=True)
        first = cold_first_answer(tmp_index)
        print("[cold start] UI ...", flush=True)
        ui = cold_ui(tmp_index)
        results["cold_start"] = {"first_answer": first, "ui": ui}
    finally:
        shutil.rmtree(tmp_index, ignore_errors=True)
    results["scale"] = []
    for size in sizes:
        results["scale"].append(scale(size))
        Path(args.out).write_text(json.dumps(results, indent=2))   # partial results survive an interruption
    plain, md = tables(results)
    results["markdown"] = md
    Path(args.out).write_text(json.dumps(results, indent=2))
    print("\n" + plain + "\n")
    print(md)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
