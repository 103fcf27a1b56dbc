"""The report's conclusions in words: each sentence built from the numbers it states, with McNemar's verdict on
every difference it names."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from imdb_sentiment.analysis.curves import smallest_size_reaching, summarise


def p_text(p: float) -> str:
    """"= 0.024", or "< 1e-300" where the p-value underflows a float (printing 0 would claim certainty)."""
    return "< 1e-300" if p < 1e-300 else f"= {p:.2g}"


def pair_p_values(pairs: list[dict]) -> dict:
    """McNemar's p-value of each pair of models, looked up by the unordered pair."""
    return {frozenset((p["a"], p["b"])): p["p_value"] for p in pairs}


def by_accuracy(models: dict) -> list[str]:
    """Model names, most accurate first."""
    return sorted(models, key=lambda n: -models[n]["accuracy"])


def versus_baseline(models: dict, pairs: list[dict], baseline: str, ranked: list[str]) -> str:
    """Which neural models beat the linear baseline, and whether McNemar's test says the difference is real."""
    p_values = pair_p_values(pairs)
    groups: dict[str, list[str]] = {"significantly better": [], "significantly worse": [], "no significant difference": []}
    for name in ranked:
        if models[name]["kind"] == "tfidf":
            continue
        diff = models[name]["accuracy"] - models[baseline]["accuracy"]
        p_value = p_values[frozenset((name, baseline))]
        verdict = ("no significant difference" if p_value >= 0.05
                   else "significantly better" if diff > 0 else "significantly worse")
        groups[verdict].append(f"{name} ({100 * diff:+.2f} points, p {p_text(p_value)})")
    found = [f"{verdict}: {', '.join(names)}" for verdict, names in groups.items() if names]
    return (f"Against the strongest linear baseline ({baseline}, {models[baseline]['accuracy']:.2%}; McNemar's test at "
            f"0.05): " + ("; ".join(found) if found else "no neural model in the comparison") + ".")


def significance(p_value: float) -> str:
    return f"McNemar p {p_text(p_value)}, {'significant' if p_value < 0.05 else 'not significant'} at 0.05"


def findings(models: dict, pairs: list[dict], by_length: dict, curve_points: list[dict] | None = None,
             probes: list[dict] | None = None, other_data: dict | None = None) -> list[str]:
    """The report's conclusions as sentences, each built from the measured numbers it states."""
    p_values, ranked = pair_p_values(pairs), by_accuracy(models)
    acc = {n: models[n]["accuracy"] for n in models}
    out = []
    if len(ranked) > 1:
        best, second = ranked[:2]
        out.append(f"{best} is the most accurate model ({acc[best]:.2%} test accuracy); {second} is next at "
                   f"{acc[second]:.2%}, {100 * (acc[best] - acc[second]):.2f} points behind "
                   f"({significance(p_values[frozenset((best, second))])}).")
    transformers = [n for n in ranked if models[n]["kind"] == "transformer"]
    # A student (a BiLSTM trained on a teacher's outputs) is kept apart: what the Transformer buys over an RNN is
    # read against the best BiLSTM trained on the labels alone.
    lstms = [n for n in ranked if models[n]["kind"] == "bilstm" and not models[n].get("teacher")]
    students = [n for n in ranked if models[n]["kind"] == "bilstm" and models[n].get("teacher")]
    t, b = (transformers[0], lstms[0]) if transformers and lstms else (None, None)
    if t:
        out.append(f"The best Transformer, {t} ({acc[t]:.2%}), is {100 * (acc[t] - acc[b]):+.2f} points from the best "
                   f"BiLSTM trained on the labels, {b} ({acc[b]:.2%}; {significance(p_values[frozenset((t, b))])}).")
        s = students[0] if students else None
        if s:
            out.append(f"Distillation: the best student, {s} ({acc[s]:.2%}), is {100 * (acc[s] - acc[b]):+.2f} points "
                       f"from {b} ({significance(p_values[frozenset((s, b))])}) and {100 * (acc[s] - acc[t]):+.2f} "
                       f"from {t} ({significance(p_values[frozenset((s, t))])}).")
        # Speeds compare only between models timed together (a model added to a report later is timed apart).
        timed_with_t = [n for n in ranked if models[n]["kind"] == "bilstm"
                        and models[n].get("timed_on") == models[t].get("timed_on")]
        fast = next((n for n in timed_with_t if n in (s, b)), timed_with_t[0] if timed_with_t else None)
        if fast:
            speed = models[fast]["throughput_reviews_per_s"] / models[t]["throughput_reviews_per_s"]
            params = (f" with {models[fast]['params'] / models[t]['params']:.0%} of its parameters"
                      if models[fast]["params"] and models[t]["params"] else "")
            out.append(f"What the BiLSTM buys back: {fast} labels {speed:.1f}x as many reviews per second as {t} "
                       f"({models[fast]['throughput_reviews_per_s']:,.0f} against "
                       f"{models[t]['throughput_reviews_per_s']:,.0f}){params}.")
        out.extend(teachers_finding(models, students, p_values))
        edges, lead = by_length["edges"], np.subtract(by_length["models"][t], by_length["models"][b])
        wide, narrow = int(np.argmax(lead)), int(np.argmin(lead))
        out.append(f"By review length, {t}'s lead over {b} is largest on reviews of {edges[wide]}-{edges[wide + 1]} "
                   f"words ({100 * lead[wide]:+.1f} points) and smallest on {edges[narrow]}-{edges[narrow + 1]} words "
                   f"({100 * lead[narrow]:+.1f}).")
    if other_data and t:
        out.append(f"On other data, {t}'s lead over {b} is " + "; ".join(
            f"{100 * (r[t]['accuracy'] - r[b]['accuracy']):+.2f} points on {Path(d).name} ({r[t]['accuracy']:.2%} "
            f"against {r[b]['accuracy']:.2%})" for d, r in other_data.items())
                   + f", against {100 * (acc[t] - acc[b]):+.2f} on IMDB's test set.")
    if curve_points:
        curves = summarise(curve_points)
        reach = {m: smallest_size_reaching(c, 0.85) for m, c in curves.items()}
        reached = sorted((size, m) for m, size in reach.items() if size)
        never = [m for m, size in reach.items() if not size]
        smallest = min(min(c) for c in curves.values())
        at_smallest = sorted(((c[smallest][0], m) for m, c in curves.items() if smallest in c), reverse=True)
        out.append("Learning curves: 85% test accuracy takes " + "; ".join(f"{m} {size:,}" for size, m in reached)
                   + " labelled reviews" + (f" ({', '.join(never)}: not within the sizes tried)" if never else "")
                   + f". With {smallest:,} reviews, " + ", ".join(f"{m} {a:.1%}" for a, m in at_smallest) + ".")
    if probes:
        rates = {(p["model"], p["capability"]): p["failure_rate"] for p in probes}
        probed_t = [n for n in transformers if any(m == n for m, _ in rates)]
        probed_b = [n for n in lstms if any(m == n for m, _ in rates)]
        if probed_t and probed_b:
            t, b = probed_t[0], probed_b[0]
            gaps = {c: rates[(b, c)] - rates[(t, c)] for m, c in rates if m == t and (b, c) in rates}
            cap = max(gaps, key=gaps.get)
            out.append(f"Behavioural tests: the widest gap is {cap}, where {b} fails {rates[(b, cap)]:.1%} of the "
                       f"cases and {t} {rates[(t, cap)]:.1%}.")
    return out


