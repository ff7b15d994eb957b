"""Out-of-domain evaluation on SQuAD 2.0 articles (``python -m eval --squad``; see ``eval/SQUAD.md``).

For each corpus variant of a split (``training.squad``) a fresh assistant is built on the variant's
folder (its index is kept under ``training/cache/`` and re-synced, not rebuilt) and asked every
question; beside it, in the same run, a bare retriever (the same MiniLM vectors, one fresh Chroma
collection over plain 600-character chunks of the same files) answers every question with its top-1
chunk. A quote is right when it overlaps a gold answer span in the right file, by offsets; it holds
the answer when it is right or its text, in the gold answer's file, contains a gold answer's words
(another sentence of the article can state the same answer as the one the annotator marked)."""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.news import UNANSWERABLE_NEWS, build_news_corpus
from training.squad import NATIVE, OFF_TOPIC, SEED, WITHHELD, Corpus, Example, build_corpus

BARE_CHUNK_CHARS = 600
# Eval variants; "offtopic" pools the two off-topic corpora, so every question of the split is asked once;
# "news": the split's hand-written news questions over BBC articles (training/news.py).
EVAL_VARIANTS = {"full": ("full",), "withheld": ("withheld",), "offtopic": ("offtopic-a", "offtopic-b"),
                 "news": ("news",)}
UNANSWERABLE_LABELS = (NATIVE, WITHHELD, OFF_TOPIC, UNANSWERABLE_NEWS)


def assistant_class():
    """The assistant class, from the package's public API once it exports it."""
    try:
        from retrieval import Assistant
    except ImportError:
        from retrieval.assistant import Assistant
    return Assistant


@dataclass(frozen=True)
class Outcome:
    """What one system did with one question."""
    example: Example
    abstained: bool
    quotes: tuple[tuple[str, int, int], ...]    # (source, start, end), in the order given
    ms: float
    texts: tuple[str, ...] = ()                 # the quotes' text, in the same order

    def right(self, first_only: bool) -> bool:
        quotes = self.quotes[:1] if first_only else self.quotes
        return any(span.overlaps(*quote) for quote in quotes for span in self.example.spans)

    def holds_answer(self) -> bool:
        """The first quote is right, or it comes from a gold answer's file and contains a gold
        answer's words (case and spacing aside)."""
        if self.right(first_only=True):
            return True
        if not self.quotes or self.quotes[0][0] not in {span.source for span in self.example.spans}:
            return False
        quote = _words(self.texts[0])
        return any(f" {_words(a)} " in f" {quote} " for a in self.example.question.answers if _words(a))


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def summarize(outcomes: list[Outcome]) -> dict:
    """The metrics of one system over some questions (shares in [0, 1]; None when undefined)."""
    answerable = [o for o in outcomes if o.example.answerable]
    unanswerable = [o for o in outcomes if not o.example.answerable]
    answered = [o for o in outcomes if not o.abstained]
    abstained_answerable = sum(o.abstained for o in answerable)
    abstained_unanswerable = sum(o.abstained for o in unanswerable)
    by_label = {}
    for label in UNANSWERABLE_LABELS:
        group = [o for o in unanswerable if o.example.label == label]
        if group:
            hits = sum(o.abstained for o in group)
            # Precision as if this kind were the only unanswerable one: its abstentions against
            # the abstentions on answerable questions.
            by_label[label] = {"questions": len(group), "abstention_recall": _ratio(hits, len(group)),
                               "abstention_precision": _ratio(hits, hits + abstained_answerable)}
    return {
        "questions": len(outcomes), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "answered": _ratio(len(answerable) - abstained_answerable, len(answerable)),
        "first_quote_right": _ratio(sum(o.right(first_only=True) for o in answerable), len(answerable)),
        "any_quote_right": _ratio(sum(o.right(first_only=False) for o in answerable), len(answerable)),
        "first_quote_holds_answer": _ratio(sum(o.holds_answer() for o in answerable), len(answerable)),
        "abstention_precision": _ratio(abstained_unanswerable, abstained_unanswerable + abstained_answerable),
        "abstention_recall": _ratio(abstained_unanswerable, len(unanswerable)),
        "by_label": by_label,
        "quoted_chars_per_answer": _ratio(sum(end - start for o in answered for _, start, end in o.quotes), len(answered)),
        "ms_per_question": _ratio(sum(o.ms for o in outcomes), len(outcomes)),
    }


