"""Dates as articles and users write them, read into ISO form."""
from __future__ import annotations

import re
from datetime import date

from retrieval.text.lexicon import MONTH, MONTHS

_MONTH_NUMBER = {m: i for i, m in enumerate(MONTHS, start=1)}
_MDY = re.compile(r"([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})", re.I)
_DMY = re.compile(r"(\d{1,2})\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4})", re.I)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# A full date as a page prints it: "March 3, 2025", "3 March 2025", "2025-03-03".
FULL_DATE = rf"{MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{MONTH},?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}"


def parse_date(text: str) -> str | None:
    """ISO form of the first "June 14, 2025", "14 June 2025" or "2025-06-14" in ``text``."""
    try:
        if m := _ISO.search(text):
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        if (m := _MDY.search(text)) and m[1].lower() in _MONTH_NUMBER:
            return date(int(m[3]), _MONTH_NUMBER[m[1].lower()], int(m[2])).isoformat()
        if (m := _DMY.search(text)) and m[2].lower() in _MONTH_NUMBER:
            return date(int(m[3]), _MONTH_NUMBER[m[2].lower()], int(m[1])).isoformat()
    except ValueError:
        return None
    return None


_FULL = re.compile(FULL_DATE, re.I)


def dates_named(text: str) -> list[str]:
    """ISO form of every full date ``text`` names ("March 3, 2025", "3 March 2025", "2025-03-03"),
    in order; dates without a year ("January 8") are not counted."""
    return [iso for m in _FULL.finditer(text) if (iso := parse_date(m[0]))]
