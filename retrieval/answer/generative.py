"""Optional generative answers: a LangChain chat model phrases claims, and every quote it
emits is verified against the retrieved passages before it can reach the user.

The model is asked for a ``StructuredReply`` through ``with_structured_output`` (tool calling)
where it supports it, with the text prompt's line format kept for servers that ignore tools; a
server that rejects the tools is asked again in plain text. Whatever comes back is read
leniently and verified strictly by ``llm_reply.check_reply``: each quote is snapped to the exact
text of the passage it was found in (re-attributed when that is not the cited one), split at an
ellipsis, or dropped, as is a quote that is an instruction aimed at the model ("ignore previous
instructions ...")."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, BaseMessageChunk, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable

from prompts import ANSWER_PROMPT, PASSAGE, SYSTEM_PROMPT, UNSUPPORTED_CLAIM, fill

from retrieval.answer.llm_reply import QuoteCounts, StructuredReply, check_reply, draft_claims, message_text
from retrieval.errors import LLMUnavailable
from retrieval.present.attribution import attribution
from retrieval.types import Candidate, Hit

_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|your)\b.{0,30}"
    r"\b(instructions?|prompts?|rules|directions)\b|\bsystem prompt\b|\byou are (now )?(an? )?(ai|assistant|chatbot|language model)\b",
    re.I | re.S)


def is_instruction(text: str) -> bool:
    """Text planted in an article to steer the model: quoted data, never shown as support."""
    return bool(_INSTRUCTION.search(text))


@dataclass(frozen=True)
class Claim:
    text: str                        # the model's own words, shown as its phrasing
    candidates: tuple[Candidate, ...]   # its verified quotes; none: unsupported


def make_llm(spec: str, base_url: str | None = None, timeout: float = 60.0, api_key: str | None = None) -> BaseChatModel:
    """``ollama:<model>``, ``openai:<model>`` (any OpenAI-compatible server at ``base_url``) or
    ``gguf:<path>`` (llama-cpp-python). The packages are optional extras."""
    kind, _, name = spec.partition(":")
    try:
        if kind == "ollama":
            from langchain_ollama import ChatOllama
            return ChatOllama(model=name, base_url=base_url or "http://127.0.0.1:11434", temperature=0,
                              client_kwargs={"timeout": timeout})
        if kind == "openai":
            from langchain_openai import ChatOpenAI
            return ChatOpenAI(model=name, base_url=base_url, api_key=api_key or "not-needed",
                              temperature=0, timeout=timeout, max_retries=0)
        if kind == "gguf":
            from langchain_community.chat_models import ChatLlamaCpp
            return ChatLlamaCpp(model_path=name, temperature=0, n_ctx=4096, verbose=False)
    except ImportError as err:
        package = {"ollama": "langchain-ollama", "openai": "langchain-openai",
                   "gguf": "langchain-community llama-cpp-python"}[kind]
        raise LLMUnavailable(f"The {kind} backend needs: pip install {package}") from err
    raise LLMUnavailable(f"Unknown language model {spec!r}: use ollama:<model>, openai:<model> or gguf:<path>.")


def passages_text(hits: list[Hit]) -> str:
    return "\n\n".join(fill(PASSAGE, n=n, text=hit.chunk.text, attribution=attribution(
        hit.meta.outlet, hit.meta.title, hit.chunk.source, hit.meta.published)) for n, hit in enumerate(hits, start=1))


def answer_messages(question: str, hits: list[Hit]) -> list:
    prompt = fill(ANSWER_PROMPT, passages=passages_text(hits), question=question)
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(prompt)]


def unavailable(err: Exception) -> LLMUnavailable:
    return LLMUnavailable(str(err).splitlines()[0][:200] if str(err) else type(err).__name__)


# -- asking the model ---------------------------------------------------------------------------------
def _structured(llm: BaseChatModel) -> Runnable | None:
    """The model asked for a ``StructuredReply`` by tool calling, or None when it cannot be
    (LangChain's fake models raise NotImplementedError, some backends refuse the method)."""
    try:
        return llm.with_structured_output(StructuredReply, method="function_calling", include_raw=True)
    except (NotImplementedError, ValueError, TypeError):
        return None


def _attempts(llm: BaseChatModel) -> list[Runnable]:
    """Structured first, then plain: the prompt's text format still reaches a server that rejects tools."""
    return [r for r in (_structured(llm), llm) if r is not None]


def _unreachable(err: Exception) -> bool:
    """The server is not there (refused, timed out): asking it again in plain text would only wait twice."""
    names = {cls.__name__ for cls in type(err).__mro__}
    return isinstance(err, (ConnectionError, TimeoutError)) or bool(names & {"APIConnectionError", "TransportError"})


def ask_model(llm: BaseChatModel, question: str, hits: list[Hit]) -> Any:
    """The model's reply to the answer prompt: ``{"raw", "parsed", ...}`` from the structured
    call, or a message when the model cannot do tools or its server rejected them."""
    messages = answer_messages(question, hits)
    *structured, plain = _attempts(llm)
    for runnable in structured:
        try:
            return runnable.invoke(messages)
        except Exception as err:   # tools rejected (asked again in text) or the server is not there
            if _unreachable(err):
                raise unavailable(err) from err
    try:
        return plain.invoke(messages)
    except Exception as err:   # connection refused, timeout, bad model name ...
        raise unavailable(err) from err


def _streaming(runnable: Runnable) -> Runnable:
    # ``with_structured_output(include_raw=True)`` is ``RunnableMap(raw=model) | parser``: streamed
    # whole it gives the message only at the end, so the tool-bound model inside is streamed instead.
    steps = getattr(getattr(runnable, "first", None), "steps__", None)
    return steps["raw"] if isinstance(steps, dict) and "raw" in steps else runnable


class StreamedReply:
    """A reply as it streams in: message chunks added up with ``+`` (text and tool-call arguments)."""

    def __init__(self) -> None:
        self.message: BaseMessage | None = None

    def add(self, item: Any) -> None:
        if isinstance(item, dict):      # a structured runnable streamed whole: its raw message
            item = item.get("raw")
        if not isinstance(item, BaseMessage):
            return
        both_chunks = isinstance(self.message, BaseMessageChunk) and isinstance(item, BaseMessageChunk)
        self.message = self.message + item if both_chunks else item

    @property
    def written(self) -> str:
        """What the model has written so far: its tool-call arguments, else its text."""
        if self.message is None:
            return ""
        args = "".join(c.get("args") or "" for c in getattr(self.message, "tool_call_chunks", None) or [])
        return args or message_text(self.message.content)

    def draft(self) -> str:
        """What may be shown while the model writes: its claims only, never an unverified quote."""
        return "\n".join(draft_claims(self.written))


def stream_model(llm: BaseChatModel, question: str, hits: list[Hit]) -> Iterator[StreamedReply]:
    """The reply so far, after each chunk; like ``ask_model``, structured first, then plain if
    the server rejects the tools before writing anything."""
    messages = answer_messages(question, hits)
    attempts = _attempts(llm)
    for i, runnable in enumerate(attempts):
        reply = StreamedReply()
        try:
            for item in _streaming(runnable).stream(messages):
                reply.add(item)
                yield reply
            return
        except Exception as err:
            if reply.message is not None or i == len(attempts) - 1 or _unreachable(err):
                raise unavailable(err) from err


# -- verifying the reply --------------------------------------------------------------------------------
def verify_reply(reply: Any, hits: list[Hit]) -> tuple[list[Claim], QuoteCounts]:
    """The model's claims, each with its quotes located in the passages (re-attributed to the
    passage each was found in) as article offsets; a claim with none is unsupported."""
    checked, counts = check_reply(reply, [hit.chunk.text for hit in hits], is_instruction)
    claims = []
    for claim in checked:
        candidates = []
        for span in claim.spans:
            hit = hits[span.index]
            candidates.append(Candidate(hit.chunk.source, hit.chunk.start + span.start, hit.chunk.start + span.end,
                                        hit.score))
        claims.append(Claim(claim.claim, tuple(candidates)))
    return claims, counts


def unsupported(claim: str) -> str:
    return fill(UNSUPPORTED_CLAIM, claim=claim)
