"""Other formats become plain-text corpus files whose offsets stay exact: .html, .pdf, .jsonl."""
import json

import pytest

HTML = """<html><head><title>Harbour deal signed</title>
<meta property="og:site_name" content="Avel Times"><meta name="date" content="2025-05-06"></head>
<body><nav>Home | Sport | Subscribe</nav><article><h1>Harbour deal signed</h1>
<p>The council and the fishermen's union signed a harbour deal in Port Avel on Tuesday after three weeks of talks.</p>
<p>The mayor said the agreement would hold for ten years and protect the old quay.</p></article>
<footer>Subscribe to our newsletter</footer></body></html>"""

JSONL = "\n".join(json.dumps(r) for r in [
    {"id": "wire-1", "text": "Lighthouse keepers in Port Avel went on strike on Friday over unpaid overtime, their union said.",
     "outlet": "Wire One", "published": "2025-05-09", "title": "Keepers strike"},
    {"id": "wire-2", "text": "The Port Avel ferry will stop running in winter, the operator announced on Monday."},
])


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica (built by hand: no PDF writer needed)."""
    stream = f"BT /F1 12 Tf 40 750 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def harbour(tmp_path, make_assistant):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "deal.html").write_text(HTML, encoding="utf-8")
    (incoming / "wires.jsonl").write_text(JSONL, encoding="utf-8")
    (incoming / "notice.pdf").write_bytes(pdf_bytes("The Port Avel harbour office will close for repairs in June."))
    (incoming / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (incoming / "image.png").write_bytes(b"\x89PNG\r\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    assistant = make_assistant(corpus)
    report = assistant.ingest(sorted(incoming.iterdir()))
    return assistant, report, corpus


def test_each_format_is_converted_and_indexed_and_bad_files_are_reported(harbour):
    assistant, report, corpus = harbour
    assert sorted(report.added) == ["deal.html.txt", "notice.pdf.txt", "wire-1.txt", "wire-2.txt"]
    assert [name for name, _ in sorted(report.failed)] == ["broken.pdf", "image.png"]
    assert dict(report.failed)["image.png"] == \
        "image.png: supported formats are .txt, .md, .html, .pdf, .jsonl and .json."
    assert json.loads((corpus / "wire-1.txt.meta.json").read_text()) == {
        "outlet": "Wire One", "published": "2025-05-09", "title": "Keepers strike"}


@pytest.mark.parametrize("question, source, fact", [
    ("How long will the agreement hold, according to the mayor?", "deal.html.txt", "ten years"),
    ("Why did the lighthouse keepers strike?", "wire-1.txt", "unpaid overtime"),
    ("When will the Port Avel harbour office close?", "notice.pdf.txt", "June"),
])
def test_quotes_from_converted_articles_are_exact_slices_of_their_corpus_files(harbour, question, source, fact):
    assistant, _, corpus = harbour
    answer = assistant.ask(question)
    quote = next(q for q in answer.quotes if q.source == source)
    assert fact in quote.text
    assert (corpus / source).read_text(encoding="utf-8")[quote.start:quote.end] == quote.text


def test_html_page_furniture_is_not_article_text(harbour):
    _, _, corpus = harbour
    text = (corpus / "deal.html.txt").read_text(encoding="utf-8")
    assert "ten years" in text and "Subscribe" not in text and "Home | Sport" not in text
