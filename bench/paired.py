"""The two encoders head to head, each measured in fresh processes, runs alternated.

    python bench/paired.py [--runs 3] [--index-dir DIR]

Per run and encoder, on the starting articles (the index built once beforehand, so nothing is
embedded during the runs):

- cold: wall time of a whole ``python app.py ask QUESTION`` process, from exec to exit (imports,
  model load, opening the index, one answer);
- warm: in a fresh process, ``Assistant.ask`` over the eval's 115 questions twice; p50 / p95 of
  the second pass, the first only warms caches;
- peak RSS of that warm process (``ru_maxrss``).

Runs alternate torch / int8 so both see the same load; each line printed is one run, then the
median and range per measure."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENCODERS = ("torch", "onnx-int8")
QUESTION = "What did Khamenei say about the Popular Mobilization Forces?"

WARM = """
import json, resource, sys, time
from bench.stats import percentile
from eval.runner import load_questions
from retrieval.assistant import Assistant
assistant = Assistant()
questions = [q["question"] for q in load_questions()]
for q in questions:
    assistant.ask(q)
times = []
for q in questions:
    t0 = time.perf_counter()
    assistant.ask(q)
    times.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"p50": percentile(times, 0.5), "p95": percentile(times, 0.95),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--index-dir", help="where the index is built (default: a temporary folder)")
    args = parser.parse_args(argv)
    index_dir = args.index_dir or tempfile.mkdtemp(prefix="paired-index-")
    envs = {e: dict(os.environ, QA_ENCODER=e, QA_INDEX_DIR=index_dir, PYTHONPATH=str(ROOT)) for e in ENCODERS}
    for env in envs.values():
        run(["app.py", "ingest"], env)               # both encoders' collections, built once
    found: dict[str, list[dict]] = {e: [] for e in ENCODERS}
    for n in range(args.runs):
        for encoder in ENCODERS:
            t0 = time.perf_counter()
            run(["app.py", "ask", QUESTION], envs[encoder])
            cold = time.perf_counter() - t0
            warm = json.loads(run(["-c", WARM], envs[encoder]).stdout.strip().splitlines()[-1])
            found[encoder].append({"cold_s": cold, **warm})
            print(f"run {n + 1} {encoder:9} cold {cold:5.2f} s  warm p50 {warm['p50']:5.1f} ms  "
                  f"p95 {warm['p95']:5.1f} ms  peak RSS {warm['rss_mb']:4.0f} MB", flush=True)
    print()
    for measure, unit in (("cold_s", "s"), ("p50", "ms"), ("p95", "ms"), ("rss_mb", "MB")):
        cells = []
        for encoder in ENCODERS:
            values = [r[measure] for r in found[encoder]]
            cells.append(f"{encoder} {statistics.median(values):.1f} {unit} ({min(values):.1f}–{max(values):.1f})")
        ratio = statistics.median(r[measure] for r in found["torch"]) / statistics.median(
            r[measure] for r in found["onnx-int8"])
        print(f"{measure:7} " + "  ".join(cells) + f"  torch/int8 {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
