"""Reading what a chat model replies, however it is formatted, and keeping only what is verbatim.

Models drift from any format they are asked for, and many servers ignore a request for JSON, so
``parse_reply`` reads a reply leniently: a ``StructuredReply`` (from ``with_structured_output``),
tool-call arguments or JSON (bare or in a fenced block), the ``CLAIM:`` / ``QUOTE [n]:`` line
format of the prompt, or prose and Markdown whose quotes stand in "…", “…”, ‘…’, «…» or ``>``
blockquotes, cited by markers like [1], [1, 3], (1), (Source 2) or [Passage 2], or by none.

Verification is strict. ``locate`` finds every quote in its cited passage, else in any other one
(re-attributed), after folding only what does not change the words: white space and line
breaks, quotation marks, dashes, the case of the first letter, a trailing full stop. Offsets
always point into the original passage, so a shown quote is ``passage[start:end]`` and never
the model's text. A quote joined from two places by an ellipsis becomes two quotes, or none.

Passage numbers are 1-based everywhere in this module, as the prompt shows them (``[1]`` is
``passages[0]``); ``Located.index`` gives the 0-based list index.

Pure: standard library and pydantic only; ``generative.py`` asks the model and calls ``check_reply``."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

MIN_QUOTE_CHARS = 8       # shorter quotes (or parts of a joined quote) match too easily to prove anything
MIN_PROSE_QUOTE_WORDS = 3  # shorter quoted spans in prose are scare quotes, part of the model's phrasing


# -- the schema asked of the model, and lenient reading of what comes back -------------------------
def passage_numbers(value: Any) -> list[int]:
    """Passage numbers in ``2``, ``"2"``, ``"[2]"``, ``"Passage 2"``, ``"1, 3"``, ``"1-3"`` or a list of them."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, float):
        return [int(value)] if value.is_integer() else []
    if isinstance(value, (list, tuple)):
        return list(dict.fromkeys(n for item in value for n in passage_numbers(item)))
    numbers = []
    for m in re.finditer(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?", str(value)):
        first, last = int(m[1]), int(m[2] or m[1])
        numbers.extend(range(first, last + 1) if 0 <= last - first <= 20 else [first])
    return list(dict.fromkeys(numbers))


def _first(data: dict, keys: Sequence[str]) -> Any:
    return next((data[k] for k in keys if k in data), None)


_QUOTE_TEXT_KEYS = ("text", "quote", "content", "excerpt", "span", "evidence")
_PASSAGE_KEYS = ("passage", "passage_number", "passage_id", "passages", "source", "sources", "citation", "ref", "n")
_CLAIM_PASSAGE_KEYS = _PASSAGE_KEYS[:6]     # not "n" or "ref": on a claim they may number the claim itself


class ReplyQuote(BaseModel):
    """Words copied character for character from one numbered passage."""

    passage: int | None = Field(description="The number of the passage the words are copied from, as written in "
                                            "brackets before the passage: 2 for [2].")
    text: str = Field(description="The words, copied character for character from that passage, with no "
                                  "changes and no ellipsis.")
    # Further passages cited for the same words ("[1, 3]" in prose); never asked of the model.
    also: SkipJsonSchema[list[int]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _read_leniently(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"passage": None, "text": data}
        if not isinstance(data, dict):
            return data
        text = _first(data, _QUOTE_TEXT_KEYS)
        numbers = passage_numbers(_first(data, _PASSAGE_KEYS))
        return {"passage": numbers[0] if numbers else None, "text": text,
                "also": data.get("also") or numbers[1:]}

    @property
    def cited(self) -> list[int]:
        return ([self.passage] if self.passage is not None else []) + [n for n in self.also if n != self.passage]


def _is_quote_item(item: Any) -> bool:
    return isinstance(item, ReplyQuote) or isinstance(item, str) and item.strip() != "" or (
        isinstance(item, dict) and isinstance(_first(item, _QUOTE_TEXT_KEYS), str))


class ReplyClaim(BaseModel):
    """One claim of the answer and the quotes that back it."""

    claim: str = Field(description="One sentence in your own words that answers part of the question.")
    quotes: list[ReplyQuote] = Field(description="The quotes that back the claim, each copied exactly from one "
                                                 "numbered passage.")

    @model_validator(mode="before")
    @classmethod
    def _read_leniently(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        quotes = _first(data, ("quotes", "quote", "evidence", "citations", "support", "supporting_quotes"))
        if quotes is None and "text" in data and "claim" not in data:    # a bare quote object
            quotes, data = [data], {}
        quotes = quotes if isinstance(quotes, list) else [quotes]
        quotes = [q for q in quotes if _is_quote_item(q)]
        default = passage_numbers(_first(data, _CLAIM_PASSAGE_KEYS))
        if default:     # a passage given on the claim holds for its quotes that name none
            quotes = [q if isinstance(q, ReplyQuote) else {"text": q, "passage": default} if isinstance(q, str)
                      else q if _first(q, _PASSAGE_KEYS) is not None else {**q, "passage": default} for q in quotes]
        claim = _first(data, ("claim", "statement", "sentence", "answer", "summary", "text"))
        return {"claim": claim if isinstance(claim, str) else "", "quotes": quotes}


class StructuredReply(BaseModel):
    """The answer as claims, each backed by quotes copied character for character from the numbered
    passages. No claims at all when the passages do not answer the question."""

    claims: list[ReplyClaim] = Field(description="One to four claims that answer the question; empty when the "
                                                 "passages do not answer it.")

    @model_validator(mode="before")
    @classmethod
    def _read_leniently(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"claims": data}
        if isinstance(data, dict) and "claims" not in data:
            items = _first(data, ("answer", "answers", "results", "items", "statements"))
            if isinstance(items, list):
                return {"claims": items}
            if "claim" in data or "quote" in data or "quotes" in data:
                return {"claims": [data]}
        return data


def parse_reply(reply: Any) -> list[ReplyClaim]:
    """The claims in a model's reply, in whatever form it came: a ``StructuredReply``, the dict of
    ``with_structured_output(..., include_raw=True)``, tool-call arguments or JSON, an AI message
    (its tool calls, else its text), or text in any of the styles of the module docstring.
    Nothing is verified here; a reply with no quote at all gives no claims."""
    if reply is None:
        return []
    if isinstance(reply, StructuredReply):
        return list(reply.claims)
    if isinstance(reply, str):
        return _from_text(reply)
    if hasattr(reply, "content") and hasattr(reply, "tool_calls"):     # an AIMessage or a sum of chunks
        claims = [c for call in reply.tool_calls or [] for c in (_from_json(call.get("args")) or [])]
        for call in getattr(reply, "invalid_tool_calls", None) or []:   # arguments that were not JSON
            claims += _from_text(call.get("args") or "")
        return claims or _from_text(message_text(reply.content))
    if isinstance(reply, dict) and "raw" in reply and "parsed" in reply:
        return parse_reply(reply["parsed"]) if reply["parsed"] is not None else parse_reply(reply["raw"])
    if isinstance(reply, BaseModel):
        reply = reply.model_dump()
    if isinstance(reply, (dict, list)):
        return _from_json(reply) or []
    raise TypeError(f"cannot read a reply of type {type(reply).__name__}")


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text blocks of a list of blocks."""
    if isinstance(content, str):
        return content
    return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content or []
                   if isinstance(b, str) or isinstance(b, dict) and b.get("type", "text") == "text")


def _from_json(data: Any) -> list[ReplyClaim] | None:
    """Claims from decoded JSON, or None when it does not have their shape."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    try:
        return list(StructuredReply.model_validate(data).claims)
    except ValidationError:
        return None


_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.S)


def _json_candidates(text: str) -> list[str]:
    found = [m[1] for m in _FENCED.finditer(text)]
    if text[:1] in "{[":
        found.append(text)
    for opener, closer in ("{}", "[]"):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            found.append(text[start:end + 1])
    return found


def _from_text(text: str) -> list[ReplyClaim]:
    text = text.strip()
    if not text:
        return []
    for candidate in _json_candidates(text):
        claims = _from_json(candidate)
        if claims is not None:
            return claims
    if _CLAIM_HEAD.search(text) and _QUOTE_HEAD.search(text):
        return _from_lines(text)
    return _from_prose(text)


# -- the line format of the prompt: CLAIM: ... / QUOTE [n]: "..." ----------------------------------------
_CLAIM_HEAD = re.compile(r"^[ \t>*_-]*CLAIM[*_]*[ \t]*:[*_]*[ \t]*", re.M | re.I)
_QUOTE_HEAD = re.compile(r"^[ \t>*_-]*QUOTE[*_]*[ \t]*(?:\[(?P<n>[^\]\n]*)\])?[*_]*[ \t]*:[*_]*[ \t]*", re.M | re.I)


def _from_lines(text: str) -> list[ReplyClaim]:
    heads = list(_CLAIM_HEAD.finditer(text))
    claims = []
    for i, head in enumerate(heads):
        block = text[head.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        quote_heads = list(_QUOTE_HEAD.finditer(block))
        claim = block[:quote_heads[0].start()] if quote_heads else block
        quotes = []
        for j, q in enumerate(quote_heads):
            body = block[q.end():quote_heads[j + 1].start() if j + 1 < len(quote_heads) else len(block)]
            body = re.split(r"\n[ \t]*\n", body.strip(), maxsplit=1)[0]     # chatter after a blank line is not quoted
            body = _strip_enclosing_quotes(body.strip())
            if body:
                numbers = passage_numbers(q["n"])
                quotes.append(ReplyQuote(passage=numbers[0] if numbers else None, text=body, also=numbers[1:]))
        claims.append(ReplyClaim(claim=_tidy(claim), quotes=quotes))
    return claims


# -- prose and Markdown -------------------------------------------------------------------------------
_QUOTED = re.compile(r"“(?P<a>[^“”]+)”|\"(?P<b>[^\"]+)\"|«\s*(?P<c>[^«»]+?)\s*»|„(?P<d>[^„“”]+)[“”]"
                     r"|(?<!\w)‘(?P<e>.+?)’(?!\w)", re.S)
_NUMS = r"\d{1,3}(?:\s*(?:,|;|&|and|-|–|to)\s*\d{1,3})*"
_MARKER = re.compile(
    rf"\[\^?\s*(?:(?:passages?|sources?|docs?|documents?|p\.?)\s*#?\s*)?{_NUMS}\s*\]"
    rf"|\(\s*(?:passages?|sources?|docs?|documents?)\s*#?\s*{_NUMS}\s*\)"
    r"|\(\s*\d{1,2}(?:\s*,\s*\d{1,2})*\s*\)"
    rf"|【\s*{_NUMS}[^】]*】", re.I)
_NAMED = re.compile(rf"\b(?:passages?|sources?)\s*#?\s*{_NUMS}\b", re.I)     # "Passage 2 says ..."
_BULLET = re.compile(r"^\s*(?:[-*+•‣▪◦]|\d{1,2}[.)])\s+")
_BLOCKQUOTE = re.compile(r"^\s*>\s?")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_SENTENCE_END = re.compile(rf"[.!?]+[\"”’»)]*(?:\s*(?:{_MARKER.pattern}))*\s+(?=[A-Z“\"«‘(\[*])", re.I)
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Gen|Sen|Rep|Gov|Lt|Col|Sgt|Prof|No|U\.S|U\.N|Jan|Feb|Aug|Sept?|Oct|"
                           r"Nov|Dec|vs|etc|e\.g|i\.e)\.$")
_ATTRIBUTION_TAIL = re.compile(rf"\s*(?:[—–-]+\s*)?\(?\s*(?:according to\s+)?(?:passages?|sources?)\s*#?\s*{_NUMS}"
                               r"[^\w“”\"]*$", re.I)
_OPENERS = "“\"«„‘'"
_CLOSERS = "”\"»“’'"


@dataclass
class _Unit:
    kind: str       # "para", "bullet" or "block" (a > blockquote)
    text: str


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    current: _Unit | None = None
    for line in text.splitlines():
        if not line.strip():
            current = None
        elif m := _BLOCKQUOTE.match(line):
            if current and current.kind == "block":
                current.text += "\n" + line[m.end():]
            else:
                current = _Unit("block", line[m.end():])
                units.append(current)
        elif m := _BULLET.match(line):
            current = _Unit("bullet", line[m.end():].strip())
            units.append(current)
        elif m := _HEADING.match(line):
            units.append(_Unit("para", line[m.end():].strip()))
            current = None
        elif current and current.kind in ("para", "bullet"):
            current.text += " " + line.strip()
        else:
            current = _Unit("para", line.strip())
            units.append(current)
    return units


def _sentences(text: str) -> list[str]:
    """Sentences of a paragraph, never split inside a quote; a marker after a full stop stays with
    the sentence it follows."""
    inside = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if any(a < m.end() < b for a, b in inside) or _ABBREVIATION.search(text[start:m.start() + 1]):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _quotes_in(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), next(g for g in m.groups() if g is not None)) for m in _QUOTED.finditer(text)]


