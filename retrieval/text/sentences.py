"""Sentence boundaries with character offsets into the original text."""
from __future__ import annotations

import re
from typing import Iterator

from retrieval.text.lexicon import MONTHS

# Words that end with a period without ending the sentence.
# Month abbreviations are among them, except "May", which is a whole word.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st gen col lt maj capt sgt adm gov sen rep pres rev hon sept "
    "vs etc inc ltd co corp dept est approx fig e.g i.e u.s u.k u.n u.s.a e.u".split()
) | (set(MONTHS) - {"may"})
# A candidate end: terminal punctuation, optional closing quotes/brackets, then white space.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9]")


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at ``dot`` closes an abbreviation such as "U.S." or "Gen."."""
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower().rstrip(".")
    if word == "no":  # "No. 5", but "said no. Then"
        return bool(re.match(r"\.\s*\d", text[dot:dot + 4]))
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _inside_quotation(segment: str) -> bool:
    """Whether a quotation opened in ``segment`` is still open (a quoted passage of several
    sentences stays one sentence)."""
    return segment.count("“") > segment.count("”") or segment.count('"') % 2 == 1


def split_sentences(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` offsets of the sentences in ``text[start:end]``, trimmed of
    surrounding white space. Newlines always end a sentence."""
    end = len(text) if end is None else end
    for line in re.finditer(r"[^\n]+", text[start:end]):
        yield from _split_line(text, start + line.start(), start + line.end())


def _split_line(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    seg_start = start
    for match in _END.finditer(text, start, end):
        stop = match.end()
        if not _NEXT_STARTS_SENTENCE.match(text, stop, end):
            continue
        if text[match.start()] == "." and match.end() - match.start() == 1 and _is_abbreviation(text, match.start()):
            continue
        if _inside_quotation(text[seg_start:stop]):
            continue
        yield from _trimmed(text, seg_start, stop)
        seg_start = stop
    yield from _trimmed(text, seg_start, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end
