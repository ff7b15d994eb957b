"""The learned answer scorer and what it reads: it loads, it is deterministic, it beats the rule
it replaced on articles it was not trained on, sentences carry vectors and entities from ingest,
and stance is told apart on sentence pairs of other domains."""
from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.answer.features import FEATURES
from retrieval.answer.scorer import MODEL_FILE, AnswerScorer
from retrieval.index.embedding import pool_spans
from retrieval.text.entities import find_entities
from retrieval.text.stance import NO_STANCE, READY_STANCE, REFUSING_STANCE, stance
from tests.helpers import needs_shared_data
from training.squad import build_corpus, split_articles


def test_the_committed_model_matches_the_code_and_records_its_training():
    scorer = AnswerScorer.load()
    assert scorer.features == FEATURES
    assert scorer.weights.shape == scorer.mean.shape == scorer.scale.shape == (len(FEATURES),)
    assert np.all(np.diff(scorer.calibration_x) >= 0) and np.all(np.diff(scorer.calibration_y) >= 0)
    assert 0.0 < scorer.threshold < 1.0
    assert scorer.record["command"] == "python -m training"
    assert scorer.record["split"].startswith("by article")


def test_scoring_is_deterministic():
    scorer = AnswerScorer.load()
    rows = np.random.default_rng(0).normal(size=(50, len(FEATURES)))
    first = scorer.probabilities(rows)
    assert np.array_equal(first, AnswerScorer.load().probabilities(rows))
    assert np.all((first > 0) & (first < 1))


def test_a_model_file_that_cannot_be_read_names_the_command_that_rebuilds_it(tmp_path):
    from retrieval.errors import ModelUnavailable

    broken = tmp_path / "model.json"
    broken.write_text("{not json")
    with pytest.raises(ModelUnavailable, match="python -m training"):
        AnswerScorer.load(broken)


def test_model_file_round_trips(tmp_path):
    scorer = AnswerScorer.load()
    copy = tmp_path / "model.json"
    copy.write_text(scorer.to_json())
    assert json.loads(copy.read_text()) == json.loads(MODEL_FILE.read_text())


@pytest.mark.parametrize("text, expected", [
    # Sentence pairs from other domains than the news the rule was written with.
    ("The nurses' union accepted the new pay offer on Friday.", READY_STANCE),
    ("The teachers' union rejected the pay offer outright.", REFUSING_STANCE),
    ("Shareholders backed the merger at the annual meeting.", READY_STANCE),
    ("Two board members voted against the merger.", REFUSING_STANCE),
    ("The striker is willing to sign a new contract.", READY_STANCE),
    ("The goalkeeper declined to sign the extension.", REFUSING_STANCE),
    ("Landlords have not complied with the new rules.", REFUSING_STANCE),
    ("The council published its budget on Monday.", NO_STANCE),
])
def test_stance_of_sentences_from_other_domains(text, expected):
    assert stance(text) == expected


def test_entities_of_any_era():
    [found] = find_entities(["The Battle of Hastings was fought on 14 October 1066 near Hastings by 7,000 men."])
    labels = {(text, label) for text, label in
              (("The Battle of Hastings was fought on 14 October 1066 near Hastings by 7,000 men."[a:b], lab)
               for a, b, lab in found)}
    assert ("14 October 1066", "DATE") in labels
    assert ("7,000", "CARDINAL") in labels


def test_pooled_span_vectors_average_the_tokens_inside_each_span():
    vectors = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [9.0, 9.0]])
    offsets = np.array([[0, 0], [0, 3], [4, 7], [8, 11], [0, 0]])          # [CLS] a b c [SEP]
    pooled = pool_spans((vectors, offsets), [(0, 7), (8, 11), (20, 30)])
    assert np.allclose(pooled, [[2 ** -0.5, 2 ** -0.5], [0.0, 1.0], [0.0, 0.0]])


def test_ingest_stores_sentence_vectors_and_entities(assistant, embedder):
    chunk = next(c for c in assistant.snapshot.chunks if "Khamenei" in c.text)
    assert chunk.sentences and chunk.sentence_vectors.shape == (len(chunk.sentences), 384)
    start, end = chunk.sentences[0]
    stored = assistant.snapshot.sentence_vector(chunk.source, chunk.start + start, chunk.start + end)
    alone = embedder.query_vector(chunk.text[start:end])
    assert float(stored @ alone) > 0.8            # the sentence read in its chunk is still the sentence
    assert any(label == "PERSON" and chunk.text[a:b].endswith("Khamenei") for a, b, label in chunk.entities)


