"""The answer kind a question's wording asks for: it decides which entities count as a possible answer."""
import pytest

from retrieval.text.question import expected_answer


@pytest.mark.parametrize("question, kind", [
    ("How many fighters does the group have?", "number"),
    ("How far is Basra from Baghdad?", "number"),
    ("How far along are the talks with the militia leaders?", None),
    ("When was Soleimani killed?", "date"),
    ("Who leads the Popular Mobilization Forces?", "person"),
    ("Where did the commanders get asylum?", "place"),
    ("What did Khamenei say about the PMF?", None),
])
def test_expected_answer_kind_follows_the_wording(question, kind):
    assert expected_answer(question) == kind
