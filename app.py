"""News analyst assistant: the web UI (``python app.py [serve]``); ``python app.py COMMAND`` runs
the command line (``cli.py``). The logic lives in ``retrieval/``, the answers' text, Markdown and HTML
in ``retrieval/present/render.py``. Importing this module starts nothing and does not import Gradio
(only the serve path does), so the command line starts without it."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from prompts.templates import TITLE
from retrieval.auth import LoginThrottle, credentials
from retrieval.ingest.admission import SUPPORTED
from retrieval.ingest.metadata import FIELDS as META_FIELDS
from retrieval.present.browser import UI_JS
from retrieval.present.handlers import LOADING_SOURCES, GetAssistant, Handlers, cleared, no_filters  # noqa: F401
from retrieval.present.history import STORAGE_KEY, saved
from retrieval.present.render import EMPTY_SOURCES, SOURCES_CSS
from retrieval.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

EXAMPLES = [
    "What did Khamenei say about the Popular Mobilization Forces?",
    "How many fighters do the hardline militias have?",
    "Which militias refuse to disarm?",
]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
UPLOAD_TYPES = SUPPORTED     # the formats ingest reads, and no others
MAX_QUESTION_CHARS = Settings.model_fields["max_question_chars"].default


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
    ui["clear_filters"] = gr.Button("Clear the filters", elem_id="clear-filters", size="sm", visible=False)
    with gr.Row():
        ui["export"] = gr.Button("Export brief", elem_id="export", size="sm")
        ui["brief"] = gr.File(label="Brief (Markdown and JSON)", file_count="multiple", interactive=False,
                              elem_id="brief", visible=False)
    with gr.Accordion("Add articles", open=False, elem_id="add-articles"):
        ui["uploads"] = gr.File(label="Drop articles here (.txt, .md, .html, .pdf, .jsonl, .json)",
                                file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload", height=120)
        ui["rescan"] = gr.Button("Re-scan the corpus folder", size="sm", elem_id="rescan")
        ui["ingest_status"] = gr.Markdown(elem_id="ingest-status")
        with gr.Row():   # shown only when uploads have the names of articles already in the corpus
            ui["replace"] = gr.Button("Replace them", size="sm", variant="stop", elem_id="replace", visible=False)
            ui["keep_both"] = gr.Button("Keep both", size="sm", elem_id="keep-both", visible=False)
    with gr.Accordion("Article details", open=False, elem_id="article-details"):
        ui["meta_article"] = gr.Dropdown(label="Article", choices=[], elem_id="meta-article")
        ui["meta"] = [gr.Textbox(label=key.capitalize(), elem_id=f"meta-{key}", max_lines=1,
                                 placeholder="2025-03-01" if key == "published" else None) for key in META_FIELDS]
        ui["meta_save"] = gr.Button("Save details", size="sm", elem_id="meta-save")
        ui["meta_status"] = gr.Markdown(elem_id="meta-status")
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
                                  js_on_load=UI_JS, max_height=640, padding=True, container=True)
        answered = gr.State([])    # per assistant turn its Answer (None for an error): Sources, the brief
        kept = gr.BrowserState(saved([], []), storage_key=STORAGE_KEY)     # the conversation, across reloads
        outputs = [ui["chatbot"], sources, ui["question"], answered, ui["clear_filters"]]
        filters = [ui[k] for k in ("outlets", "articles", "since", "until")]
        inputs = [ui["question"], ui["chatbot"], *filters, ui["view"], answered]
        choices = [ui["outlets"], ui["articles"], ui["meta_article"]]
        private = {"api_visibility": "private"}
        ui["question"].submit(handlers.respond, inputs, outputs, api_name="respond", api_visibility="undocumented") \
            .then(saved, [ui["chatbot"], answered], kept, **private)
        ui["chatbot"].example_select(handlers.pick_example, None, ui["question"], queue=False, **private) \
            .then(handlers.respond, inputs, outputs, **private).then(saved, [ui["chatbot"], answered], kept, **private)
        demo.load(handlers.filter_choices, None, choices, **private)
        demo.load(handlers.restore, kept, [ui["chatbot"], sources, answered], **private)
        ui["chatbot"].clear(cleared, None, [ui["chatbot"], sources, answered, kept], queue=False, **private)
        ui["clear_filters"].click(no_filters, None, [*filters, ui["clear_filters"]], queue=False, **private)
        ui["export"].click(handlers.export, answered, ui["brief"], **private)
        pending = gr.State([])     # uploads waiting for "Replace them" or "Keep both"
        ingested = [ui["ingest_status"], *choices, pending, ui["replace"], ui["keep_both"]]

        def upload(files, progress=gr.Progress()):
            return handlers.add_articles(files, _progress(progress))

        def rescan(progress=gr.Progress()):
            return handlers.rescan(_progress(progress))

        def replace_them(waiting, progress=gr.Progress()):
            return handlers.resolve_pending(waiting, True, _progress(progress))

        def keep_both(waiting, progress=gr.Progress()):
            return handlers.resolve_pending(waiting, False, _progress(progress))

        ui["uploads"].upload(upload, ui["uploads"], ingested, **private)
        ui["rescan"].click(rescan, None, ingested, **private)
        ui["replace"].click(replace_them, pending, ingested, **private)
        ui["keep_both"].click(keep_both, pending, ingested, **private)
        ui["meta_article"].change(handlers.show_meta, ui["meta_article"], ui["meta"], **private)
        ui["meta_save"].click(handlers.save_meta, [ui["meta_article"], *ui["meta"]], [ui["meta_status"], *choices],
                              **private)
        gr.api(handlers.ask, api_name="ask")
    # Two workers, as the machine has two cores: answering is CPU-bound (embedding the question,
    # scoring chunks), so more parallel workers only slow each other down; more requests wait in
    # the queue (bounded, so an overloaded server says so instead of piling up work).
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def _progress(bar):
    """Ingest's ``(chunks committed, chunks to commit)`` shown on a Gradio progress bar."""
    return lambda done, total: bar((done, total), desc="Indexing", unit="chunks")


def login_throttle(settings: Settings) -> dict:
    """The server's ``app_kwargs``: failed logins slowed down and limited per client address."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(LoginThrottle, max_failures=settings.auth_max_failures,
                                      window=settings.auth_window, delay=settings.auth_failure_delay)]}


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Serve the UI at once; the model and index load in the background."""
    from retrieval.assistant import Warmup, default_assistant

    auth = credentials(settings)        # a half-set login refuses to start (AuthMisconfigured)
    warmup = Warmup(lambda: default_assistant(settings))
    demo = build_ui(warmup, settings.max_question_chars)
    host, port = host or settings.host, port or settings.port
    if host not in LOOPBACK and auth is None:
        print(f"Warning: serving on {host} without a login: anyone who can reach this machine can read the "
              "articles and upload files. Set QA_AUTH_USER and QA_AUTH_PASSWORD (or QA_AUTH_PASSWORD_FILE), "
              "or serve on 127.0.0.1.", file=sys.stderr)
    try:
        demo.launch(server_name=host, server_port=port, prevent_thread_lock=True,
                    max_file_size=settings.max_file_bytes, auth=[auth] if auth else None,
                    app_kwargs=login_throttle(settings))
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
