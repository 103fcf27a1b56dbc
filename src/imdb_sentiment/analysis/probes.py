"""Behavioural tests: what each model does with negation, contrast, a late verdict, names, typos and added words.

    imdb-sentiment probe --run runs/minilm-l6 --run runs/bilstm-glove_head_tail

In the manner of CheckList (Ribeiro et al. 2020, "Beyond Accuracy: Behavioral Testing of NLP Models with
CheckList"), with templates and word lists written for this project. Three kinds of test:
- MFT (minimum functionality): each case has a label the model must give;
- INV (invariance): a change that must not flip the label (names, typos, a neutral sentence);
- DIR (direction): a change that must not move P(positive) the wrong way by more than `DIR_TOLERANCE`.
Cases are a pure function of the seed, so every model sees the same ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from imdb_sentiment.core.stats import wilson_interval

POSITIVE = ["good", "great", "excellent", "wonderful", "brilliant", "superb", "amazing", "delightful", "moving",
            "beautiful", "charming", "fantastic", "terrific", "outstanding", "enjoyable", "gripping", "touching",
            "hilarious", "memorable", "stunning"]
NEGATIVE = ["bad", "terrible", "awful", "boring", "dreadful", "dull", "horrible", "painful", "tedious", "stupid",
            "pointless", "lame", "forgettable", "mediocre", "disappointing", "annoying", "clumsy", "lifeless",
            "unwatchable", "atrocious"]
THINGS = ["film", "movie", "picture", "story", "script", "cast", "ending", "performance", "direction", "dialogue"]
PRAISE = ["the acting was {p}", "the photography is {p}", "the story is {p}", "the lead performance is {p}",
          "the ending was {p}", "the music is {p}", "I found it {p}", "the whole cast is {p}"]
COMPLAINT = ["the acting was {n}", "the photography is {n}", "the story is {n}", "the lead performance is {n}",
             "the ending was {n}", "the music is {n}", "I found it {n}", "the whole cast is {n}"]
FIRST = ["Anna", "James", "Maria", "Tom", "Keiko", "Omar", "Julia", "Pedro", "Ingrid", "Samuel", "Lena", "David",
         "Priya", "Marco", "Chloe", "Ahmed", "Sofia", "Jack", "Mei", "Lucas"]
LAST = ["Walker", "Moreno", "Tanaka", "Fischer", "Okafor", "Novak", "Bennett", "Rossi", "Larsen", "Haddad",
        "Kowalski", "Reyes", "Schmidt", "Murphy", "Chen", "Dubois", "Silva", "Berg", "Khan", "Price"]
TITLES = ["The Silent Harbor", "Midnight Express Lane", "A Winter in Lisbon", "The Last Orchard", "Paper Kingdoms",
          "Blue Horizon", "The Glass Garden", "Northern Lights", "The Long Road Home", "Iron Valley",
          "Summer of Ghosts", "The Clockmaker", "Red Dust", "Under the Bridge", "City of Mirrors"]
PLACES = ["Chicago", "a small town in Ohio", "Berlin", "Tokyo", "the Scottish highlands", "Mexico City",
          "a fishing village", "Paris", "the desert", "New York", "Cape Town", "Montreal"]
NEUTRAL = ["I watched it on a Sunday afternoon.", "It runs just under two hours.", "It was released in the autumn.",
           "I saw it with my brother.", "The film is in colour.", "It was shown on television last week.",
           "The director also wrote the script.", "Most of it was shot on location."]
PLOT = ["{a} moves to {place} to start a new job.", "There {a} meets {b}, who runs a bookshop near the station.",
        "The two of them spend the first weeks arguing about small things.", "A letter arrives from an old friend.",
        "{b} has a brother who works at the harbour and rarely speaks.", "The seasons change and the town prepares "
        "for a festival.", "{a} visits the archive to look for records about the family house.", "There is a long "
        "scene at a dinner party where several neighbours are introduced.", "{b} drives to the coast to collect a "
        "parcel.", "Later the story follows the brother on a night shift.", "A storm closes the roads for three "
        "days.", "{a} takes notes in a small blue notebook.", "The film then returns to the bookshop, where a new "
        "customer asks about a rare map.", "The middle section covers the preparations for the festival in detail.",
        "{a} and {b} share a meal and talk about their childhoods.", "Nobody in the town seems to know who sent "
        "the letter."]
STRONG_NEGATIVE = ["Honestly, it was a complete waste of time and money.", "I have rarely been so bored in a cinema.",
                   "The worst film I have seen this year.", "Avoid it at all costs."]
STRONG_POSITIVE = ["Honestly, it is one of the best films I have ever seen.", "I loved every minute of it.",
                   "A masterpiece, and I will watch it again.", "Do not miss it."]
DIR_TOLERANCE = 0.01


@dataclass
class Case:
    text: str
    label: int | None = None  # MFT: the label the model must give
    base: str | None = None  # INV, DIR: the review before the change
    direction: int = 0  # DIR: +1 the change must not lower P(positive), -1 must not raise it


@dataclass
class Capability:
    name: str
    kind: str  # MFT, INV or DIR
    description: str
    cases: list[Case] = field(default_factory=list)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _short_review(rng: random.Random, positive: bool) -> str:
    """A short review with a clear verdict, a name, a title and a place (the material INV and DIR tests change)."""
    words = POSITIVE if positive else NEGATIVE
    return (f"{_name(rng)} stars in {rng.choice(TITLES)}, set in {rng.choice(PLACES)}. "
            f"The {rng.choice(THINGS)} is {rng.choice(words)} and {rng.choice(PRAISE if positive else COMPLAINT)}"
            .format(p=rng.choice(POSITIVE), n=rng.choice(NEGATIVE)) + ".")


def _typos(rng: random.Random, text: str, count: int) -> str:
    """Swap two different adjacent letters in each of `count` different words longer than three letters."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    for i in rng.sample(candidates, count):
        w = words[i]
        j = rng.choice([j for j in range(len(w) - 1) if w[j] != w[j + 1]])
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _plot_summary(rng: random.Random, min_words: int = 320) -> str:
    a, b, place = rng.choice(FIRST), rng.choice(FIRST), rng.choice(PLACES)
    sentences = []
    while sum(len(s.split()) for s in sentences) < min_words:
        sentences.append(rng.choice(PLOT).format(a=a, b=b, place=place))
    return " ".join(sentences)


