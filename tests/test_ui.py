"""The Gradio app, served for real and called with gradio_client; and the HTML it builds."""
from __future__ import annotations

import re
import threading
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from prompts import ABSTENTION
from retrieval.present import render
from retrieval.types import Answer, ArticleMeta, ArticleRecord, Quote
from tests.conftest import CORPUS, launch_ui

KHAMENEI = "What did Khamenei say about the Popular Mobilization Forces?"
PHRASE = "must be preserved and strengthened"
KHAMENEI_FILE = "004_9f3c536fd21fedea.txt"


@pytest.fixture(scope="module")
def client(ui_url) -> Client:
    return Client(ui_url, verbose=False)


text_of = render.message_text
NO_FILTERS = ([], [], "", "", "Answer")   # outlets, articles, since, until, view


def test_ask_endpoint_returns_the_answer_with_verbatim_quotes(client):
    data = client.predict(KHAMENEI, api_name="/ask")
    assert set(data) == {"question", "answer", "abstained", "quotes"}
    assert (data["question"], data["abstained"]) == (KHAMENEI, False)
    assert any(q["source"] == KHAMENEI_FILE and PHRASE in q["text"] for q in data["quotes"])
    for quote in data["quotes"]:
        text = (CORPUS / quote["source"]).read_bytes().decode("utf-8-sig")
        assert text[quote["start"]:quote["end"]] == quote["text"]


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_ask_endpoint_reports_an_empty_question_as_one_sentence(client, question):
    with pytest.raises(AppError) as error:
        client.predict(question, api_name="/ask")
    assert str(error.value) == "Please type a question."


