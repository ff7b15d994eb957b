"""Deterministic synthetic news-like distractor articles for the scale benchmark.

Short articles (a title plus ~10 paragraphs of 1-2 sentences, ~40 words each) built from
templates with varied actors, places, verbs and numbers, on topics unrelated to the real
corpus (economy, sport, weather, local politics, technology), so they never answer the
evaluation questions. Same seed, same files."""
from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST = ["Maria", "Tom", "Aiko", "Lars", "Priya", "Carlos", "Nadia", "Oliver", "Fatou", "Sven", "Elena", "Kwame",
         "Hannah", "Diego", "Mei", "Rafael", "Ingrid", "Samuel", "Lucia", "Jonas", "Amara", "Felix", "Rosa", "Pavel"]
LAST = ["Lindqvist", "Okafor", "Tanaka", "Moreau", "Schneider", "Alvarez", "Kowalski", "Brennan", "Haddad", "Novak",
        "Fischer", "Mensah", "Costa", "Sorensen", "Whitaker", "Ibarra", "Petrov", "Delgado", "Varga", "Holm"]
PLACES = ["Millbrook", "Eastfield", "Port Carden", "Riverton", "Lakeside", "Ashford", "Northvale", "Greyhaven",
          "Stonebridge", "Westmere", "Oakridge", "Fairhaven", "Brightwater", "Kingsport", "Elmwood", "Harlow Bay",
          "Cedar Falls", "Marlow", "Pinecrest", "Redcliff"]
COMPANIES = ["Brightline Foods", "Nordal Logistics", "Coreway Systems", "Helio Batteries", "Pinewood Retail",
             "Quanta Mills", "Vantor Software", "Bluewave Telecom", "Greenfield Farms", "Arcadia Motors",
             "Summit Textiles", "Lumen Chips", "Harbor Freight Lines", "Tidewater Energy", "Orchard Bank"]
