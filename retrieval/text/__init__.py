"""Text: normalization, sentences, dates, the shared lexicon, aliases, question analysis and follow-ups."""
