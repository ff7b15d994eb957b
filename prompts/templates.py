"""Templates of the extractive answer. Every placeholder must be filled: ``fill`` checks."""
from __future__ import annotations

import string

# The one sentence the assistant says when the articles do not answer a question.
ABSTENTION = "Not in the sources: none of the loaded articles answers this question."

# How a quote is woven into the answer: the first quote of a source names it ...
QUOTE_NEW_SOURCE = "According to {attribution}, {open}{quote}{close} [{n}]"
# ... later quotes of the same source do not repeat its name.
QUOTE_SAME_SOURCE = "The same article says: {open}{quote}{close} [{n}]"
# Quotation marks around a quote; single ones when the quote itself holds double ones.
QUOTE_MARKS = ("“", "”")
NESTED_QUOTE_MARKS = ("‘", "’")
ATTRIBUTION = "{label} ({date})"
UNDATED = "undated"


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill(template: str, **values: object) -> str:
    """``template.format(**values)``, refusing missing or unexpected values."""
    expected = placeholders(template)
    if expected != set(values):
        raise ValueError(f"template needs {sorted(expected)}, got {sorted(values)}")
    return template.format(**values)