TEAMS = ["Rovers", "United", "Falcons", "Mariners", "Wolves", "Athletic", "Comets", "Harriers", "Rangers", "Pioneers"]
PRODUCTS = ["smartphone", "laptop", "smart thermostat", "electric scooter", "streaming service", "payment app",
            "home router", "fitness tracker", "cloud storage plan", "e-reader"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

TEMPLATES = {
    "economy": {
        "titles": ["{company} reports {pct} percent rise in quarterly sales",
                   "Retail spending in {place} climbs for a {ordinal} month",
                   "{company} to open new plant near {place}"],
        "sentences": [
            "{company} said on {day} that revenue rose {pct} percent to {money} million dollars in the {ordinal} quarter, helped by strong demand for its core products.",
            "Analysts at a regional brokerage had expected growth of about {pct2} percent, and the shares gained {small} percent in early trading.",
            "Chief financial officer {person} told investors that costs for shipping and packaging had eased since {month}.",
            "The company plans to hire {count} workers at its warehouse in {place} before the end of the year.",
            "Local shop owners in {place} reported that weekend footfall was up {pct} percent compared with the same period last year.",
            "Economist {person} said household budgets remained tight, although wages in the region had grown faster than prices.",
            "A survey of {count} small businesses found that most expect steady orders through {month}.",
            "The regional chamber of commerce said exports of furniture and machine parts reached {money} million dollars.",
            "{person}, who runs a bakery on the high street, said flour prices had finally stopped rising.",
            "Bank lending to households in {place} increased by {pct2} percent, according to figures released on {day}.",
        ],
    },
    "sport": {
        "titles": ["{place} {team} beat {place2} {team2} {score} in league opener",
                   "{person} sets new club record in {place}",
                   "{place} {team} name {person} as head coach"],
        "sentences": [
            "{place} {team} won {score} against {place2} {team2} on {day} evening in front of {count} supporters.",
            "Striker {person} scored twice in the second half, taking the season tally to {small} goals.",
            "Coach {person} said the squad had trained hard since {month} and deserved the result.",
            "The visitors had the better of the first half but missed two clear chances before the break.",
            "Midfielder {person} was substituted after {minute} minutes with a minor ankle injury.",
            "The result moves {place} {team} to {ordinal} place in the table, {small} points behind the leaders.",
            "Ticket sales for the next home match at the {place} stadium have already passed {count}.",
            "Club chairman {person} confirmed that the new training ground will open in {month}.",
            "In the women's race, {person} finished the ten kilometre course in {minute} minutes and {small} seconds.",
            "Youth players from the {place} academy will join the first team for a friendly tournament next {month}.",
        ],
    },
    "weather": {
        "titles": ["Heavy rain expected across {place} this weekend",
                   "Heatwave pushes temperatures to {temp} degrees in {place}",
                   "Frost warning issued for farms around {place}"],
        "sentences": [
            "Forecasters expect up to {small} centimetres of rain in {place} on {day}, with strong winds along the coast.",
            "Temperatures reached {temp} degrees Celsius in the afternoon, the highest reading since {month}.",
            "Meteorologist {person} advised residents to keep gutters clear and to avoid low-lying roads.",
            "Farmers near {place} said the dry spell had delayed the planting of potatoes and barley.",
            "The regional weather office recorded gusts of {count} kilometres per hour on the northern hills.",
            "A frost warning remains in place for orchards around {place2} until {day} morning.",
            "Council crews spread grit on {small} main roads overnight after temperatures fell below zero.",
            "{person}, who manages a campsite in {place}, said bookings dropped sharply after the forecast was published.",
            "Snow is possible on higher ground late in {month}, although the valleys should stay mild.",
            "River levels in {place} rose by {small} metres, but flood defences held, officials said.",
        ],
    },
    "local politics": {
        "titles": ["{place} council approves new budget for schools and roads",
                   "Mayor {person} unveils plan for {place} town centre",
                   "Residents of {place} vote on new cycle lanes"],
        "sentences": [
            "The {place} town council voted {small} to {small2} on {day} to approve a budget of {money} million dollars for the coming year.",
            "Mayor {person} said the plan would repair {count} potholes and extend library opening hours.",
            "Councillor {person} argued that the parking charges would hurt small shops on the market square.",
            "Residents packed the community hall to discuss a proposal for new cycle lanes along the river.",
            "The planning committee will review the design for a new swimming pool in {place} in {month}.",
            "A petition signed by {count} people asked the council to keep the bus route to {place2} running.",
            "{person}, a local teacher, said the extra funding for school meals was long overdue.",
            "The council expects to complete the renovation of the old town hall by the end of {month}.",
            "Turnout in the by-election for the {ordinal} ward was {pct} percent, up from the last vote.",
            "Officials in {place} said recycling rates had improved to {pct} percent after the new bins were introduced.",
        ],
    },
    "technology": {
        "titles": ["{company} launches new {product} in {place}",
                   "Start-up from {place} raises {money} million dollars for {product}",
                   "Review: the latest {product} from {company}"],
        "sentences": [
            "{company} unveiled a new {product} on {day}, priced at {money} dollars, with sales starting in {month}.",
            "The device offers a battery that lasts about {small} hours and charges fully in {minute} minutes.",
            "Product manager {person} said the team spent {small} months testing the software with early users.",
            "A start-up based in {place} raised {money} million dollars to expand its {product} business.",
            "Reviewer {person} praised the bright screen but said the speaker sounded thin at high volume.",
            "The company said {count} customers had signed up for the beta programme since {month}.",
            "Engineers in {place} are building a new data centre that will run on wind power.",
            "{person}, a software developer, said the update fixed a bug that drained the battery overnight.",
            "The {product} will be sold in {small} countries, with more markets to follow next year.",
            "Broadband speeds in {place} improved by {pct} percent after the new fibre network was switched on.",
        ],
    },
}
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def _fill(template: str, rng: random.Random) -> str:
    values = {
        "person": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "place": rng.choice(PLACES), "place2": rng.choice(PLACES),
        "company": rng.choice(COMPANIES), "team": rng.choice(TEAMS), "team2": rng.choice(TEAMS),
        "product": rng.choice(PRODUCTS), "month": rng.choice(MONTHS), "day": rng.choice(DAYS),
        "ordinal": rng.choice(ORDINALS), "pct": rng.randint(2, 40), "pct2": rng.randint(1, 15),
        "small": rng.randint(2, 19), "small2": rng.randint(1, 9), "count": rng.randint(120, 48000),
        "money": f"{rng.randint(1, 900)}.{rng.randint(0, 9)}", "minute": rng.randint(10, 89),
        "temp": rng.randint(28, 41), "score": f"{rng.randint(0, 5)}-{rng.randint(0, 4)}",
    }
    return template.format(**values)


def make_article(rng: random.Random, paragraphs: int = 10) -> str:
    topic = rng.choice(sorted(TEMPLATES))
    spec = TEMPLATES[topic]
    lines = [_fill(rng.choice(spec["titles"]), rng)]
    for _ in range(paragraphs):
        n = rng.choice((1, 2))
        lines.append(" ".join(_fill(s, rng) for s in rng.sample(spec["sentences"], n)))
    return "\n\n".join(lines) + "\n"


def build_corpus(target_chunks: int, out_dir: Path, real_corpus: Path, seed: int = 1234,
                 chunk_chars: int = 600) -> dict:
    """Write copies of the real articles plus synthetic distractors into ``out_dir`` until the
    corpus holds about ``target_chunks`` chunks (counted with the project's own chunker).
    Returns {"articles": n, "chunks": n, "real_chunks": n}. Rebuilds ``out_dir`` from scratch."""
    from retrieval.ingest.loading import read_article
    from retrieval.ingest.pipeline import prepare_article

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    chunks = real_chunks = articles = 0
    for path in sorted(real_corpus.glob("*.txt")):
        shutil.copyfile(path, out_dir / path.name)
        n = len(prepare_article(path.name, read_article(path, 2**31), {}, chunk_chars)[1])
        chunks += n
        real_chunks += n
        articles += 1
    rng = random.Random(seed)
    i = 0
    while chunks < target_chunks:
        text = make_article(rng)
        name = f"syn_{i:06d}.txt"
        (out_dir / name).write_text(text, encoding="utf-8")
        chunks += len(prepare_article(name, text, {}, chunk_chars)[1])
        articles += 1
        i += 1
    return {"articles": articles, "chunks": chunks, "real_chunks": real_chunks}


if __name__ == "__main__":
    rng = random.Random(0)
    print(make_article(rng))