# -- the two systems ---------------------------------------------------------------------------------

def ask_assistant(assistant, example: Example) -> Outcome:
    t0 = time.perf_counter()
    answer = assistant.ask(example.question.text)
    ms = (time.perf_counter() - t0) * 1000
    return Outcome(example, answer.abstained, tuple((q.source, q.start, q.end) for q in answer.quotes), ms,
                   tuple(q.text for q in answer.quotes))


def bare_chunks(text: str, size: int = BARE_CHUNK_CHARS) -> list[tuple[int, int]]:
    """Non-overlapping chunks of at most ``size`` characters, cut at white space, trimmed."""
    spans, pos = [], 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        end = min(pos + size, len(text))
        if end < len(text) and not text[end].isspace():
            cut = max(text.rfind(" ", pos, end), text.rfind("\n", pos, end))
            end = cut if cut > pos else end
        while end > pos and text[end - 1].isspace():
            end -= 1
        if end > pos:
            spans.append((pos, end))
        pos = max(end, pos + 1)
    return spans


class BareRetriever:
    """MiniLM top-1 over plain chunks in a fresh in-memory Chroma collection (explicit vectors,
    no Chroma embedding function). Vectors are cached beside the corpus, keyed by their texts."""

    def __init__(self, corpus: Corpus, embedder):
        import chromadb

        self.embedder = embedder
        self.texts = {name: (corpus.corpus_dir / name).read_bytes().decode("utf-8") for name in corpus.files}
        chunks = []
        for name, text in self.texts.items():
            chunks += [(name, start, end, text[start:end]) for start, end in bare_chunks(text)]
        vectors = self._vectors(corpus.root / "bare-vectors.npz", [c[3] for c in chunks])
        self.client = chromadb.EphemeralClient()
        self.collection = self.client.create_collection(f"bare-{uuid.uuid4().hex}", embedding_function=None,
                                                        configuration={"hnsw": {"space": "cosine"}})
        ids = [str(i) for i in range(len(chunks))]
        metadatas = [{"source": s, "start": a, "end": b} for s, a, b, _ in chunks]
        for i in range(0, len(chunks), 1000):
            self.collection.add(ids=ids[i:i + 1000], embeddings=vectors[i:i + 1000], metadatas=metadatas[i:i + 1000])

    def _vectors(self, path: Path, texts: list[str]) -> np.ndarray:
        key = hashlib.sha256("\0".join([getattr(self.embedder, "identity", ""), *texts]).encode()).hexdigest()
        if path.exists():
            cached = np.load(path)
            if str(cached["key"]) == key:
                return cached["vectors"]
        vectors = np.asarray(self.embedder.embed_documents(texts), dtype=np.float32)
        np.savez(path, key=key, vectors=vectors)
        return vectors

    def top1(self, question: str) -> tuple[str, int, int]:
        found = self.collection.query(query_embeddings=[self.embedder.embed_query(question)], n_results=1,
                                      include=["metadatas"])
        meta = found["metadatas"][0][0]
        return meta["source"], int(meta["start"]), int(meta["end"])

    def ask(self, example: Example) -> Outcome:
        t0 = time.perf_counter()
        source, start, end = self.top1(example.question.text)
        return Outcome(example, False, ((source, start, end),), (time.perf_counter() - t0) * 1000,
                       (self.texts[source][start:end],))

    def close(self) -> None:
        self.client.delete_collection(self.collection.name)


# -- running -----------------------------------------------------------------------------------------

