"""Train the answer scorer (``retrieval/answer/answer_model.json``) on SQuAD 2.0 articles and
on news questions written for this project over BBC articles.

Every candidate sentence comes from the product's own path: each corpus variant
(``training.squad``, ``training.news``) is ingested by a real ``Assistant``, each question is retrieved and its
sentences described by ``FeatureExtractor`` exactly as when answering. A sentence is a positive
when it overlaps a gold answer span or holds an answer's text in the right article.

1. Fit: standardized logistic regression on the train split (all SQuAD variants and the news
   questions); the news rows weigh ``NEWS_WEIGHT`` of the SQuAD rows in all, so a few hundred
   news questions are not drowned by six thousand encyclopedia ones.
2. Calibrate on held-out predictions: every train question scored by a model fit on the other
   ``FOLDS - 1`` folds of train articles (cross-fitting, folds by article), every dev question by
   the model of step 1 — 8,595 questions no model saw the article of, 170 of them SQuAD's own
   unanswerable ones (dev alone has 2) and 240 unanswerable news ones (dev alone: 60). From them: an
   isotonic map from a question's best sentence probability to the share of questions whose first
   quote is right (unanswerable ones count as wrong), shown to users as the answer's confidence;
   and the answer threshold, the lowest best-sentence probability at which each domain abstains on
   ``ABSTAIN_TARGET`` of its unanswerable questions that look answerable (SQuAD's own and withheld
   paragraphs weighing alike; news), so the product abstains that often and otherwise answers.

Features are cached per corpus variant in ``training/cache/`` (keyed by the feature list, the
encoder — the default one, as when answering —, the questions, the retrieval settings and the
``retrieval`` package's source, so a ``QA_RETRIEVE_K``, a new question or a code change is never
read from a stale table); a re-run only refits. Deterministic: no sampling, a fixed solver."""
from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrieval.answer.features import FEATURES
from retrieval.answer.scorer import MODEL_FILE, AnswerScorer
from training.news import UNANSWERABLE_NEWS, build_news_corpus
from training.squad import (
    ANSWERABLE,
    NATIVE,
    OFF_TOPIC,
    SEED,
    SQUAD_FILE,
    VARIANTS,
    WITHHELD,
    Corpus,
    Example,
    build_corpus,
    code_version,
    shared_data_dir,
)

C = 1.0               # inverse regularization strength
TRAIN_QUESTIONS = 1500   # per train variant at most (a fixed sample: more adds time, not accuracy)
NEWS_WEIGHT = 0.5        # the news rows' total weight against the SQuAD rows' in the fit
FOLDS = 5                # cross-fitting folds of train articles, for held-out predictions on every train question
ABSTAIN_TARGET = 0.5     # abstain on at least half of each domain's unanswerable questions that look answerable
LOOKS_ANSWERABLE = (NATIVE, WITHHELD, UNANSWERABLE_NEWS)


@dataclass
class Table:
    """Candidate rows of one corpus variant: features, labels and which question each belongs to."""
    X: np.ndarray
    y: np.ndarray
    question: np.ndarray           # index into ``answerable``
    first_right: np.ndarray        # per row: overlaps a gold span (the evaluation's "first quote right")
    answerable: np.ndarray         # per question
    article: np.ndarray            # per question: the article it was asked about (the unit of every split)
    kind: np.ndarray               # per question: ANSWERABLE, NATIVE, WITHHELD, OFF_TOPIC or UNANSWERABLE_NEWS

    @classmethod
    def concat(cls, tables: list["Table"]) -> "Table":
        offsets = np.cumsum([0] + [len(t.answerable) for t in tables[:-1]])
        return cls(np.vstack([t.X for t in tables]), np.concatenate([t.y for t in tables]),
                   np.concatenate([t.question + o for t, o in zip(tables, offsets)]),
                   np.concatenate([t.first_right for t in tables]), np.concatenate([t.answerable for t in tables]),
                   np.concatenate([t.article for t in tables]), np.concatenate([t.kind for t in tables]))

    def questions(self, keep: np.ndarray) -> "Table":
        """The rows of the questions where ``keep`` (a mask over questions) holds, renumbered."""
        rows = keep[self.question]
        number = np.cumsum(keep) - 1
        return Table(self.X[rows], self.y[rows], number[self.question[rows]], self.first_right[rows],
                     self.answerable[keep], self.article[keep], self.kind[keep])


def _label(example: Example, source: str, start: int, end: int, text: str) -> tuple[bool, bool]:
    """(positive for training, right as a first quote)."""
    right = any(s.overlaps(source, start, end) for s in example.spans)
    holds = example.answerable and any(s.source == source for s in example.spans) and \
        any(a and a in text[start:end] for a in example.question.answers)
    return right or holds, right


def sample(examples: tuple[Example, ...], limit: int | None) -> list[Example]:
    """At most ``limit`` examples, the same ones on every run (by a hash of their id)."""
    if limit is None or len(examples) <= limit:
        return list(examples)
    return sorted(examples, key=lambda e: hashlib.sha256(f"{SEED}-{e.question.id}".encode()).hexdigest())[:limit]


