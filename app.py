"""News analyst assistant: the command line and the web UI.

Wiring only: the logic lives in ``retrieval/``, the text, Markdown and HTML of answers in ``retrieval/render.py``.

    python app.py                          serve the web UI (same as ``serve``)
    python app.py serve [--host H] [--port P]
    python app.py ingest [PATHS ...]       index the corpus folder (or add files to it)
    python app.py search "query" [--k 5] [--json]
    python app.py ask "question" [--json]
    python app.py ask [--json] --file questions.txt   (one question a line; ``-`` reads stdin)

Importing this module starts nothing. Gradio is imported only on the serve path, and the
embedding model only when a command needs it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import traceback
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from retrieval.errors import AssistantError
from retrieval.present.render import (EMPTY_SOURCES, SOURCES_CSS, chat_markdown, chunk_dict, format_answer, format_chunks,
                                      md_escape, md_unescape, message_text, panel, sources_html)
from retrieval.search.filters import Filters, resolve
from retrieval.settings import Settings
from retrieval.text.question import clean_question
from retrieval.types import Answer

if TYPE_CHECKING:
    import gradio as gr

    from retrieval.assistant import Assistant

TITLE = "News analyst assistant"
LOADING = "Loading the model and index…"
DRAFTING = "_Writing… quotes are shown once they are checked against the articles._"
EXAMPLES = [
    "What did Khamenei say about the Popular Mobilization Forces?",
    "How many fighters do the hardline militias have?",
    "Which militias refuse to disarm?",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl", ".json")

GetAssistant = Callable[[], "Assistant"]
LOADING_SOURCES = panel(f'<p class="hint">{LOADING}</p>')


# -- the web UI ---------------------------------------------------------------------------------------------
class Warmup:
    """Builds the assistant in a background thread, so the page is served at once; calling the
    object waits until the assistant is ready and returns it."""

    def __init__(self, factory: GetAssistant | None = None):
        if factory is None:
            from retrieval.assistant import default_assistant as factory
        self._factory = factory
        self._assistant: Assistant | None = None
        self._done = threading.Event()

    def start(self) -> "Warmup":
        threading.Thread(target=self._run, name="warmup", daemon=True).start()
        return self

    def _run(self) -> None:
        print(LOADING, flush=True)
        try:
            self._assistant = self._factory()
            print(f"Ready: {len(self._assistant.snapshot.articles)} articles indexed.", flush=True)
        except AssistantError as err:
            print(f"The assistant could not start: {err}", file=sys.stderr, flush=True)
        except Exception:  # unexpected: keep the server up, show the trace on the console
            traceback.print_exc()
        finally:
            self._done.set()

    def __call__(self) -> Assistant:
        self._done.wait()
        if self._assistant is None:     # the warm-up failed: try again (e.g. the index was busy)
            self._assistant = self._factory()
        return self._assistant


def _in_background(fn: Callable) -> Future:
    """``fn()`` running in a daemon thread (which never holds up the exit of the server)."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as err:  # handed to whoever waits on the future
            future.set_exception(err)

    threading.Thread(target=run, daemon=True).start()
    return future


