"""Separate an article's own text from page furniture, by general line rules.

Nothing is rewritten: cleaning labels each line of the original text, and only lines
labelled ``body`` or ``title`` are indexed, so every offset stays an offset into the
original. Rules are data (``LINE_RULES``, ``END_RULES``) and tested one by one."""
from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text.dates import FULL_DATE
from retrieval.text.lexicon import WEEKDAY

_I = re.IGNORECASE

# Lines that are furniture wherever they stand (reason, pattern on the stripped line).
LINE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("banner", re.compile(
        r"^(top \d+ (this week|stories|news)|related (posts?|articles|stories)|popular (articles|posts|stories)"
        r"|most (read|popular|viewed)|trending( now| stories)?|recommended( for you)?|advertisement|sponsored( content)?"
        r"|share( this( article| story)?)?( on \w+)?|skip to (main )?content|read more|continue reading\W*"
        r"|read the full (article|story|report)( here)?\W*|print|email|menu|search|home)$", _I)),
    ("follow", re.compile(r"^follow .{2,80} on (facebook|twitter|x|instagram|linkedin|telegram|threads)\b.{0,40}$", _I)),
    ("subscribe", re.compile(r"^(?=.{0,300}$).*(\bclick here\b|\b(log ?in|sign ?in|sign up|register) (to|for|now)\b"
                             r"|\bsubscri(be|bers?|ption)\b.*\b(here|now|email|newsletter|information|register|login|access|available)\b"
                             r"|\bsign up\b.{0,40}\bnewsletter\b)", _I)),
    ("byline", re.compile(r"^by\s+[A-Z][\w.'’-]*(\s+[\w.'’-]+){0,5}\s*([|,–—-].{0,40})?$", _I)),
    ("dateline", re.compile(
        rf"^({WEEKDAY},?\s+)?({FULL_DATE})"
        r"(\s*[|,–—-]?\s*\d{1,2}:\d{2}\s*([ap]\.?m\.?)?.{0,10})?$", _I)),
    ("tweet", re.compile(r"(pic\.twitter\.com/|https?://t\.co/)", _I)),
    ("footnote", re.compile(r"^\[\d{1,3}\]\s")),
    ("author-box", re.compile(r"^[A-Z][\w.'’ -]{2,60}https?://\S+$")),
)

# Lines after which nothing is the article's text any more (comments, bios, subscription walls).
END_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("comments", re.compile(r"^(do you like this (article|story)\??|was this (article|story) helpful\??|captcha\b.*"
                            r"|leave a (reply|comment)|\d*\s*comments?|add a comment|post a comment|join the (conversation|discussion)"
                            r"|reader comments|comments are closed.*|please enter your (comment|name).*)$", _I)),
    ("subscribe", re.compile(r"^(discover more from\b.*|subscribe to get\b.*|the full text of this \w+ is available to subscribers.*"
                             r"|please (log ?in|register)\b.*|sign up for our newsletter.*)$", _I)),
    ("related", re.compile(r"^(about the author|you (may|might) also like.*|more (from|on) this topic|related (articles|stories|posts)"
                           r"|popular (articles|posts)|read next|tags?:.*)$", _I)),
)

# "— Name (@handle) January 7, 2025": the attribution line that closes an embedded post.
_POST_ATTRIBUTION = re.compile(r"^[—–-]\s*.{1,80}\(@\w{1,30}\)\s+\w+\.?\s+\d{1,2},\s+\d{4}$")
_SENTENCE_END = re.compile(r"[.!?:;\"'”’)\]…]$")
_MIN_BODY_WORDS = 20   # a paragraph this long means the article has begun
_MAX_HEADING_WORDS = 20  # a longer line without closing punctuation is still prose


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    label: str          # "title", "body", "heading", or the furniture reason

    @property
    def indexed(self) -> bool:
        return self.label in ("title", "body")


def _lines(text: str) -> list[tuple[int, int]]:
    """Offsets of the non-blank lines, stripped of surrounding white space."""
    spans = []
    for match in re.finditer(r"[^\r\n]+", text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _line_rule(line: str) -> str | None:
    for reason, pattern in LINE_RULES:
        if pattern.search(line):
            return reason
    return None


def _end_rule(line: str) -> str | None:
    for reason, pattern in END_RULES:
        if pattern.match(line):
            return reason
    return None


def label_lines(text: str) -> list[Line]:
    """Label every non-blank line of ``text``: title, body, heading, or why it is furniture."""
    spans = _lines(text)
    labels: list[str] = []
    seen: set[str] = set()
    article_started = False
    cut: str | None = None
    for start, end in spans:
        line = text[start:end]
        if cut:
            labels.append(cut)
            continue
        end_reason = _end_rule(line)
        if end_reason and article_started:
            cut = f"after-{end_reason}"
            labels.append(end_reason)
            continue
        if _POST_ATTRIBUTION.match(line):
            labels.append("tweet")
            if labels[:-1] and labels[-2] in ("body", "heading", "title"):
                labels[-2] = "tweet"   # the embedded post's own text
            continue
        reason = end_reason or _line_rule(line)
        if reason is None and line in seen:
            reason = "duplicate"
        seen.add(line)
        if reason:
            labels.append(reason)
            continue
        if len(line.split()) <= _MAX_HEADING_WORDS and not _SENTENCE_END.search(line):
            labels.append("heading")
            continue
        labels.append("body")
        if len(line.split()) >= _MIN_BODY_WORDS:
            article_started = True
    _mark_title(spans, labels, text)
    return [Line(s, e, label) for (s, e), label in zip(spans, labels)]


def _mark_title(spans: list[tuple[int, int]], labels: list[str], text: str) -> None:
    """The headline is the first heading of four or more words before the first body paragraph."""
    for i, label in enumerate(labels):
        if label == "body":
            return
        start, end = spans[i]
        if label == "heading" and len(text[start:end].split()) >= 4:
            labels[i] = "title"
            return


def body_spans(lines: list[Line]) -> list[tuple[int, int]]:
    """Offsets of the indexed lines (title and body paragraphs)."""
    return [(line.start, line.end) for line in lines if line.indexed]