def build_suite(n: int = 200, seed: int = 0) -> list[Capability]:
    """Every capability with `n` cases (MFTs with both labels: n/2 each), the same for the same seed."""
    rng = random.Random(seed)
    half = n // 2
    suite = [
        Capability("vocabulary", "MFT", "a short review with one clear sentiment word"),
        Capability("negated positive", "MFT", "a negated positive word is negative (\"not good\")"),
        Capability("negated negative", "MFT", "a negated negative word is positive (\"not bad at all\")"),
        Capability("contrast", "MFT", "\"X, but Y\": the verdict follows \"but\", praise and complaint in both orders"),
        Capability("change over time", "MFT", "\"I used to love ..., but this one is dreadful\", and the reverse"),
        Capability("late verdict", "MFT", "a neutral plot summary of 300+ words, then the verdict"),
        Capability("names", "INV", "other actor, film and place names must not flip the label"),
        Capability("typos", "INV", "one or two swapped letters must not flip the label"),
        Capability("neutral sentence", "INV", "an added neutral sentence must not flip the label"),
        Capability("negative sentence added", "DIR", "a strongly negative sentence must not raise P(positive)"),
        Capability("positive sentence added", "DIR", "a strongly positive sentence must not lower P(positive)"),
    ]
    by_name = {c.name: c for c in suite}
    for k in range(n):
        positive = k < half
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        by_name["vocabulary"].cases.append(Case(rng.choice([
            f"The {rng.choice(THINGS)} was {word}.", f"What a {word} {rng.choice(THINGS)}.",
            f"I thought it was {word}.", f"{word.capitalize()}, from start to finish."]), int(positive)))
        p, q = rng.choice(POSITIVE), rng.choice(NEGATIVE)
        thing = rng.choice(THINGS)
        by_name["negated positive"].cases.append(Case(rng.choice([
            f"The {thing} was not {p}.", f"I didn't think the {thing} was {p}.", f"This is not a {p} {thing}.",
            f"The {thing} wasn't {p} at all.", f"It was never {p}, and it wasn't worth the ticket."]), 0))
        by_name["negated negative"].cases.append(Case(rng.choice([
            f"The {thing} was not {q} at all.", f"I didn't find the {thing} {q}.", f"This is not a {q} {thing}.",
            f"The {thing} wasn't {q}; not {q} at all.", f"Not {q} at all, in fact."]), 1))
        aspects = rng.sample(range(len(PRAISE)), 2)  # praise and complaint about different things
        praise, complaint = PRAISE[aspects[0]].format(p=p), COMPLAINT[aspects[1]].format(n=q)
        text = (f"{complaint.capitalize()}, but {praise}." if positive else f"{praise.capitalize()}, but {complaint}.")
        by_name["contrast"].cases.append(Case(text, int(positive)))
        person = _name(rng)
        by_name["change over time"].cases.append(Case(
            f"I used to hate {person}'s films, but this one is {p}." if positive else
            f"I used to love {person}'s films, but this one is {q}.", int(positive)))
        verdict = (f"All in all, the {thing} is {p} and I recommend it." if positive else
                   f"All in all, the {thing} is {q} and I do not recommend it.")
        by_name["late verdict"].cases.append(Case(f"{_plot_summary(rng)} {verdict}", int(positive)))
        base = _short_review(rng, positive)
        renamed = base
        for names in (FIRST, LAST, TITLES, PLACES):
            for old in names:
                if old in renamed:
                    renamed = renamed.replace(old, rng.choice([x for x in names if x != old]))
        by_name["names"].cases.append(Case(renamed, base=base))
        by_name["typos"].cases.append(Case(_typos(rng, base, rng.choice([1, 2])), base=base))
        by_name["neutral sentence"].cases.append(Case(f"{base} {rng.choice(NEUTRAL)}", base=base))
        by_name["negative sentence added"].cases.append(Case(f"{base} {rng.choice(STRONG_NEGATIVE)}", base=base,
                                                             direction=-1))
        by_name["positive sentence added"].cases.append(Case(f"{base} {rng.choice(STRONG_POSITIVE)}", base=base,
                                                             direction=1))
    return suite


