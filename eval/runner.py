"""Metrics over the evaluation set.

Retrieval: a retrieved chunk is relevant when it contains a gold fact (MultiHop-RAG's
scoring): Hits@1/4/10 and MRR@10 over answerable questions. Answers: accuracy (a returned
quote contains a gold fact), source recall on multi-article questions, abstention
precision/recall on unanswerable ones, and the share of quotes that are exact substrings
of their article file (must be 1.0)."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from retrieval.assistant import Assistant
from retrieval.ingest.loading import read_article

QUESTIONS = Path(__file__).with_name("questions.jsonl")
BASELINE = Path(__file__).with_name("baseline.json")


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class EvalReport:
    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    hits_at_1: float = 0.0
    hits_at_4: float = 0.0
    hits_at_10: float = 0.0
    mrr_at_10: float = 0.0
    answer_accuracy: float = 0.0
    multi_source_recall: float = 0.0
    abstention_precision: float = 0.0
    abstention_recall: float = 0.0
    verbatim_share: float = 0.0
    quotes: int = 0
    mean_latency_ms: float = 0.0
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        rows = [("questions (answerable / unanswerable)", f"{self.questions} ({self.answerable} / {self.unanswerable})"),
                ("retrieval Hits@1", f"{self.hits_at_1:.3f}"), ("retrieval Hits@4", f"{self.hits_at_4:.3f}"),
                ("retrieval Hits@10", f"{self.hits_at_10:.3f}"), ("retrieval MRR@10", f"{self.mrr_at_10:.3f}"),
                ("answer accuracy", f"{self.answer_accuracy:.3f}"),
                ("multi-article source recall", f"{self.multi_source_recall:.3f}"),
                ("abstention precision", f"{self.abstention_precision:.3f}"),
                ("abstention recall", f"{self.abstention_recall:.3f}"),
                ("verbatim quotes", f"{self.verbatim_share:.3f} of {self.quotes}"),
                ("mean ask latency (ms)", f"{self.mean_latency_ms:.1f}")]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def run_eval(assistant: Assistant, questions: list[dict]) -> EvalReport:
    report = EvalReport(questions=len(questions))
    files: dict[str, str] = {}
    hits = {1: 0, 4: 0, 10: 0}
    rr = correct = verbatim = abstained_right = abstained_all = 0
    multi_found = multi_total = 0
    elapsed = 0.0
    for q in questions:
        t0 = time.perf_counter()
        answer = assistant.ask(q["question"])
        elapsed += time.perf_counter() - t0
        for quote in answer.quotes:
            if quote.source not in files:
                files[quote.source] = read_article(assistant.settings.corpus_dir / quote.source, 2**31)
            verbatim += files[quote.source][quote.start:quote.end] == quote.text
            report.quotes += 1
        abstained_all += answer.abstained
        if not q["answerable"]:
            report.unanswerable += 1
            abstained_right += answer.abstained
            if not answer.abstained:
                report.failures.append(f"{q['id']} answered, should abstain: {q['question']}")
            continue
        report.answerable += 1
        ranked = assistant.retriever.hits(assistant.analyze(q["question"]), k=10)
        ranks = [i for i, h in enumerate(ranked, 1) if any(g in h.chunk.text for g in q["gold"])]
        for k in hits:
            hits[k] += bool(ranks) and ranks[0] <= k
        rr += 1 / ranks[0] if ranks else 0
        ok = any(g in quote.text for quote in answer.quotes for g in q["gold"])
        correct += ok
        if not ok:
            why = "abstained" if answer.abstained else "no quote holds a gold fact"
            report.failures.append(f"{q['id']} {why}: {q['question']}")
        if len(q["sources"]) > 1:
            multi_total += len(q["sources"])
            multi_found += len({quote.source for quote in answer.quotes} & set(q["sources"]))
    n = report.answerable
    report.hits_at_1, report.hits_at_4, report.hits_at_10 = (_safe_div(hits[k], n) for k in (1, 4, 10))
    report.mrr_at_10 = _safe_div(rr, n)
    report.answer_accuracy = _safe_div(correct, n)
    report.multi_source_recall = _safe_div(multi_found, multi_total)
    report.abstention_precision = _safe_div(abstained_right, abstained_all)
    report.abstention_recall = _safe_div(abstained_right, report.unanswerable)
    report.verbatim_share = _safe_div(verbatim, report.quotes) if report.quotes else 1.0
    report.mean_latency_ms = 1000 * elapsed / max(len(questions), 1)
    return report
