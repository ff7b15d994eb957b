"""Bad input for ``app.py ingest``, table-driven and in-process (``cli.main`` with a fresh assistant on a
corpus of the test's own; real model and Chroma): odd files and links in the corpus folder are
reported one by one or passed over, never hang or crash the ingest; a corrupt index is refused with
a sentence saying how to rebuild it."""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

import cli
from retrieval.assistant import Assistant
from retrieval.errors import IndexUnavailable

GOOD = ("Ferry fares rise in Port Wendle\n\n"
        "The harbour board of Port Wendle raised ferry fares by twelve percent on Monday, citing the cost of fuel "
        "and of repairs to the north quay. Commuters said the rise would add about forty crowns a month to their "
        "costs.\n\nThe board said the new fares would be reviewed in the autumn.\n")
OTHER = ("Lighthouse reopens in Elsbridge\n\n"
         "The old lighthouse at Elsbridge reopened to visitors on Saturday after three years of restoration work "
         "paid for by a local trust. About six hundred people climbed the tower on the first day.\n")


def summary(added=0, updated=0, unchanged=0, removed=0, duplicates=0, failed=0) -> str:
    return (f"{added} added, {updated} updated, {unchanged} unchanged, {removed} removed, {duplicates} duplicates, "
            f"{failed} failed, ")


# -- the corpus cases ----------------------------------------------------------------------------------------
def symlink_loops(corpus: Path, outside: Path) -> None:
    (corpus / "sub").mkdir()
    (corpus / "sub" / "up").symlink_to("..", target_is_directory=True)     # sub/up -> the corpus folder
    (corpus / "self").symlink_to(".", target_is_directory=True)
    (corpus / "sub" / "deeper").symlink_to("../sub", target_is_directory=True)


def file_link_loop_and_dangling_link(corpus: Path, outside: Path) -> None:
    (corpus / "a.txt").symlink_to("b.txt")
    (corpus / "b.txt").symlink_to("a.txt")
    (corpus / "dangling.txt").symlink_to("missing.txt")


def link_to_a_file_outside(corpus: Path, outside: Path) -> None:
    (outside / "other.txt").write_text(OTHER, encoding="utf-8")
    (corpus / "linked.txt").symlink_to(outside / "other.txt")


def link_to_an_article_of_the_corpus(corpus: Path, outside: Path) -> None:
    (corpus / "zz_alias.txt").symlink_to("good.txt")


