"""Optional generative answers: a LangChain chat model phrases claims, and every quote it
emits is verified against its cited passage before it can reach the user.

A quote is accepted when it is found in the passage exactly, or after folding white space and
quotation marks, in which case it is mapped back to the exact original offsets. A quote that
cannot be located, or that is an instruction aimed at the model ("ignore previous
instructions ..."), is dropped and its claim marked unsupported; an answer left with no
supported claim becomes the abstention."""
from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from prompts import ABSTENTION, ANSWER_PROMPT, PASSAGE, SYSTEM_PROMPT, UNSUPPORTED_CLAIM, fill

from retrieval.errors import LLMUnavailable
from retrieval.present.attribution import attribution
from retrieval.types import Candidate, Hit

_BLOCK = re.compile(r"CLAIM:\s*(?P<claim>.+?)\s*\n\s*QUOTE\s*\[(?P<n>\d+)\]\s*:\s*(?P<quote>.+?)\s*(?=\n\s*CLAIM:|\Z)",
                    re.S | re.I)
_QUOTE_CHARS = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "`": "'"})
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|your)\b.{0,30}"
    r"\b(instructions?|prompts?|rules|directions)\b|\bsystem prompt\b|\byou are (now )?(an? )?(ai|assistant|chatbot|language model)\b",
    re.I | re.S)


@dataclass(frozen=True)
class QuoteChecks:
    emitted: int = 0
    verified: int = 0     # found exactly
    repaired: int = 0     # found after folding white space and quotation marks
    dropped: int = 0


@dataclass(frozen=True)
class Claim:
    text: str
    candidate: Candidate | None    # None: unsupported


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


def _fold(text: str) -> tuple[str, list[int]]:
    """Text with quotation marks unified and white space runs made one space, and for each of
    its characters the offset of the original character."""
    out, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch.translate(_QUOTE_CHARS))
        where.append(i)
    return "".join(out), where


def locate(passage: str, quote: str) -> tuple[int, int, bool] | None:
    """``(start, end, exact)`` of ``quote`` in ``passage``, or None."""
    quote = quote.strip()
    if len(quote) >= 2 and quote[0] in "\"“'‘" and quote[-1] in "\"”'’":
        quote = quote[1:-1].strip()
    quote = quote.strip(" .…").strip() if quote.endswith("…") or quote.startswith("…") else quote
    if len(quote) < 8:
        return None
    if (at := passage.find(quote)) >= 0:
        return at, at + len(quote), True
    folded, where = _fold(passage)
    needle, _ = _fold(quote)
    if (at := folded.find(needle.strip())) >= 0:
        return where[at], where[at + len(needle.strip()) - 1] + 1, False
    return None


def parse_claims(reply: str) -> list[tuple[str, int, str]]:
    return [(m["claim"].strip(), int(m["n"]), m["quote"].strip()) for m in _BLOCK.finditer(reply)]


def passages_text(hits: list[Hit]) -> str:
    return "\n\n".join(fill(PASSAGE, n=n, text=hit.chunk.text, attribution=attribution(
        hit.meta.outlet, hit.meta.title, hit.chunk.source, hit.meta.published)) for n, hit in enumerate(hits, start=1))


def answer_messages(question: str, hits: list[Hit]) -> list:
    prompt = fill(ANSWER_PROMPT, passages=passages_text(hits), question=question)
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(prompt)]


def unavailable(err: Exception) -> LLMUnavailable:
    return LLMUnavailable(str(err).splitlines()[0][:200] if str(err) else type(err).__name__)


def generate_claims(llm: BaseChatModel, question: str, hits: list[Hit]) -> tuple[list[Claim], QuoteChecks]:
    """Ask the model, then keep only the quotes that are really in the cited passages."""
    try:
        reply = llm.invoke(answer_messages(question, hits)).content
    except Exception as err:   # connection refused, timeout, bad model name ...
        raise unavailable(err) from err
    return verify_reply(reply, hits)


def draft(reply: str) -> str:
    """What may be shown while the model is still writing: its claims only; quotes are shown
    once they are verified."""
    return "\n".join(m.strip() for m in re.findall(r"CLAIM:\s*([^\n]*)", reply) if m.strip())


def verify_reply(reply, hits: list[Hit]) -> tuple[list[Claim], QuoteChecks]:
    """The model's claims, each with its quote located in the cited passage, or unsupported."""
    if not isinstance(reply, str) or ABSTENTION in reply:
        return [], QuoteChecks()
    claims, exact, repaired, dropped = [], 0, 0, 0
    for claim, n, quote in parse_claims(reply):
        found = None
        if 1 <= n <= len(hits) and not _INSTRUCTION.search(quote):
            found = locate(hits[n - 1].chunk.text, quote)
        if found is None:
            dropped += 1
            claims.append(Claim(claim, None))
            continue
        start, end, is_exact = found
        exact += is_exact
        repaired += not is_exact
        chunk = hits[n - 1].chunk
        claims.append(Claim(claim, Candidate(chunk.source, chunk.start + start, chunk.start + end, hits[n - 1].score)))
    return claims, QuoteChecks(len(claims), exact, repaired, dropped)


def unsupported(claim: str) -> str:
    return fill(UNSUPPORTED_CLAIM, claim=claim)
