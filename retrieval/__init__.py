"""Question answering over news articles with verbatim, attributed quotes.

``from retrieval import ask`` does not import Gradio; the model loads on the first call."""
from retrieval.errors import (AssistantError, IndexBusy, IndexUnavailable, InvalidFilter, InvalidQuestion,
                              ModelUnavailable, UnreadableFile)
from retrieval.search.filters import Filters
from retrieval.settings import Settings
from retrieval.types import Answer, Quote


def ask(question: str, history: list | None = None, filters: Filters | None = None, mode: str = "answer") -> Answer:
    """Answer ``question`` from the corpus; see ``retrieval.assistant.ask``."""
    from retrieval.assistant import ask as _ask

    return _ask(question, history, filters, mode)


def __getattr__(name: str):
    # ``Assistant`` loads LangChain and the index code: only when asked for.
    if name == "Assistant":
        from retrieval.assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'retrieval' has no attribute {name!r}")


__all__ = ["Answer", "Assistant", "AssistantError", "Filters", "InvalidFilter", "IndexBusy", "IndexUnavailable",
           "InvalidQuestion", "ModelUnavailable", "Quote", "Settings", "UnreadableFile", "ask"]
