"""A conversation kept in the browser (local storage) so a reload does not lose it: the chat
messages and the answers behind them, as plain JSON."""
from __future__ import annotations

from retrieval.types import Answer, Quote

STORAGE_KEY = "news-qa-conversation"


def answer_from_dict(data: dict) -> Answer:
    """An ``Answer`` back from ``Answer.to_dict()``."""
    fields = dict(data)
    fields["quotes"] = [Quote(**q) for q in data.get("quotes", [])]
    return Answer(**fields)


def saved(chat: list | None, answers: list | None) -> dict:
    """What is written to the browser: the messages, and per assistant turn its answer (or None)."""
    return {"chat": list(chat or []), "answers": [a.to_dict() if a else None for a in answers or []]}


def restored(stored: dict | None) -> tuple[list, list]:
    """``(chat messages, answers)`` from what ``saved`` wrote; anything unreadable starts afresh."""
    try:
        return list(stored["chat"]), [answer_from_dict(a) if a else None for a in stored["answers"]]
    except (KeyError, TypeError, ValueError):
        return [], []
