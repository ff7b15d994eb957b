"""News analyst assistant: the web UI (``python app.py [serve]``); ``python app.py COMMAND`` runs
the command line (``cli.py``). The logic lives in ``retrieval/``, the answers' text, Markdown and HTML
in ``retrieval/present/render.py``. Importing this module starts nothing and does not import Gradio
(only the serve path does), so the command line starts without it."""
from __future__ import annotations

import sys
import tempfile
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from prompts import LOADING
from retrieval.errors import AssistantError
from retrieval.present.export import write_brief
from retrieval.present.render import (EMPTY_SOURCES, SOURCES_CSS, chat_markdown, md_escape, md_unescape, message_text,
                                      panel, sources_html)
from retrieval.search.filters import Filters
from retrieval.settings import Settings
from retrieval.text.question import clean_question

if TYPE_CHECKING:
    import gradio as gr

    from retrieval.assistant import Assistant

TITLE = "News analyst assistant"
DRAFTING = "_Writing… quotes are shown once they are checked against the articles._"
EXAMPLES = [
    "What did Khamenei say about the Popular Mobilization Forces?",
    "How many fighters do the hardline militias have?",
    "Which militias refuse to disarm?",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl", ".json")
MAX_QUESTION_CHARS = Settings.model_fields["max_question_chars"].default

GetAssistant = Callable[[], "Assistant"]
LOADING_SOURCES = panel(f'<p class="hint">{LOADING}</p>')


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


class Handlers:
    """The UI's event handlers. ``get_assistant`` returns the assistant, waiting for it if it is
    still loading; while it waits the chat shows a loading status."""

    def __init__(self, get_assistant: GetAssistant, max_chars: int):
        self.get_assistant = get_assistant
        self.max_chars = max_chars

    def respond(self, message: str, history: list, outlets: list | None = None, articles: list | None = None,
                since: str | None = None, until: str | None = None, view: str = "Answer",
                answered: list | None = None):
        import gradio as gr

        history = list(history or [])
        try:
            question = clean_question(message, self.max_chars)
        except AssistantError as err:
            # A toast, not gr.Error (which would cover the chat and the Sources panel with "Error");
            # the question stays in the textbox to be fixed.
            gr.Warning(str(err))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        earlier = [md_unescape(message_text(m)) for m in history if m.get("role") == "user"]
        history.append({"role": "user", "content": md_escape(question)})
        pending = _in_background(self.get_assistant)
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

    def export(self, answered: list | None):
        """The conversation as brief.md and brief.json, to download."""
        import gradio as gr

        if not answered:
            gr.Warning("Ask a question first: the brief holds the conversation's answers.")
            return gr.skip()
        files = write_brief(str(Path(tempfile.mkdtemp(prefix="brief-")) / "brief.md"), answered)
        return gr.update(value=[str(p) for p in files], visible=True)

    def ask(self, question: str) -> dict:
        """Answer a question from the articles: the answer text and its verbatim, attributed quotes."""
        import gradio as gr

        try:
            return self.get_assistant().ask(question).to_dict()
        except AssistantError as err:
            raise gr.Error(str(err), print_exception=False) from None

    def add_articles(self, files: list | None):
        """Copy uploaded files into the corpus and index them (no files: re-scan the corpus folder)."""
        import gradio as gr

        paths = [Path(f if isinstance(f, str) else f.name) for f in files or []]
        try:
            report = self.get_assistant().ingest(paths or None)
        except AssistantError as err:
            return md_escape(str(err)), gr.skip(), gr.skip()
        return (md_escape(report.summary()).replace("\n", "  \n"), *self.filter_choices())

    def rescan(self):      # no files: re-scan the corpus folder
        return self.add_articles(None)

    def filter_choices(self):
        """The outlets and articles to filter by, once the index is loaded."""
        import gradio as gr

        try:
            articles = self.get_assistant().snapshot.articles
        except AssistantError:
            return gr.skip(), gr.skip()
        outlets = sorted({r.meta.outlet for r in articles.values() if r.meta.outlet})
        return gr.update(choices=outlets), gr.update(choices=sorted(articles))

    def pick_example(self, evt) -> str:
        return evt.value["text"]


def cleared() -> tuple[str, list]:
    return EMPTY_SOURCES, []


def _chat_column(gr) -> dict:
    """The chat, the question box and the panels under it."""
    ui = {"chatbot": gr.Chatbot(label="Chat", elem_id="chat", height=560, latex_delimiters=[],
                                examples=[{"text": q} for q in EXAMPLES], feedback_options=None,
                                buttons=["copy", "copy_all"],
                                placeholder="Ask about the articles, or try one of these questions:"),
          "question": gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                 elem_id="question", submit_btn="Ask", autofocus=True, max_lines=4),
          "view": gr.Radio(["Answer", "Timeline"], value="Answer", label="View", elem_id="view",
                           info="Timeline: quotes by publication date, by source, with disagreements flagged")}
    with gr.Accordion("Filters", open=False, elem_id="filters"):
        with gr.Row():
            ui["outlets"] = gr.Dropdown(label="Outlets", choices=[], multiselect=True, elem_id="f-outlets",
                                        allow_custom_value=True)
            ui["articles"] = gr.Dropdown(label="Articles", choices=[], multiselect=True, elem_id="f-articles",
                                         allow_custom_value=True)
        with gr.Row():
            ui["since"] = gr.Textbox(label="Published since", placeholder="2025-01-01", elem_id="f-since")
            ui["until"] = gr.Textbox(label="Published until", placeholder="2025-12-31", elem_id="f-until")
        gr.Markdown("Articles whose date is unknown are named in the answer when a date filter leaves them out.")
    with gr.Row():
        ui["export"] = gr.Button("Export brief", elem_id="export", size="sm")
        ui["brief"] = gr.File(label="Brief (Markdown and JSON)", file_count="multiple", interactive=False,
                              elem_id="brief", visible=False)
    with gr.Accordion("Add articles", open=False, elem_id="add-articles"):
        ui["uploads"] = gr.File(label="Drop articles here (.txt, .md, .html, .pdf, .jsonl, .json)",
                                file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload", height=120)
        ui["rescan"] = gr.Button("Re-scan the corpus folder", size="sm", elem_id="rescan")
        ui["ingest_status"] = gr.Markdown(elem_id="ingest-status")
    return ui


def build_ui(get_assistant: GetAssistant, max_chars: int = MAX_QUESTION_CHARS) -> gr.Blocks:
    """The chat UI and the ``ask`` API endpoint."""
    import gradio as gr

    handlers = Handlers(get_assistant, max_chars)
    # A real class, not a postponed annotation string: Gradio reads the hint to pass the clicked example.
    Handlers.pick_example.__annotations__["evt"] = gr.SelectData
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nAnswers are verbatim quotes from the loaded news articles, each attributed "
                    "to its source. When the articles do not answer a question, the assistant says so.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                ui = _chat_column(gr)
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(EMPTY_SOURCES, elem_id="sources", css_template=SOURCES_CSS,
                                  js_on_load=None, max_height=640, padding=True, container=True)
        answered = gr.State([])    # this session's Answer objects, for the brief
        outputs = [ui["chatbot"], sources, ui["question"], answered]
        inputs = [ui[k] for k in ("question", "chatbot", "outlets", "articles", "since", "until", "view")] + [answered]
        choices = [ui["ingest_status"], ui["outlets"], ui["articles"]]
        ui["question"].submit(handlers.respond, inputs, outputs, api_name="respond", api_visibility="undocumented")
        ui["chatbot"].example_select(handlers.pick_example, None, ui["question"], api_visibility="private",
                                     queue=False).then(handlers.respond, inputs, outputs, api_visibility="private")
        demo.load(handlers.filter_choices, None, choices[1:], api_visibility="private")
        ui["chatbot"].clear(cleared, None, [sources, answered], api_visibility="private", queue=False)
        ui["export"].click(handlers.export, answered, ui["brief"], api_visibility="private")
        ui["uploads"].upload(handlers.add_articles, ui["uploads"], choices, api_visibility="private")
        ui["rescan"].click(handlers.rescan, None, choices, api_visibility="private")
        gr.api(handlers.ask, api_name="ask")
    # Two workers, as the machine has two cores: answering is CPU-bound (embedding the question,
    # scoring chunks), so more parallel workers only slow each other down; more requests wait in
    # the queue (bounded, so an overloaded server says so instead of piling up work).
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Serve the UI at once; the model and index load in the background."""
    from retrieval.assistant import Warmup, default_assistant

    warmup = Warmup(lambda: default_assistant(settings))
    demo = build_ui(warmup, settings.max_question_chars)
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


if __name__ == "__main__":
    from cli import run

    sys.exit(run(serve=serve))
