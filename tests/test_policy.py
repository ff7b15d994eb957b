"""The answer policy's gates, table-driven: each returns a verdict with a named reason."""
import pytest

from retrieval.answer.policy import AnswerPolicy, Reason, SentenceFeatures, Verdict
from retrieval.text.normalize import terms
from retrieval.text.question import Concept, Question
from retrieval.types import Candidate

POLICY = AnswerPolicy(min_coverage=0.3, min_score=0.47)
KHAMENEI = Concept("Khamenei", ((frozenset(terms("Khamenei")),),), named=True)
TROOPS = Concept("troops", ((frozenset(terms("troops")),),), named=False)
PASS = Verdict(True, Reason.PASSED, gate="answer_shape")


def question(expects=None, concepts=(KHAMENEI,), unknown=(), focus=None):
    return Question("q", tuple(concepts), expects, unknown, focus)


@pytest.mark.parametrize("q, reason", [
    (question(unknown=("Zarqawi",)), Reason.UNKNOWN_NAME),
    (question(concepts=()), Reason.NO_CONCEPTS),
    (question(), Reason.PASSED),
])
def test_question_gate(q, reason):
    assert POLICY.question(q).reason == reason


@pytest.mark.parametrize("article_terms, reason", [
    (set(terms("Khamenei and Iran")), Reason.PASSED),
    (set(terms("Iran")), Reason.ARTICLE_LACKS_NAME),
])
def test_article_gate(article_terms, reason):
    assert POLICY.article(question(), article_terms).reason == reason


@pytest.mark.parametrize("expects, focus, sentence, reason", [
    (None, None, "Anything at all.", Reason.PASSED),
    ("number", None, "Some 40,000 men are armed.", Reason.PASSED),
    ("number", None, "Dozens of men are armed.", Reason.PASSED),
    ("number", None, "Many men are armed.", Reason.NO_ANSWER_SHAPE),
    ("number", TROOPS, "About 2,500 troops remain.", Reason.PASSED),
    ("number", TROOPS, "About 2,500 remain in 2025.", Reason.NO_ANSWER_SHAPE),
    ("date", None, "It happened in March.", Reason.PASSED),
    ("date", None, "It happened on Tuesday.", Reason.PASSED),
    ("date", None, "It happened long ago.", Reason.NO_ANSWER_SHAPE),
    ("person", None, "The group is led by Akram al-Kaabi.", Reason.PASSED),
    ("person", None, "The leader met Khamenei.", Reason.NO_ANSWER_SHAPE),
])
def test_answer_shape_gate(expects, focus, sentence, reason):
    assert POLICY.answer_shape(question(expects, focus=focus), sentence).reason == reason


@pytest.mark.parametrize("coverage, dense, gates, reason", [
    (0.2, 0.9, ["answer_shape", "coverage"], Reason.LOW_COVERAGE),           # stops at the first failure
    (0.5, 0.3, ["answer_shape", "coverage", "score"], Reason.LOW_SCORE),     # 0.5 x 0.5 + 0.5 x 0.3 = 0.40
    (0.5, 0.5, ["answer_shape", "coverage", "score"], Reason.PASSED),        # 0.50 >= 0.47
])
def test_sentence_gates_in_order(coverage, dense, gates, reason):
    verdicts = POLICY.sentence(SentenceFeatures("a.txt", 0, 10, PASS, coverage, dense))
    assert [v.gate for v in verdicts] == gates
    assert verdicts[-1].reason == reason


def test_a_failed_answer_shape_ends_the_sentence_gates():
    failed = Verdict(False, Reason.NO_ANSWER_SHAPE, "no number", "answer_shape")
    assert POLICY.sentence(SentenceFeatures("a.txt", 0, 10, failed, 1.0, 1.0)) == [failed]


@pytest.mark.parametrize("score, source, start, end, reason", [
    (0.9, "b.txt", 0, 10, Reason.CHOSEN),
    (0.7, "b.txt", 0, 10, Reason.NOT_NEAR_BEST),      # below 0.8 x 0.9
    (0.85, "a.txt", 200, 300, Reason.ARTICLE_FULL),   # a.txt gives two quotes already
    (0.85, "c.txt", 5, 15, Reason.OVERLAPS),
])
def test_choice_gate(score, source, start, end, reason):
    chosen = [Candidate("a.txt", 0, 50, 0.9), Candidate("a.txt", 60, 90, 0.88), Candidate("c.txt", 0, 10, 0.86)]
    assert POLICY.choice(score, source, start, end, chosen).reason == reason


def test_enough_quotes_and_the_timeline_policy():
    chosen = [Candidate(f"{n}.txt", 0, 10, 0.9) for n in range(4)]
    assert POLICY.choice(0.9, "x.txt", 0, 10, chosen).reason == Reason.ENOUGH_QUOTES
    assert POLICY.for_timeline().choice(0.6, "x.txt", 0, 10, chosen).reason == Reason.CHOSEN


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
    assert all(c["gates"][0]["gate"] in ("answer_shape", "article") for c in explanation["candidates"])


def test_explain_names_why_it_abstained(assistant):
    explanation = assistant.ask("What did Abu Musab al-Zarqawi say about Baghdad?", explain=True).explanation
    assert explanation["decision"]["reason"] == "UNKNOWN_NAME"
