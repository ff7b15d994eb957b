"""What runs in the browser, as constants: the chat's styles for citation links and footnote
markers, and one script (installed once, from the Sources panel's ``js_on_load``) that makes
[n] open its card in Sources, scrolls an opened article to its highlight, and makes the chat's
copy buttons copy plain text instead of the messages' escaped Markdown."""
import json

CHAT_CSS = """
#chat a.cite { font-weight: 600; text-decoration: none; color: var(--color-accent);
               border-bottom: 1px dotted var(--color-accent); cursor: pointer; }
#chat sup.fn, .sources sup.fn { color: var(--body-text-color-subdued); font-size: 0.7em; font-style: italic; }
"""

UI_JS = r"""
if (!window.__newsQa) {
  window.__newsQa = true;
  const style = document.createElement('style');
  style.textContent = __CHAT_CSS__;
  document.head.appendChild(style);

  // [n] in the chat opens quote n of that answer in the Sources panel.
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById((link.getAttribute('href') || '').slice(1));
    if (!card) return;
    for (let d = card.closest('details'); d; d = d.parentElement.closest('details')) d.open = true;
    card.scrollIntoView({block: 'center', behavior: 'instant'});
    card.classList.add('flash');
    setTimeout(() => card.classList.remove('flash'), 1500);
  }, true);

  // "Show in the article": once open, scroll to the highlighted quote.
  document.addEventListener('toggle', (event) => {
    const details = event.target;
    if (!details.classList || !details.classList.contains('article') || !details.open) return;
    const mark = details.querySelector('mark');
    if (mark) mark.scrollIntoView({block: 'center', behavior: 'instant'});
  }, true);

  // The chat's copy buttons copy its Markdown source; copy what the reader sees instead.
  let chatClick = 0;
  document.addEventListener('pointerdown', (event) => {
    if (event.target.closest && event.target.closest('#chat')) chatClick = Date.now();
  }, true);
  const plain = (markdown) => {
    // An inert document: nothing in it loads or runs.
    const doc = new DOMParser().parseFromString(markdown.replace(/<br\s*\/?>/g, '\n'), 'text/html');
    let text = doc.body.textContent;
    text = text.replace(/\*\*/g, '').replace(/^_(.*)_$/gm, '$1').replace(/ {2}$/gm, '');
    return text.replace(/\\([\\`*_{}\[\]()#+\-!|~$])/g, '$1');
  };
  window.newsQaPlainText = plain;
  if (navigator.clipboard && navigator.clipboard.writeText) {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text) => {
      const fromChat = Date.now() - chatClick < 3000;
      const copied = fromChat ? plain(text) : text;
      window.newsQaLastCopy = copied;
      return write(copied);
    };
  }
}
""".replace("__CHAT_CSS__", json.dumps(CHAT_CSS))
