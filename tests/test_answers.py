"""Answers on the real corpus: the right article, verbatim quotes, abstention, the JSON contract."""
import pytest

from prompts import ABSTENTION
from prompts.templates import placeholders
from prompts import templates
from retrieval.errors import InvalidQuestion
from tests.conftest import CORPUS

# Analyst phrasings (not copied sentences) and the article whose text answers them.
ANALYST_QUESTIONS = [
    ("What did Khamenei say about the Popular Mobilization Forces?", "004_9f3c536fd21fedea.txt", "must be preserved and strengthened"),
    ("How many fighters do the hardline Shiite groups in the Islamic Resistance in Iraq have?", "002_09e231ab3d45662e.txt", "50,000 fighters"),
    ("Which Lebanese paper said Baghdad plans to break away from Iran's axis?", "000_52a231bc96e83ae4.txt", "Al-Nahar"),
    ("Where did militia commanders reportedly get asylum?", "000_52a231bc96e83ae4.txt", "Belarus"),
    ("How many factions are loyal only to Khamenei and refuse to give up their arms?", "001_adf714cf9f5e1bca.txt", "34 factions"),
    ("Who is the leader of Asaib Ahl al-Haq?", "001_adf714cf9f5e1bca.txt", "Qais al-Khazali"),
    ("Who killed Qassem Soleimani?", "003_8248b2237cdcb8a2.txt", "President Trump killed"),
    ("When was Soleimani killed?", "003_8248b2237cdcb8a2.txt", "January 2020"),
    ("What did Pezeshkian say at the press conference with the Iraqi prime minister?", "004_9f3c536fd21fedea.txt", "share concerns about stability"),
    ("Why are the militias considering disarmament now?", "002_09e231ab3d45662e.txt", "Trump"),
]


@pytest.mark.parametrize("question, source, fact", ANALYST_QUESTIONS)
def test_analyst_question_gets_a_verbatim_quote_from_the_right_article(assistant, question, source, fact):
    answer = assistant.ask(question)
    assert not answer.abstained
    assert any(q.source == source and fact in q.text for q in answer.quotes), answer.answer
    for quote in answer.quotes:
        assert (CORPUS / quote.source).read_bytes().decode("utf-8")[quote.start:quote.end] == quote.text


@pytest.mark.parametrize("question", [
    "Who won the gold medal in the 100 metres at the Olympic Games?",
    "What did Vladimir Putin say about the Iraqi militias?",
    "How many fighters does Hezbollah have in Lebanon today?",
    "What is the annual budget of the Popular Mobilization Forces?",
    "When are the next parliamentary elections in Iraq?",
    "What is a good recipe for chocolate cake?",
])
def test_questions_the_corpus_cannot_answer_abstain_with_no_quotes(assistant, question):
    answer = assistant.ask(question)
    assert (answer.abstained, answer.answer, answer.quotes) == (True, ABSTENTION, [])


@pytest.mark.parametrize("spellings", [
    ("What did Kataib Hezbollah commanders tell Reuters?", "What did Kata'ib Hezbollah commanders tell Reuters?",
     "What did KH commanders tell Reuters?", "What did Hizbullah Brigades commanders tell Reuters?"),
    ("What is Tehran's stance on the Hashd?", "What is Teheran's stance on the PMF?"),
    ("What did Sudani tell Iranian officials?", "What did Al-Sudani tell Iranian officials?",
     "What did Mohammed Shia al-Sudani tell Iranian officials?"),
])
def test_every_spelling_retrieves_the_same_best_passage(assistant, spellings):
    best = {assistant.retriever.invoke(q)[0].metadata["source"] for q in spellings}
    assert len(best) == 1


def test_json_contract(assistant):
    data = assistant.ask("What did Khamenei say about the Popular Mobilization Forces?").to_dict()
    assert set(data) == {"question", "answer", "abstained", "quotes"}
    assert (type(data["question"]), type(data["answer"]), type(data["abstained"])) == (str, str, bool)
    assert data["quotes"]
    for quote in data["quotes"]:
        assert {"text", "source", "title", "outlet", "published", "url", "start", "end", "score", "label"} <= set(quote)
        assert set(quote) <= {"text", "source", "title", "outlet", "published", "url", "start", "end", "score",
                              "label", "author", "mentions_until"}
        assert quote["source"] not in quote["label"]     # a readable label, never the bare file name
        assert (type(quote["start"]), type(quote["end"]), type(quote["score"])) == (int, int, float)
        assert all(quote[k] is None or isinstance(quote[k], str) for k in ("title", "outlet", "published", "url"))
        assert (CORPUS / quote["source"]).read_bytes().decode("utf-8")[quote["start"]:quote["end"]] == quote["text"]
        assert f"“{quote['text']}”" in data["answer"] or f"‘{quote['text']}’" in data["answer"]


