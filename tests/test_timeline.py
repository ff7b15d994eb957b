"""Timeline view: quotes by publication date, grouped by source, disagreements flagged."""
import pytest

from prompts import NO_DISAGREEMENT
from retrieval.answer.timeline import chronological, disagreements
from retrieval.types import Quote
from tests.conftest import write_corpus

ARTICLES = {
    "early.txt": ({"outlet": "Wire One", "published": "2025-03-02"},
                  "Forty armed factions in Port Avel are ready to disarm and join the town guard, the mayor said on Monday."),
    "late.txt": ({"outlet": "Wire Two", "published": "2025-04-10"},
                 "Thirty-four armed factions in Port Avel refuse to disarm and defy the mayor, the town guard said on Thursday."),
    "undated.txt": ({"outlet": "Wire Three"},
                    "The armed factions of Port Avel have held talks about whether to disarm, residents said this week."),
}


def quote(source, published, text):
    return Quote(text, source, None, None, published, None, 0, len(text), 1.0)


def test_chronological_orders_sources_by_date_undated_last():
    quotes = [quote("c.txt", None, "c"), quote("b.txt", "2025-04-01", "b"), quote("a.txt", "2025-01-01", "a")]
    assert [(date, source) for date, source, _ in chronological(quotes)] == [
        ("2025-01-01", "a.txt"), ("2025-04-01", "b.txt"), (None, "c.txt")]


@pytest.mark.parametrize("texts, expected", [
    (["Forty factions are ready to disarm.", "34 factions refuse to disarm."],
     ["Different figures for “factions”: Forty factions (a.txt); 34 factions (b.txt)",
      "Opposite stances: ready or willing (a.txt); refusing or resisting (b.txt)"]),
    (["Around 50,000 fighters serve.", "Around 50,000 fighters serve in total."], []),
    (["They are ready to disarm.", "They are ready to disarm soon."], []),
    (["Six commanders spoke 18 months ago.", "Ten commanders spoke 2 months ago."],
     ["Different figures for “commanders”: Six commanders (a.txt); Ten commanders (b.txt)"]),
])
def test_disagreements_between_sources(texts, expected):
    quotes = [quote(s, None, t) for s, t in zip(("a.txt", "b.txt"), texts)]
    assert [d.describe() for d in disagreements(quotes, {"disarm"})] == expected


def test_timeline_mode_through_the_assistant(tmp_path, make_assistant):
    assistant = make_assistant(write_corpus(tmp_path / "c", ARTICLES))
    assistant.ingest()
    answer = assistant.ask("Are the armed factions of Port Avel going to disarm?", mode="timeline")
    assert [q.source for q in answer.quotes] == ["early.txt", "late.txt", "undated.txt"]
    assert answer.answer.splitlines()[0].startswith("2025-03-02 — “Wire One”: “Forty armed factions")
    assert answer.disagreements == [
        "Different figures for “factions”: Forty factions (early.txt); Thirty-four factions (late.txt)",
        "Opposite stances: ready or willing (early.txt); refusing or resisting (late.txt)"]
    assert answer.to_dict()["disagreements"] == answer.disagreements
    assert NO_DISAGREEMENT not in answer.answer
