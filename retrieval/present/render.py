"""Answers, passages and sources as text, Markdown and HTML: shared by the command line and the UI.

Article text is always escaped before markup is added around it."""
from __future__ import annotations

import html
import re

from prompts import MODEL_PHRASING, UNDATED, fill
from retrieval.present.attribution import (citation_attribution, describe_article, quote_dating, quote_name,
                                          source_label)
from retrieval.present.viewer import Paragraphs, cleaned_paragraphs, highlight_parts, highlight_pieces
from retrieval.types import Answer, Hit, Quote

CONTEXT_CHARS = 200          # article text shown on each side of a quote in the Sources panel


def citation(n: int, quote: Quote) -> str:
    return f"[{n}] {citation_attribution(quote)}"


def checks_line(answer: Answer) -> str | None:
    """``Quotes from the model: 3 emitted, 2 verified, 0 repaired, 1 dropped, 1 re-attributed``
    (generative mode; re-attributed: kept, but found in another passage than the one cited)."""
    c = answer.quote_checks
    if c is None:
        return None
    return (f"Quotes from the model: {c['emitted']} emitted, {c['verified']} verified, "
            f"{c['repaired']} repaired, {c['dropped']} dropped, {c.get('reattributed', 0)} re-attributed")


def format_answer(answer: Answer) -> str:
    """The answer text, then one citation line per quote, then how it was made."""
    lines = [answer.answer]
    if answer.standalone_question:
        lines = [f"Searched for: {answer.standalone_question}", ""] + lines
    if answer.quotes:
        lines += ["", *(citation(n, q) for n, q in enumerate(answer.quotes, start=1))]
    extra = [line for line in (checks_line(answer), answer.notice) if line]
    return "\n".join(lines + ([""] + extra if extra else []))


def chunk_dict(hit: Hit) -> dict:
    """A retrieved passage as ``search --json`` prints it."""
    c, m = hit.chunk, hit.meta
    return {"text": c.text, "source": c.source, "start": c.start, "end": c.end, "title": m.title, "outlet": m.outlet,
            "published": m.published, "url": m.url, "score": hit.score}


def format_chunks(hits: list[Hit]) -> str:
    blocks = []
    for n, hit in enumerate(hits, start=1):
        c, m = hit.chunk, hit.meta
        head = (f"[{n}] {c.source}:{c.start}-{c.end} — {source_label(m.outlet, m.title, c.source)}, "
                f"{m.published or UNDATED} (score {hit.score:.4f}, dense {hit.dense:.3f}, bm25 {hit.lexical:.2f})")
        body = "\n".join(f"    {line}" if line.strip() else "" for line in c.text.splitlines())
        blocks.append(f"{head}\n{body}")
    return "\n\n".join(blocks) if blocks else "No matching passages."


def format_explanation(explanation: dict) -> str:
    """``--explain`` as text: the decision, then each candidate sentence and its gates in order."""
    decision = explanation["decision"]
    lines = [f"Decision: {decision['reason']}" + (f" — {decision['detail']}" if decision["detail"] else "")]
    for n, cand in enumerate(explanation["candidates"], start=1):
        score = "-" if cand["score"] is None else f"{cand['score']:.4f}"
        lines.append(f"  {n}. {cand['source']}:{cand['start']}-{cand['end']} score {score}: {cand['decision']}")
        lines += [f"       {'pass' if g['passed'] else 'FAIL'} {g['gate']}: {g['reason']}"
                  + (f" — {g['detail']}" if g["detail"] else "") for g in cand["gates"]]
    return "\n".join(lines)


_MARKDOWN_SPECIAL = r"[\\`*_{}\[\]()#+\-!|~$]"    # what md_escape escapes and md_unescape restores
_MARKDOWN = re.compile(f"({_MARKDOWN_SPECIAL})")
_ESCAPED = re.compile(rf"\\({_MARKDOWN_SPECIAL})")


def md_escape(text: str) -> str:
    """Article text as literal Markdown: no emphasis, links, images, raw HTML or LaTeX from it."""
    return html.escape(_MARKDOWN.sub(r"\\\1", text), quote=False)


