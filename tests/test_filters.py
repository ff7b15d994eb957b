"""Filters by outlet, article and date, in the API and on the command line."""
import json

import pytest


import cli
from retrieval.errors import InvalidFilter
from retrieval.search.filters import Filters
from tests.conftest import write_corpus

ARTICLES = {
    "march.txt": ({"outlet": "Wire One", "published": "2025-03-02"},
                  "Port Avel harbour talks stalled on Monday after the fishermen's union walked out, officials said."),
    "april.txt": ({"outlet": "Wire Two", "published": "2025-04-10"},
                  "Port Avel harbour talks resumed on Thursday and the union agreed to a ten-day truce, officials said."),
    "nodate.txt": ({"outlet": "Wire Two"},
                   "Port Avel harbour talks are expected to end soon, the mayor of the town told reporters on Friday."),
}
QUESTION = "What was said about the Port Avel harbour talks?"


@pytest.fixture
def harbour(tmp_path, make_assistant):
    assistant = make_assistant(write_corpus(tmp_path / "c", ARTICLES))
    assistant.ingest()
    return assistant


def sources(answer):
    return sorted({q.source for q in answer.quotes})


def test_without_filters_every_article_can_answer(harbour):
    assert sources(harbour.ask(QUESTION)) == ["april.txt", "march.txt", "nodate.txt"]


@pytest.mark.parametrize("filters, expected", [
    (Filters.of(outlets=["wire one"]), ["march.txt"]),
    (Filters.of(sources=["april.txt", "nodate.txt"]), ["april.txt", "nodate.txt"]),
    (Filters.of(since="2025-04-01"), ["april.txt"]),
    (Filters.of(until="March 31, 2025"), ["march.txt"]),
    (Filters.of(outlets=["Wire Two"], since="2025-01-01", until="2025-12-31"), ["april.txt"]),
])
def test_filters_narrow_the_articles_quoted(harbour, filters, expected):
    assert sources(harbour.ask(QUESTION, filters=filters)) == expected


def test_articles_with_unknown_dates_are_reported_not_silently_dropped(harbour):
    answer = harbour.ask(QUESTION, filters=Filters.of(since="2025-01-01"))
    assert answer.notice == "1 article(s) with no known publication date were left out by the date filter: nodate.txt."


@pytest.mark.parametrize("filters, message", [
    (dict(since="soon"), "since 'soon' is not a date; write it as 2025-03-01."),
    (dict(sources=["missing.txt"]), "No article is called missing.txt."),
    (dict(outlets=["Nobody"]), "No article matches these filters."),
    (dict(since="2026-01-01"), "No article matches these filters (1 articles have no known date)."),
])
def test_bad_or_empty_filters_are_a_clear_error(harbour, filters, message):
    with pytest.raises(InvalidFilter) as err:
        harbour.ask(QUESTION, filters=Filters.of(**filters))
    assert str(err.value) == message


def test_cli_filter_options(harbour, capsys):
    assert cli.main(["ask", "--json", "--outlet", "Wire Two", "--since", "2025-01-01", QUESTION],
                    get_assistant=lambda: harbour) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted({q["source"] for q in data["quotes"]}) == ["april.txt"]
    assert data["notice"].endswith("nodate.txt.")
    assert cli.main(["search", "--json", "--source", "march.txt", "harbour talks"], get_assistant=lambda: harbour) == 0
    assert {c["source"] for c in json.loads(capsys.readouterr().out)} == {"march.txt"}
    assert cli.main(["ask", "--until", "never", QUESTION], get_assistant=lambda: harbour) == 2
    assert capsys.readouterr().err == "until 'never' is not a date; write it as 2025-03-01.\n"
