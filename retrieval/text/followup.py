"""Follow-up questions made standalone: "What did he say about the US?" after a question
about Khamenei becomes "What did Khamenei say about the US?".

The default is a deterministic rule: a personal pronoun is replaced by the first name (else
the first key term) of the most recent earlier question that has one. With a chat model
configured, the model rewrites the question instead (``CONDENSE_PROMPT``)."""
from __future__ import annotations

import re
from typing import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from prompts import CONDENSE_PROMPT, fill

from retrieval.text.question import Question

_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers|they|them|their|theirs)\b", re.I)
_POSSESSIVE = {"his", "her", "hers", "their", "theirs"}


def user_questions(history: list | None) -> list[str]:
    """Earlier questions from a history of strings, ``(question, answer)`` pairs or chat messages."""
    questions = []
    for turn in history or []:
        if isinstance(turn, str):
            questions.append(turn)
        elif isinstance(turn, dict) and turn.get("role") == "user" and isinstance(turn.get("content"), str):
            questions.append(turn["content"])
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            questions.append(turn[0])
    return questions


def _antecedent(earlier: list[str], analyze: Callable[[str], Question]) -> str | None:
    for question in reversed(earlier):
        concepts = analyze(question).concepts
        named = [c for c in concepts if c.named]
        if named or concepts:
            return (named or concepts)[0].label
    return None


def condense(question: str, history: list | None, analyze: Callable[[str], Question],
             llm: BaseChatModel | None = None) -> str:
    """The question as it would be asked with no conversation before it."""
    earlier = user_questions(history)
    if not earlier or not _PRONOUN.search(question):
        return question
    if llm is not None:
        prompt = fill(CONDENSE_PROMPT, history="\n".join(f"- {q}" for q in earlier[-5:]), question=question)
        try:
            rewritten = str(llm.invoke([HumanMessage(prompt)]).content).strip()
        except Exception:    # the model is unusable: the rule below still works
            rewritten = ""
        if rewritten and "\n" not in rewritten and len(rewritten) <= 3 * len(question) + 200:
            return rewritten
    name = _antecedent(earlier, analyze)
    if name is None:
        return question
    return _PRONOUN.sub(lambda m: f"{name}’s" if m[1].lower() in _POSSESSIVE else name, question)