def _markers_in(text: str, outside: list[tuple[int, int, str]]) -> list[tuple[int, int, list[int]]]:
    found = [(m.start(), m.end(), passage_numbers(m[0]))
             for pattern in (_MARKER, _NAMED) for m in pattern.finditer(text)]
    found = [f for f in found if not any(a < f[1] and f[0] < b for a, b, _ in outside)]
    return sorted({(a, b): (a, b, ns) for a, b, ns in found}.values())


def _strip_enclosing_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] in _OPENERS and text[-1] in _CLOSERS:
        return text[1:-1].strip()
    return text


def _tidy(text: str) -> str:
    """The model's own words, cleaned of Markdown emphasis and of the holes left by removed quotes."""
    text = re.sub(r"\*\*|__|(?<!\w)\*+|\*+(?!\w)", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"(?:\s*[,;:—–-])+\s*([.!?])", r"\1", text)
    text = re.sub(r"^[\s,.;:—–-]+|[\s,;:—–-]+$", "", text)
    return text if re.search(r"\w", text) else ""


def _cited_for(i: int, quotes: list, markers: list) -> list[int]:
    """A marker after a quote (before the next one) cites it; else every marker of its sentence does."""
    end = quotes[i][1]
    limit = quotes[i + 1][0] if i + 1 < len(quotes) else float("inf")
    after = [n for a, _, ns in markers if end <= a < limit for n in ns]
    return list(dict.fromkeys(after or [n for _, _, ns in markers for n in ns]))


