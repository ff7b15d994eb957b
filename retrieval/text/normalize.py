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

from retrieval.text.lexicon import NUMBER_WORDS, STOPWORDS

_APOSTROPHES = re.compile(r"(?<=\w)[’'`ʼ‘´](?=\w)")
_POSSESSIVE = re.compile(r"(?<=\w)[’'`ʼ´]s\b")
_WORD = re.compile(r"\d+(?:,\d{3})+|[a-z0-9]+")
_INITIALISM = re.compile(r"(?<![A-Za-z])((?:[A-Za-z]\.){2,})")
_DOUBLED = re.compile(r"([a-z])\1+")
_stemmer = Stemmer.Stemmer("english")


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
    return NUMBER_WORDS.get(word) or _stemmer.stemWord(_DOUBLED.sub(r"\1", word))


def terms(text: str) -> list[str]:
    """Index terms of a text: folded, stop words dropped, stemmed."""
    return [term(w) for w in _WORD.findall(fold(text)) if w not in STOPWORDS]