def message_text(message: dict) -> str:
    """A chat message's text: Gradio gives the content as a string or a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def md_unescape(text: str) -> str:
    """The text that ``md_escape`` was given (for earlier questions kept in the chat history)."""
    return _ESCAPED.sub(r"\1", html.unescape(text))


_CITED = re.compile(r"\\\[(\d{1,3})\\\]$")          # ``\[2\]`` closing a line of the answer: a citation
_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")           # any other ``\[2\]``: a footnote marker of the article


def cite_link(n: int, answer_no: int) -> str:
    """A citation number that opens its card in the Sources panel (``#a<answer>-s<n>``)."""
    return f'<a class="cite" href="#a{answer_no}-s{n}">&#91;{n}&#93;</a>'


def footnote_marker(n: str) -> str:
    """An article's own footnote marker, set apart from the assistant's citation numbers."""
    return f'<sup class="fn" title="footnote marker in the article">&#91;{n}&#93;</sup>'


_PHRASING = md_escape(fill(MODEL_PHRASING, claim=""))     # a line in the model's own words (generative mode)


def _mark_numbers(escaped: str, answer_no: int) -> str:
    lines = []
    for line in escaped.split("\n"):
        if line.startswith(_PHRASING):      # set apart, in italics, from the verbatim quotes under it
            lines.append(f"_{line}_")
            continue
        cited = _CITED.search(line)
        head = line[:cited.start()] if cited else line
        head = _MARKER.sub(lambda m: footnote_marker(m[1]), head)
        lines.append(head + (cite_link(int(cited[1]), answer_no) if cited else ""))
    return "\n".join(lines)


def chat_markdown(answer: Answer, answer_no: int = 1, filters_note: str | None = None) -> str:
    """The chat message: the answer text (quotes numbered [n], each a link to its card in
    Sources) and one citation line per quote; ``filters_note`` names the active filters of an abstention."""
    text = _mark_numbers(md_escape(answer.answer), answer_no)
    if answer.standalone_question:
        text = f"_Searched for: {md_escape(answer.standalone_question)}_\n\n" + text
    if answer.quotes:
        cites = [f"{cite_link(n, answer_no)} {md_escape(citation_attribution(q))}"
                 for n, q in enumerate(answer.quotes, start=1)]
        text += "\n\n" + "  \n".join(cites)
    extra = [f"_{md_escape(line)}_" for line in (checks_line(answer), answer.notice, filters_note) if line]
    return text + ("\n\n" + "\n\n".join(extra) if extra else "")


def article_html_text(text: str) -> str:
    """Article text, HTML-escaped, its footnote markers set apart from citation numbers."""
    return re.sub(r"\[(\d{1,3})\]", lambda m: footnote_marker(m[1]), html.escape(text))


def _highlighted_html(pieces: list[tuple[str, bool]]) -> str:
    """Pieces of article text (``highlight_pieces``), escaped, those inside the quote in a <mark>."""
    return "".join(f"<mark>{article_html_text(t)}</mark>" if inside else article_html_text(t) for t, inside in pieces)


def _window(text: str, start: int, end: int, chars: int) -> tuple[int, int]:
    lo, hi = max(0, start - chars), min(len(text), end + chars)
    if lo > 0:
        gap = re.search(r"\s", text[lo:start])
        lo = lo + gap.end() if gap else lo
    if hi < len(text):
        gaps = [m.start() for m in re.finditer(r"\s", text[end:hi])]
        hi = end + gaps[-1] if gaps else hi
    return lo, hi


def context_html(text: str, start: int, end: int, chars: int = CONTEXT_CHARS,
                 paragraphs: Paragraphs | None = None) -> str:
    """``text[start:end]`` in a <mark>, with about ``chars`` characters of the article's own text
    either side (cut at word boundaries): page furniture (banners, comment forms) is left out, each
    paragraph on its own line. Every piece of article text is HTML-escaped before tags are added.
    ``paragraphs``: the text's ``cleaned_paragraphs``, when the caller has them."""
    lo, hi = _window(text, start, end, chars)
    paragraphs = cleaned_paragraphs(text) if paragraphs is None else paragraphs
    spans: list[list[int]] = []
    # The quote is always shown, with the shown paragraphs around it that fall in the window.
    for a, b in sorted([(max(a, lo), min(b, hi)) for a, b, _ in paragraphs if a < hi and b > lo]
                       + [(start, end)]):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    pieces = [_highlighted_html(highlight_pieces(text, a, b, start, end)).strip() for a, b in spans]
    more_before, more_after = spans[0][0] > 0, spans[-1][1] < len(text.rstrip())
    return f"{'…' if more_before else ''}{chr(10).join(pieces)}{'…' if more_after else ''}"


SOURCES_CSS = """
.sources { font-size: 0.95rem; line-height: 1.45; }
.sources h3 { margin: 0 0 0.6rem 0; font-size: 1.05rem; }
.sources .hint { color: var(--body-text-color-subdued); margin: 0; }
.sources .source { border: 1px solid var(--border-color-primary); border-radius: 8px;
                   padding: 0.6rem 0.75rem; margin-bottom: 0.75rem; background: var(--background-fill-secondary); }
.sources .cite { font-weight: 600; }
.sources .n { color: var(--color-accent); margin-right: 0.3rem; }
.sources .where { color: var(--body-text-color-subdued); font-size: 0.85rem; margin: 0.15rem 0 0.4rem 0;
                  font-family: var(--font-mono); overflow-wrap: anywhere; }
.sources .context { margin: 0; padding-left: 0.6rem; border-left: 3px solid var(--border-color-accent);
                    white-space: pre-wrap; overflow-wrap: anywhere; }
.sources details.article { margin-top: 0.5rem; }
.sources details.article summary { cursor: pointer; color: var(--color-accent); }
.sources details.article p { margin: 0.4rem 0; }
.sources mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.sources .fn { color: var(--body-text-color-subdued); font-size: 0.7em; font-style: italic; }
.sources .source.flash { outline: 3px solid var(--color-accent); outline-offset: 2px; }
.sources details.answer { margin-top: 0.8rem; }
.sources details.answer > summary { cursor: pointer; font-weight: 600; margin-bottom: 0.5rem; }
.sources .dating { color: var(--body-text-color-subdued); }
"""


def panel(body: str) -> str:
    return f'<div class="sources"><h3>Sources</h3>{body}</div>'


EMPTY_SOURCES = panel('<p class="hint">Ask a question: every quote in the answer is listed here, '
                       'highlighted in its article; earlier answers\' sources stay below.</p>')
_NO_SOURCES_HINT = "No sources: none of the loaded articles answers this question."
NO_SOURCES = panel(f'<p class="hint">{_NO_SOURCES_HINT}</p>')


def article_html(text: str, start: int, end: int, paragraphs: Paragraphs | None = None) -> str:
    """The whole cleaned article in an expander, the quote highlighted by its offsets; every piece
    of article text is HTML-escaped before the tags are added. ``paragraphs``: as for ``context_html``."""
    shown = "".join(f"<p>{_highlighted_html(pieces)}</p>" for pieces in highlight_parts(text, start, end, paragraphs))
    return f'<details class="article"><summary>Show in the article</summary>{shown}</details>'


def source_card(n: int, q: Quote, articles: dict, answer_no: int = 1) -> str:
    """One quote's card: number, outlet, readable label, author, date (or "undated" and what the
    text mentions), file and offsets, the quote in its context, and the article viewer."""
    names = [html.escape(quote_name(q)), f'<span class="dating">{html.escape(quote_dating(q))}</span>']
    if q.url and q.url.lower().startswith(("http://", "https://")):
        names.append(f'<a href="{html.escape(q.url)}" target="_blank" rel="noopener noreferrer">link</a>')
    record = articles.get(q.source)
    if record:      # the article's paragraphs are found once for both views of it
        paragraphs = cleaned_paragraphs(record.text)
        body = context_html(record.text, q.start, q.end, paragraphs=paragraphs)
        viewer = article_html(record.text, q.start, q.end, paragraphs)
    else:
        body, viewer = f"<mark>{article_html_text(q.text)}</mark>", ""
    return (f'<div class="source" id="a{answer_no}-s{n}"><div class="cite"><span class="n">[{n}]</span> '
            f'{" · ".join(names)}</div><div class="where">{html.escape(q.source)} · characters '
            f'{q.start}–{q.end}</div><blockquote class="context">{body}</blockquote>{viewer}</div>')


def _cards(answer: Answer, articles: dict, answer_no: int, filters_note: str | None = None) -> str:
    if not answer.quotes:
        note = f" {html.escape(filters_note)}" if filters_note else ""
        return f'<p class="hint">{_NO_SOURCES_HINT}{note}</p>'
    return "".join(source_card(n, q, articles, answer_no) for n, q in enumerate(answer.quotes, start=1))


def sources_html(answer: Answer, articles: dict) -> str:
    """The Sources panel for one answer (``articles`` maps a source to its record, as in ``Snapshot.articles``)."""
    return sources_panel([answer], articles)


def filters_note(filters, articles: dict) -> str:
    """``Searched only: outlet Defence Talks; published since 2025-01-01. Clear the filters to search
    every article.`` — said with an abstention under active filters (``filters``: a ``Filters``)."""
    parts = []
    if filters.outlets:
        parts.append("outlet " + " or ".join(filters.outlets))
    if filters.sources:
        parts.append("article " + " or ".join(describe_article(articles[s]).name if s in articles else s
                                              for s in filters.sources))
    if filters.since:
        parts.append(f"published since {filters.since}")
    if filters.until:
        parts.append(f"published until {filters.until}")
    return f"Searched only: {'; '.join(parts)}. Clear the filters to search every article."


def sources_panel(answers: list, articles: dict, filters_note: str | None = None) -> str:
    """Every answer's sources: the latest answer's cards first, each earlier answer's under its
    question (collapsed); card ``a<k>-s<n>`` is quote n of answer k, where citation [n] of
    answer k links to. ``None`` stands for a turn without an answer (an error)."""
    if not any(answers):
        return EMPTY_SOURCES
    latest = len(answers)
    parts = [_cards(answers[-1], articles, latest, filters_note)] if answers[-1] else []
    for k in range(latest - 1, 0, -1):
        earlier = answers[k - 1]
        if earlier:
            parts.append(f'<details class="answer" id="answer-{k}"><summary>Answer {k}: {html.escape(earlier.question)}'
                         f'</summary>{_cards(earlier, articles, k)}</details>')
    return panel("".join(parts))
