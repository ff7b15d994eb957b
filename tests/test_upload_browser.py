"""Upload in a real browser: drop an article, ask about it; a bad file gets a clear message."""
import shutil

from tests.conftest import ARTIFACTS, CORPUS, ingest_status, launch_ui, needs_chromium, open_ui, upload_file

pytestmark = needs_chromium

ARTICLE = ("Lighthouse keepers strike in Port Avel\n\n"
           "Lighthouse keepers in the fishing town of Port Avel went on strike on Friday over unpaid overtime, "
           "their union said, and the harbour master warned that night crossings would be suspended.\n")


def test_upload_an_article_then_ask_about_it_and_see_an_error_for_a_bad_file(browser, tmp_path, make_assistant):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    rerendered = (StaleElementReferenceException, NoSuchElementException)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_9f3c536fd21fedea.txt", corpus)
    assistant = make_assistant(corpus)
    assistant.ingest()
    (tmp_path / "keepers.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    demo, url = launch_ui(lambda: assistant)
    ARTIFACTS.mkdir(exist_ok=True)

    try:
        open_ui(browser, url)
        upload_file(browser, tmp_path / "keepers.txt")
        WebDriverWait(browser, 60, ignored_exceptions=rerendered).until(lambda d: "1 added" in ingest_status(d))
        box = browser.find_element(By.CSS_SELECTOR, "#question textarea")
        box.send_keys("Why did the lighthouse keepers go on strike?")
        box.send_keys(Keys.ENTER)
        WebDriverWait(browser, 60, ignored_exceptions=rerendered).until(
            lambda d: "unpaid overtime" in d.find_element(By.CSS_SELECTOR, "#sources").text)
        assert (corpus / "keepers.txt").read_text(encoding="utf-8") == ARTICLE

        open_ui(browser, url)
        upload_file(browser, tmp_path / "broken.pdf")
        WebDriverWait(browser, 60, ignored_exceptions=rerendered).until(
            lambda d: "broken.pdf is not a readable PDF" in ingest_status(d) and "1 failed" in ingest_status(d))
    finally:
        browser.save_screenshot(str(ARTIFACTS / "upload.png"))
        demo.close()
