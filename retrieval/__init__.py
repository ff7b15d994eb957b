"""Question answering over news articles with verbatim, attributed quotes.

``from retrieval import ask`` does not import Gradio; the model loads on the first call."""
from .answer import Answer, Quote
from .errors import AssistantError, IndexBusy, IndexUnavailable, InvalidQuestion, ModelUnavailable, UnreadableFile
from .filters import Filters, InvalidFilter
from .settings import Settings


def ask(question: str, history: list | None = None, filters: Filters | None = None, mode: str = "answer") -> Answer:
    """Answer ``question`` from the corpus; see ``retrieval.assistant.ask``."""
    from .assistant import ask as _ask

    return _ask(question, history, filters, mode)


__all__ = ["Answer", "AssistantError", "Filters", "InvalidFilter", "IndexBusy", "IndexUnavailable", "InvalidQuestion", "ModelUnavailable",
           "Quote", "Settings", "UnreadableFile", "ask"]
