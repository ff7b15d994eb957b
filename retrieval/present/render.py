"""Answers, passages and sources as text, Markdown and HTML: shared by the command line and the UI.

Article text is always escaped before markup is added around it."""
from __future__ import annotations

import html
import re

from prompts import UNDATED
from retrieval.present.attribution import citation_attribution, source_label
from retrieval.present.viewer import highlight_parts
from retrieval.types import Answer, Hit, Quote

CONTEXT_CHARS = 200          # article text shown on each side of a quote in the Sources panel


def citation(n: int, quote: Quote) -> str:
    return f"[{n}] {citation_attribution(quote)}"


def checks_line(answer: Answer) -> str | None:
    """``Quotes from the model: 3 emitted, 2 verified, 0 repaired, 1 dropped`` (generative mode)."""
    c = answer.quote_checks
    if c is None:
        return None
    return (f"Quotes from the model: {c['emitted']} emitted, {c['verified']} verified, "
            f"{c['repaired']} repaired, {c['dropped']} dropped")


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


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-!|~$])")


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
    return re.sub(r"\\([\\`*_{}\[\]()#+\-!|~$])", r"\1", html.unescape(text))


def chat_markdown(answer: Answer) -> str:
    """The chat message: the answer text (quotes numbered [n]) and one citation line per quote."""
    text = md_escape(answer.answer)
    if answer.standalone_question:
        text = f"_Searched for: {md_escape(answer.standalone_question)}_\n\n" + text
    if answer.quotes:
        cites = [f"**\\[{n}\\]** {md_escape(citation_attribution(q))}" for n, q in enumerate(answer.quotes, start=1)]
        text += "\n\n" + "\n".join(cites)
    extra = [f"_{md_escape(line)}_" for line in (checks_line(answer), answer.notice) if line]
    return text + ("\n\n" + "\n\n".join(extra) if extra else "")


def context_html(text: str, start: int, end: int, chars: int = CONTEXT_CHARS) -> str:
    """``text[start:end]`` in a <mark>, with about ``chars`` characters of context either side
    (cut at word boundaries). Every piece of article text is HTML-escaped before the tags are added."""
    lo, hi = max(0, start - chars), min(len(text), end + chars)
    if lo > 0:
        gap = re.search(r"\s", text[lo:start])
        lo = lo + gap.end() if gap else lo
    if hi < len(text):
        gaps = [m.start() for m in re.finditer(r"\s", text[end:hi])]
        hi = end + gaps[-1] if gaps else hi
    before, quote, after = (html.escape(t) for t in (text[lo:start].lstrip(), text[start:end], text[end:hi].rstrip()))
    return f"{'…' if lo > 0 else ''}{before}<mark>{quote}</mark>{after}{'…' if hi < len(text) else ''}"


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
"""


def panel(body: str) -> str:
    return f'<div class="sources"><h3>Sources</h3>{body}</div>'


EMPTY_SOURCES = panel('<p class="hint">Ask a question: every quote in the answer is listed here, '
                       'highlighted in its article.</p>')
NO_SOURCES = panel('<p class="hint">No sources: none of the loaded articles answers this question.</p>')


def article_html(text: str, start: int, end: int) -> str:
    """The whole cleaned article in an expander, the quote highlighted by its offsets; every piece
    of article text is HTML-escaped before the tags are added."""
    paragraphs = []
    for pieces in highlight_parts(text, start, end):
        inner = "".join(f"<mark>{html.escape(t)}</mark>" if inside else html.escape(t) for t, inside in pieces)
        paragraphs.append(f"<p>{inner}</p>")
    return f'<details class="article"><summary>Show in the article</summary>{"".join(paragraphs)}</details>'


def sources_html(answer: Answer, articles: dict) -> str:
    """The Sources panel: per quote its number, outlet, title, date, file, offsets, and the quote
    highlighted in its context (``articles`` maps a source to its record, as in ``Snapshot.articles``)."""
    if not answer.quotes:
        return NO_SOURCES
    items = []
    for n, q in enumerate(answer.quotes, start=1):
        names = [html.escape(x) for x in (q.outlet, q.title and f"“{q.title}”") if x] or ["Untitled article"]
        names.append(html.escape(q.published or UNDATED))
        if q.url and q.url.lower().startswith(("http://", "https://")):
            names.append(f'<a href="{html.escape(q.url)}" target="_blank" rel="noopener noreferrer">link</a>')
        record = articles.get(q.source)
        body = context_html(record.text, q.start, q.end) if record else f"<mark>{html.escape(q.text)}</mark>"
        viewer = article_html(record.text, q.start, q.end) if record else ""
        items.append(f'<div class="source" id="source-{n}"><div class="cite"><span class="n">[{n}]</span> '
                     f'{" · ".join(names)}</div><div class="where">{html.escape(q.source)} · characters '
                     f'{q.start}–{q.end}</div><blockquote class="context">{body}</blockquote>{viewer}</div>')
    return panel("".join(items))
