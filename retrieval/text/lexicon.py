"""The word lists the text rules share: month and weekday names, number words, stop words.
Each is written once here; cleaning, dates, answer shapes, timelines and index terms read them."""
from __future__ import annotations

# A month's name and its usual abbreviations start with these three letters ("Sept", "September").
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH = rf"(?:{'|'.join(MONTHS)})[a-z]*\.?"                  # "Jan.", "January", "Sept", "May"
WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"

UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# Number words an index term writes as digits ("five" = "5").
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ("zero", *UNITS, "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
     "eighteen", "nineteen"))} | {w: str(10 * i) for i, w in enumerate(TENS, start=2)}
MAGNITUDES = ("hundred", "thousand", "million", "billion", "dozen")
# Any number word, a magnitude in the singular or plural ("hundreds"), longest first.
NUMBER_WORD = "|".join(sorted({*NUMBER_WORDS, *MAGNITUDES, *(m + "s" for m in MAGNITUDES)}, key=lambda w: (-len(w), w)))

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
al el ul s t
""".split())