def corpus_table(corpus: Corpus, embedder, limit: int | None = None) -> Table:
    """The candidate rows of the questions of ``corpus`` (a fixed sample of ``limit``), from a
    real assistant on its folder."""
    from retrieval.assistant import Assistant

    settings = corpus.settings()
    examples = sample(corpus.examples, limit)
    questions = [e.to_dict() for e in examples]
    key = hashlib.sha256(json.dumps([FEATURES, embedder.identity, questions, settings.chunk_chars,
                                     settings.candidates, settings.retrieve_k, code_version()]).encode()).hexdigest()[:12]
    cached = corpus.root / f"features-{key}.npz"
    article = np.array([e.question.article for e in examples])
    kind = np.array([e.label for e in examples])
    if cached.exists():   # (delete training/cache/*/features-*.npz to time a run from scratch)
        data = np.load(cached)
        return Table(data["X"], data["y"], data["question"], data["first_right"], data["answerable"], article, kind)
    assistant = Assistant(settings, embedder=embedder, scorer=AnswerScorer.untrained(FEATURES))
    assistant.ingest()
    X, y, question, first_right = [], [], [], []
    for n, example in enumerate(examples):
        for row in assistant.candidate_rows(example.question.text):
            text = assistant.snapshot.articles[row.source].text
            positive, right = _label(example, row.source, row.start, row.end, text)
            X.append(row.values)
            y.append(positive)
            first_right.append(right)
            question.append(n)
    table = Table(np.array(X, dtype=np.float64).reshape(-1, len(FEATURES)), np.array(y, dtype=bool),
                  np.array(question, dtype=np.int64), np.array(first_right, dtype=bool),
                  np.array([e.answerable for e in examples], dtype=bool), article, kind)
    np.savez(cached, X=table.X, y=table.y, question=table.question, first_right=table.first_right,
             answerable=table.answerable)
    return table


