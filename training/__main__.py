"""``python -m training [--out FILE]``: train the answer scorer and print what it measured on dev."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from retrieval.answer.scorer import MODEL_FILE

from .learn import train


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--out", default=str(MODEL_FILE), help=f"where to write the model (default {MODEL_FILE.name})")
    args = parser.parse_args()
    print(json.dumps(train(Path(args.out)), indent=2))


if __name__ == "__main__":
    main()
