"""Smoke test in a real browser: headless Debian Chromium drives the served UI."""
from __future__ import annotations

import re

from tests.conftest import ARTIFACTS, needs_chromium

KHAMENEI = "What did Khamenei say about the Popular Mobilization Forces?"
PHRASE = "must be preserved and strengthened"
KHAMENEI_FILE = "004_9f3c536fd21fedea.txt"

pytestmark = needs_chromium


def test_a_typed_question_shows_the_quote_and_its_source(browser, ui_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def rendered(driver):
        """The answer is on the page: a chat message and a highlighted quote with the phrase, and the
        Sources panel naming the file."""
        messages = driver.find_elements(By.CSS_SELECTOR, "#chat .message")
        marks = driver.find_elements(By.CSS_SELECTOR, "#sources mark")
        return (any(PHRASE in m.text for m in messages) and any(PHRASE in m.text for m in marks)
                and KHAMENEI_FILE in driver.find_element(By.CSS_SELECTOR, "#sources").text)

    ARTIFACTS.mkdir(exist_ok=True)
    try:
        browser.get(ui_url)
        box = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))
        assert browser.title == "News analyst assistant"
        box.send_keys(KHAMENEI)
        box.send_keys(Keys.ENTER)
        WebDriverWait(browser, 60, poll_frequency=0.25).until(rendered)
        assert box.get_attribute("value") == ""
    finally:
        browser.save_screenshot(str(ARTIFACTS / "browser_smoke.png"))


def test_follow_up_then_open_a_citation_in_its_article(browser, ui_url):
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    rerendered = (StaleElementReferenceException, NoSuchElementException)   # the page re-renders as answers arrive

    def ask(question, expected):
        box = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))
        box.send_keys(question)
        box.send_keys(Keys.ENTER)
        WebDriverWait(browser, 60, poll_frequency=0.25, ignored_exceptions=rerendered).until(
            lambda d: any(expected in m.text for m in d.find_elements(By.CSS_SELECTOR, "#chat .message")))

    ARTIFACTS.mkdir(exist_ok=True)
    try:
        browser.get(ui_url)
        ask(KHAMENEI, PHRASE)
        ask("What did he say about the US?", "Searched for: What did Khamenei say about the US?")
        def open_the_articles(driver):
            """Click every "Show in the article" once the panel shows the new answer (it re-renders meanwhile)."""
            if "United States" not in driver.find_element(By.CSS_SELECTOR, "#sources").text:
                return False
            for details in driver.find_elements(By.CSS_SELECTOR, "#sources details.article"):
                summary = details.find_element(By.TAG_NAME, "summary")
                if details.get_attribute("open") is None and summary.is_displayed():
                    summary.click()
            marks = driver.find_elements(By.CSS_SELECTOR, "#sources details.article[open] mark")
            return any(mark.is_displayed() and "United States" in mark.text for mark in marks)

        WebDriverWait(browser, 20, ignored_exceptions=rerendered).until(open_the_articles)
        assert "Top 5 This Week" not in browser.find_element(By.CSS_SELECTOR, "#sources").text
        browser.find_element(By.CSS_SELECTOR, "#export").click()
        def brief_files(driver) -> set[str]:
            return {cell.get_attribute("aria-label") for cell in driver.find_elements(By.CSS_SELECTOR, "#brief td.filename")}

        # Each export is named by its date and time (brief-20250607-143012.md), so a download is never an older one.
        first = WebDriverWait(browser, 20, ignored_exceptions=rerendered).until(
            lambda d: (names := brief_files(d)) and len(names) == 2 and names)
        stem = sorted(first)[1].removesuffix(".md")
        assert re.fullmatch(r"brief-\d{8}-\d{6}(-\d+)?", stem) and first == {f"{stem}.md", f"{stem}.json"}
    finally:
        browser.save_screenshot(str(ARTIFACTS / "browser_viewer.png"))
