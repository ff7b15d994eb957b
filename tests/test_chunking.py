"""Sentences and chunks keep exact offsets into the original article text."""
from pathlib import Path

import pytest

from retrieval.ingest.chunking import chunk_article
from retrieval.ingest.cleaning import body_spans, label_lines
from retrieval.text.sentences import split_sentences

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.mark.parametrize("text, sentences", [
    ("The U.S. State Department said no. Gen. Smith left.", ["The U.S. State Department said no.", "Gen. Smith left."]),
    ("“He is here,” she said. Then it rained!  And 5 more.", ["“He is here,” she said.", "Then it rained!", "And 5 more."]),
    ("Vote No. 5 passed. Is it over? Yes.", ["Vote No. 5 passed.", "Is it over?", "Yes."]),
    ("First line without stop\nSecond line.", ["First line without stop", "Second line."]),
    ("He left (for good.) Then she came.", ["He left (for good.)", "Then she came."]),
])
def test_split_sentences(text, sentences):
    assert [text[s:e] for s, e in split_sentences(text)] == sentences


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name)
def test_chunks_are_exact_slices_of_the_article_and_hold_no_furniture(path):
    text = path.read_bytes().decode("utf-8")
    lines = label_lines(text)
    chunks = chunk_article(path.name, text, body_spans(lines), 600)
    assert chunks
    furniture = [(l.start, l.end) for l in lines if not l.indexed]
    for i, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.start:chunk.end]
        assert chunk.index == i
        assert len(chunk.text) <= 600 or len(list(split_sentences(chunk.text))) == 1
        assert not any(s < chunk.end and chunk.start < e for s, e in furniture)
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:]))


def test_chunks_break_at_sentence_ends_and_at_furniture():
    text = "One short sentence here. Another short sentence here.\nAdvertisement\nA third sentence after the ad."
    chunks = chunk_article("a.txt", text, body_spans(label_lines(text)), 30)
    assert [c.text for c in chunks] == ["One short sentence here.", "Another short sentence here.",
                                        "A third sentence after the ad."]


def test_chunk_offsets_survive_crlf_and_unicode():
    text = "Kata’ib Hezbollah (KH) said “no”.\r\n\r\nThe PMF — al-Hashd — agreed, officials said on Monday."
    chunks = chunk_article("a.txt", text, body_spans(label_lines(text)), 600)
    assert [c.text for c in chunks] == [text[:text.index("\r")] + "\r\n\r\n" + text[text.index("The"):]]
    assert chunks[0].text == text[chunks[0].start:chunks[0].end]


def test_a_quotation_of_several_sentences_stays_one_sentence():
    text = 'He warned, “Americans are here. This must be resisted.” Then he left. She said "No. Never." Done.'
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "He warned, “Americans are here. This must be resisted.”", "Then he left.", 'She said "No. Never."', "Done."]