def best_per_question(p: np.ndarray, table: Table) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best probability (0 with no candidate) and whether its best row is right."""
    n = len(table.answerable)
    best = np.zeros(n)
    right = np.zeros(n, dtype=bool)
    order = np.lexsort((-p, table.question))
    first = np.ones(len(order), dtype=bool)
    first[1:] = table.question[order][1:] != table.question[order][:-1]
    for i in order[first]:
        best[table.question[i]] = p[i]
        right[table.question[i]] = table.first_right[i]
    return best, right & table.answerable


def fit_weights(train: dict[str, Table]) -> AnswerScorer:
    """A standardized logistic regression on ``train`` (the tables of each domain, "squad" and
    "news"), uncalibrated."""
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([t.X for t in train.values()])
    y = np.concatenate([t.y for t in train.values()])
    squad_rows = len(train["squad"].y)
    weight = np.concatenate([np.full(len(t.y), NEWS_WEIGHT * squad_rows / len(t.y) if domain == "news" else 1.0)
                             for domain, t in train.items()])
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=5000, solver="lbfgs").fit((X - mean) / scale, y, sample_weight=weight)
    untrained = AnswerScorer.untrained(FEATURES)
    return AnswerScorer(FEATURES, mean, scale, model.coef_[0], float(model.intercept_[0]),
                        untrained.calibration_x, untrained.calibration_y, untrained.threshold, {})


def fold_of(article: str) -> int:
    """The cross-fitting fold of an article (a fixed hash of its id)."""
    return int(hashlib.sha256(f"{SEED}-fold-{article}".encode()).hexdigest(), 16) % FOLDS


def held_out(train: dict[str, Table], dev: dict[str, Table], scorer: AnswerScorer) -> dict[str, "HeldOut"]:
    """Each domain's questions of both splits, each scored by a model that never saw its article:
    a train question by the model fit on the other ``FOLDS - 1`` folds of train articles, a dev
    question by ``scorer`` itself (fit on all of train)."""
    folds = {d: np.array([fold_of(a) for a in t.article]) for d, t in train.items()}
    parts: dict[str, list[HeldOut]] = {d: [HeldOut.of(scorer, t)] for d, t in dev.items()}
    for k in range(FOLDS):
        model = fit_weights({d: t.questions(folds[d] != k) for d, t in train.items()})
        for d, t in train.items():
            parts[d].append(HeldOut.of(model, t.questions(folds[d] == k)))
    return {d: HeldOut.concat(p) for d, p in parts.items()}


@dataclass
class HeldOut:
    """Per question: the best sentence's probability, whether that sentence is right, and what kind
    of question it is."""
    best: np.ndarray
    right: np.ndarray
    kind: np.ndarray

    @classmethod
    def of(cls, scorer: AnswerScorer, table: Table) -> "HeldOut":
        best, right = best_per_question(scorer.probabilities(table.X), table)
        return cls(best, right, table.kind)

    @classmethod
    def concat(cls, parts: list["HeldOut"]) -> "HeldOut":
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("best", "right", "kind")))

    def abstained(self, threshold: float) -> float:
        """The share abstained on of the unanswerable questions that look answerable, each kind
        (SQuAD's own, withheld paragraphs, news) weighing alike; the off-topic ones are left out:
        they are easy and many, and would hide the others."""
        kinds = [k for k in LOOKS_ANSWERABLE if (self.kind == k).any()]
        return float(np.mean([(self.best[self.kind == k] < threshold).mean() for k in kinds]))


def target_threshold(domains: dict[str, HeldOut]) -> float:
    """The lowest best-sentence probability at which every domain abstains on ``ABSTAIN_TARGET``
    of its unanswerable questions that look answerable: abstain that often, and otherwise answer."""
    candidates = np.unique(np.round(np.concatenate([h.best for h in domains.values()]), 4))
    return float(next(t for t in candidates if all(h.abstained(t) >= ABSTAIN_TARGET for h in domains.values())))


def fit(train: dict[str, Table], dev: dict[str, Table], record: dict) -> tuple[AnswerScorer, dict[str, HeldOut]]:
    """The scorer fit on ``train``, its calibration and threshold from held-out predictions (``held_out``)."""
    from sklearn.isotonic import IsotonicRegression

    scorer = fit_weights(train)
    domains = held_out(train, dev, scorer)
    pooled = HeldOut.concat(list(domains.values()))
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(
        pooled.best, pooled.right.astype(float))
    return replace(scorer, calibration_x=np.round(iso.X_thresholds_, 6), calibration_y=np.round(iso.y_thresholds_, 6),
                   threshold=target_threshold(domains), record=record), domains


def held_out_metrics(held: HeldOut, threshold: float) -> dict:
    """Answered and first-quote-right shares of answerable questions, abstention by kind of
    unanswerable question, at ``threshold``."""
    answerable = held.kind == ANSWERABLE
    answered = held.best >= threshold
    kinds = (ANSWERABLE, *LOOKS_ANSWERABLE, OFF_TOPIC)
    return {"questions": {k: int((held.kind == k).sum()) for k in kinds if (held.kind == k).any()},
            "answered": round(float(answered[answerable].mean()), 3),
            "first_quote_right": round(float((answered & held.right)[answerable].mean()), 3),
            "abstained": {k: round(float((~answered)[held.kind == k].mean()), 3)
                          for k in kinds[1:] if (held.kind == k).any()}}


def metrics(scorer: AnswerScorer, table: Table) -> dict:
    """What the evaluation reports, on candidate tables: answered and first-quote-right shares of
    answerable questions, abstention precision and recall on unanswerable ones."""
    best, right = best_per_question(scorer.probabilities(table.X), table)
    answered = best >= scorer.threshold
    ans = table.answerable
    abstained = ~answered
    return {"questions": int(len(ans)), "answerable": int(ans.sum()), "answered": round(float(answered[ans].mean()), 3),
            "first_quote_right": round(float((answered & right)[ans].mean()), 3),
            "abstention_recall": round(float(abstained[~ans].mean()), 3) if (~ans).any() else None,
            "abstention_precision": round(float((abstained & ~ans).sum() / max(abstained.sum(), 1)), 3)}


def train(out: Path = MODEL_FILE) -> dict:
    from retrieval.index.embedding import Embedder

    started = time.perf_counter()
    embedder = Embedder()          # the default encoder, as when answering
    limits = {"train": TRAIN_QUESTIONS, "dev": None}
    tables = {split: {"squad": Table.concat([corpus_table(build_corpus(split, v), embedder, limits[split])
                                             for v in VARIANTS]),
                      "news": corpus_table(build_news_corpus(split), embedder)}
              for split in ("train", "dev")}
    data = shared_data_dir() / SQUAD_FILE
    record = {"command": "python -m training", "data": [SQUAD_FILE, "training/news_questions.jsonl"],
              "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
              "split": "by article (training/squad.py, training/news.py)", "encoder": embedder.identity,
              "variants": [*VARIANTS, "news"], "seed": SEED,
              "news_weight": NEWS_WEIGHT, "folds": FOLDS, "abstain_target": ABSTAIN_TARGET,
              "rows": {s: {d: int(len(t.y)) for d, t in ts.items()} for s, ts in tables.items()},
              "positives": {s: {d: int(t.y.sum()) for d, t in ts.items()} for s, ts in tables.items()},
              "questions": {s: {d: int(len(t.answerable)) for d, t in ts.items()} for s, ts in tables.items()}}
    scorer, held = fit(tables["train"], tables["dev"], record)
    record["dev"] = {d: metrics(scorer, t) for d, t in tables["dev"].items()}
    record["held_out"] = {d: held_out_metrics(h, scorer.threshold) for d, h in held.items()}
    record["seconds"] = round(time.perf_counter() - started, 1)   # this run; cached features make it short
    record["machine"] = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    out.write_text(scorer.to_json() + "\n", encoding="utf-8")
    return record