def _sample(examples: tuple[Example, ...], limit: int | None) -> list[Example]:
    """All examples, or a fixed seeded sample of ``limit`` of them (in their original order)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    keep = set(random.Random(f"{SEED}-eval").sample(range(len(examples)), limit))
    return [e for i, e in enumerate(examples) if i in keep]


def evaluate_corpus(corpus: Corpus, limit: int | None, embedder=None) -> tuple[list[Outcome], list[Outcome], object]:
    """Both systems on one corpus folder; returns their outcomes and the embedder (to share)."""
    assistant = assistant_class()(corpus.settings(), embedder=embedder)
    assistant.ingest()
    bare = BareRetriever(corpus, assistant.embedder)
    ours, baseline = [], []
    try:
        assistant.ask("warm-up question")     # lazy loads are not a question's latency
        bare.top1("warm-up question")
        # Alternated question by question, so a busy machine slows both systems alike. (Calling the
        # baseline from a worker thread, as LangChain calls the assistant's retriever, made it ~5x
        # slower on a busy 2-core machine: torch's OpenMP threads of two threads competing.)
        for example in _sample(corpus.examples, limit):
            ours.append(ask_assistant(assistant, example))
            baseline.append(bare.ask(example))
    finally:
        bare.close()
    return ours, baseline, assistant.embedder


def run(split: str, variants: list[str], limit: int | None) -> dict:
    t0 = time.perf_counter()
    report: dict = {"split": split, "limit": limit, "variants": {}}
    pooled: dict[str, list[Outcome]] = {"assistant": [], "bare_top1": []}
    embedder = None
    for variant in variants:
        outcomes: dict[str, list[Outcome]] = {"assistant": [], "bare_top1": []}
        for name in EVAL_VARIANTS[variant]:
            corpus = build_news_corpus(split) if name == "news" else build_corpus(split, name)
            ours, baseline, embedder = evaluate_corpus(corpus, limit, embedder)
            outcomes["assistant"] += ours
            outcomes["bare_top1"] += baseline
        report["variants"][variant] = {system: summarize(o) for system, o in outcomes.items()}
        for system, o in outcomes.items():
            pooled[system] += o
    report["overall"] = {system: summarize(o) for system, o in pooled.items()}
    report["encoder"] = getattr(embedder, "identity", None)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(title: str, systems: dict) -> str:
    ours, bare = systems["assistant"], systems["bare_top1"]
    rows = [("questions (answerable / unanswerable)", *(f"{s['questions']} ({s['answerable']} / {s['unanswerable']})" for s in (ours, bare))),
            ("answered, of answerable", _pct(ours["answered"]), _pct(bare["answered"])),
            ("first quote right, of answerable", _pct(ours["first_quote_right"]), _pct(bare["first_quote_right"])),
            ("any quote right, of answerable", _pct(ours["any_quote_right"]), _pct(bare["any_quote_right"])),
            ("first quote holds the answer, of answerable", _pct(ours["first_quote_holds_answer"]),
             _pct(bare["first_quote_holds_answer"])),
            ("abstention precision", _pct(ours["abstention_precision"]), _pct(bare["abstention_precision"])),
            ("abstention recall", _pct(ours["abstention_recall"]), _pct(bare["abstention_recall"]))]
    for label, group in ours["by_label"].items():
        other = bare["by_label"][label]
        rows.append((f"  {label} ({group['questions']}): precision / recall",
                     f"{_pct(group['abstention_precision'])} / {_pct(group['abstention_recall'])}",
                     f"{_pct(other['abstention_precision'])} / {_pct(other['abstention_recall'])}"))
    rows += [("quoted chars per answered question", _num(ours["quoted_chars_per_answer"]), _num(bare["quoted_chars_per_answer"])),
             ("ms per question", _num(ours["ms_per_question"]), _num(bare["ms_per_question"]))]
    head = (title, "assistant", "bare top-1")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in [head, *rows])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval --squad", description=__doc__)
    parser.add_argument("--split", choices=["test", "dev"], default="test")
    parser.add_argument("--limit", type=int, help="a fixed seeded sample of N questions per corpus")
    parser.add_argument("--variants", default="full,withheld,news",
                        help=f"comma-separated, of: {', '.join(EVAL_VARIANTS)} (default: full,withheld,news)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in EVAL_VARIANTS]
    if unknown or not variants:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(EVAL_VARIANTS)}")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    report = run(args.split, variants, args.limit)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"SQuAD {args.split} split, encoder: {report['encoder']}" + (f", limit {args.limit} per corpus" if args.limit else ""))
    for variant, systems in report["variants"].items():
        print("\n" + table(f"corpus: {variant}", systems))
    if len(report["variants"]) > 1:
        print("\n" + table("overall (" + " + ".join(report["variants"]) + ")", report["overall"]))
    print(f"\nrun time {report['seconds']} s")
