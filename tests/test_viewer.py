"""The source viewer: the cleaned article, the quote highlighted by its offsets, text escaped."""
from retrieval.present import render
from retrieval.present.viewer import highlight_parts

TEXT = ("Top 5 This Week\nHarbour talks stall in Port Avel\n\n"
        "Talks <b>stalled</b> on Monday in the small fishing town after a long and bitter night of argument. The union walked out.\n"
        "Advertisement\nA truce followed. Officials said so.\nLEAVE A REPLY\nGreat article!")


def test_paragraphs_leave_out_furniture_and_mark_the_quote_by_offsets():
    start = TEXT.index("The union")
    end = TEXT.index("A truce followed.") + len("A truce followed.")
    assert highlight_parts(TEXT, start, end) == [
        [("Harbour talks stall in Port Avel", False)],
        [("Talks <b>stalled</b> on Monday in the small fishing town after a long and bitter night of argument. ", False),
         ("The union walked out.", True)],
        [("A truce followed.", True), (" Officials said so.", False)],
    ]


def test_article_html_escapes_the_text_before_highlighting():
    start = TEXT.index("Talks <b>")
    html = render.article_html(TEXT, start, start + len("Talks <b>stalled</b>"))
    assert "<mark>Talks &lt;b&gt;stalled&lt;/b&gt;</mark>" in html
    assert "<b>" not in html and "Advertisement" not in html and "Great article" not in html
    assert html.startswith('<details class="article"><summary>Show in the article</summary><p>Harbour talks stall in Port Avel</p>')
