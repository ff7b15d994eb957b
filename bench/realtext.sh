#!/usr/bin/env bash
# Every real-text scale figure of the README, in one go (hours on two shared cores; resumable:
# embedding and index building skip what is done). Results are appended to bench/cache/realtext.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
# The README's figures were measured with the torch encoder; QA_ENCODER=onnx-int8 bench/realtext.sh
# measures the default one, its vectors cached apart (bench/cache/realtext-onnx-int8/).
export QA_ENCODER="${QA_ENCODER:-torch}"
out=bench/cache/realtext.jsonl
python bench/realtext.py embed
for size in 10000 100000; do
  python bench/realtext.py build --size "$size"
  for run in 1 2; do python bench/realtext.py measure --size "$size" --cold --out "$out"; done
  for run in 1 2 3; do python bench/realtext.py measure --size "$size" --out "$out"; done
done
for run in 1 2; do python bench/realtext.py sync --out "$out"; done
python bench/realtext.py hnsw --size 10000 --m 16,32 --ef 30,100,400 --out "$out"
python bench/realtext.py hnsw --size 100000 --m 16 --ef 30,100,400 --out "$out"
python bench/realtext.py dense --size 1000000 --out "$out"
for run in 1 2; do python bench/realtext.py records --size 100000 --out "$out"; done
python bench/changelog.py --entries 50000 --keep 1000 --out "$out"
python bench/load.py --instances 2 --ingest-during --users 20 --duration 60 --out bench/cache/load-shared.jsonl
