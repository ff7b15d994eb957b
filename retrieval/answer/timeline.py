"""Timeline view: the supporting quotes of a question ordered by publication date and grouped
by source, with the points where sources disagree flagged: different figures for the same
thing ("40 factions" / "34 factions"), or opposite stances on the question's action ("ready
to disarm" / "refuse to disarm")."""
from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text.lexicon import NUMBER_WORD, TENS, UNITS
from retrieval.text.normalize import term
from retrieval.text.stance import READY_STANCE, REFUSING_STANCE, stance
from retrieval.types import Quote

_NUMBER = rf"(?:{'|'.join(TENS)})-(?:{'|'.join(UNITS)})|\d[\d,.]*|{NUMBER_WORD}"
# A figure and what it counts: "around 50,000 fighters", "34 factions", "six local commanders".
_FIGURE = re.compile(rf"\b({_NUMBER})((?:\s+[A-Za-z’'-]+){{1,3}})", re.I)
_MODIFIER = re.compile(r"(ed|al|ive|ous|ic|ian|ful|less|ing)$|^(more|than|about|around|some|of|the|local|senior|major)$", re.I)
_UNITS = {"percent", "years", "year", "months", "month", "weeks", "days", "hours", "minutes", "times", "ago"}


@dataclass(frozen=True)
class Disagreement:
    point: str
    positions: tuple[tuple[str, str], ...]   # (what a source says, the source)

    def describe(self) -> str:
        sides = "; ".join(f"{what} ({source})" for what, source in self.positions)
        return f"{self.point}: {sides}"


def chronological(quotes: list[Quote]) -> list[tuple[str | None, str, list[Quote]]]:
    """``(date, source, its quotes)`` by date, undated sources last, quotes in reading order."""
    groups: dict[str, list[Quote]] = {}
    for quote in quotes:
        groups.setdefault(quote.source, []).append(quote)
    ordered = sorted(groups.items(), key=lambda item: (item[1][0].published is None, item[1][0].published or "", item[0]))
    return [(qs[0].published, source, sorted(qs, key=lambda q: q.start)) for source, qs in ordered]


def _figures(quote: Quote) -> list[tuple[str, str]]:
    """``(figure, what it counts)``: the first word after the figure that is not a modifier
    ("34 armed factions" counts factions); durations and percentages are not counts."""
    found = []
    for match in _FIGURE.finditer(quote.text):
        thing = next((w for w in match[2].split() if len(w) >= 4 and not _MODIFIER.search(w)), None)
        if thing and thing.lower() not in _UNITS:
            found.append((match[1], thing))
    return found


def disagreements(quotes: list[Quote], action_terms: set[str]) -> list[Disagreement]:
    """Points on which different sources give different figures or opposite stances."""
    found = []
    by_thing: dict[str, dict[str, tuple[str, str]]] = {}
    named: dict[str, str] = {}
    for quote in quotes:
        for figure, thing in _figures(quote):
            key = term(thing.lower())
            named.setdefault(key, thing.lower())
            by_thing.setdefault(key, {}).setdefault(figure.lower(), (f"{figure} {thing}", quote.source))
    for key, figures in by_thing.items():
        sources = {source for _, source in figures.values()}
        if len(figures) > 1 and len(sources) > 1:
            found.append(Disagreement(f"Different figures for “{named[key]}”", tuple(figures.values())))
    stances: dict[str, set[str]] = {"for": set(), "against": set()}
    for quote in quotes:
        words = {term(w.lower()) for w in re.findall(r"[A-Za-z]+", quote.text)}
        if action_terms and not (action_terms & words):
            continue
        position = stance(quote.text)
        if position == REFUSING_STANCE:
            stances["against"].add(quote.source)
        elif position == READY_STANCE:
            stances["for"].add(quote.source)
    if stances["for"] and stances["against"] and stances["for"] != stances["against"]:
        positions = tuple(("ready or willing", s) for s in sorted(stances["for"])) + \
            tuple(("refusing or resisting", s) for s in sorted(stances["against"]))
        found.append(Disagreement("Opposite stances", positions))
    return found
