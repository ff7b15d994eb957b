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
python bench/realtext.py hnsw --size 1000000 --composed --m 16 --ef 400 --out "$out"
for ef in 1000 3000; do
  python bench/realtext.py hnsw --size 1000000 --composed --m 16 --ef "$ef" --built-ef 400 --out "$out"
done
python bench/realtext.py hnsw --size 1000000 --composed --m 32 --ef 400 --out "$out"

# Exact or graph dense search (QA_DENSE_SEARCH), alternated: at 100k on a chroma run serving the index,
# then in process; at 1M on the composed snapshot, the graph on a chroma run of its own.
cache=bench/cache/realtext; [ "$QA_ENCODER" = torch ] || cache="$cache-$QA_ENCODER"
serve() { chroma run --path "$1" --host 127.0.0.1 --port "$2" >/dev/null 2>&1 & sleep 10; }
serve "$cache/index-100000/chroma" 8790
export CHROMA_HOST=127.0.0.1 CHROMA_PORT=8790
QA_DENSE_SEARCH=graph python bench/realtext.py measure --size 100000      # saves the server's own copy
for run in 1 2 3; do
  for dense in exact graph; do QA_DENSE_SEARCH=$dense python bench/realtext.py measure --size 100000 --out "$out"; done
done
unset CHROMA_HOST CHROMA_PORT; kill %1; sleep 3
for run in 1 2 3; do
  for dense in exact graph; do QA_DENSE_SEARCH=$dense python bench/realtext.py measure --size 100000 --out "$out"; done
done
python bench/realtext.py compose --size 1000000 --m 16 --out "$out"
serve "$cache/graph-1000000-m16/chroma" 8791
for run in 1 2; do
  python bench/realtext.py million --size 1000000 --out "$out"
  python bench/realtext.py million --size 1000000 --graph --host 127.0.0.1:8791 --out "$out"
done
kill %1
for run in 1 2; do python bench/realtext.py records --size 100000 --out "$out"; done
python bench/changelog.py --entries 50000 --keep 1000 --out "$out"
python bench/load.py --instances 2 --ingest-during --users 20 --duration 60 --out bench/cache/load-shared.jsonl