def test_no_quote_comes_from_furniture_or_reader_comments(assistant):
    for question in ("Are the militias trying to subjugate peoples and confiscate their wills?",
                     "Who is Asif Shahid?", "How do I subscribe to MEMRI?",
                     "What did NCRI-FAC tweet about the IRGC and ISIS?"):
        answer = assistant.ask(question)
        for quote in answer.quotes:
            assert "subjugate" not in quote.text and "Asif" not in quote.text and "subscri" not in quote.text.lower()
            assert "pic.twitter" not in quote.text and "@iran_policy" not in quote.text


@pytest.mark.parametrize("question, message", [
    ("", "Please type a question."),
    ("   \n\t ", "Please type a question."),
    ("\x00\x07", "Please type a question."),
    ("x" * 1001, "The question is 1,001 characters long; the limit is 1,000. Please ask a shorter question."),
    (b"bytes", "The question must be text."),
])
def test_bad_questions_raise_a_named_error_with_a_human_message(assistant, question, message):
    with pytest.raises(InvalidQuestion) as err:
        assistant.ask(question)
    assert str(err.value) == message


def test_control_characters_and_mixed_scripts_are_tolerated(assistant):
    answer = assistant.ask("What did\x07 Khamenei (خامنه‌ای) say about the Hashd al-Shaabi?")
    assert any("must be preserved and strengthened" in q.text for q in answer.quotes)


def test_every_template_placeholder_is_filled():
    from retrieval.answer.compose import compose
    from retrieval.present.attribution import quote_attribution
    from retrieval.types import Quote

    quote = Quote("text", "a.txt", None, None, None, None, 0, 4, 1.0)
    nested = Quote("“Go,” he said.", "a.txt", None, None, None, None, 5, 19, 1.0)
    assert quote_attribution(quote) == "“a.txt” (undated)"
    assert compose("q", [quote, nested]).answer == ("According to “a.txt” (undated), “text” [1]\n"
                                                    "The same article says: ‘“Go,” he said.’ [2]")
    for name in ("QUOTE_NEW_SOURCE", "QUOTE_SAME_SOURCE", "ATTRIBUTION"):
        template = getattr(templates, name)
        with pytest.raises(ValueError):
            templates.fill(template)
        assert "{" not in templates.fill(template, **{p: "x" for p in placeholders(template)})
    assert placeholders(ABSTENTION) == set()


@pytest.mark.parametrize("history", [
    ["What did Khamenei say about the Popular Mobilization Forces?"],
    [("What did Khamenei say about the Popular Mobilization Forces?", "…")],
    [{"role": "user", "content": "What did Khamenei say about the Popular Mobilization Forces?"},
     {"role": "assistant", "content": "…"}],
])
def test_a_follow_up_is_condensed_with_the_history(assistant, history):
    answer = assistant.ask("What did he say about the US?", history)
    assert answer.question == "What did he say about the US?"
    assert answer.standalone_question == "What did Khamenei say about the US?"
    assert any("accused the United States" in q.text for q in answer.quotes)
    assert answer.to_dict()["standalone_question"] == "What did Khamenei say about the US?"


def test_without_history_or_pronoun_the_question_is_unchanged(assistant):
    assert assistant.ask("What did he say about the US?").standalone_question is None
    assert "standalone_question" not in assistant.ask("Who killed Soleimani?", ["Tell me about Khamenei"]).to_dict()


def _alias_groups():
    import json as _json

    from tests.conftest import ROOT

    data = _json.loads((ROOT / "retrieval" / "text" / "aliases.json").read_text(encoding="utf-8"))
    return [group for group in data["aliases"]]


@pytest.mark.parametrize("names", _alias_groups(), ids=lambda names: names[0])
def test_every_alias_of_a_group_searches_the_same_way(assistant, names):
    """Whatever spelling the question uses, the search is the same: same terms, same text for the
    encoder, same best passage."""
    analyses = [assistant.analyze(f"What did {name} say about the talks?") for name in names]
    assert len({a.dense_text for a in analyses}) == 1
    assert len({tuple(a.query_terms) for a in analyses}) == 1
    best = {assistant.retriever.invoke(f"What did {name} say about the talks?")[0].id for name in names}
    assert len(best) == 1


@pytest.mark.parametrize("text, expected", [
    ("Fighters of Kataib Hezbollah (KH) claimed the attack.", [("Kataib Hezbollah", "KH")]),
    ("The Popular Mobilization Forces (PMF) and the World Health Organization (WHO) met.",
     [("Popular Mobilization Forces", "PMF"), ("World Health Organization", "WHO")]),
    ("He joined the army (in 2003) and the Navy (USN).", []),
])
def test_acronyms_an_article_defines(text, expected):
    from retrieval.text.aliases import defined_acronyms

    assert defined_acronyms(text) == expected


