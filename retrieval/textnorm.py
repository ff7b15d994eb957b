"""Spelling-tolerant text normalization shared by the lexical index and the answer checks.

``fold`` makes spellings comparable (Unicode, diacritics, apostrophes, case);
``terms`` turns text into index terms (folded, doubled letters collapsed, stop words
dropped, stemmed), so "Kata’ib", "Kataib", "Nujabaa" and "Nujaba" meet."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer
from unidecode import unidecode

_APOSTROPHES = re.compile(r"(?<=\w)[’'`ʼ‘´](?=\w)")
_POSSESSIVE = re.compile(r"(?<=\w)[’'`ʼ´]s\b")
_WORD = re.compile(r"\d+(?:,\d{3})+|[a-z0-9]+")
_INITIALISM = re.compile(r"(?<![A-Za-z])((?:[A-Za-z]\.){2,})")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS |= {w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)}
_DOUBLED = re.compile(r"([a-z])\1+")
_stemmer = Stemmer.Stemmer("english")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
al el ul s t
""".split())


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _POSSESSIVE.sub("", text)      # Iraq's -> Iraq
    text = _APOSTROPHES.sub("", text)    # Kata'ib -> Kataib
    text = _INITIALISM.sub(lambda m: m[1].replace(".", ""), text)   # U.S. -> US
    return unidecode(text)


def fold(text: str) -> str:
    """Lower-case ASCII form: NFKC, transliterated, apostrophes inside words removed."""
    return _ascii(text).lower()


_CASED_WORD = re.compile(r"\d+(?:,\d{3})+|[A-Za-z0-9]+")


def cased_words(text: str) -> list[str]:
    """Words as written (ASCII, case kept), stop words included."""
    return _CASED_WORD.findall(_ascii(text))


def ascii_words(text: str) -> tuple[str, list[re.Match]]:
    """The ASCII form of ``text`` and its words, with their places in that form."""
    folded = _ascii(text)
    return folded, list(_CASED_WORD.finditer(folded))


@lru_cache(maxsize=200_000)
def term(word: str) -> str:
    """Index term of one folded word: numbers as digits, doubled letters collapsed, stemmed."""
    if word[0].isdigit():
        return word.replace(",", "")
    return _NUMBER_WORDS.get(word) or _stemmer.stemWord(_DOUBLED.sub(r"\1", word))


def terms(text: str) -> list[str]:
    """Index terms of a text: folded, stop words dropped, stemmed."""
    return [term(w) for w in _WORD.findall(fold(text)) if w not in STOPWORDS]