def _reply_quote(text: str, cited: list[int]) -> ReplyQuote:
    return ReplyQuote(passage=cited[0] if cited else None, text=text, also=cited[1:])


def _claim_from(text: str, lead: str, allow_short: bool = False) -> ReplyClaim | None:
    """The claim of one sentence or bullet: its words without quotes and markers, or the lead
    sentence before it when nothing is left; None when it holds no quote."""
    quotes = [q for q in _quotes_in(text) if allow_short or len(q[2].split()) >= MIN_PROSE_QUOTE_WORDS]
    if not quotes:
        return None
    markers = _markers_in(text, quotes)
    holes = sorted([(a, b) for a, b, _ in quotes] + [(a, b) for a, b, _ in markers if text[a] in "[(【"])
    words, at = [], 0
    for a, b in holes:
        if a >= at:
            words.append(text[at:a])
            at = b
    claim = _tidy(" ".join(words + [text[at:]])) or lead
    return ReplyClaim(claim=claim, quotes=[_reply_quote(q[2].strip(), _cited_for(i, quotes, markers))
                                           for i, q in enumerate(quotes)])


def _block_quote(unit: _Unit, lead_text: str, following: _Unit | None) -> tuple[ReplyQuote, bool]:
    """The quote of a blockquote, cited by a marker in it, in the line before, or in a line after
    that holds nothing else (then that line is used up: True)."""
    text = re.sub(r"\s*\n\s*", " ", unit.text.replace("**", "")).strip()
    cited = [n for _, _, ns in _markers_in(text, []) for n in ns]
    text = _MARKER.sub("", text).strip()
    tail = _ATTRIBUTION_TAIL.search(text)
    if tail:
        cited = cited or passage_numbers(tail[0])
        text = text[:tail.start()].strip()
    text = _strip_enclosing_quotes(text)
    used = False
    if not cited:
        cited = [n for _, _, ns in _markers_in(lead_text, []) for n in ns]
    if not cited and following is not None and following.kind != "block":
        rest = _MARKER.sub("", _NAMED.sub("", following.text))
        if not re.search(r"[^\W_]", rest):
            cited, used = [n for _, _, ns in _markers_in(following.text, []) for n in ns], True
    return _reply_quote(text, list(dict.fromkeys(cited))), used


