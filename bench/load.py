"""Load test: many analysts asking at once through the app's ``/ask`` API (``gradio_client``).

    python bench/load.py [--url http://127.0.0.1:7860/] [--users 50] [--duration 60] [--seed 0] [--json]
    python bench/load.py --instances 2 --ingest-during [--users 50] [--duration 60]

Without ``--url`` the app is started (``python app.py serve`` on a free 127.0.0.1 port, over the
default corpus and index) and stopped at the end; a first question waits for the model to load and
is not counted. Each simulated user is a thread with its own client, asking questions drawn from
``eval/questions.jsonl`` (answerable and unanswerable alike) one after the other until the time is
up; questions still in flight then finish and are counted. Only loopback addresses are accepted.

``--instances N`` runs the deployment of several instances: one ``chroma run`` on a free loopback
port, N app processes on it (one corpus folder, a local index folder each), the users spread over
them in turn; ``--ingest-during`` adds an article with ``python app.py ingest`` (another process on
the same server) a third of the way through: a real article with its analyst renamed to a name no
other article has (``NEW_NAME``). Afterwards every instance is asked about that name, and the
server's chunks are checked against its committed records: none lost, none duplicated.

Reports throughput (answers per second of wall time), latency percentiles and errors; the exit
code is 1 if any request failed. The app answers two requests at a time
(``default_concurrency_limit=2`` in ``app.py``) and queues up to 64; more users than that are
turned away by the queue (counted as errors)."""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import append_result, percentile  # noqa: E402  (needs the repository on sys.path)
QUESTIONS = ROOT / "eval" / "questions.jsonl"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ANSWER_KEYS = {"question", "answer", "abstained", "quotes"}


def load_questions(path: Path = QUESTIONS) -> list[tuple[str, bool]]:
    """``(question, answerable)`` pairs of the evaluation set."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["question"], bool(row["answerable"])) for row in rows]


@dataclass
class LoadResult:
    url: str
    users: int
    duration: float                 # seconds during which new questions were asked
    elapsed: float = 0.0            # wall time until the last answer came back
    latencies: list[float] = field(default_factory=list)   # seconds, one per answer
    answered: int = 0               # answers with quotes
    abstained: int = 0              # "the articles do not say"
    asked_answerable: int = 0
    asked_unanswerable: int = 0
    errors: Counter = field(default_factory=Counter)         # message -> count

    @property
    def answers(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.answers / self.elapsed if self.elapsed else 0.0

    def to_dict(self) -> dict:
        ms = lambda s: round(s * 1000, 1)  # noqa: E731
        return {"url": self.url, "users": self.users, "duration_s": self.duration, "elapsed_s": round(self.elapsed, 2),
                "answers": self.answers, "answered": self.answered, "abstained": self.abstained,
                "asked_answerable": self.asked_answerable, "asked_unanswerable": self.asked_unanswerable,
                "errors": self.error_count, "error_messages": dict(self.errors.most_common(5)),
                "throughput_per_s": round(self.throughput, 2),
                "latency_ms": {"p50": ms(percentile(self.latencies, 0.5)), "p95": ms(percentile(self.latencies, 0.95)),
                               "max": ms(max(self.latencies, default=float("nan")))}}

    def report(self) -> str:
        d = self.to_dict()
        lines = [f"{d['users']} users for {d['duration_s']:g} s against {d['url']}",
                 f"answers:    {d['answers']} in {d['elapsed_s']} s = {d['throughput_per_s']} answers/s "
                 f"({d['answered']} with quotes, {d['abstained']} abstentions; asked {d['asked_answerable']} "
                 f"answerable, {d['asked_unanswerable']} unanswerable)",
                 f"latency:    p50 {d['latency_ms']['p50']} ms, p95 {d['latency_ms']['p95']} ms, "
                 f"max {d['latency_ms']['max']} ms",
                 f"errors:     {d['errors']}"]
        lines += [f"  {n} x {message}" for message, n in d["error_messages"].items()]
        return "\n".join(lines)


def check_loopback(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"{url} is not a loopback address; the load test only runs against 127.0.0.1.")


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def run_load(url: str | list[str], users: int = 50, duration: float = 60.0, questions: list[tuple[str, bool]] | None = None,
             seed: int = 0, request_timeout: float = 300.0) -> LoadResult:
    """``users`` threads ask questions at ``url`` one after another for ``duration`` seconds
    (each thread with its own client, all connected before the clock starts); with several urls, user
    ``n`` asks ``url[n % len(url)]``."""
    urls = [url] if isinstance(url, str) else list(url)
    for one in urls:
        check_loopback(one)
    questions = questions or load_questions()
    result = LoadResult(" ".join(urls), users, duration)
    lock = threading.Lock()
    clock: dict[str, float] = {}

    def go() -> None:   # run once, when every client has connected (or failed to), before any user asks
        clock["start"] = time.monotonic()
        clock["deadline"] = clock["start"] + duration

    start = threading.Barrier(users + 1, action=go)

    def error(err: BaseException) -> None:
        message = f"{type(err).__name__}: {err}".strip()[:200]
        with lock:
            result.errors[message] += 1

    def user(n: int) -> None:
        rng = random.Random(f"{seed}:{n}")
        client = None
        try:
            client = _client(urls[n % len(urls)])
        except Exception as err:  # cannot connect: an error, but the others still start
            error(err)
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        try:
            while client is not None and time.monotonic() < clock["deadline"]:
                question, answerable = rng.choice(questions)
                with lock:
                    if answerable:
                        result.asked_answerable += 1
                    else:
                        result.asked_unanswerable += 1
                t0 = time.perf_counter()
                try:
                    data = client.submit(question, api_name="/ask").result(timeout=request_timeout)
                    if not isinstance(data, dict) or set(data) != ANSWER_KEYS or data["question"] != question:
                        raise ValueError(f"not an answer: {str(data)[:120]}")
                except Exception as err:
                    error(err)
                    continue
                latency = time.perf_counter() - t0
                with lock:
                    result.latencies.append(latency)
                    if data["abstained"]:
                        result.abstained += 1
                    else:
                        result.answered += 1
        finally:
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass

    threads = [threading.Thread(target=user, args=(n,), name=f"user-{n}", daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    result.elapsed = time.monotonic() - clock["start"]
    return result


# -- starting the app ---------------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(log_path: Path, startup_timeout: float = 600.0, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """``python app.py serve`` on a free 127.0.0.1 port, once it has answered a first question."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False", **(env or {}))
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "app.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + startup_timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited with code {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                stop_app(server)
                raise RuntimeError(f"the app did not answer at {url} in {startup_timeout:.0f} s") from None
            time.sleep(0.25)
    client = _client(url)           # warm-up: waits for the model and the index
    try:
        client.submit("What did Khamenei say about the PMF?", api_name="/ask").result(timeout=startup_timeout)
    finally:
        client.close()
    return server, url


