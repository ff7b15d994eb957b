"""The out-of-domain evaluation's scoring (eval/squad.py): when a quote is right, when it holds the
answer, and the shares it reports, on hand-made outcomes."""
from __future__ import annotations

import pytest

from eval.squad import Outcome, summarize
from training.squad import ANSWERABLE, NATIVE, Example, Question, Span

GOLD = Span("a.txt", 100, 104)          # "1066" at 100-104 of a.txt
QUESTION = Question("q1", "When was the battle?", "A", 0, True, ("1066",), (100,), (GOLD,))
ASKED = Example(QUESTION, True, ANSWERABLE, (GOLD,))


@pytest.mark.parametrize("quotes, texts, right, holds", [
    ((("a.txt", 90, 120),), ("It was fought in 1066 near",), True, True),              # overlaps the span
    ((("a.txt", 300, 340),), ("The battle of 1066 is well known.",), False, True),       # same answer elsewhere in the article
    ((("b.txt", 0, 30),), ("Another battle, 1066 again.",), False, False),              # another article: not the answer
    ((("a.txt", 300, 330),), ("In 10666 nothing happened.",), False, False),            # not as whole words
    ((("a.txt", 300, 330), ("a.txt", 95, 110)), ("No year here.", "in 1066 near"), False, False),   # only the first counts
    ((), (), False, False),                                                             # abstained
])
def test_a_first_quote_is_right_by_offsets_and_holds_the_answer_by_its_words_in_the_gold_file(quotes, texts, right,
                                                                                               holds):
    outcome = Outcome(ASKED, not quotes, quotes, 1.0, texts)
    assert outcome.right(first_only=True) is right
    assert outcome.holds_answer() is holds


def test_summary_shares():
    unanswerable = Example(Question("q2", "When was the treaty?", "A", 1, False, (), ()), False, NATIVE, ())
    outcomes = [Outcome(ASKED, False, (("a.txt", 90, 120),), 2.0, ("fought in 1066 near Hastings",)),
                Outcome(ASKED, False, (("a.txt", 300, 340),), 4.0, ("The year 1066 again, in other words ok",)),
                Outcome(ASKED, True, (), 6.0),
                Outcome(unanswerable, True, (), 8.0)]
    summary = summarize(outcomes)
    assert summary["answered"] == pytest.approx(2 / 3)
    assert summary["first_quote_right"] == pytest.approx(1 / 3)
    assert summary["first_quote_holds_answer"] == pytest.approx(2 / 3)
    assert summary["abstention_recall"] == 1.0 and summary["abstention_precision"] == 0.5
    assert summary["quoted_chars_per_answer"] == 35.0 and summary["ms_per_question"] == 5.0