@pytest.mark.parametrize("name, initials", [
    ("The “World Meteorological Organization", "WMO"),
    ("the Bank of England", "BE"),
    ("Islamic Resistance in Iraq", "IRI"),
    ("European Court of Human Rights", "ECHR"),
    ("Lagos", None),                                  # one word: no acronym
    ("Treaty of the Seven seas", None),               # a word in lower case: not a name of capitals
])
def test_the_initials_of_a_name(name, initials):
    from retrieval.text.aliases import bare_name, initialism

    assert initialism(bare_name(name)) == initials


WEATHER = {
    "wmo.txt": ({"outlet": "Science Desk", "published": "2024-03-19"},
                "Global temperatures set a record\n\n"
                "The World Meteorological Organization said on Tuesday that last year was the warmest on record, "
                "about 1.45 degrees Celsius above pre-industrial levels.\n\n"
                "Its secretary-general, Celeste Saulo, called the findings a red alert for the world.\n\n"
                "The World Meteorological Organization publishes its climate report every March."),
    "rail.txt": ({"outlet": "Transport Weekly", "published": "2024-03-20"},
                 "Rail strike called off\n\n"
                 "Train drivers called off next week's strike after the union accepted a new pay offer.\n\n"
                 "The operator said services would run as normal."),
}


def test_an_acronym_no_article_defines_is_read_as_the_name_with_those_initials(tmp_path, make_assistant):
    from tests.conftest import write_corpus

    assistant = make_assistant(write_corpus(tmp_path / "c", WEATHER))
    assistant.ingest()
    parsed = assistant.analyze("What did the WMO say about last year?")
    assert parsed.unknown == ()
    assert parsed.dense_text == "What did the World Meteorological Organization say about last year?"
    answer = assistant.ask("What did the WMO say about last year?")
    assert [q.source for q in answer.quotes][:1] == ["wmo.txt"]
    assert answer.quotes[0].text.startswith("The World Meteorological Organization said on Tuesday")
    # An acronym with no name of its initials in the corpus stays unknown.
    assert assistant.analyze("What did the IMF say about last year?").unknown == ("IMF",)


BUDGET = {
    "aid.txt": ({"outlet": "Wire One", "published": "2005-02-05"},
                "Aid plan stalls\n\n"
                "UK plans for an International Finance Facility (IFF) to help deal with debt in the developing "
                "world have not been agreed.\n\n"
                "The IFF would borrow on financial markets against pledges of future aid."),
    "tax.txt": ({"outlet": "Wire Two", "published": "2005-02-07"},
                "Tax warning\n\n"
                "The independent Institute for Fiscal Studies (IFS) said the chancellor would need to raise taxes.\n\n"
                "The IFS publishes its green budget every January."),
}


@pytest.mark.parametrize("order", [("aid.txt", "tax.txt"), ("tax.txt", "aid.txt")])
def test_acronyms_whose_terms_meet_stay_apart(tmp_path, make_assistant, order):
    """Index terms collapse doubled letters and stem, so "IFF" and "IFS" are both "if": each acronym
    still stands for its own name, whichever article was ingested first, and in any case."""
    from tests.conftest import write_corpus

    corpus = write_corpus(tmp_path / "c", {name: BUDGET[name] for name in order[:1]})
    assistant = make_assistant(corpus)
    assistant.ingest()
    write_corpus(corpus, {name: BUDGET[name] for name in order[1:]})
    assistant.ingest()
    fresh = make_assistant(corpus)          # the corpus terms from the whole index at once
    for a in (assistant, fresh):
        assert a.analyze("What is the IFF meant to do?").dense_text == \
            "What is the International Finance Facility meant to do?"
        assert a.analyze("What is the iff meant to do?").dense_text == \
            "What is the International Finance Facility meant to do?"
        assert a.analyze("What did the IFS say about taxes?").dense_text == \
            "What did the Institute for Fiscal Studies say about taxes?"
    assert [h.chunk.source for h in fresh.retriever.hits(fresh.analyze("What did the IFS say about taxes?"))][:1] == \
        ["tax.txt"]
    # An ingest that adds both learns their definitions in source order too, as a fresh start does.
    both = [("International Finance Facility", "IFF"), ("Institute for Fiscal Studies", "IFS")]
    assert fresh.snapshot.acronym_definitions(["tax.txt", "gone.txt", "aid.txt"]) == both
    assert fresh.snapshot.acronym_definitions() == both
