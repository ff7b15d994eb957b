"""The command line: ``python app.py ...`` as a user runs it (subprocesses on their own temporary
index), and the same commands in-process on the shared assistant for the cheaper checks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

import cli
from bench.load import stop_app
from prompts import ABSTENTION
from retrieval.assistant import Assistant
from retrieval.present import render
from retrieval.types import Answer, Quote
from tests.conftest import CORPUS, ROOT, free_port

KHAMENEI = "What did Khamenei say about the Popular Mobilization Forces?"
OFF_TOPIC = "Who won the 2022 FIFA World Cup?"
ANSWER_KEYS = {"question": str, "answer": str, "abstained": bool, "quotes": list}
QUOTE_KEYS = {"text": str, "source": str, "title": (str, type(None)), "outlet": (str, type(None)),
              "published": (str, type(None)), "url": (str, type(None)), "start": int, "end": int, "score": float,
              "label": str}
OPTIONAL_QUOTE_KEYS = {"author": str, "mentions_until": str}     # only when known
CHUNK_KEYS = {"text", "source", "start", "end", "title", "outlet", "published", "url", "score"}


def article(source: str) -> str:
    return (CORPUS / source).read_bytes().decode("utf-8-sig")


def assert_answer_contract(data: dict) -> None:
    assert set(data) == set(ANSWER_KEYS)
    for key, kind in ANSWER_KEYS.items():
        assert type(data[key]) is kind, key
    for quote in data["quotes"]:
        assert set(QUOTE_KEYS) <= set(quote) <= set(QUOTE_KEYS) | set(OPTIONAL_QUOTE_KEYS)
        for key, kinds in {**QUOTE_KEYS, **OPTIONAL_QUOTE_KEYS}.items():
            assert key not in quote or isinstance(quote[key], kinds) and not isinstance(quote[key], bool), key
        assert article(quote["source"])[quote["start"]:quote["end"]] == quote["text"]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict:
    """The environment of the subprocesses: their own index folder (built by the first command)."""
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path_factory.mktemp("cli-index")), PYTHONUNBUFFERED="1")
    env.pop("QA_CORPUS_DIR", None)
    return env


def run(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
                          text=True, timeout=300)


# -- as a user runs it -------------------------------------------------------------------------------------
def test_ask_json_prints_the_answer_contract_with_verbatim_quotes(cli_env):
    done = run(cli_env, "ask", "--json", KHAMENEI)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert_answer_contract(data)
    assert data["question"] == KHAMENEI
    assert data["abstained"] is False
    assert any(q["source"] == "004_9f3c536fd21fedea.txt" and "must be preserved and strengthened" in q["text"]
               for q in data["quotes"])
    for n, quote in enumerate(data["quotes"], start=1):
        assert f"“{quote['text']}” [{n}]" in data["answer"] or f"‘{quote['text']}’ [{n}]" in data["answer"]


def test_ask_batch_reads_stdin_one_json_object_a_line_and_skips_blank_lines(cli_env):
    done = run(cli_env, "ask", "--json", "--file", "-", stdin=f"{KHAMENEI}\n\n{OFF_TOPIC}\n")
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert_answer_contract(first)
    assert_answer_contract(second)
    assert (first["question"], first["abstained"]) == (KHAMENEI, False)
    assert second == {"question": OFF_TOPIC, "answer": ABSTENTION, "abstained": True, "quotes": []}


def test_an_empty_question_exits_2_with_one_sentence_on_stderr(cli_env):
    done = run(cli_env, "ask", "")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "Please type a question.\n")


def test_search_json_lists_k_retrieved_chunks(cli_env):
    done = run(cli_env, "search", "Kataib Hezbollah", "--k", "3", "--json")
    assert done.returncode == 0, done.stderr
    chunks = json.loads(done.stdout)
    assert len(chunks) == 3
    for chunk in chunks:
        assert set(chunk) == CHUNK_KEYS
        assert article(chunk["source"])[chunk["start"]:chunk["end"]] == chunk["text"]
    assert [c["score"] for c in chunks] == sorted((c["score"] for c in chunks), reverse=True)


def test_serve_answers_the_page_before_the_model_is_loaded_then_answers(cli_env, tmp_path):
    """Cold start: the page is up while the model still loads; a question then gets its answer."""
    from gradio_client import Client

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "app.py", "serve", "--port", str(port)], cwd=ROOT, env=cli_env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.25)
        assert "Ready:" not in log.read_text()          # the page came first
        data = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(KHAMENEI, api_name="/ask")
        assert_answer_contract(data)
        assert any("must be preserved and strengthened" in q["text"] for q in data["quotes"])
        assert "Loading the model and index…\nReady: 5 articles indexed.\n" in log.read_text()
    finally:
        stop_app(server)


# -- in-process, on the shared assistant -------------------------------------------------------------------
def test_ask_prints_the_answer_then_one_citation_per_quote(assistant, capsys):
    assert cli.main(["ask", KHAMENEI], get_assistant=lambda: assistant) == 0
    answer = assistant.ask(KHAMENEI)
    cites = [render.citation(n, q) for n, q in enumerate(answer.quotes, start=1)]  # format: the test below
    assert capsys.readouterr().out == "\n".join([answer.answer, "", *cites]) + "\n"


def test_citations_name_outlet_label_author_and_an_honest_date():
    quotes = [Quote("A.", "a.txt", "A title", "Defence Talks", "2025-06-14", "https://example.org/a", 0, 2, 0.9,
                    "“A title”", "Jo Roe"),
              Quote("B.", "b.txt", None, None, None, None, 5, 7, 0.8, "“Forty factions of the…” (opening words)",
                    None, "2025-03-02"),
              Quote("C.", "c.txt", None, None, None, None, 10, 12, 0.7)]
    text = render.format_answer(Answer("q", "The answer.", False, quotes))
    assert text == ("The answer.\n\n"
                    "[1] Defence Talks, “A title”, by Jo Roe, 2025-06-14 — a.txt:0-2 https://example.org/a\n"
                    "[2] “Forty factions of the…” (opening words), undated; mentions events up to 2025-03-02 — b.txt:5-7\n"
                    "[3] c.txt, undated — c.txt:10-12")


def test_ask_an_abstention_prints_only_the_abstention(assistant, capsys):
    assert cli.main(["ask", OFF_TOPIC], get_assistant=lambda: assistant) == 0
    assert capsys.readouterr().out == ABSTENTION + "\n"


def test_batch_reports_a_bad_question_and_goes_on_with_exit_code_1(assistant, tmp_path, capsys):
    long_question = "why " * 300
    questions = tmp_path / "questions.txt"
    questions.write_text(f"{long_question}\n  \n{OFF_TOPIC}\n", encoding="utf-8")
    assert cli.main(["ask", "--json", "--file", str(questions)], get_assistant=lambda: assistant) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first == {"question": long_question, "error": "The question is 1,199 characters long; the limit is "
                                                         "1,000. Please ask a shorter question."}
    assert second == {"question": OFF_TOPIC, "answer": ABSTENTION, "abstained": True, "quotes": []}


def test_a_missing_questions_file_exits_2_before_loading_anything(tmp_path, capsys):
    def never():
        raise AssertionError("the assistant must not be built")

    missing = tmp_path / "nope.txt"
    assert cli.main(["ask", "--file", str(missing)], get_assistant=never) == 2
    assert capsys.readouterr().err == f"{missing}: No such file or directory.\n"


def test_a_bad_filter_stops_a_batch_once_before_loading_anything(tmp_path, capsys):
    def never():
        raise AssertionError("the assistant must not be built")

    questions = tmp_path / "questions.txt"
    questions.write_text(f"{KHAMENEI}\n{OFF_TOPIC}\n", encoding="utf-8")
    assert cli.main(["ask", "--file", str(questions), "--since", "soon"], get_assistant=never) == 2
    assert capsys.readouterr() == ("", "since 'soon' is not a date; write it as 2025-03-01.\n")


def test_search_prints_numbered_passages(assistant, capsys):
    assert cli.main(["search", "Kataib Hezbollah", "--k", "2"], get_assistant=lambda: assistant) == 0
    out = capsys.readouterr().out
    docs = assistant.retriever.invoke("Kataib Hezbollah")[:2]
    assert out.startswith(f"[1] {docs[0].metadata['source']}:{docs[0].metadata['start']}-{docs[0].metadata['end']} — ")
    assert f"\n\n[2] {docs[1].metadata['source']}:" in out
    assert "[3]" not in out


def test_search_k_beyond_the_retriever_default_still_shows_k(assistant, capsys):
    k = assistant.retriever.k + 4
    assert cli.main(["search", "militias", "--k", str(k), "--json"], get_assistant=lambda: assistant) == 0
    assert len(json.loads(capsys.readouterr().out)) == k
    assert assistant.retriever.k == k - 4      # the shared retriever is left as it was


def test_ingest_shows_the_summary_and_exits_1_when_a_file_failed(make_assistant, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "004.txt").write_bytes((CORPUS / "004_9f3c536fd21fedea.txt").read_bytes())
    (corpus / "broken.txt").write_bytes(b"\x00\x01\x02 not text" * 20)
    built: Assistant = make_assistant(corpus)
    assert cli.main(["ingest"], get_assistant=lambda: built) == 1
    out = capsys.readouterr().out
    assert out.startswith("1 added, 0 updated, 0 unchanged, 0 removed, 0 duplicates, 1 failed, ")
    assert "\n  failed: broken.txt looks like a binary file, not text.\n" in out
    assert cli.main(["ingest"], get_assistant=lambda: built) == 1
    assert capsys.readouterr().out.startswith("0 added, 0 updated, 1 unchanged, ")


@pytest.mark.parametrize("argv", [["ask"], ["ask", "q", "--file", "-"], ["search", "q", "--k", "0"], ["nope"]])
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("usage: app.py")


def test_importing_app_starts_nothing_and_does_not_import_gradio():
    done = subprocess.run([sys.executable, "-c", "import sys, app; print('gradio' in sys.modules, "
                           "'sentence_transformers' in sys.modules, 'chromadb' in sys.modules)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "False False False\n"), done.stderr


def test_ask_export_writes_a_markdown_and_a_json_brief(assistant, tmp_path, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{KHAMENEI}\n{OFF_TOPIC}\n"))
    assert cli.main(["ask", "--file", "-", "--export", str(tmp_path / "brief.md")], get_assistant=lambda: assistant) == 0
    answers = [assistant.ask(KHAMENEI), assistant.ask(OFF_TOPIC)]
    data = json.loads((tmp_path / "brief.json").read_text(encoding="utf-8"))
    assert data == [a.to_dict() for a in answers]
    from retrieval.present.export import md_text

    brief = (tmp_path / "brief.md").read_text(encoding="utf-8")
    head, first = brief.split(f"## 1\\. {md_text(KHAMENEI)}\n\n")
    assert head.startswith("# Brief\n\nExported ") and head.endswith(" · 2 question(s) · Filters\\: none\n\n")
    assert first.startswith(f"{md_text(answers[0].answer)}\n\n**\\[1\\]** ")
    assert f"## 2\\. {md_text(OFF_TOPIC)}\n\n{md_text(ABSTENTION)}\n" in brief
    for quote in answers[0].quotes:
        assert f"> {md_text(quote.text)}" in brief
        assert md_text(f"{quote.source}, characters {quote.start}–{quote.end}") in brief
    assert capsys.readouterr().err == f"Brief written to {tmp_path / 'brief.md'} and {tmp_path / 'brief.json'}.\n"


def test_ask_explain_shows_the_policy_gates_as_json_and_as_text(assistant, capsys):
    assert cli.main(["ask", "--json", "--explain", KHAMENEI], get_assistant=lambda: assistant) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["explanation"]["decision"]["reason"] == "ANSWERED"
    assert {k: v for k, v in data.items() if k != "explanation"} == assistant.ask(KHAMENEI).to_dict()
    assert cli.main(["ask", "--explain", OFF_TOPIC], get_assistant=lambda: assistant) == 0
    out = capsys.readouterr().out
    assert out.startswith(render.format_answer(assistant.ask(OFF_TOPIC)) + "\n\nDecision: ")