def fifo_and_directory_named_like_articles(corpus: Path, outside: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")        # reading it would block forever
    (corpus / "folder.md").mkdir()


def unreadable_file(corpus: Path, outside: Path) -> None:
    path = corpus / "secret.txt"
    path.write_text(OTHER, encoding="utf-8")
    path.chmod(0)


def file_over_the_size_limit(corpus: Path, outside: Path) -> None:
    (corpus / "big.txt").write_text(OTHER * 20, encoding="utf-8")


def only_page_furniture(corpus: Path, outside: Path) -> None:
    (corpus / "furniture.txt").write_text("Subscribe now to get our newsletter, click here\nAdvertisement\n"
                                          "Share this article\n", encoding="utf-8")


def broken_sidecar(corpus: Path, outside: Path) -> None:
    (corpus / "other.txt").write_text(OTHER, encoding="utf-8")
    (corpus / "other.txt.meta.json").write_text("{outlet: Harbour Herald", encoding="utf-8")


@dataclass
class Case:
    name: str
    setup: Callable[[Path, Path], None]
    code: int                                 # exit code of ``app.py ingest``
    head: str                                 # the start of the summary line
    lines: list[str] = field(default_factory=list)   # the lines under it
    sources: set[str] = field(default_factory=lambda: {"good.txt"})    # what the index holds
    settings: dict = field(default_factory=dict)
    skip_if: bool = False
    reason: str = ""


CASES = [
    Case("directory symlink loops", symlink_loops, 0, summary(added=1)),
    Case("file symlink loop and dangling link", file_link_loop_and_dangling_link, 0, summary(added=1)),
    Case("symlink to a file outside the corpus", link_to_a_file_outside, 0, summary(added=2),
         sources={"good.txt", "linked.txt"}),
    Case("symlink to an article of the corpus", link_to_an_article_of_the_corpus, 0, summary(added=1, duplicates=1),
         ["  duplicate: zz_alias.txt repeats good.txt"]),
    Case("fifo and directory named like articles", fifo_and_directory_named_like_articles, 0, summary(added=1)),
    Case("unreadable file", unreadable_file, 1, summary(added=1, failed=1),
         ["  failed: secret.txt cannot be read (permission denied)."],
         skip_if=os.geteuid() == 0, reason="runs as root: chmod 000 does not stop root from reading"),
    Case("file over the size limit", file_over_the_size_limit, 1, summary(added=1, failed=1),
         ["  failed: big.txt is 4.4 KB; the limit is 1 KB per file."], settings={"max_file_bytes": 1024}),
    Case("only page furniture", only_page_furniture, 1, summary(added=1, failed=1),
         ["  failed: furniture.txt has no article text left after removing page furniture."]),
    Case("broken sidecar", broken_sidecar, 1, summary(added=1, failed=1),
         ["  failed: other.txt.meta.json is not valid JSON (Expecting property name enclosed in double quotes: "
          "line 1 column 2 (char 1))."]),
]


def run_main(argv: list[str], get_assistant, timeout: float = 120) -> int:
    """``cli.main(argv)`` in a thread: a hang fails the test instead of blocking the suite."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["code"] = cli.main(argv, get_assistant=get_assistant)
        except BaseException as err:  # handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"app.py {' '.join(argv)} still running after {timeout} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["code"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=pytest.mark.skipif(c.skip_if, reason=c.reason))
                                  for c in CASES])
def test_ingest_reports_bad_corpus_files_and_goes_on(case: Case, tmp_path, make_assistant, capsys):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    case.setup(corpus, outside)
    assistant: Assistant = make_assistant(corpus, **case.settings)

    assert run_main(["ingest"], lambda: assistant) == case.code
    out, err = capsys.readouterr()
    first, *rest = [line for line in out.splitlines() if not line.startswith("  indexed:")]   # per-file shares
    assert first.startswith(case.head)
    assert rest == case.lines
    assert "Traceback" not in err
    assert set(assistant.snapshot.articles) == case.sources
    # A second run agrees: nothing new, the same failures.
    assert run_main(["ingest"], lambda: assistant) == case.code
    again = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("  indexed:")]
    assert again[0].startswith(summary(unchanged=len(case.sources),
                                       duplicates=sum("duplicate:" in line for line in case.lines),
                                       failed=sum("failed:" in line for line in case.lines)))
    assert again[1:] == case.lines


def test_a_link_keeps_its_own_name_and_quotes_cut_from_its_target(tmp_path, make_assistant):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    link_to_a_file_outside(corpus, outside)
    assistant = make_assistant(corpus)
    assistant.ingest()
    answer = assistant.ask("How many people climbed the Elsbridge lighthouse on the first day?")
    assert answer.quotes and {q.source for q in answer.quotes} == {"linked.txt"}
    for quote in answer.quotes:
        assert OTHER[quote.start:quote.end] == quote.text


# -- a corrupt index -----------------------------------------------------------------------------------------
def garbage(db: Path) -> None:
    db.write_bytes(os.urandom(64 * 1024))


def garbage_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:100] = b"\xff" * 100
    db.write_bytes(bytes(data))


def truncated(db: Path) -> None:
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])


def text_file(db: Path) -> None:
    db.write_text("this is not a database\n" * 200)


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """A corpus and its index, built once; each test damages a copy (Chroma caches clients by path)."""
    from retrieval.settings import Settings

    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    index = tmp_path_factory.mktemp("index")
    Assistant(Settings(corpus_dir=corpus, index_dir=index), embedder=embedder).ingest()
    return corpus, index


@pytest.mark.parametrize("damage", [garbage, garbage_header, truncated, text_file])
def test_a_corrupt_index_is_refused_with_how_to_rebuild_it(damage, built_index, tmp_path, embedder, capsys):
    from retrieval.settings import Settings

    corpus, good_index = built_index
    index = tmp_path / "index"
    shutil.copytree(good_index, index)
    damage(index / "chroma" / "chroma.sqlite3")
    settings = Settings(corpus_dir=corpus, index_dir=index)
    rebuild = "Delete that folder and run 'python app.py ingest' to rebuild it."

    with pytest.raises(IndexUnavailable) as error:
        Assistant(settings, embedder=embedder)
    message = str(error.value)
    assert message.startswith(f"Cannot open the index at {index} (") and message.endswith(rebuild)
    assert "\n" not in message

    for argv in (["ingest"], ["ask", "How much did ferry fares rise in Port Wendle?"]):
        assert run_main(argv, lambda: Assistant(settings, embedder=embedder)) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.rstrip("\n").endswith(rebuild), err

    # Doing what the sentence says works.
    shutil.rmtree(index)
    rebuilt = Assistant(settings, embedder=embedder)
    assert run_main(["ingest"], lambda: rebuilt) == 0
    assert capsys.readouterr().out.startswith(summary(added=1))
    assert not rebuilt.ask("How much did ferry fares rise in Port Wendle?").abstained


def test_a_missing_embedding_model_is_a_clear_error():
    from retrieval.errors import ModelUnavailable
    from retrieval.index.embedding import Embedder

    with pytest.raises(ModelUnavailable) as err:
        Embedder("no-such-org/no-such-model")
    assert str(err.value).startswith("The embedding model 'no-such-org/no-such-model' is not available offline (")
