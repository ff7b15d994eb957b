"""Issue 15 in a real browser (headless Chromium): [n] opens its card in Sources, "Show in the
article" scrolls to the highlight, earlier answers' sources stay reachable, copy gives plain text,
a reload keeps the conversation, Clear forgets it (follow-ups too), and an abstention under a filter
offers to clear it. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, needs_chromium

pytestmark = needs_chromium
KHAMENEI = "What did Khamenei say about the Popular Mobilization Forces?"
PHRASE = "must be preserved and strengthened"
IN_VIEW = """const el = arguments[0], box = document.querySelector('#sources').getBoundingClientRect();
const r = el.getBoundingClientRect();
return r.height > 0 && r.top >= Math.max(box.top, 0) - 1 && r.bottom <= Math.min(box.bottom, window.innerHeight) + 1;"""


@pytest.fixture
def page(browser, ui_url):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    class Page:
        rerendered = (StaleElementReferenceException, NoSuchElementException)

        def wait(self, until, timeout=60):
            return WebDriverWait(browser, timeout, poll_frequency=0.2, ignored_exceptions=self.rerendered).until(until)

        def open(self):
            browser.get(ui_url)
            self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#question textarea"))

        def ask(self, question, expected):
            n = len(self.bot_messages())
            box = browser.find_element(By.CSS_SELECTOR, "#question textarea")
            box.send_keys(question)
            box.send_keys(Keys.ENTER)
            self.wait(lambda d: len(self.bot_messages()) > n and expected in self.bot_messages()[-1].text)

        def bot_messages(self):
            return browser.find_elements(By.CSS_SELECTOR, "#chat [data-testid=bot]")

        def css(self, selector):
            return browser.find_element(By.CSS_SELECTOR, selector)

        def in_view(self, element):
            return browser.execute_script(IN_VIEW, element)

    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("window.localStorage.clear();") if browser.current_url.startswith("http") else None
    return Page()


def test_citations_open_their_cards_and_the_article_scrolls_to_the_quote(browser, page):
    from selenium.webdriver.common.by import By

    page.open()
    page.ask(KHAMENEI, PHRASE)
    page.ask("Who killed Soleimani?", "Trump")
    try:
        first_answer = page.bot_messages()[0]
        cite = first_answer.find_elements(By.CSS_SELECTOR, "a.cite")[1]        # [2] of answer 1
        assert cite.text == "[2]"
        cite.click()
        card = page.css("#a1-s2")
        page.wait(lambda d: page.css("details#answer-1").get_attribute("open") is not None and page.in_view(card), 10)
        assert PHRASE in card.text
        browser.save_screenshot(str(ARTIFACTS / "citation_opens_card.png"))
        card.find_element(By.CSS_SELECTOR, "details.article summary").click()
        mark = card.find_element(By.CSS_SELECTOR, "details.article[open] mark")
        page.wait(lambda d: page.in_view(mark), 10)
        browser.save_screenshot(str(ARTIFACTS / "article_scrolled_to_quote.png"))
        assert "Top 5 This Week" not in page.css("#sources").text
    finally:
        browser.save_screenshot(str(ARTIFACTS / "chat_sources_final.png"))


def test_copy_gives_plain_text_with_the_citations(browser, page):
    from selenium.webdriver.common.by import By

    page.open()
    page.ask(KHAMENEI, PHRASE)
    message = page.bot_messages()[-1]
    button = browser.find_elements(By.CSS_SELECTOR, "#chat button[aria-label='Copy message']")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    copied = page.wait(lambda d: d.execute_script("return window.newsQaLastCopy || null;"), 10)
    assert "\\" not in copied and "**" not in copied and "&#" not in copied and "<" not in copied
    assert "[1] “In a meeting with Iraqi Prime Minister Mohammed…” (opening words), undated; mentions events up to " \
           "2025-01-07 — 004_9f3c536fd21fedea.txt:" in copied
    assert "Al-Sudani" in copied and "(Hashd al-Shaabi)" in copied
    assert copied.split("\n")[0] in message.text.replace("\n", " ")


def test_a_reload_keeps_the_conversation_and_clear_forgets_it(browser, page):
    from selenium.webdriver.common.by import By

    page.open()
    page.ask(KHAMENEI, PHRASE)
    browser.refresh()
    page.wait(lambda d: page.bot_messages() and PHRASE in page.bot_messages()[-1].text, 30)
    page.wait(lambda d: PHRASE in page.css("#sources").text, 30)
    browser.save_screenshot(str(ARTIFACTS / "reload_keeps_history.png"))
    browser.find_element(By.CSS_SELECTOR, "#chat button[aria-label='Clear']").click()
    page.wait(lambda d: not page.bot_messages(), 10)
    page.ask("What did he say about the US?", "")
    assert "Searched for" not in page.bot_messages()[-1].text     # nothing left to resolve "he" against
    browser.refresh()
    page.wait(lambda d: page.bot_messages(), 30)
    assert len(page.bot_messages()) == 1 and KHAMENEI not in browser.find_element(By.CSS_SELECTOR, "#chat").text


def test_an_abstention_under_a_filter_offers_to_clear_it(browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page.open()
    page.css("#filters button").click()
    outlets = page.wait(lambda d: page.css("#f-outlets input"), 10)
    outlets.send_keys("Defence Talks")
    outlets.send_keys(Keys.ENTER)
    page.ask("Who won the 2022 FIFA World Cup?", "Searched only: outlet Defence Talks.")
    offer = page.css("#clear-filters")
    page.wait(lambda d: offer.is_displayed(), 10)
    browser.save_screenshot(str(ARTIFACTS / "abstention_under_filter.png"))
    offer.click()
    try:
        page.wait(lambda d: not any(b.is_displayed() for b in d.find_elements(By.CSS_SELECTOR, "#clear-filters")), 10)
        page.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, "#f-outlets .token"), 10)   # no chosen outlet
    finally:
        browser.save_screenshot(str(ARTIFACTS / "filters_cleared.png"))
