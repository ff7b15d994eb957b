"""The int8 ONNX encoder against the torch one, on the same texts in the same process.

    python bench/encoders.py [--runs 3]

Prints chunks/s on the article chunks (~220 tokens) and on short synthetic chunks (~40 tokens),
query latency, and how close the vectors are; runs are alternated so both see the same load."""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import chunk_texts, timed  # noqa: E402  (needs the repository on sys.path)
from bench.stats import percentile  # noqa: E402
from bench.synthetic import make_article  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from eval.runner import load_questions
    from retrieval.index.embedding import Embedder
    from retrieval.settings import Settings

    settings = Settings()
    loaded = {}
    for encoder in ("torch", "onnx-int8"):
        t0 = time.perf_counter()
        loaded[encoder] = Embedder(settings.embed_model, settings.embed_batch_size, encoder, settings.model_cache_dir)
        loaded[encoder].embed_query("warm up")
        print(f"{encoder}: loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    rng = random.Random(7)
    sets = {"article chunks": chunk_texts(settings),
            "short synthetic chunks": [p for _ in range(40) for p in make_article(rng).split("\n\n")[1:]][:300]}
    questions = [q["question"] for q in load_questions()]
    rows = []
    for name, texts in sets.items():
        seconds = {e: [] for e in loaded}
        for _ in range(args.runs):
            for encoder, embedder in loaded.items():
                seconds[encoder].append(timed(lambda: embedder.embed_documents(texts)))
        rate = {e: len(texts) / statistics.median(s) for e, s in seconds.items()}
        rows.append((f"{name} ({len(texts)})", rate["torch"], rate["onnx-int8"]))
    query_ms = {e: [] for e in loaded}
    for q in questions:
        for encoder, embedder in loaded.items():
            query_ms[encoder].append(1000 * timed(lambda: embedder.embed_query(q)))
    a = np.array(loaded["torch"].embed_documents(sets["article chunks"]))
    b = np.array(loaded["onnx-int8"].embed_documents(sets["article chunks"]))
    cosine = (a * b).sum(axis=1)
    print("\n| texts | torch chunks/s | onnx-int8 chunks/s | speed-up |\n|---|---|---|---|")
    for name, torch_rate, onnx_rate in rows:
        print(f"| {name} | {torch_rate:.1f} | {onnx_rate:.1f} | {onnx_rate / torch_rate:.1f}x |")
    p50 = {e: percentile(v, 0.5) for e, v in query_ms.items()}
    print(f"| one question (p50 ms, {len(questions)} questions) | {p50['torch']:.1f} ms | {p50['onnx-int8']:.1f} ms "
          f"| {p50['torch'] / p50['onnx-int8']:.1f}x |")
    print(f"\ncosine(torch, onnx-int8) on the article chunks: mean {cosine.mean():.4f}, min {cosine.min():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