def build_ui(get_assistant: GetAssistant) -> gr.Blocks:
    """The chat UI and the ``ask`` API endpoint. ``get_assistant`` returns the assistant, waiting
    for it if it is still loading; while it waits the chat shows a loading status."""
    import gradio as gr

    max_chars = Settings().max_question_chars

    def respond(message: str, history: list, outlets: list | None = None, articles: list | None = None,
                since: str | None = None, until: str | None = None, view: str = "Answer",
                answered: list | None = None):
        history = list(history or [])
        try:
            question = clean_question(message, max_chars)
        except AssistantError as err:
            # A toast, not gr.Error (which would cover the chat and the Sources panel with "Error");
            # the question stays in the textbox to be fixed.
            gr.Warning(str(err))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        earlier = [md_unescape(message_text(m)) for m in history if m.get("role") == "user"]
        history.append({"role": "user", "content": md_escape(question)})
        pending = _in_background(get_assistant)
        try:
            try:
                assistant = pending.result(timeout=0.2)
            except FutureTimeout:
                yield history + [{"role": "assistant", "content": LOADING}], LOADING_SOURCES, "", gr.skip()
                assistant = pending.result()
            filters = Filters.of(outlets or (), articles or (), since or None, until or None)
            if view == "Timeline" or assistant.llm is None:
                answer = assistant.ask(question, earlier, filters, mode="timeline" if view == "Timeline" else "answer")
            else:   # a language model writes: show its claims as they come, quotes once verified
                for item in assistant.stream(question, earlier, filters):
                    if isinstance(item, str):
                        draft = md_escape(item) + "\n\n" + DRAFTING if item else DRAFTING
                        yield history + [{"role": "assistant", "content": draft}], gr.skip(), "", gr.skip()
                    else:
                        answer = item
        except AssistantError as err:
            yield history + [{"role": "assistant", "content": md_escape(str(err))}], EMPTY_SOURCES, "", gr.skip()
            return
        history.append({"role": "assistant", "content": chat_markdown(answer)})
        yield history, sources_html(answer, assistant.snapshot.articles), "", list(answered or []) + [answer]

    def export(answered: list | None):
        """The conversation as brief.md and brief.json, to download."""
        if not answered:
            gr.Warning("Ask a question first: the brief holds the conversation's answers.")
            return gr.skip()
        files = write_brief(str(Path(tempfile.mkdtemp(prefix="brief-")) / "brief.md"), answered)
        return gr.update(value=[str(p) for p in files], visible=True)

    def ask(question: str) -> dict:
        """Answer a question from the articles: the answer text and its verbatim, attributed quotes."""
        try:
            return get_assistant().ask(question).to_dict()
        except AssistantError as err:
            raise gr.Error(str(err), print_exception=False) from None

    def add_articles(files: list | None):
        """Copy uploaded files into the corpus and index them (no files: re-scan the corpus folder)."""
        paths = [Path(f if isinstance(f, str) else f.name) for f in files or []]
        try:
            report = get_assistant().ingest(paths or None)
        except AssistantError as err:
            return md_escape(str(err)), gr.skip(), gr.skip()
        return (md_escape(report.summary()).replace("\n", "  \n"), *filter_choices())

    def filter_choices():
        """The outlets and articles to filter by, once the index is loaded."""
        try:
            articles = get_assistant().snapshot.articles
        except AssistantError:
            return gr.skip(), gr.skip()
        outlets = sorted({r.meta.outlet for r in articles.values() if r.meta.outlet})
        return gr.update(choices=outlets), gr.update(choices=sorted(articles))

    def pick_example(evt) -> str:
        return evt.value["text"]
    # A real class, not a postponed annotation string: Gradio reads the hint to pass the clicked example.
    pick_example.__annotations__["evt"] = gr.SelectData

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nAnswers are verbatim quotes from the loaded news articles, each attributed "
                    "to its source. When the articles do not answer a question, the assistant says so.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(label="Chat", elem_id="chat", height=560, latex_delimiters=[],
                                     examples=[{"text": q} for q in EXAMPLES], feedback_options=None,
                                     buttons=["copy", "copy_all"],
                                     placeholder="Ask about the articles, or try one of these questions:")
                question = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                      elem_id="question", submit_btn="Ask", autofocus=True, max_lines=4)
                view = gr.Radio(["Answer", "Timeline"], value="Answer", label="View", elem_id="view",
                                info="Timeline: quotes by publication date, by source, with disagreements flagged")
                with gr.Accordion("Filters", open=False, elem_id="filters"):
                    with gr.Row():
                        outlet_filter = gr.Dropdown(label="Outlets", choices=[], multiselect=True, elem_id="f-outlets",
                                                    allow_custom_value=True)
                        article_filter = gr.Dropdown(label="Articles", choices=[], multiselect=True,
                                                     elem_id="f-articles", allow_custom_value=True)
                    with gr.Row():
                        since_filter = gr.Textbox(label="Published since", placeholder="2025-01-01", elem_id="f-since")
                        until_filter = gr.Textbox(label="Published until", placeholder="2025-12-31", elem_id="f-until")
                    gr.Markdown("Articles whose date is unknown are named in the answer when a date filter leaves them out.")
                with gr.Row():
                    export_button = gr.Button("Export brief", elem_id="export", size="sm")
                    brief_files = gr.File(label="Brief (Markdown and JSON)", file_count="multiple",
                                          interactive=False, elem_id="brief", visible=False)
                with gr.Accordion("Add articles", open=False, elem_id="add-articles"):
                    uploads = gr.File(label="Drop articles here (.txt, .md, .html, .pdf, .jsonl, .json)",
                                      file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload",
                                      height=120)
                    rescan_button = gr.Button("Re-scan the corpus folder", size="sm", elem_id="rescan")
                    ingest_status = gr.Markdown(elem_id="ingest-status")
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(EMPTY_SOURCES, elem_id="sources", css_template=SOURCES_CSS,
                                  js_on_load=None, max_height=640, padding=True, container=True)
        answered = gr.State([])    # this session's Answer objects, for the brief
        outputs = [chatbot, sources, question, answered]
        inputs = [question, chatbot, outlet_filter, article_filter, since_filter, until_filter, view, answered]
        question.submit(respond, inputs, outputs, api_name="respond", api_visibility="undocumented")
        chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(
            respond, inputs, outputs, api_visibility="private")
        demo.load(filter_choices, None, [outlet_filter, article_filter], api_visibility="private")
        chatbot.clear(lambda: (EMPTY_SOURCES, []), None, [sources, answered], api_visibility="private", queue=False)
        export_button.click(export, answered, brief_files, api_visibility="private")
        uploads.upload(add_articles, uploads, [ingest_status, outlet_filter, article_filter], api_visibility="private")
        rescan_button.click(lambda: add_articles(None), None, [ingest_status, outlet_filter, article_filter],
                            api_visibility="private")
        gr.api(ask, api_name="ask")

    # Two workers, as the machine has two cores: answering is CPU-bound (embedding the question,
    # scoring chunks), so more parallel workers only slow each other down; more requests wait in
    # the queue (bounded, so an overloaded server says so instead of piling up work).
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def serve(host: str | None, port: int | None) -> int:
    """Serve the UI at once; the model and index load in the background."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = Settings()
    warmup = Warmup()
    demo = build_ui(warmup)
    host, port = host or settings.host, port or settings.port
    auth = (settings.auth_user, settings.auth_password.get_secret_value()) \
        if settings.auth_user and settings.auth_password else None
    if host not in LOOPBACK and auth is None:
        print(f"Warning: serving on {host} without a login: anyone who can reach this machine can read the "
              "articles and upload files. Set QA_AUTH_USER and QA_AUTH_PASSWORD, or serve on 127.0.0.1.",
              file=sys.stderr)
    try:
        demo.launch(server_name=host, server_port=port, prevent_thread_lock=True,
                    max_file_size=settings.max_file_bytes, auth=auth)
    except OSError:
        print(f"Cannot serve on {host}:{port}: the port is in use or the address is not available here. "
              "Choose another with --host/--port.", file=sys.stderr)
        return 2
    warmup.start()
    demo.block_thread()
    return 0


# -- the command line ---------------------------------------------------------------------------------------
def _default_assistant() -> Assistant:
    from retrieval.assistant import default_assistant

    return default_assistant()


def _fresh_assistant() -> Assistant:
    from retrieval.assistant import Assistant

    return Assistant(Settings())


def cmd_ingest(args, get_assistant: GetAssistant | None) -> int:
    from tqdm import tqdm

    assistant = (get_assistant or _fresh_assistant)()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="Embedding")
        bar.update(done - bar.n)

    try:
        report = assistant.ingest([Path(p) for p in args.paths] or None, progress)
    finally:
        if bar is not None:
            bar.close()
    print(report.summary())
    return 1 if report.failed else 0


def cmd_search(args, get_assistant: GetAssistant | None) -> int:
    query = clean_question(args.query, Settings().max_question_chars)
    assistant = (get_assistant or _default_assistant)()
    scope = resolve(filters_of(args), assistant.snapshot.articles) if filters_of(args).active else None
    retriever = assistant.retriever
    if args.k > retriever.k:
        retriever = retriever.model_copy(update={"k": args.k})
    docs = retriever.documents(query, scope.sources if scope else None)[:args.k]
    if args.json:
        print(json.dumps([chunk_dict(d) for d in docs], ensure_ascii=False, indent=2))
    else:
        print(format_chunks(docs))
    return 0


def mode_of(args) -> str:
    return "timeline" if getattr(args, "timeline", False) else "answer"


def filters_of(args) -> Filters:
    return Filters.of(args.outlet, args.source, args.since, args.until)


def _questions(stream) -> Iterable[str]:
    """The non-blank lines of ``stream``."""
    for line in stream:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def cmd_ask(args, get_assistant: GetAssistant | None) -> int:
    if args.file is None:
        clean_question(args.question, Settings().max_question_chars)   # fail fast, before loading the model
        filters = filters_of(args)   # checked before the model loads
        answer = (get_assistant or _default_assistant)().ask(args.question, filters=filters, mode=mode_of(args))
        print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else format_answer(answer))
        write_brief(args.export, [answer])
        return 0
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8-sig")  # before the model loads
    answered: list[Answer] = []
    try:
        code = _ask_batch(stream, args.json, (get_assistant or _default_assistant)(), filters_of(args), answered,
                          mode_of(args))
    finally:
        if stream is not sys.stdin:
            stream.close()
    write_brief(args.export, answered)
    return code


def write_brief(path: str | None, answers: list[Answer]) -> list[Path]:
    """``brief.md`` and ``brief.json`` side by side (whichever of the two names is given)."""
    if not path:
        return []
    from retrieval.present.export import brief_json, brief_markdown

    base = Path(path).with_suffix("")
    written = [base.with_suffix(".md"), base.with_suffix(".json")]
    written[0].write_text(brief_markdown(answers), encoding="utf-8")
    written[1].write_text(brief_json(answers), encoding="utf-8")
    print(f"Brief written to {written[0]} and {written[1]}.", file=sys.stderr)
    return written


def _ask_batch(stream, as_json: bool, assistant: Assistant, filters: Filters, answered: list[Answer],
               mode: str = "answer") -> int:
    """One answer per question line; a bad question is reported and the batch goes on (exit code 1).
    The answers are appended to ``answered``."""
    failures = 0
    for n, question in enumerate(_questions(stream)):
        try:
            answer = assistant.ask(question, filters=filters, mode=mode)
        except AssistantError as err:
            failures += 1
            out = {"question": question, "error": str(err)} if as_json else f"Q: {question}\nError: {err}"
        else:
            answered.append(answer)
            out = answer.to_dict() if as_json else f"Q: {answer.question}\n{format_answer(answer)}"
        if as_json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(("\n" if n else "") + out, flush=True)
    return 1 if failures else 0


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (articles with no known date are reported, not hidden)")
    group.add_argument("--outlet", action="append", default=[], help="only this outlet (repeatable)")
    group.add_argument("--source", action="append", default=[], metavar="FILE", help="only this article file (repeatable)")
    group.add_argument("--since", metavar="DATE", help="published on or after DATE (2025-03-01)")
    group.add_argument("--until", metavar="DATE", help="published on or before DATE")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description=f"{TITLE}: verbatim, attributed answers from "
                                     "the news articles in the corpus folder. Without a command, serves the web UI.")
    llm_help = ("phrase answers with a chat model: ollama:<model>, openai:<model> (QA_LLM_BASE_URL) or gguf:<path>; "
                "its quotes are verified like all others (default: QA_LLM, else extractive)")
    parser.add_argument("--llm", metavar="BACKEND:MODEL", help=llm_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve_p = commands.add_parser("serve", help="serve the web UI (the default)")
    serve_p.add_argument("--host", help="interface to listen on (default: QA_HOST or 127.0.0.1)")
    serve_p.add_argument("--port", type=_positive, help="port (default: QA_PORT or 7860)")
    serve_p.add_argument("--llm", metavar="BACKEND:MODEL", default=argparse.SUPPRESS, help=llm_help)

    ingest_p = commands.add_parser("ingest", help="index the corpus folder, or copy PATHS into it and index them")
    ingest_p.add_argument("paths", nargs="*", metavar="PATHS", help=".txt or .md article files")
    ingest_p.set_defaults(run=cmd_ingest)

    search_p = commands.add_parser("search", help="show the passages retrieved for a query")
    search_p.add_argument("query")
    search_p.add_argument("--k", type=_positive, default=5, help="how many passages to show (default 5)")
    search_p.add_argument("--json", action="store_true", help="print a JSON list")
    add_filter_options(search_p)
    search_p.set_defaults(run=cmd_search)

    ask_p = commands.add_parser("ask", help="answer a question with verbatim quotes")
    which = ask_p.add_mutually_exclusive_group(required=True)
    which.add_argument("question", nargs="?", help="the question")
    which.add_argument("--file", metavar="FILE", help="one question a line ('-' reads stdin)")
    ask_p.add_argument("--json", action="store_true", help="print JSON (one object a line with --file)")
    ask_p.add_argument("--llm", metavar="BACKEND:MODEL", default=argparse.SUPPRESS, help=llm_help)
    ask_p.add_argument("--timeline", action="store_true", help="quotes by publication date and source, with the "
                                                               "points where sources disagree")
    ask_p.add_argument("--export", metavar="BRIEF.md", help="also write the questions, answers and quotes to "
                                                            "BRIEF.md and BRIEF.json")
    add_filter_options(ask_p)
    ask_p.set_defaults(run=cmd_ask)
    return parser


def main(argv: list[str] | None = None, get_assistant: GetAssistant | None = None) -> int:
    """Run one command; returns the exit code. ``get_assistant`` replaces the default assistant
    (the corpus and index of ``Settings()``)."""
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    # Quiet library progress bars (model loading): the output is the answer. Nothing is downloaded.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.llm:
        os.environ["QA_LLM"] = args.llm   # read by Settings() when the assistant is built
    try:
        if args.command in (None, "serve"):
            return serve(getattr(args, "host", None), getattr(args, "port", None))
        return args.run(args, get_assistant)
    except AssistantError as err:
        print(err, file=sys.stderr)
        return 2
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in err.errors())
        print(f"Invalid setting ({problems}).", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print("The questions file is not UTF-8 text.", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except OSError as err:     # e.g. a questions file cannot be read, the port is taken
        print(f"{err.filename}: {err.strerror}." if err.filename and err.strerror else err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:      # e.g. ``python app.py search ... | head``
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    sys.exit(code)
