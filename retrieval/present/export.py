"""Export brief: a conversation's questions, answers and quotes with full attribution, as
Markdown for people and JSON for tools."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from retrieval.present.attribution import brief_attribution
from retrieval.types import Answer


def brief_json(answers: list[Answer]) -> str:
    return json.dumps([a.to_dict() for a in answers], ensure_ascii=False, indent=2) + "\n"


def brief_markdown(answers: list[Answer], title: str = "Brief") -> str:
    """Each question, its answer, and its numbered quotes as block quotes with attribution."""
    lines = [f"# {title}", ""]
    for i, answer in enumerate(answers, start=1):
        lines += [f"## {i}. {answer.question}", ""]
        if answer.standalone_question:
            lines += [f"_Searched for: {answer.standalone_question}_", ""]
        lines += [answer.answer, ""]
        for n, quote in enumerate(answer.quotes, start=1):
            quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in quote.text.splitlines())
            lines += [f"**[{n}]** {brief_attribution(quote)}", "", quoted, ""]
        lines += [line for line in (answer.notice,) if line]
    return "\n".join(lines).rstrip() + "\n"


def write_brief(path: str | None, answers: list[Answer]) -> list[Path]:
    """``brief.md`` and ``brief.json`` side by side (whichever of the two names is given)."""
    if not path:
        return []
    base = Path(path).with_suffix("")
    written = [base.with_suffix(".md"), base.with_suffix(".json")]
    written[0].write_text(brief_markdown(answers), encoding="utf-8")
    written[1].write_text(brief_json(answers), encoding="utf-8")
    print(f"Brief written to {written[0]} and {written[1]}.", file=sys.stderr)
    return written