def stop_app(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def start_chroma(folder: Path, timeout: float = 60.0) -> tuple[subprocess.Popen, int]:
    """``chroma run`` on a free loopback port, serving ``folder``."""
    import shutil
    import socket

    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    server = subprocess.Popen([chroma, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline:
                stop_app(server)
                raise RuntimeError("chroma run did not start") from None
            time.sleep(0.3)


def server_counts(port: int) -> dict:
    """The Chroma server's chunks against what its committed article records account for."""
    from retrieval.index.store import Index, collection_name, open_client
    from retrieval.settings import Settings

    settings = Settings(chroma_host="127.0.0.1", chroma_port=port)
    client = open_client(settings)
    name = collection_name(settings.collection, settings.encoder)      # the instances' encoder's collection
    chunks = client.get_collection(name)
    index = Index(client, name, (chunks.metadata or {}).get("embedder", ""))
    records = index.committed()
    stored = index.chunks.get(include=["metadatas"])
    ids = stored["ids"]
    committed = [cid for cid, meta in zip(ids, stored["metadatas"])
                 if meta["source"] in records and records[meta["source"]].doc_hash == meta["doc_hash"]]
    return {"articles": len(records), "chunks_stored": len(ids), "chunks_committed": len(committed),
            "chunks_expected": sum(r.n_chunks for r in records.values()), "duplicate_ids": len(ids) - len(set(ids))}


NEW_NAME = "Tarek Zubaidi-Halloran"
NEW_QUESTION = f"Why won't Iran allow the Iraqi militias to be dismantled, in {NEW_NAME}'s view?"


def run_shared(instances: int, users: int, duration: float, questions, seed: int, ingest_during: bool,
               workdir: Path) -> dict:
    """Several app instances on one Chroma server under load, with an ingest by another process midway."""
    import shutil

    ingest_file = None
    if ingest_during:
        ingest_file = workdir / "incoming" / "load-test-article.txt"
        ingest_file.parent.mkdir(parents=True)
        text = (ROOT / "corpus" / "001_adf714cf9f5e1bca.txt").read_text(encoding="utf-8")
        ingest_file.write_text(text.replace("Ghanem al-Abed", NEW_NAME).replace("al-Abed", NEW_NAME), encoding="utf-8")

    chroma, port = start_chroma(workdir / "chroma")
    corpus = workdir / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, dirs_exist_ok=True)
    common = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(port), "QA_CORPUS_DIR": str(corpus)}
    apps, out = [], {"instances": instances}
    try:
        for n in range(instances):      # one after the other: the first builds the index, the next find it
            apps.append(start_app(workdir / f"app-{n}.log", env={**common, "QA_INDEX_DIR": str(workdir / f"index-{n}")}))
        out["before"] = server_counts(port)
        ingest = {}

        def run_ingest() -> None:
            time.sleep(duration / 3)
            t0 = time.monotonic()
            done = subprocess.run([sys.executable, "app.py", "ingest", str(ingest_file)], cwd=ROOT, capture_output=True,
                                  text=True, env={**os.environ, **common, "QA_INDEX_DIR": str(workdir / "index-cli")})
            ingest.update(exit=done.returncode, seconds=time.monotonic() - t0, ended=time.monotonic(),
                          output=(done.stdout + done.stderr)[-400:])

        writer = threading.Thread(target=run_ingest, daemon=True) if ingest_file else None
        if writer:
            writer.start()
        result = run_load([url for _, url in apps], users, duration, questions, seed)
        if writer:
            writer.join()
            out["ingest"] = ingest
            out["seen_by"] = []
            for _, url in apps:
                client = _client(url)
                try:
                    t0 = time.monotonic()
                    while True:
                        data = client.submit(NEW_QUESTION, api_name="/ask").result(timeout=300)
                        if any(q["source"] == ingest_file.name for q in data["quotes"]) or time.monotonic() - t0 > 30:
                            break
                        time.sleep(0.5)
                    out["seen_by"].append({"url": url, "answered_from_it": any(q["source"] == ingest_file.name
                                                                                for q in data["quotes"]),
                                           "seconds_after_ingest": time.monotonic() - ingest["ended"]})
                finally:
                    client.close()
        out["after"] = server_counts(port)
        out["load"] = result.to_dict()
        return out
    finally:
        for server, _ in apps:
            stop_app(server)
        stop_app(chroma)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Concurrent users asking questions through the /ask API.")
    parser.add_argument("--url", help="a running app on 127.0.0.1 (default: start one)")
    parser.add_argument("--users", type=int, default=50, help="simulated users, one thread each (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of asking (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the questions drawn (default 0)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="a JSON-lines file like eval/questions.jsonl")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--instances", type=int, default=0,
                        help="start this many app instances on one new Chroma server and spread the users over them")
    parser.add_argument("--ingest-during", action="store_true",
                        help="with --instances: another process ingests an article a third of the way in")
    parser.add_argument("--out", type=Path, help="with --instances: append the result as one JSON line")
    args = parser.parse_args(argv)
    if args.instances:
        import tempfile

        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        with tempfile.TemporaryDirectory(prefix="load-shared-") as workdir:
            out = run_shared(args.instances, args.users, args.duration, load_questions(args.questions), args.seed,
                             args.ingest_during, Path(workdir))
        print(json.dumps(out, indent=2))
        append_result(out, args.out)
        after = out["after"]
        whole = after["chunks_committed"] == after["chunks_expected"] and not after["duplicate_ids"]
        return 0 if whole and not out["load"].get("errors") else 1
    if args.users < 1 or args.duration <= 0:
        parser.error("--users and --duration must be positive")
    if args.url:
        try:
            check_loopback(args.url)
        except ValueError as err:
            print(err, file=sys.stderr)
            return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    server = None
    url = args.url
    try:
        if url is None:
            log = Path(os.environ.get("TMPDIR", "/tmp")) / f"load-app-{os.getpid()}.log"
            print(f"Starting the app (log: {log})…", file=sys.stderr, flush=True)
            server, url = start_app(log)
        result = run_load(url, args.users, args.duration, load_questions(args.questions), args.seed)
    finally:
        if server is not None:
            stop_app(server)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.report())
    return 1 if result.error_count else 0


if __name__ == "__main__":
    sys.exit(main())