def _from_prose(text: str) -> list[ReplyClaim]:
    units = _units(text)
    claims: list[ReplyClaim] = []
    lead, lead_text = "", ""       # the sentence before, if it held no quote: the claim of a bare quote
    skip = False
    for k, unit in enumerate(units):
        if skip:
            skip = False
            continue
        if unit.kind == "block":
            quote, skip = _block_quote(unit, lead_text, units[k + 1] if k + 1 < len(units) else None)
            if len(quote.text) >= 2:
                claims.append(ReplyClaim(claim=lead, quotes=[quote]))
            lead = lead_text = ""
            continue
        for sentence in _sentences(unit.text) if unit.kind == "para" else [unit.text]:
            claim = _claim_from(sentence, lead)
            if claim is None:
                lead, lead_text = _tidy(_MARKER.sub("", sentence)), sentence
            else:
                claims.append(claim)
                lead = lead_text = ""
    if not claims:     # a reply that is nothing but one short quote still is its content
        bare = _MARKER.sub("", text).strip().rstrip(".")
        only = _QUOTED.fullmatch(bare)
        if only:
            claims = [_claim_from(text, "", allow_short=True)]
    return claims


def _cut_open_quote(text: str) -> str:
    """Text up to a quote that is still open (the model is writing it)."""
    closed = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    for i, ch in enumerate(text):
        if ch in "“\"«„" or ch == "‘" and (i == 0 or not text[i - 1].isalnum()):
            if not any(a <= i < b for a, b in closed):
                return text[:i]
    return text


