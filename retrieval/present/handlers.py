"""The web UI's event handlers (``app.py`` lays out the page and wires them): answering in the
chat, the Sources panel of every answer, the conversation kept across reloads, uploads with
their metadata sidecars, and the article details editor. Gradio is imported only when a
handler runs."""
from __future__ import annotations

import tempfile
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from prompts import LOADING
from retrieval.errors import AssistantError
from retrieval.ingest.admission import collisions
from retrieval.ingest.metadata import FIELDS as META_FIELDS
from retrieval.ingest.metadata import read_sidecar, sidecar_target
from retrieval.present.attribution import article_choice
from retrieval.present.export import unique_brief_path, write_brief
from retrieval.present.history import restored, saved
from retrieval.present.render import (EMPTY_SOURCES, chat_markdown, filters_note, md_escape, md_unescape, message_text,
                                      panel, sources_panel)
from retrieval.search.filters import Filters
from retrieval.text.question import clean_question

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

DRAFTING = "_Writing… quotes are shown once they are checked against the articles._"

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


Progress = Callable[[int, int], None]    # (chunks committed, chunks to commit), as ingest reports it


class Handlers:
    """The UI's event handlers. ``get_assistant`` returns the assistant, waiting for it if it is
    still loading; while it waits the chat shows a loading status."""

    def __init__(self, get_assistant: GetAssistant, max_chars: int):
        self.get_assistant = get_assistant
        self.max_chars = max_chars

    def respond(self, message: str, history: list, outlets: list | None = None, articles: list | None = None,
                since: str | None = None, until: str | None = None, view: str = "Answer",
                answered: list | None = None):
        """Answer in the chat; Sources shows this answer's quotes, earlier answers' below. Outputs:
        chat, Sources, question box, answers so far, the "Clear filters" offer."""
        import gradio as gr

        history = list(history or [])
        answered = list(answered or []) if history else []    # an empty chat starts a new conversation
        try:
            question = clean_question(message, self.max_chars)
        except AssistantError as err:
            # A toast, not gr.Error (which would cover the chat and the Sources panel with "Error");
            # the question stays in the textbox to be fixed.
            gr.Warning(str(err))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        earlier = [md_unescape(message_text(m)) for m in history if m.get("role") == "user"]
        history.append({"role": "user", "content": md_escape(question)})
        pending = _in_background(self.get_assistant)
        hide = gr.update(visible=False)
        try:
            try:
                assistant = pending.result(timeout=0.2)
            except FutureTimeout:
                yield history + [{"role": "assistant", "content": LOADING}], LOADING_SOURCES, "", gr.skip(), hide
                assistant = pending.result()
            filters = Filters.of(outlets or (), articles or (), since or None, until or None)
            if view == "Timeline" or assistant.llm is None:
                answer = assistant.ask(question, earlier, filters, mode="timeline" if view == "Timeline" else "answer")
            else:   # a language model writes: show its claims as they come, quotes once verified
                for item in assistant.stream(question, earlier, filters):
                    if isinstance(item, str):
                        draft = md_escape(item) + "\n\n" + DRAFTING if item else DRAFTING
                        yield history + [{"role": "assistant", "content": draft}], gr.skip(), "", gr.skip(), hide
                    else:
                        answer = item
        except AssistantError as err:
            history.append({"role": "assistant", "content": md_escape(str(err))})
            yield history, gr.skip(), "", answered + [None], hide
            return
        articles_now = assistant.snapshot.articles
        note = filters_note(filters, articles_now) if answer.abstained and filters.active else None
        answered.append(answer)
        history.append({"role": "assistant", "content": chat_markdown(answer, len(answered), note)})
        yield history, sources_panel(answered, articles_now, note), "", answered, gr.update(visible=bool(note))

    def restore(self, stored: dict | None):
        """The conversation kept in this browser, after a reload."""
        chat, answered = restored(stored)
        try:
            articles = self.get_assistant().snapshot.articles if answered else {}
        except AssistantError:
            articles = {}
        return chat, sources_panel(answered, articles) if answered else EMPTY_SOURCES, answered

    def export(self, answered: list | None):
        """The conversation as brief.md and brief.json, to download."""
        import gradio as gr

        answered = [a for a in answered or [] if a]
        if not answered:
            gr.Warning("Ask a question first: the brief holds the conversation's answers.")
            return gr.skip()
        # A fresh folder and a dated, unique name: a download can never be an earlier export's file.
        files = write_brief(str(unique_brief_path(Path(tempfile.mkdtemp(prefix="brief-")))), answered)
        return gr.update(value=[str(p) for p in files], visible=True)

    def ask(self, question: str) -> dict:
        """Answer a question from the articles: the answer text and its verbatim, attributed quotes."""
        import gradio as gr

        try:
            return self.get_assistant().ask(question).to_dict()
        except AssistantError as err:
            raise gr.Error(str(err), print_exception=False) from None

    def add_articles(self, files: list | None, progress: Progress | None = None):
        """Copy uploaded files into the corpus and index them (no files: re-scan the corpus folder);
        an uploaded ``<file>.meta.json`` is applied to its article. A file named like a different
        article already in the corpus is not taken until the user confirms: replace that article,
        or keep both (the new file renamed). Returns the status, the filter choices, the files
        waiting for that choice and the two buttons' visibility."""
        import gradio as gr

        paths = [Path(f if isinstance(f, str) else f.name) for f in files or []]
        articles = [p for p in paths if not p.name.endswith(".meta.json")]
        try:
            taken = collisions(articles, self.get_assistant().settings) if articles else []
        except AssistantError as err:
            return md_escape(str(err)), gr.skip(), gr.skip(), gr.skip(), [], *_choice_buttons(False)
        if taken:
            names = ", ".join(taken)
            ask = (f"{len(taken)} uploaded file(s) have the name of an article already in the corpus: {names}. "
                   "Replace those articles, or keep both (the new files saved under new names)? Nothing has been "
                   "added yet.")
            return md_escape(ask), gr.skip(), gr.skip(), gr.skip(), [str(p) for p in paths], *_choice_buttons(True)
        return (*self.ingest_uploads(paths, False, progress), [], *_choice_buttons(False))

    def resolve_pending(self, pending: list | None, replace: bool, progress: Progress | None = None):
        """The user's answer about same-named uploads: ``replace`` them, or keep both."""
        import gradio as gr

        if not pending:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), [], *_choice_buttons(False)
        return (*self.ingest_uploads([Path(p) for p in pending], replace, progress), [], *_choice_buttons(False))

    def ingest_uploads(self, paths: list[Path], replace: bool, progress: Progress | None = None):
        """Ingest articles and apply sidecars; the status line and the refreshed filter choices."""
        import gradio as gr

        sidecars = [p for p in paths if p.name.endswith(".meta.json")]
        articles = [p for p in paths if p not in sidecars]
        try:
            assistant = self.get_assistant()
            lines = [assistant.ingest(articles or None, progress, replace=replace).summary()] \
                if articles or not sidecars else []
            for sidecar in sidecars:
                target = sidecar_target(sidecar.name, assistant.snapshot.articles)
                if target is None:
                    lines.append(f"  failed: {sidecar.name}: no article {sidecar.name.removesuffix('.meta.json')} "
                                 "to apply it to; upload the article with it.")
                    continue
                assistant.update_meta(target, read_sidecar(sidecar.with_name(sidecar.name.removesuffix(".meta.json"))))
                lines.append(f"  metadata: {sidecar.name} applied to {target}")
        except AssistantError as err:
            return md_escape(str(err)), gr.skip(), gr.skip(), gr.skip()
        return (md_escape("\n".join(lines)).replace("\n", "  \n"), *self.filter_choices())

    def rescan(self, progress: Progress | None = None):      # no files: re-scan the corpus folder
        return self.add_articles(None, progress)

    def filter_choices(self):
        """The outlets and articles (by readable label) to filter by and to edit, once the index is loaded."""
        import gradio as gr

        try:
            articles = self.get_assistant().snapshot.articles
        except AssistantError:
            return gr.skip(), gr.skip(), gr.skip()
        outlets = sorted({r.meta.outlet for r in articles.values() if r.meta.outlet})
        choices = sorted((article_choice(s, r) for s, r in articles.items()), key=lambda c: c[0].casefold())
        return gr.update(choices=outlets), gr.update(choices=choices), gr.update(choices=choices)

    def show_meta(self, source: str | None) -> list:
        """The article's metadata in the editor's fields."""
        record = self.get_assistant().snapshot.articles.get(source or "")
        return [(getattr(record.meta, k) or "") if record else "" for k in META_FIELDS]

    def save_meta(self, source: str | None, *values: str):
        """Save the editor's fields to the article's sidecar; filters, timeline and citations use them at once."""
        import gradio as gr

        if not source:
            return "Choose an article first.", gr.skip(), gr.skip(), gr.skip()
        try:
            self.get_assistant().update_meta(source, dict(zip(META_FIELDS, values)))
        except AssistantError as err:
            return md_escape(str(err)), gr.skip(), gr.skip(), gr.skip()
        return md_escape(f"Saved to {source}.meta.json: filters, timeline and citations use it now."), \
            *self.filter_choices()

    def pick_example(self, evt) -> str:
        return evt.value["text"]


def cleared():
    """Clear: the chat, its sources, the answers and the kept conversation (so no follow-up resolves against it)."""
    return [], EMPTY_SOURCES, [], saved([], [])


def no_filters():
    """Clear the filters (offered with an abstention under them)."""
    import gradio as gr

    return [], [], "", "", gr.update(visible=False)


def _choice_buttons(shown: bool):
    """Visibility of the "Replace them" and "Keep both" buttons."""
    import gradio as gr

    return gr.update(visible=shown), gr.update(visible=shown)