def failures(capability: Capability, p_case: np.ndarray, p_base: np.ndarray | None) -> np.ndarray:
    """Which cases the model fails, from P(positive) of each case (and of its base review for INV and DIR)."""
    if capability.kind == "MFT":
        return (p_case >= 0.5) != np.array([c.label for c in capability.cases], dtype=bool)
    if capability.kind == "INV":
        return (p_case >= 0.5) != (p_base >= 0.5)
    directions = np.array([c.direction for c in capability.cases])
    return directions * (p_case - p_base) < -DIR_TOLERANCE


def run_suite(predictors, suite: list[Capability], examples: int = 3) -> list[dict]:
    """One row per model and capability: cases, failures, failure rate with a 95% Wilson interval, and examples."""
    rows = []
    for predictor in predictors:
        for capability in suite:
            p_case = np.array([r.p_positive for r in predictor.predict([c.text for c in capability.cases])])
            p_base = None
            if capability.kind != "MFT":
                p_base = np.array([r.p_positive for r in predictor.predict([c.base for c in capability.cases])])
            failed = failures(capability, p_case, p_base)
            low, high = wilson_interval(int(failed.sum()), len(failed))
            shown = [{"text": capability.cases[i].text, "p_positive": round(float(p_case[i]), 3),
                      **({"base_p_positive": round(float(p_base[i]), 3)} if p_base is not None else {}),
                      **({"label": capability.cases[i].label} if capability.kind == "MFT" else {})}
                     for i in np.flatnonzero(failed)[:examples]]
            rows.append({"model": predictor.name, "capability": capability.name, "kind": capability.kind,
                         "cases": len(failed), "failures": int(failed.sum()),
                         "failure_rate": float(failed.mean()), "failure_rate_ci95": [low, high],
                         "examples": shown})
    return rows


def merge_rows(saved: list[dict], new: list[dict]) -> list[dict]:
    """`saved` with every row of a model in `new` replaced by `new`'s rows, in the model's old place (new models go
    last): a retrained model re-probed without probing the others again. Both must count the same cases."""
    cases = {(r["capability"], r["cases"]) for r in new}
    if {(r["capability"], r["cases"]) for r in saved} != cases:
        raise ValueError("the saved probes were run with other capabilities or case counts than these")
    probed = {r["model"] for r in new}
    place = {m: i for i, m in enumerate(dict.fromkeys(r["model"] for r in saved + new))}
    return sorted([r for r in saved if r["model"] not in probed] + new, key=lambda r: place[r["model"]])


def table(rows: list[dict], suite: list[Capability]) -> str:
    """Markdown: capabilities down, models across, failure rates in the cells."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    rate = {(r["model"], r["capability"]): r for r in rows}
    lines = ["| capability | kind | cases | " + " | ".join(models) + " |",
             "|---|---|---|" + "---|" * len(models)]
    for c in suite:
        cells = []
        for m in models:
            r = rate[(m, c.name)]
            cells.append(f"{r['failure_rate']:.1%} ({r['failure_rate_ci95'][0]:.0%}-{r['failure_rate_ci95'][1]:.0%})")
        lines.append(f"| {c.name}: {c.description} | {c.kind} | {len(c.cases)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