_DRAFT_JSON_CLAIM = re.compile(r'"(?:claim|statement|sentence)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def draft_claims(partial: str) -> list[str]:
    """What may be shown while the model is still writing: its own claims, never a quote (quotes
    are shown once verified). Works on partial text in every style, and on partial tool-call
    arguments."""
    text = partial.strip()
    if text.startswith(("{", "[")) or "```" in text or re.search(r'\{\s*"', text):     # JSON being written
        return [json.loads(f'"{m}"') for m in _DRAFT_JSON_CLAIM.findall(text)]
    if _CLAIM_HEAD.search(text):
        ends = [m.start() for m in _QUOTE_HEAD.finditer(text)] + [m.start() for m in _CLAIM_HEAD.finditer(text)]
        drafts = []
        for m in _CLAIM_HEAD.finditer(text):
            stop = min([e for e in ends if e > m.start()] + [len(text)])
            if claim := _tidy(text[m.end():stop]):
                drafts.append(claim)
        return drafts
    text = re.sub(r"\s*[\[(【][^\])】]*$", "", _cut_open_quote(text))     # and a marker still being written
    return [c.claim for c in _from_prose(text) if c.claim]


# -- locating quotes in the passages --------------------------------------------------------------------
@dataclass(frozen=True)
class Located:
    """Where a quote stands: ``passages[index][start:end]``, offsets into the original text."""
    passage: int          # 1-based, as the prompt numbers passages
    start: int
    end: int
    repaired: bool        # found only after folding spacing, quotation marks, dashes, first-letter case, full stop
    reattributed: bool    # found in a passage the reply did not cite

    @property
    def index(self) -> int:
        return self.passage - 1


_FOLDED = str.maketrans({**dict.fromkeys("“”„‟«»″〝〞＂", '"'), **dict.fromkeys("‘’‚‛‹›′`´ʼ", "'"),
                         **dict.fromkeys("‐‑‒–—―−⸺⸻", "-")})
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\s*){3}\]|\[\s*…\s*\]|\(\s*(?:\.\s*){3}\)|\(\s*…\s*\)|…|\.\s?\.\s?\.)\s*")