def _rule_scorer() -> AnswerScorer:
    """The rule the model replaced, written as a scorer: 0.5 x coverage + 0.5 x cosine >= 0.47."""
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("context_coverage")] = weights[FEATURES.index("chunk_dense")] = 0.5 * 40
    return AnswerScorer(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights, -0.47 * 40,
                        np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.5, {})


@pytest.fixture(scope="module")
def ipod(tmp_path_factory):
    """The dev split's iPod article alone (no training question came from it) and a fixed sample of its questions."""
    corpus = build_corpus("dev", "full", tmp_path_factory.mktemp("squad"))
    source = next(a for a in split_articles("dev") if a.title == "IPod").file_name
    for other in corpus.corpus_dir.iterdir():
        if other.name != source:
            other.unlink()
    examples = [e for e in corpus.examples if e.question.article == "IPod" and e.answerable][::3][:100]
    return corpus.corpus_dir, examples


@needs_shared_data
def test_the_model_beats_the_rule_it_replaced_on_held_out_questions(ipod, make_assistant):
    """Each scorer's best sentence among the product's own candidates (the same retrieval for
    both): is it the one that holds the gold answer?"""
    corpus, examples = ipod
    assistant = make_assistant(corpus)
    assistant.ingest()
    scorers = {"model": AnswerScorer.load(), "rule": _rule_scorer()}
    right = {name: 0 for name in scorers}
    for e in examples:
        rows = assistant.candidate_rows(e.question.text)
        values = np.stack([r.values for r in rows])
        for name, scorer in scorers.items():
            best = rows[int(np.argmax(scorer.probabilities(values)))]
            right[name] += any(s.overlaps(best.source, best.start, best.end) for s in e.spans)
    assert len(examples) == 100
    assert right["model"] >= right["rule"] + 25, right


STANCE_ARTICLES = {
    "cap.txt": ({"outlet": "Sports Desk", "published": "2024-06-02"},
                "League votes on the salary cap\n\n"
                "The league met on Monday to vote on the new salary cap for next season.\n\n"
                "Northgate Rovers accepted the salary cap after a long board meeting, their chairman said.\n\n"
                "Eastfield United rejected the salary cap outright, calling it unfair to smaller clubs.\n\n"
                "The vote will be repeated in August."),
}


@pytest.mark.parametrize("question, expected", [
    ("Which club refused the salary cap?", "Eastfield United rejected"),
    ("Which club was willing to take the salary cap?", "Northgate Rovers accepted"),
])
def test_a_question_about_refusal_prefers_the_sentence_that_refuses(tmp_path, make_assistant, question, expected):
    from tests.conftest import write_corpus

    assistant = make_assistant(write_corpus(tmp_path / "c", STANCE_ARTICLES))
    assistant.ingest()
    answer = assistant.ask(question)
    assert answer.quotes and answer.quotes[0].text.startswith(expected), answer.answer


def test_the_threshold_is_the_lowest_that_abstains_on_half_of_each_domains_answerable_looking_questions():
    from training.learn import HeldOut, target_threshold

    squad = HeldOut(best=np.array([0.9, 0.8, 0.1, 0.3, 0.2, 0.6, 0.05]), right=np.zeros(7, bool),
                    kind=np.array(["answerable", "answerable", "native", "native", "withheld", "withheld", "off-topic"]))
    news = HeldOut(best=np.array([0.7, 0.45, 0.35]), right=np.zeros(3, bool),
                   kind=np.array(["answerable", "unanswerable-news", "unanswerable-news"]))
    # SQuAD: at 0.2, native 1/2 and withheld 0/2 abstain (mean 0.25); at 0.3, 1/2 and 1/2 (0.5).
    assert target_threshold({"squad": squad}) == 0.3
    # News needs 0.45 (one of its two abstained below it); the off-topic question never counts.
    assert target_threshold({"squad": squad, "news": news}) == 0.45


def test_a_table_keeps_the_rows_of_the_questions_asked_renumbered():
    from training.learn import Table

    table = Table(X=np.arange(10.0).reshape(5, 2), y=np.array([1, 0, 0, 1, 0], bool), question=np.array([0, 0, 1, 2, 2]),
                  first_right=np.array([1, 0, 0, 1, 0], bool), answerable=np.array([True, False, True]),
                  article=np.array(["a", "b", "c"]), kind=np.array(["answerable", "native", "answerable"]))
    kept = table.questions(np.array([True, False, True]))
    assert kept.question.tolist() == [0, 0, 1, 1]
    assert kept.y.tolist() == [True, False, True, False]
    assert kept.article.tolist() == ["a", "c"] and kept.kind.tolist() == ["answerable", "answerable"]
    assert kept.X[:, 0].tolist() == [0.0, 2.0, 6.0, 8.0]
