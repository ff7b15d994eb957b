"""Alias table: names that mean the same actor, and words that translate each other.

The table is data (``aliases.json``, extendable by a user); acronyms that an article
defines, as in "Kata'ib Hezbollah (KH)", are learned from the corpus and added. An acronym no
article defines ("IRI" for the Islamic Resistance in Iraq) is read as the corpus's most frequent
names with those initials, among the names spaCy found at ingest (``initialism``)."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.text.lexicon import STOPWORDS
from retrieval.text.normalize import cased_words, fold, term, terms

Phrase = tuple[str, ...]
# "Long Name Of Group (LNG)": an acronym defined in the text.
_DEFINED_ACRONYM = re.compile(r"((?:[A-Z][\w’'-]*\s+(?:(?:of|the|and|al|for)\s+)?){1,7})\(([A-Z]{2,6})\)")
_MINOR = {"of", "the", "and", "al", "for"}
_ACRONYM_IN_BRACKETS = re.compile(r"\([A-Z]{2,6}\)")    # cheap test first: the full pattern backtracks on every capital
# Entity labels of names an acronym can stand for, and the words its initials leave out.
NAME_LABELS = frozenset({"ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"})
_UNINITIALED = {"of", "the", "and", "al", "for", "in", "on", "at", "to", "de", "du", "la", "le", "el"}
EXPANSIONS = 3          # names an undefined acronym may stand for, most frequent first


@dataclass
class AliasTable:
    groups: list[list[Phrase]] = field(default_factory=list)
    canonical: list[str] = field(default_factory=list)   # each group's first name, as written
    # Aliases that are also common words ("US" / "us") count only when written in capitals.
    capitals_only: set[Phrase] = field(default_factory=set)
    equivalents: dict[str, set[str]] = field(default_factory=dict)
    initialisms: dict[str, Counter] = field(default_factory=dict)    # "IRI" -> {"Islamic Resistance in Iraq": 3}
    # How each group's one-word acronyms are spelled: index terms collapse doubled letters and stem,
    # so "IFF" and "IFS" are both the term "if"; a group holds only the acronyms spelled as its own.
    spellings: dict[tuple[int, Phrase], set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "AliasTable":
        data = json.loads(path.read_text(encoding="utf-8"))
        table = cls()
        for names in data.get("aliases", []):
            table.add_group(names)
        for words in data.get("equivalents", []):
            group = {term(w) for w in (fold(x) for x in words) if w}
            for t in group:
                table.equivalents.setdefault(t, set()).update(group)
        return table

    def add_group(self, names: list[str]) -> None:
        phrases = []
        spelled: dict[Phrase, set[str]] = {}
        for name in names:
            phrase = tuple(terms(name))
            if not phrase:
                continue
            phrases.append(phrase)
            if name.replace(".", "").isupper() and fold(name).replace(".", "") in STOPWORDS | {"us"}:
                self.capitals_only.add(phrase)
            if (acronym := _spelling(name)) and len(phrase) == 1:
                spelled.setdefault(phrase, set()).add(acronym)
        # A name already in a group joins that group instead of starting a new one.
        for number, group in enumerate(self.groups):
            if any(p in group and self._same_spelling(number, p, spelled.get(p)) for p in phrases):
                group.extend(p for p in phrases if p not in group)
                self._spell(number, spelled)
                return
        if len(phrases) > 1:
            self.groups.append(phrases)
            self.canonical.append(names[0])
            self._spell(len(self.groups) - 1, spelled)

    def _same_spelling(self, number: int, phrase: Phrase, spelled: set[str] | None) -> bool:
        """Whether ``phrase``, shared with group ``number``, names the same thing there: not two
        acronyms spelled apart whose terms meet ("IFF", "IFS")."""
        known = self.spellings.get((number, phrase))
        return not (known and spelled) or bool(known & spelled)

    def _spell(self, number: int, spelled: dict[Phrase, set[str]]) -> None:
        for phrase, acronyms in spelled.items():
            self.spellings.setdefault((number, phrase), set()).update(acronyms)

    def spelled_as(self, number: int, phrase: Phrase, word: str) -> bool:
        """Whether ``word``, found as ``phrase`` of group ``number``, is spelled as that group's
        acronym, in any case ("iff" is "IFF", not "IFS")."""
        known = self.spellings.get((number, phrase))
        return not known or word.replace(".", "").upper() in known

    def learn_acronyms(self, definitions: list[tuple[str, str]]) -> None:
        """Each ``(name, acronym)`` an article defines (``defined_acronyms``) becomes an alias group."""
        for name, acronym in definitions:
            self.add_group([name, acronym])

    def learn_initialisms(self, names: list[tuple[str, str, int]]) -> None:
        """``(name, its initials, how often)`` for names found in the corpus (``initialism``)."""
        for name, initials, count in names:
            self.initialisms.setdefault(initials, Counter())[name] += count

    def expansions(self, acronym: str) -> list[str]:
        """The names of the corpus whose initials spell ``acronym``, most frequent first (ties by name,
        so the answer does not depend on the order the articles were read in)."""
        found = self.initialisms.get(acronym.upper(), Counter())
        return [name for name, _ in sorted(found.items(), key=lambda item: (-item[1], item[0]))[:EXPANSIONS]]

    def matches(self, tokens: list[tuple[str, str]]) -> list[tuple[int, int, int]]:
        """Alias groups found in ``tokens`` (pairs of original word and index term), longest
        first, without overlaps: ``(first token, end token, group number)``."""
        found = []
        term_seq = [t for _, t in tokens]
        for number, group in enumerate(self.groups):
            for phrase in group:
                n = len(phrase)
                for i in range(len(term_seq) - n + 1):
                    if tuple(term_seq[i:i + n]) != phrase:
                        continue
                    if phrase in self.capitals_only and not all(w.isupper() for w, _ in tokens[i:i + n]):
                        continue
                    if n == 1 and not self.spelled_as(number, phrase, tokens[i][0]):
                        continue
                    found.append((i, i + n, number))
        found.sort(key=lambda m: (m[0] - m[1], m[0]))
        taken: set[int] = set()
        result = []
        for start, end, group in found:
            if taken.isdisjoint(range(start, end)):
                taken.update(range(start, end))
                result.append((start, end, group))
        return sorted(result, key=lambda m: m[0])


def _spelling(name: str) -> str | None:
    """The acronym as written, for a name written in capitals ("IFF"; "U.S." is "US"), else None."""
    bare = name.replace(".", "")
    return bare if bare.isupper() and bare.isalpha() else None


def defined_acronyms(text: str) -> list[tuple[str, str]]:
    """``(name, acronym)`` for each acronym ``text`` defines: "the Islamic Resistance in Iraq (IRI)"."""
    if not _ACRONYM_IN_BRACKETS.search(text):
        return []
    found = []
    for match in _DEFINED_ACRONYM.finditer(text):
        words = match[1].split()
        acronym = match[2]
        # The longest tail of the name whose initials spell the acronym, not starting with "of", "the"...
        for i in range(len(words)):
            if words[i].lower() in _MINOR:
                continue
            initials = "".join(w[0] for w in words[i:] if w.lower() not in _MINOR).upper()
            if initials == acronym.upper():
                found.append((" ".join(words[i:]), acronym))
                break
    return found


_LEADING = re.compile(r"^[\W_]*(?:(?:the|a|an)\s+)?[\W_]*", re.I)


def bare_name(name: str) -> str:
    """A name as an entity spans it, without a leading article or quotes: "The “Islamic Resistance"
    -> "Islamic Resistance"."""
    return _LEADING.sub("", name).rstrip("\"“”'’ ")


def initialism(name: str) -> str | None:
    """The initials of a name of two to six capitalized words, the small words left out ("the
    Islamic Resistance in Iraq" -> "IRI"); ``None`` when it is no such name."""
    words = [w for w in cased_words(name) if w.lower() not in _UNINITIALED]
    if not 2 <= len(words) <= 6 or not all(w[0].isupper() for w in words):
        return None
    return "".join(w[0] for w in words).upper()