@lru_cache(maxsize=512)
def _normalize(text: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``text`` with quotation marks and dashes unified, white space runs made one space (none next
    to a dash), invisible characters dropped; and for each character the original span it stands for."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            next_is_dash = j < n and text[j].translate(_FOLDED) == "-"
            if out and out[-1] != "-" and not next_is_dash:
                out.append(" ")
                spans.append((i, j))
            i = j
            continue
        if ch in _INVISIBLE:
            i += 1
            continue
        folded = ch.translate(_FOLDED)
        if folded == "-" and out and out[-1] == "-":      # "--" stands for one dash
            spans[-1] = (spans[-1][0], i + 1)
        else:
            out.append(folded)
            spans.append((i, i + 1))
        i += 1
    return "".join(out), tuple(spans)


def _needles(part: str) -> list[str]:
    """Normalized forms of a quote to look for, the most faithful first: as given, without the
    quotation marks around it, without a trailing full stop, with the first letter's case flipped."""
    forms = [_normalize(part)[0].strip()]
    for form in forms:
        if len(forms) > 24:
            break
        variants = [form[1:-1].strip() if len(form) > 1 and form[0] in "\"'" and form[-1] in "\"'" else form,
                    form[1:].lstrip() if form[:1] in "\"'" else form,
                    form[:-1].rstrip() if form[-1:] in "\"'.,;:" else form,
                    _flip_first_letter(form)]
        forms.extend(v for v in variants if v and v not in forms)
    return [f for f in forms if len(f) >= MIN_QUOTE_CHARS]


def _flip_first_letter(text: str) -> str:
    letter = len(text) - len(text.lstrip("\"'"))      # after an opening quotation mark
    if letter < len(text) and text[letter].isalpha():
        return text[:letter] + text[letter].swapcase() + text[letter + 1:]
    return text


def _exact_forms(part: str) -> list[str]:
    part = part.strip()
    return [f for f in dict.fromkeys([part, _strip_enclosing_quotes(part)]) if len(f) >= MIN_QUOTE_CHARS]


def _find(part: str, order: list[int], passages: Sequence[str], exact: bool) -> tuple[int, int, int] | None:
    for i in order:
        passage = passages[i]
        if exact:
            for form in _exact_forms(part):
                if (at := passage.find(form)) >= 0:
                    return i, at, at + len(form)
        else:
            folded, spans = _normalize(passage)
            for needle in _needles(part):
                if (at := folded.find(needle)) >= 0:
                    return i, spans[at][0], spans[at + len(needle) - 1][1]
    return None


def _locate_part(part: str, cited: list[int], passages: Sequence[str]) -> Located | None:
    cited_order = [n - 1 for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
    others = [i for i in range(len(passages)) if i not in cited_order]
    tiers = [(cited_order, False), (others, True)] if cited else [(others, False)]
    for order, elsewhere in tiers:
        for exact in (True, False):
            if found := _find(part, order, passages, exact):
                i, start, end = found
                assert passages[i][start:end], "a located quote is never empty"
                return Located(i + 1, start, end, repaired=passages[i][start:end] not in _exact_forms(part),
                               reattributed=elsewhere)
    return None


def _parts(quote: str) -> list[str]:
    """The pieces of a quote joined by an ellipsis (one piece when there is none)."""
    return [p for p in _ELLIPSIS.split(quote) if re.search(r"\w", p)]


def locate(quote: str, cited: Sequence[int] | None, passages: Sequence[str]) -> list[Located]:
    """Where ``quote`` stands in ``passages``: searched in the ``cited`` passages (1-based numbers)
    first, then in all others (``reattributed``). One span, or one per part of a quote joined by
    "…", "...", "[...]" or "[…]"; empty when the quote, or any of its parts, is nowhere. Every
    span is the original text and differs from the quote at most by spacing and line breaks,
    quotation marks, dashes, the case of its first letter and a trailing full stop."""
    cited = list(cited or [])
    if whole := _locate_part(quote, cited, passages):
        return [whole]
    parts = _parts(quote)
    if len(parts) == 1 and parts[0].strip() == quote.strip():
        return []
    located = [_locate_part(p, cited, passages) for p in parts]
    return [] if not located or None in located else located


# -- verifying a whole reply ----------------------------------------------------------------------------
@dataclass(frozen=True)
class QuoteCounts:
    """What became of the quotes a model emitted: ``emitted == verified + repaired + dropped``;
    ``reattributed`` counts kept quotes found in a passage they did not cite."""
    emitted: int = 0
    verified: int = 0       # found exactly, in one piece
    repaired: int = 0       # found after folding (see ``locate``), or split at an ellipsis
    reattributed: int = 0
    dropped: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"emitted": self.emitted, "verified": self.verified, "repaired": self.repaired,
                "reattributed": self.reattributed, "dropped": self.dropped}


NOT_FOUND = "not found in any passage"
PART_NOT_FOUND = "a part joined by an ellipsis is not found in any passage"
INSTRUCTION = "an instruction aimed at the model, quoted from an article"


@dataclass(frozen=True)
class CheckedQuote:
    emitted: ReplyQuote
    spans: tuple[Located, ...]     # empty: dropped
    dropped: str | None = None     # why, when dropped

    @property
    def repaired(self) -> bool:
        return len(self.spans) > 1 or any(s.repaired for s in self.spans)


@dataclass(frozen=True)
class CheckedClaim:
    claim: str                     # the model's own words, to be shown apart from the quotes
    quotes: tuple[CheckedQuote, ...]

    @property
    def spans(self) -> list[Located]:
        return [s for q in self.quotes for s in q.spans]

    @property
    def supported(self) -> bool:
        return bool(self.spans)


def check_quote(quote: ReplyQuote, passages: Sequence[str],
                is_instruction: Callable[[str], bool] | None = None) -> CheckedQuote:
    """Keep a quote only where it stands verbatim in a passage and is not an instruction planted
    in an article (``is_instruction``: the generative mode's own rule, applied to the source text)."""
    spans = locate(quote.text, quote.cited, passages)
    if not spans:
        return CheckedQuote(quote, (), PART_NOT_FOUND if len(_parts(quote.text)) > 1 else NOT_FOUND)
    if is_instruction and any(is_instruction(passages[s.index][s.start:s.end]) for s in spans):
        return CheckedQuote(quote, (), INSTRUCTION)
    return CheckedQuote(quote, tuple(spans))


def check_reply(reply: Any, passages: Sequence[str],
                is_instruction: Callable[[str], bool] | None = None) -> tuple[list[CheckedClaim], QuoteCounts]:
    """The reply's claims (``parse_reply``, or a list of ``ReplyClaim``), each with the quotes
    that survive verification, and the counts. A claim with none is unsupported (``supported``
    False); an answer with no supported claim is the abstention (``abstains``)."""
    claims = reply if isinstance(reply, list) and all(isinstance(c, ReplyClaim) for c in reply) else parse_reply(reply)
    checked = [CheckedClaim(c.claim, tuple(check_quote(q, passages, is_instruction) for q in c.quotes)) for c in claims]
    quotes = [q for c in checked for q in c.quotes]
    kept = [q for q in quotes if q.spans]
    counts = QuoteCounts(emitted=len(quotes), verified=sum(not q.repaired for q in kept),
                         repaired=sum(q.repaired for q in kept),
                         reattributed=sum(any(s.reattributed for s in q.spans) for q in kept),
                         dropped=len(quotes) - len(kept))
    return checked, counts


def abstains(claims: Sequence[CheckedClaim]) -> bool:
    return not any(c.supported for c in claims)
