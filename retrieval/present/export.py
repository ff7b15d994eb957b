"""Export brief: a conversation's questions, answers and quotes with full attribution, as
Markdown for people and JSON for tools.

The brief is dated, lists the filters each answer was searched under, and numbers each quote
once: a quote cited again by a later answer keeps its first number and is not listed twice.
Everything from the articles (quotes, titles, outlets, questions) is escaped for Markdown: no
HTML, emphasis, images or links come from it; the only links are a quote's http(s) URL."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from retrieval.present.attribution import brief_attribution
from retrieval.types import Answer, Quote

# Markdown's special characters, plus '<' '>' '&' for raw HTML and '.' ':' after digits or at a line
# start (ordered lists, autolinks) - escaped with a backslash, which CommonMark allows before any of them.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&:\"'=$@])")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$", re.I)


def md_text(text: str) -> str:
    """``text`` as literal Markdown inline text: every character that could start markup is
    backslash-escaped, and line breaks become spaces (a heading, list or quote cannot start)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def md_link(url: str | None) -> str | None:
    """An http(s) URL as an autolink; any other scheme (``javascript:``, ``data:``) as plain text."""
    if not url:
        return None
    url = url.strip()
    return f"<{url}>" if _SAFE_URL.match(url) else md_text(url)


def filters_text(filters: dict | None) -> str:
    """``outlet “Reuters”; article a.txt; since 2025-01-01`` or ``none``."""
    if not filters:
        return "none"
    parts = [f"outlet “{o}”" for o in filters.get("outlets", ())]
    parts += [f"article {s}" for s in filters.get("sources", ())]
    parts += [f"{k} {filters[k]}" for k in ("since", "until") if filters.get(k)]
    return "; ".join(parts) or "none"


def quote_key(quote: Quote) -> tuple[str, int, int]:
    return quote.source, quote.start, quote.end


def renumber(text: str, quotes: list[Quote], numbers: list[int]) -> tuple[str, bool]:
    """The answer text with each quote's citation ``[n]`` (the first ``[n]`` after the quote's
    text) changed to the brief's number. Returns ``(text, all found)``; the quote's own text is
    never touched."""
    out, pos, found = [], 0, True
    for n, (quote, number) in enumerate(zip(quotes, numbers), start=1):
        at = text.find(quote.text, pos)
        marker = text.find(f"[{n}]", at + len(quote.text)) if at >= 0 else -1
        if marker < 0:
            found = False
            continue
        out.append(text[pos:marker] + f"[{number}]")
        pos = marker + len(f"[{n}]")
    out.append(text[pos:])
    return "".join(out), found


def brief_json(answers: list[Answer]) -> str:
    """The answers' JSON contract, one object each (with the filters each was searched under)."""
    return json.dumps([a.to_dict() for a in answers], ensure_ascii=False, indent=2) + "\n"


def brief_markdown(answers: list[Answer], title: str = "Brief", exported: datetime | None = None) -> str:
    """Each question, its answer, and its quotes (numbered once across the brief) as block quotes
    with attribution; dated, with the filters each question was searched under."""
    exported = exported or datetime.now(timezone.utc)
    used = {filters_text(a.filters) for a in answers}
    header = f"Filters: {next(iter(used))}" if len(used) == 1 else "Filters: as noted under each question"
    lines = [f"# {md_text(title)}", "", f"Exported {exported.strftime('%Y-%m-%d %H:%M UTC')} · "
             f"{len(answers)} question(s) · {md_text(header)}", ""]
    numbers: dict[tuple[str, int, int], int] = {}
    for i, answer in enumerate(answers, start=1):
        earlier = set(numbers)
        lines += [f"## {i}\\. {md_text(answer.question)}", ""]
        if len(used) > 1:
            lines += [f"_Filters: {md_text(filters_text(answer.filters))}_", ""]
        if answer.standalone_question:
            lines += [f"_Searched for: {md_text(answer.standalone_question)}_", ""]
        mine = [numbers.setdefault(quote_key(q), len(numbers) + 1) for q in answer.quotes]
        text, all_found = renumber(answer.answer, answer.quotes, mine)
        lines += [md_text(text), ""]
        listed: set[int] = set()
        for n, (quote, number) in enumerate(zip(answer.quotes, mine), start=1):
            if number in listed:
                continue
            listed.add(number)
            cited = "" if all_found or n == number else f" (cited as [{n}] in this answer)"
            if quote_key(quote) in earlier:
                lines += [f"**\\[{number}\\]** quoted under an earlier question{md_text(cited)}", ""]
                continue
            quoted = "\n".join(f"> {md_text(line)}" if line.strip() else ">" for line in quote.text.splitlines())
            lines += [f"**\\[{number}\\]** {attribution_md(quote)}{md_text(cited)}", "", quoted, ""]
        if answer.notice:
            lines += [md_text(answer.notice), ""]
    return "\n".join(lines).rstrip() + "\n"


def attribution_md(quote: Quote) -> str:
    """The brief's attribution line, escaped, with the URL as a link only when it is http(s)."""
    plain = brief_attribution(replace(quote, url=None))
    link = md_link(quote.url)
    return md_text(plain) + (f" {link}" if link else "")


def brief_paths(path: str | Path) -> list[Path]:
    base = Path(path).with_suffix("")
    return [base.with_suffix(".md"), base.with_suffix(".json")]


def unique_brief_path(folder: Path, now: datetime | None = None) -> Path:
    """``brief-20250607-143012.md`` in ``folder``, with ``-2``, ``-3`` … if that name is taken, so
    no export is ever served in place of a newer one."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    candidate, n = folder / f"brief-{stamp}.md", 2
    while any(p.exists() for p in brief_paths(candidate)):
        candidate, n = folder / f"brief-{stamp}-{n}.md", n + 1
    return candidate


def write_brief(path: str | None, answers: list[Answer]) -> list[Path]:
    """``brief.md`` and ``brief.json`` side by side (whichever of the two names is given)."""
    if not path:
        return []
    written = brief_paths(path)
    now = datetime.now(timezone.utc)
    written[0].write_text(brief_markdown(answers, exported=now), encoding="utf-8")
    written[1].write_text(brief_json(answers), encoding="utf-8")
    return written
