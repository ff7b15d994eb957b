"""News analyst assistant: the command line (``python app.py COMMAND`` runs it).

    python app.py                          serve the web UI (same as ``serve``)
    python app.py serve [--host H] [--port P]
    python app.py ingest [--replace] [PATHS ...]   index the corpus folder (or add files or folders to it)
    python app.py search "query" [--k 5] [--json]
    python app.py meta FILE [--title T] [--outlet O] [--published DATE] [--url U] [--author A]
    python app.py ask "question" [--json] [--explain]
    python app.py ask [--json] --file questions.txt   (one question a line; ``-`` reads stdin)

The settings are read once, here (the environment, then ``--llm``), and passed down. Gradio
is imported only on the serve path, the embedding model only when a command needs it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from prompts.templates import TITLE
from retrieval.errors import AssistantError, InvalidMetadata
from retrieval.ingest.metadata import FIELDS as META_FIELDS
from retrieval.present.export import write_brief
from retrieval.present.render import chunk_dict, format_answer, format_chunks, format_explanation
from retrieval.search.filters import Filters, resolve
from retrieval.settings import Settings
from retrieval.text.question import clean_question
from retrieval.types import Answer

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

GetAssistant = Callable[[], "Assistant"]
Serve = Callable[[Settings, "str | None", "int | None"], int]


def cmd_ingest(args, settings: Settings, get_assistant: GetAssistant | None) -> int:
    from tqdm import tqdm

    if get_assistant is None:
        from retrieval.assistant import Assistant

        assistant = Assistant(settings)
    else:
        assistant = get_assistant()
    bar = None

    def progress(done: int, total: int) -> None:
        """Chunks committed so far; ``total`` grows as files are read (large files are committed in parts)."""
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="Embedding", file=sys.stderr)
        if total != bar.total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        report = assistant.ingest([Path(p) for p in args.paths] or None, progress, replace=args.replace)
    finally:
        if bar is not None:
            bar.close()
    print(report.summary())
    return 1 if report.failed else 0


def cmd_search(args, settings: Settings, get_assistant: GetAssistant) -> int:
    query = clean_question(args.query, settings.max_question_chars)
    assistant = get_assistant()
    filters = filters_of(args)
    scope = resolve(filters, assistant.snapshot.articles) if filters.active else None
    hits = assistant.retriever.hits(assistant.analyze(query), k=max(args.k, assistant.retriever.k),
                                    sources=scope.sources if scope else None)[:args.k]
    if args.json:
        print(json.dumps([chunk_dict(h) for h in hits], ensure_ascii=False, indent=2))
    else:
        print(format_chunks(hits))
    return 0


def corpus_source(file: str, settings: Settings) -> str:
    """An article's name in the index from a path in the corpus folder or a name as listed."""
    path = Path(file)
    try:
        return path.resolve().relative_to(settings.corpus_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def cmd_meta(args, settings: Settings, get_assistant: GetAssistant) -> int:
    from retrieval.present.attribution import describe_article

    changes = {k: v for k in META_FIELDS if (v := getattr(args, k)) is not None}
    assistant = get_assistant()
    source = corpus_source(args.file, settings)
    if changes:
        assistant.update_meta(source, changes)
    record = assistant.snapshot.articles.get(source)
    if record is None:
        raise InvalidMetadata(f"No article is called {source}.")
    label = describe_article(record)
    print(f"{source}\n  label: {label.name}\n  date: {label.dating}")
    for key, value in record.meta.to_dict().items():
        print(f"  {key}: {value if value is not None else '-'}")
    if changes:
        print(f"Saved to {source}.meta.json; filters, timeline and citations use it now.")
    return 0


def mode_of(args) -> str:
    return "timeline" if getattr(args, "timeline", False) else "answer"


def filters_of(args) -> Filters:
    return Filters.of(args.outlet, args.source, args.since, args.until)


def _questions(stream) -> Iterable[str]:
    """The non-blank lines of ``stream``."""
    for line in stream:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def answer_text(answer: Answer, as_json: bool) -> str:
    """The answer as one JSON object or as text (with its explanation, when asked for)."""
    if as_json:
        return json.dumps(answer.to_dict(), ensure_ascii=False)
    text = format_answer(answer)
    return f"{text}\n\n{format_explanation(answer.explanation)}" if answer.explanation else text


def export_brief(path: str | None, answers: list[Answer]) -> None:
    """``--export``: write the brief and say where."""
    written = write_brief(path, answers)
    if written:
        print(f"Brief written to {written[0]} and {written[1]}.", file=sys.stderr)


def cmd_ask(args, settings: Settings, get_assistant: GetAssistant) -> int:
    filters = filters_of(args)   # checked once, before the model loads
    if args.file is None:
        clean_question(args.question, settings.max_question_chars)   # fail fast, before loading the model
        answer = get_assistant().ask(args.question, filters=filters, mode=mode_of(args), explain=args.explain)
        print(answer_text(answer, args.json))
        export_brief(args.export, [answer])
        return 0
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8-sig")  # before the model loads
    answered: list[Answer] = []
    try:
        code = _ask_batch(stream, args, filters, get_assistant(), answered)
    finally:
        if stream is not sys.stdin:
            stream.close()
    export_brief(args.export, answered)
    return code


def _ask_batch(stream, args, filters: Filters, assistant: Assistant, answered: list[Answer]) -> int:
    """One answer per question line; a bad question is reported and the batch goes on (exit code 1).
    The answers are appended to ``answered``."""
    failures = 0
    for n, question in enumerate(_questions(stream)):
        try:
            answer = assistant.ask(question, filters=filters, mode=mode_of(args), explain=args.explain)
        except AssistantError as err:
            failures += 1
            out = json.dumps({"question": question, "error": str(err)}, ensure_ascii=False) if args.json \
                else f"Q: {question}\nError: {err}"
        else:
            answered.append(answer)
            out = answer_text(answer, args.json) if args.json else f"Q: {answer.question}\n{answer_text(answer, False)}"
        print(out if args.json else ("\n" if n else "") + out, flush=True)
    return 1 if failures else 0


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (articles with no known date are reported, not hidden)")
    group.add_argument("--outlet", action="append", default=[], help="only this outlet (repeatable)")
    group.add_argument("--source", action="append", default=[], metavar="FILE", help="only this article file (repeatable)")
    group.add_argument("--since", metavar="DATE", help="published on or after DATE (2025-03-01)")
    group.add_argument("--until", metavar="DATE", help="published on or before DATE")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description=f"{TITLE}: verbatim, attributed answers from "
                                     "the news articles in the corpus folder. Without a command, serves the web UI.")
    llm_help = ("phrase answers with a chat model: ollama:<model>, openai:<model> (QA_LLM_BASE_URL) or gguf:<path>; "
                "its quotes are verified like all others (default: QA_LLM, else extractive)")
    parser.add_argument("--llm", metavar="BACKEND:MODEL", help=llm_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve_p = commands.add_parser("serve", help="serve the web UI (the default)")
    serve_p.add_argument("--host", help="interface to listen on (default: QA_HOST or 127.0.0.1)")
    serve_p.add_argument("--port", type=_positive, help="port (default: QA_PORT or 7860)")
    serve_p.add_argument("--llm", metavar="BACKEND:MODEL", default=argparse.SUPPRESS, help=llm_help)

    ingest_p = commands.add_parser("ingest", help="index the corpus folder, or copy PATHS into it and index them")
    ingest_p.add_argument("paths", nargs="*", metavar="PATHS",
                          help="article files or folders (searched recursively): .txt, .md, .html, .pdf, .jsonl, "
                               ".json; each is checked before it is copied into the corpus")
    ingest_p.add_argument("--replace", action="store_true",
                          help="replace a corpus article of the same name (default: keep it and save the new file "
                               "under a new name)")
    ingest_p.set_defaults(run=cmd_ingest)

    search_p = commands.add_parser("search", help="show the passages retrieved for a query")
    search_p.add_argument("query")
    search_p.add_argument("--k", type=_positive, default=5, help="how many passages to show (default 5)")
    search_p.add_argument("--json", action="store_true", help="print a JSON list")
    add_filter_options(search_p)
    search_p.set_defaults(run=cmd_search)

    meta_p = commands.add_parser("meta", help="show, correct or add an article's metadata (saved to FILE.meta.json)")
    meta_p.add_argument("file", metavar="FILE", help="the article file (as in the corpus folder)")
    for key in META_FIELDS:
        meta_p.add_argument(f"--{key}", metavar=key.upper(), help=f"set the {key} ('' removes a correction)")
    meta_p.set_defaults(run=cmd_meta)

    ask_p = commands.add_parser("ask", help="answer a question with verbatim quotes")
    which = ask_p.add_mutually_exclusive_group(required=True)
    which.add_argument("question", nargs="?", help="the question")
    which.add_argument("--file", metavar="FILE", help="one question a line ('-' reads stdin)")
    ask_p.add_argument("--json", action="store_true", help="print JSON (one object a line with --file)")
    ask_p.add_argument("--llm", metavar="BACKEND:MODEL", default=argparse.SUPPRESS, help=llm_help)
    ask_p.add_argument("--timeline", action="store_true", help="quotes by publication date and source, with the "
                                                               "points where sources disagree")
    ask_p.add_argument("--explain", action="store_true", help="also show, for the top candidate sentences, each "
                                                              "gate of the answer policy and why it passed or failed")
    ask_p.add_argument("--export", metavar="BRIEF.md", help="also write the questions, answers and quotes to "
                                                            "BRIEF.md and BRIEF.json")
    add_filter_options(ask_p)
    ask_p.set_defaults(run=cmd_ask)
    return parser


def _run(args, get_assistant: GetAssistant | None, serve: Serve | None) -> int:
    settings = Settings(llm=args.llm) if args.llm else Settings()
    # Quiet library progress bars (model loading): the output is the answer.
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    if args.command in (None, "serve"):
        if serve is None:
            print("The web UI is served by: python app.py [serve]", file=sys.stderr)
            return 2
        return serve(settings, getattr(args, "host", None), getattr(args, "port", None))
    if get_assistant is None and args.command != "ingest":
        from retrieval.assistant import default_assistant

        def get_assistant() -> Assistant:
            return default_assistant(settings)
    return args.run(args, settings, get_assistant)


def main(argv: list[str] | None = None, get_assistant: GetAssistant | None = None, serve: Serve | None = None) -> int:
    """Run one command; returns the exit code. ``get_assistant`` replaces the default assistant
    (the corpus and index of the settings); ``serve`` the web UI's ``app.serve``."""
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        return _run(args, get_assistant, serve)
    except AssistantError as err:
        print(err, file=sys.stderr)
        return 2
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in err.errors())
        print(f"Invalid setting ({problems}).", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print("The questions file is not UTF-8 text.", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except OSError as err:     # e.g. a questions file cannot be read, the port is taken
        print(f"{err.filename}: {err.strerror}." if err.filename and err.strerror else err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def run(serve: Serve | None = None) -> int:
    """``main()`` for a process: a closed output pipe (``python app.py search ... | head``) ends it quietly."""
    try:
        code = main(serve=serve)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    return code


if __name__ == "__main__":
    sys.exit(run())
