"""Issue 15, as an analyst meets it: readable attribution, metadata corrected on the command line
and applied at once, wrapped PDFs indexed with a per-file report, Gradio's port variables, and the
chat's answers under a filter and across turns (through gradio_client)."""
from __future__ import annotations

import json
import shutil

import pytest
from gradio_client import Client

import cli
from retrieval.present.attribution import describe_article
from retrieval.present.render import message_text
from retrieval.settings import Settings
from tests.conftest import CORPUS
from tests.test_formats import pdf_bytes

KHAMENEI_FILE = "004_9f3c536fd21fedea.txt"
KHAMENEI = "What did Khamenei say about the Popular Mobilization Forces?"


@pytest.mark.parametrize("source, name, dating, author", [
    ("001_adf714cf9f5e1bca.txt", "“Iran-backed Iraqi militias refuse to surrender arms, defying state control”",
     "undated; mentions events up to 2023-10-08", "Anas al-Bar"),
    (KHAMENEI_FILE, "“In a meeting with Iraqi Prime Minister Mohammed…” (opening words)",
     "undated; mentions events up to 2025-01-07", None),
    ("000_52a231bc96e83ae4.txt", "“On February 17, 2025 the Lebanese Al-Nahar daily…” (opening words)",
     "undated; mentions events up to 2025-02-17", None),
])
def test_every_article_has_a_readable_label_and_an_honest_date(assistant, source, name, dating, author):
    label = describe_article(assistant.snapshot.articles[source])
    assert (label.name, label.dating, label.author) == (name, dating, author)
    assert label.published is None      # the latest date named is never taken for the publication date


def test_answers_and_citations_name_articles_by_label_never_by_file(assistant):
    answer = assistant.ask(KHAMENEI)
    assert answer.answer.startswith("According to the article opening “In a meeting with Iraqi Prime Minister")
    assert KHAMENEI_FILE not in answer.answer
    quote = answer.to_dict()["quotes"][0]
    assert quote["label"] == "“In a meeting with Iraqi Prime Minister Mohammed…” (opening words)"
    assert quote["title"] is None and quote["published"] is None and quote["mentions_until"] == "2025-01-07"


@pytest.fixture
def own_corpus(tmp_path, make_assistant):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (KHAMENEI_FILE, "003_8248b2237cdcb8a2.txt"):
        shutil.copy(CORPUS / name, corpus)
    assistant = make_assistant(corpus)
    assistant.ingest()
    return corpus, assistant


def test_meta_on_the_command_line_is_saved_and_applied_without_re_embedding(own_corpus, capsys):
    corpus, assistant = own_corpus
    code = cli.main(["meta", KHAMENEI_FILE, "--outlet", "NCRI", "--published", "January 9, 2025",
                     "--author", "Staff writer", "--title", "Khamenei backs the PMF"], get_assistant=lambda: assistant)
    out = capsys.readouterr().out
    assert code == 0
    assert "  label: “Khamenei backs the PMF”\n  date: 2025-01-09\n" in out
    assert json.loads((corpus / f"{KHAMENEI_FILE}.meta.json").read_text()) == {
        "outlet": "NCRI", "published": "2025-01-09", "author": "Staff writer", "title": "Khamenei backs the PMF"}
    cli.main(["ask", "--json", "--outlet", "NCRI", "--since", "2025-01-01", KHAMENEI], get_assistant=lambda: assistant)
    quote = json.loads(capsys.readouterr().out)["quotes"][0]
    assert (quote["outlet"], quote["published"], quote["author"], quote["title"]) == (
        "NCRI", "2025-01-09", "Staff writer", "Khamenei backs the PMF")
    assert "mentions_until" not in quote      # dated now
    cli.main(["meta", KHAMENEI_FILE, "--title", ""], get_assistant=lambda: assistant)   # '' removes a correction
    assert "(opening words)" in capsys.readouterr().out
    report = assistant.ingest()
    assert report.chunks_embedded == 0


