"""Shared fixtures: one real assistant (real model, real Chroma on a temporary index) over
the real corpus, built once per test session."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrieval.assistant import Assistant
from retrieval.index.embedding import Embedder
from retrieval.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ARTIFACTS = ROOT / "test-artifacts"      # screenshots of the browser tests
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                    reason="needs Debian chromium and chromium-driver "
                                           "(apt-get install -y chromium chromium-driver)")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, embedder) -> Assistant:
    settings = Settings(index_dir=tmp_path_factory.mktemp("index"), corpus_dir=CORPUS)
    built = Assistant(settings, embedder=embedder)
    built.ingest()
    return built


def write_corpus(folder: Path, articles: dict[str, tuple[dict, str]]) -> Path:
    """Articles ``{file name: (sidecar metadata, text)}`` written into ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for name, (meta, text) in articles.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
        (folder / f"{name}.meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture
def make_assistant(tmp_path, embedder):
    """A fresh assistant over a corpus folder of the test's own (shares the loaded model)."""
    def make(corpus: Path, scorer=None, **overrides) -> Assistant:
        return Assistant(Settings(**{"index_dir": tmp_path / "index", "corpus_dir": corpus, **overrides}),
                         embedder=embedder, scorer=scorer)
    return make


# -- the web UI, launched once for tests/test_ui.py and tests/test_browser.py -----------------------------
def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_ui(get_assistant):
    """``app.build_ui(get_assistant)`` served on a free local port; returns ``(demo, url)``."""
    from app import build_ui

    demo = build_ui(get_assistant)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def ui_url(assistant):
    """The URL of the web UI running on the shared assistant (closed at the end of the session)."""
    demo, url = launch_ui(lambda: assistant)
    yield url
    demo.close()


# -- a real Chroma server (``chroma run``) on loopback, as past one machine --------------------------------------
@pytest.fixture
def chroma_server(tmp_path):
    """The port of a ``chroma run`` serving a fresh folder of the test's own."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    proc = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- a real browser: headless Debian Chromium through Selenium -----------------------------------------------
def start_chromium(profile_dir: Path):
    """A headless Chromium driven by the system chromedriver, with its own profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile_dir}", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium per test module (mark the module with ``needs_chromium``)."""
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def open_ui(driver, url: str):
    """Load the UI at ``url`` and wait until its question box is there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))


def ingest_status(driver) -> str:
    """The text of the "Add articles" status line."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#ingest-status").text


def upload_file(driver, path: Path):
    """Open "Add articles" and drop ``path`` on its file field (waiting for the field, which Gradio
    may render anew)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opener = driver.find_element(By.CSS_SELECTOR, "#add-articles button")   # the accordion's header
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", opener)
    opener.click()
    rerendered = (StaleElementReferenceException, NoSuchElementException)
    field = WebDriverWait(driver, 10, ignored_exceptions=rerendered).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#upload input[type=file]"))
    field.send_keys(str(path))
