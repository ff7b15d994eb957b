"""The answer policy's gates, table-driven: each returns a verdict with a named reason."""
import numpy as np
import pytest

from retrieval.answer.policy import AnswerPolicy, Reason
from retrieval.answer.scorer import AnswerScorer
from retrieval.text.normalize import terms
from retrieval.text.question import Concept, Question
from retrieval.types import Candidate

# A scorer whose calibration maps a best-sentence probability p to p / 2.
SCORER = AnswerScorer(("coverage",), np.zeros(1), np.ones(1), np.ones(1), 0.0, np.array([0.0, 1.0]),
                      np.array([0.0, 0.5]), 0.5, {})
POLICY = AnswerPolicy(SCORER, threshold=0.5, near_best=0.8)
KHAMENEI = Concept("Khamenei", ((frozenset(terms("Khamenei")),),), named=True)


def question(concepts=(KHAMENEI,)):
    return Question("q", tuple(concepts), None)


@pytest.mark.parametrize("q, reason", [
    (question(concepts=()), Reason.NO_CONCEPTS),
    (question(), Reason.PASSED),
])
def test_question_gate(q, reason):
    assert POLICY.question(q).reason == reason


@pytest.mark.parametrize("probability, reason, detail", [
    (0.9, Reason.PASSED, "p=0.900 (min 0.500), chance of a right first quote 0.45; coverage +1.20"),
    (0.5, Reason.PASSED, "p=0.500 (min 0.500), chance of a right first quote 0.25; coverage +1.20"),
    (0.4, Reason.LOW_CONFIDENCE, "p=0.400 (min 0.500), chance of a right first quote 0.20; coverage +1.20"),
])
def test_model_gate_and_its_detail(probability, reason, detail):
    verdict = POLICY.sentence(probability, [("coverage", 1.2)])
    assert (verdict.gate, verdict.reason, verdict.detail) == ("model", reason, detail)


@pytest.mark.parametrize("score, source, start, end, reason", [
    (0.9, "b.txt", 0, 10, Reason.CHOSEN),
    (0.7, "b.txt", 0, 10, Reason.NOT_NEAR_BEST),      # below 0.8 x 0.9
    (0.85, "a.txt", 200, 300, Reason.ARTICLE_FULL),   # a.txt gives two quotes already
    (0.85, "c.txt", 5, 15, Reason.OVERLAPS),
    (0.85, "d.txt", 0, 600, Reason.OVER_BUDGET),      # 90 characters quoted already, budget 600
])
def test_choice_gate(score, source, start, end, reason):
    chosen = [Candidate("a.txt", 0, 50, 0.9), Candidate("a.txt", 60, 90, 0.88), Candidate("c.txt", 0, 10, 0.86)]
    assert POLICY.choice(score, source, start, end, chosen).reason == reason


def test_enough_quotes_and_the_timeline_policy():
    chosen = [Candidate(f"{n}.txt", 0, 10, 0.9) for n in range(4)]
    assert POLICY.choice(0.9, "x.txt", 0, 10, chosen).reason == Reason.ENOUGH_QUOTES
    assert POLICY.for_timeline().choice(0.3, "x.txt", 0, 10, chosen).reason == Reason.CHOSEN


@pytest.mark.parametrize("quotes, generative, reason", [
    (2, False, Reason.ANSWERED),
    (0, False, Reason.NO_VERIFIED_QUOTE),
    (0, True, Reason.NO_SUPPORTED_CLAIM),
])
def test_decision(quotes, generative, reason):
    verdict = AnswerPolicy.decision(quotes, generative)
    assert (verdict.passed, verdict.reason) == (quotes > 0, reason)


def test_explain_lists_the_gates_and_leaves_the_plain_answer_unchanged(assistant):
    q = "What did Khamenei say about the Popular Mobilization Forces?"
    plain = assistant.ask(q)
    explained = assistant.ask(q, explain=True)
    assert "explanation" not in plain.to_dict()
    assert {k: v for k, v in explained.to_dict().items() if k != "explanation"} == plain.to_dict()
    explanation = explained.explanation
    assert explanation["decision"]["reason"] == "ANSWERED"
    chosen = [c for c in explanation["candidates"] if c["decision"] == "CHOSEN"]
    assert {(c["source"], c["start"], c["end"]) for c in chosen} == {(q.source, q.start, q.end) for q in plain.quotes}
    assert all(c["gates"][0]["gate"] == "model" for c in explanation["candidates"])


def test_explain_names_why_it_abstained(assistant):
    explanation = assistant.ask("What did Abu Musab al-Zarqawi say about Baghdad?", explain=True).explanation
    assert explanation["decision"]["reason"] == "NO_CANDIDATE"
    assert {c["gates"][0]["reason"] for c in explanation["candidates"]} == {"LOW_CONFIDENCE"}


@pytest.mark.parametrize("neighbour, chars, same_paragraph, reason", [
    (0.6, 300, True, Reason.JOINED),          # 0.6 >= max(0.5 x 0.9, threshold 0.5)
    (0.5, 300, True, Reason.JOINED),          # exactly the threshold
    (0.49, 300, True, Reason.NOT_JOINED),     # under the threshold, though above half the quote's score
    (0.6, 401, True, Reason.NOT_JOINED),      # the two together are too long
    (0.6, 300, False, Reason.NOT_JOINED),     # across a paragraph break
])
def test_join_gate(neighbour, chars, same_paragraph, reason):
    verdict = POLICY.join(0.9, neighbour, chars, same_paragraph)
    assert (verdict.gate, verdict.passed, verdict.reason) == ("join", reason == Reason.JOINED, reason)


PORT = ("Harbour works\n\n"
        "The harbour authority met on Monday. It approved a new breakwater for the port of Kellen. "
        "Construction of the breakwater will begin in March and cost 40 million euros.\n\n"
        "Fishing quotas were discussed separately.")


@pytest.mark.parametrize("question, quoted, reasons", [
    # the sentence before scores near the best one: one quote of both
    ("What did the harbour authority approve for Kellen?",
     ["The harbour authority met on Monday. It approved a new breakwater for the port of Kellen."], ["JOINED"]),
    # the best sentence already starts at the one naming Kellen (extended back); the next is unlikely
    ("How much will the Kellen breakwater cost?",
     ["It approved a new breakwater for the port of Kellen. Construction of the breakwater will begin in March "
      "and cost 40 million euros."], ["NOT_JOINED"]),
])
def test_a_quote_takes_in_the_adjacent_sentence_only_when_the_model_would_quote_it(tmp_path, make_assistant,
                                                                                   question, quoted, reasons):
    from tests.conftest import write_corpus

    assistant = make_assistant(write_corpus(tmp_path / "c", {"port.txt": ({}, PORT)}))
    assistant.ingest()
    answer = assistant.ask(question, explain=True)
    assert [q.text for q in answer.quotes] == quoted
    assert all(PORT[q.start:q.end] == q.text for q in answer.quotes)
    chosen = [c for c in answer.explanation["candidates"] if c["decision"] == "CHOSEN"]
    assert [g["reason"] for g in chosen[0]["gates"] if g["gate"] == "join"] == reasons