def test_meta_for_an_unknown_article_is_one_sentence(own_corpus, capsys):
    _, assistant = own_corpus
    assert cli.main(["meta", "nope.txt", "--outlet", "X"], get_assistant=lambda: assistant) == 2
    assert capsys.readouterr().err == "No article is called nope.txt.\n"
    assert cli.main(["meta", KHAMENEI_FILE, "--published", "soon"], get_assistant=lambda: assistant) == 2
    assert "'soon' is not a date" in capsys.readouterr().err


def wrapped_pdf(lines: list[str]) -> bytes:
    """A PDF whose paragraph is set as short lines, as PDFs are."""
    body = ") Tj 0 -14 Td (".join(lines)
    return pdf_bytes(body)


def test_a_wrapped_pdf_is_indexed_and_the_report_says_how_much(tmp_path, make_assistant):
    lines = ["The harbour office of Port Avel will close for repairs in June, the", "mayor said on Tuesday, after "
             "storms damaged the old pier and the", "ferry ramp; crossings will move to the north quay until the",
             "works are finished in the autumn, officials said."]
    (tmp_path / "notice.pdf").write_bytes(wrapped_pdf(lines))
    assistant = make_assistant(tmp_path / "corpus")
    report = assistant.ingest([tmp_path / "notice.pdf"])
    text = (tmp_path / "corpus" / "notice.pdf.txt").read_text()
    assert "in June, the mayor said on Tuesday" in text
    assert report.added == ["notice.pdf.txt"]
    (line,) = [ln for ln in report.summary().splitlines() if ln.startswith("  indexed:")]
    assert line.startswith("  indexed: notice.pdf.txt — ") and line.endswith("(100%)")
    answer = assistant.ask("Where will the crossings move during the works?")
    assert any("north quay" in q.text for q in answer.quotes)


def test_the_report_warns_when_most_of_a_file_is_furniture(tmp_path, make_assistant):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    menu = "\n".join(f"Section {i}" for i in range(60))
    (corpus / "page.txt").write_text(f"{menu}\n\nThe council approved the new budget on Monday after a long debate.\n")
    summary = make_assistant(corpus).ingest().summary()
    assert "% of page.txt was indexed; the rest was set aside as page furniture" in summary, summary


def test_gradio_server_variables_are_honoured_and_the_qa_ones_win(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    monkeypatch.setenv("PORT", "5555")          # not ours: ignored
    assert (Settings().host, Settings().port) == ("0.0.0.0", 7999)
    monkeypatch.setenv("QA_HOST", "127.0.0.1")
    monkeypatch.setenv("QA_PORT", "7001")
    assert (Settings().host, Settings().port) == ("127.0.0.1", 7001)
    assert Settings(port=9000).port == 9000


# -- the chat through gradio_client ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(ui_url) -> Client:
    return Client(ui_url, verbose=False)


def test_an_abstention_under_a_filter_names_it_and_offers_to_clear_it(client):
    only = "003_8248b2237cdcb8a2.txt"
    chat, sources, _ = client.predict(KHAMENEI, [], ["Nobody"], [], "", "", "Answer", api_name="/respond")
    assert message_text(chat[-1]).endswith("No article matches these filters.")   # nothing to search at all
    chat, sources, _ = client.predict("Who won the 2022 FIFA World Cup?", [], [], [only], "", "", "Answer",
                                      api_name="/respond")
    reply = message_text(chat[-1])
    assert reply.startswith("Not in the sources")
    assert "Searched only: article “The leaders of some of the most powerful…” \\(opening words\\)" \
        in reply and "Clear the filters to search every article." in reply
    assert "Searched only: article" in sources


def test_earlier_answers_sources_stay_in_the_panel(client):
    chat, sources, _ = client.predict(KHAMENEI, [], [], [], "", "", "Answer", api_name="/respond")
    chat, sources, _ = client.predict("Who killed Soleimani?", chat, [], [], "", "", "Answer", api_name="/respond")
    assert 'id="a2-s1"' in sources and 'id="a1-s1"' in sources
    assert f'<details class="answer" id="answer-1"><summary>Answer 1: {KHAMENEI}</summary>' in sources
    assert sources.index('id="a2-s1"') < sources.index('id="a1-s1"')      # the latest answer first