def teachers_finding(models: dict, students: list[str], p_values: dict) -> list[str]:
    """With students of two teachers, the best student of each: what a stronger teacher buys."""
    best_by_teacher: dict[str, str] = {}
    for student in students:  # most accurate first
        best_by_teacher.setdefault(Path(models[student]["teacher"]).name, student)
    if len(best_by_teacher) < 2:
        return []

    def described(teacher: str) -> str:
        scored = next((n for n in models if n == teacher or n.startswith(f"{teacher}-")), None)
        return f"{teacher} ({models[scored]['accuracy']:.2%})" if scored else teacher

    (first, a), (second, b) = list(best_by_teacher.items())[:2]
    gain = 100 * (models[a]["accuracy"] - models[b]["accuracy"])
    return [f"Teachers: the best student of {described(first)}, {a}, reaches {models[a]['accuracy']:.2%}; the best "
            f"of {described(second)}, {b}, {models[b]['accuracy']:.2%}: {a} leads by {gain:.2f} points "
            f"({significance(p_values[frozenset((a, b))])})."]


def versus_full_runs(models: dict, pairs: list[dict], full_accuracy: dict[str, float], shown: int = 6) -> str:
    """Where a small-data comparison orders two models unlike their full runs, in words: the pairs most apart in
    the full runs first, each with McNemar's verdict on the small run's difference."""
    p_values = pair_p_values(pairs)
    known = [n for n in by_accuracy(models) if full_accuracy.get(n) is not None]
    acc = {n: models[n]["accuracy"] for n in known}
    flipped = sorted(((a, b) for a, b in itertools.combinations(known, 2)
                      if acc[a] > acc[b] and full_accuracy[a] < full_accuracy[b]),
                     key=lambda ab: full_accuracy[ab[1]] - full_accuracy[ab[0]], reverse=True)
    pair_count = len(known) * (len(known) - 1) // 2
    if not flipped:
        return f"The {len(known)} models with full runs rank here in the order of their full runs."
    listed = "; ".join(f"{a} above {b} here ({acc[a]:.1%} against {acc[b]:.1%}, "
                       f"{significance(p_values[frozenset((a, b))])}) but below it in the full runs "
                       f"({full_accuracy[a]:.2%} against {full_accuracy[b]:.2%})" for a, b in flipped[:shown])
    more = f"; {len(flipped) - shown} more in the table's full-run column" if len(flipped) > shown else ""
    return (f"Small data orders {len(flipped)} of the {pair_count} pairs of models unlike the full runs: "
            f"{listed}{more}.")


def rivals(models: dict, pairs: list[dict]) -> list[list[str]]:
    """Rows of each model against the best model and against its nearest rival in accuracy."""
    p_values, ranked = pair_p_values(pairs), by_accuracy(models)
    if len(ranked) < 2:  # one model has no rival
        return []
    rows = []
    for name in ranked:
        others = [n for n in ranked if n != name]
        nearest = min(others, key=lambda n: abs(models[n]["accuracy"] - models[name]["accuracy"]))
        cells = [name, f"{models[name]['accuracy']:.2%}"]
        for other in (ranked[0] if name != ranked[0] else None, nearest):
            if other is None:
                cells += ["(best)", ""]
                continue
            diff = 100 * (models[name]["accuracy"] - models[other]["accuracy"])
            cells += [f"{other}: {diff:+.2f}", p_text(p_values[frozenset((name, other))]).removeprefix("= ")]
        rows.append(cells)
    return rows


def pareto_front(models: dict) -> list[str]:
    """Models no other model beats on both accuracy and throughput."""
    return [n for n, m in models.items() if not any(
        o["accuracy"] >= m["accuracy"] and o["throughput_reviews_per_s"] >= m["throughput_reviews_per_s"]
        and (o["accuracy"], o["throughput_reviews_per_s"]) != (m["accuracy"], m["throughput_reviews_per_s"])
        for o in models.values())]
