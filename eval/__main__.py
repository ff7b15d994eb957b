"""``python -m eval [--questions FILE] [--kind KIND] [--aliases FILE] [--json] [--failures] [--write-baseline]``"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from retrieval.assistant import Assistant
from retrieval.settings import Settings

from .runner import BASELINE, QUESTIONS, load_questions, run_eval


def main() -> None:
    if "--squad" in sys.argv[1:]:   # the out-of-domain evaluation has its own options (eval/squad.py)
        from .squad import main as squad_main

        return squad_main([arg for arg in sys.argv[1:] if arg != "--squad"])
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    parser.add_argument("--squad", action="store_true", help="run the SQuAD out-of-domain evaluation instead (eval/SQUAD.md)")
    parser.add_argument("--questions", default=str(QUESTIONS))
    parser.add_argument("--kind", choices=["fact", "alias", "multi", "unanswerable"], help="only questions of this kind")
    parser.add_argument("--aliases", help="another alias table (e.g. an empty one, to measure what aliases add)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument("--failures", action="store_true", help="list the questions that failed")
    parser.add_argument("--write-baseline", action="store_true", help=f"save the metrics to {BASELINE.name}")
    args = parser.parse_args()
    settings = Settings(aliases_file=Path(args.aliases)) if args.aliases else Settings()
    if args.write_baseline and (settings.encoder != Settings.model_fields["encoder"].default or args.aliases or args.kind):
        parser.error("the baseline is for the default settings: all questions, default aliases and encoder")
    assistant = Assistant(settings)
    assistant.ingest()
    questions = [q for q in load_questions(Path(args.questions)) if args.kind in (None, q["kind"])]
    report = run_eval(assistant, questions)
    if not args.json:
        print(f"encoder: {assistant.embedder.identity}")
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    if args.failures:
        print("\n".join(report.failures))
    if args.write_baseline:
        metrics = {k: v for k, v in report.to_dict().items() if isinstance(v, float) and k != "mean_latency_ms"}
        BASELINE.write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
