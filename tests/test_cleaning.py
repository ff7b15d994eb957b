"""Cleaning rules, one table row per rule: furniture is labelled, article text is kept."""
import pytest

from retrieval.ingest.cleaning import body_spans, label_lines
from retrieval.ingest.metadata import meta_from_text
from retrieval.text.dates import parse_date

BODY = ("Iraqi officials said on Monday that talks with the armed factions about handing over their "
        "heavy weapons to the state had made progress, according to two people familiar with them.")


def labels(text: str) -> list[tuple[str, str]]:
    return [(line.label, text[line.start:line.end]) for line in label_lines(text)]


@pytest.mark.parametrize("line, label", [
    ("Top 5 This Week", "banner"),
    ("Advertisement", "banner"),
    ("Read the full article here", "banner"),
    ("Follow Jane Doe on Facebook and Twitter.", "follow"),
    ("For JTTM subscription information, click here.", "subscribe"),
    ("Sign up to our daily newsletter here", "subscribe"),
    ("By Anas al-Bar |", "byline"),
    ("Saturday, June 14, 2025", "dateline"),
    ("[1] Annahar, February 17, 2025.", "footnote"),
    ("Great piece pic.twitter.com/GwacqJhFPH", "tweet"),
    ("Asif Shahidhttps://defencetalks.com/", "author-box"),
])
def test_line_rules_label_furniture_anywhere(line, label):
    text = f"{BODY}\n\n{line}\n\n{BODY.replace('Monday', 'Tuesday')}"
    assert labels(text) == [("body", BODY), (label, line), ("body", BODY.replace("Monday", "Tuesday"))]


@pytest.mark.parametrize("marker", [
    "Do you like this article?", "Captcha *", "LEAVE A REPLY", "12 Comments",
    "Discover more from Defence Talks | Defense News", "Subscribe to get the latest posts sent to your email.",
    "The full text of this post is available to subscribers.", "About the author", "Related Posts",
])
def test_end_markers_cut_everything_after_them(marker):
    comment = "They are lying to you, the militias are heroes and the writer is a traitor to the nation."
    text = f"{BODY}\n{marker}\n{comment}\nAnother reader wrote a long reply here."
    got = labels(text)
    assert got[0] == ("body", BODY)
    assert [label for label, _ in got[1:]][1:] == [got[1][0] and f"after-{got[1][0]}"] * 2


def test_end_marker_before_the_article_starts_does_not_cut_it():
    text = f"Related Posts\nMilitias weigh their future\n{BODY}"
    assert labels(text) == [("related", "Related Posts"), ("title", "Militias weigh their future"), ("body", BODY)]


def test_embedded_post_and_its_attribution_are_furniture():
    post = "#Iran News: State Media Warns #Iraq May Be Iran’s Last Stronghold"
    text = f"{BODY}\n{post}\n— NCRI-FAC (@iran_policy) January 7, 2025\n{BODY} Later."
    assert [label for label, _ in labels(text)] == ["body", "tweet", "tweet", "body"]


def test_repeated_line_is_kept_once():
    caption = "Fighters rally in Baghdad on October 8, 2023, holding posters of their leader. [AFP]"
    text = f"{caption}\n{caption}\n{BODY}"
    assert [label for label, _ in labels(text)] == ["body", "duplicate", "body"]


def test_short_unpunctuated_lines_are_headings_and_the_first_long_one_is_the_title():
    text = f"Terrorism\n\nIran-backed Iraqi militias refuse to surrender arms\n\n{BODY}\n\nDestabilizing proxies\n\n{BODY}x"
    assert [label for label, _ in labels(text)] == ["heading", "title", "body", "heading", "body"]


def test_body_spans_are_offsets_into_the_original_text():
    text = f"  Top 5 This Week\r\n{BODY}  \r\nLEAVE A REPLY\r\nnice"
    spans = body_spans(label_lines(text))
    assert [text[s:e] for s, e in spans] == [BODY]


def test_metadata_only_where_the_page_states_it():
    text = (f"Militias refuse to surrender arms\nBy Anas al-Bar |\nMarch 3, 2025\n{BODY}\n"
            "Discover more from Defence Talks | Defense News Hub\nSubscribe to get the latest posts.")
    meta = meta_from_text(text, label_lines(text))
    assert meta.to_dict() == {"title": "Militias refuse to surrender arms", "outlet": "Defence Talks",
                              "published": "2025-03-03", "url": None, "author": "Anas al-Bar"}


def test_a_site_banner_date_is_not_the_publication_date():
    text = f"Saturday, June 14, 2025\nTop 5 This Week\nMilitias weigh their future\n{BODY}"
    assert meta_from_text(text, label_lines(text)).published is None


@pytest.mark.parametrize("text, iso", [
    ("June 14, 2025", "2025-06-14"), ("14 June 2025", "2025-06-14"), ("Sept. 3, 2024", "2024-09-03"),
    ("2025-01-08", "2025-01-08"), ("February 30, 2025", None), ("no date here", None),
])
def test_parse_date(text, iso):
    assert parse_date(text) == iso
