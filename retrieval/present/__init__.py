"""Presentation: answers as CLI text, chat Markdown and HTML, exported briefs, the article viewer."""