def test_the_api_documents_only_the_ask_endpoint(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/ask"]
    (parameter,) = api["named_endpoints"]["/ask"]["parameters"]
    assert (parameter["parameter_name"], parameter["python_type"]["type"]) == ("question", "str")


def test_chat_answer_cites_numbered_quotes_and_the_sources_panel_highlights_them(client, assistant):
    chat, sources, textbox = client.predict(KHAMENEI, [], *NO_FILTERS, api_name="/respond")
    answer = assistant.ask(KHAMENEI)
    assert textbox == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert text_of(chat[0]) == KHAMENEI
    reply = text_of(chat[1])
    assert reply == render.chat_markdown(answer)
    assert PHRASE in reply
    for n, quote in enumerate(answer.quotes, start=1):
        assert f'<a class="cite" href="#a1-s{n}">&#91;{n}&#93;</a> ' in reply     # opens card a1-s<n>
        assert f'<span class="n">[{n}]</span>' in sources
        assert f"{quote.source} · characters {quote.start}–{quote.end}" in sources
    contexts = re.findall(r'<blockquote class="context">.*?</blockquote>', sources, re.S)
    assert [c.count("<mark>") for c in contexts] == [1] * len(answer.quotes)
    assert sources.count('<details class="article"><summary>Show in the article</summary>') == len(answer.quotes)
    assert any(PHRASE in part.split("</mark>")[0] for part in sources.split("<mark>")[1:])


def test_chat_abstention_shows_the_sentence_and_no_sources(client):
    chat, sources, _ = client.predict("Who won the 2022 FIFA World Cup?", [], *NO_FILTERS, api_name="/respond")
    assert text_of(chat[-1]) == ABSTENTION
    assert sources == render.NO_SOURCES


def test_chat_shows_a_loading_status_until_the_assistant_is_ready(assistant):
    ready = threading.Event()

    def get_assistant():
        assert ready.wait(timeout=60)
        return assistant

    demo, url = launch_ui(get_assistant)
    try:
        job = Client(url, verbose=False).submit(KHAMENEI, [], *NO_FILTERS, api_name="/respond")
        deadline = time.monotonic() + 30
        while not job.outputs():
            assert time.monotonic() < deadline and not job.done()
            time.sleep(0.05)
        chat, sources, _ = job.outputs()[0]
        assert text_of(chat[-1]) == "Loading the model and index…"
        assert sources == app.LOADING_SOURCES
        ready.set()
        chat, sources, _ = job.result(timeout=60)
        assert PHRASE in text_of(chat[-1])
        assert KHAMENEI_FILE in sources
    finally:
        ready.set()
        demo.close()


# -- the HTML and Markdown built from article text ---------------------------------------------------------
def test_context_html_escapes_article_text_and_marks_only_the_quote():
    text = "<b>Intro</b> & more. <script>alert(1)</script> said it. The end <img src=x onerror=alert(2)>"
    start = text.index("<script>")
    end = text.index(" The end")
    assert render.context_html(text, start, end) == (
        "&lt;b&gt;Intro&lt;/b&gt; &amp; more. <mark>&lt;script&gt;alert(1)&lt;/script&gt; said it.</mark>"
        " The end &lt;img src=x onerror=alert(2)&gt;")


def test_context_html_cuts_the_context_at_word_boundaries():
    words = " ".join(f"w{i:03d}" for i in range(200))        # 5 characters a word with its space
    start, end = words.index("w100"), words.index("w100") + 4
    html = render.context_html(words, start, end, chars=22)
    assert html == "…w096 w097 w098 w099 <mark>w100</mark> w101 w102 w103 w104…"


def test_sources_panel_escapes_metadata_and_refuses_script_urls():
    text = "Before. Quoted <i>words</i>. After."
    start, end = text.index("Quoted"), text.index(" After")
    meta = ArticleMeta(title="<script>x</script>", outlet="A & B", published=None, url="javascript:alert(1)")
    record = ArticleRecord("x.txt", "hash", text, meta, 1)
    quote = Quote(text[start:end], "x.txt", meta.title, meta.outlet, None, meta.url, start, end, 0.9)
    panel = render.sources_html(Answer("q", "a", False, [quote]), {"x.txt": record})
    assert "<script>" not in panel and "<i>" not in panel and "javascript:" not in panel
    assert 'A &amp; B, “&lt;script&gt;x&lt;/script&gt;” · <span class="dating">undated</span>' in panel
    assert "<mark>Quoted &lt;i&gt;words&lt;/i&gt;.</mark>" in panel


def test_chat_markdown_shows_article_text_literally():
    assert render.md_escape("*a* [b](http://x) <img src=x> $$ _c_ # d") == (
        r"\*a\* \[b\]\(http://x\) &lt;img src=x&gt; \$\$ \_c\_ \# d")
    assert render.chat_markdown(Answer("q", ABSTENTION, True, [])) == ABSTENTION


def test_a_follow_up_in_the_chat_is_made_standalone_and_shown(client):
    chat, _, _ = client.predict(KHAMENEI, [], *NO_FILTERS, api_name="/respond")
    chat, sources, _ = client.predict("What did he say about the US?", chat, *NO_FILTERS, api_name="/respond")
    reply = text_of(chat[-1])
    assert reply.startswith("_Searched for: What did Khamenei say about the US?_")
    assert "accused the United States" in reply and "<mark>" in sources


def test_chat_filters_limit_the_articles_quoted(client):
    only = "003_8248b2237cdcb8a2.txt"
    chat, sources, _ = client.predict("Who killed Soleimani?", [], [], [only], "", "", "Answer", api_name="/respond")
    assert "President Trump killed" in text_of(chat[-1])
    assert only in sources and "004_9f3c536fd21fedea.txt" not in sources
    chat, _, _ = client.predict("Who killed Soleimani?", [], [], [], "2025-01-01", "", "Answer", api_name="/respond")
    assert text_of(chat[-1]) == "No article matches these filters \\(5 articles have no known date\\)."


def test_timeline_view_in_the_chat(client):
    chat, sources, _ = client.predict("How many factions are ready to disarm?", [], [], [], "", "", "Timeline",
                                      api_name="/respond")
    reply = text_of(chat[-1])
    assert reply.startswith("undated — ") and "<mark>" in sources
    assert "The quoted sources do not contradict each other on figures or stance." in reply
