"""The report's counterfactual section: each model on human-edited review pairs (Kaushik et al., ICLR 2020), from
the files `imdb-sentiment evaluate RUN --data dev_paired.tsv --json` writes (inference/pairs.py), named NAME=FILE
after the report's models. A pairs file is scored once, where the run is; the report only reads the results, so it
can be rebuilt on a clone without the runs.

Accuracy on the originals says little (they are IMDB training reviews, seen in training); accuracy on the revisions
and consistency (both of a pair right) say whether a model reads the few words that decide the verdict.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from imdb_sentiment.core.runs import RunError
from imdb_sentiment.core.stats import mcnemar


def read_pair_results(entries: list[str], models: dict) -> dict[str, dict]:
    """{model: evaluate --pairs result} from NAME=FILE entries; NAME must be one of the report's `models`."""
    results = {}
    for entry in entries:
        name, _, file = entry.rpartition("=")
        if not name or not Path(file).is_file():
            raise RunError(f"pairs result {entry!r}: give MODEL=FILE, FILE written by `imdb-sentiment evaluate RUN "
                           f"--data PAIRS.tsv --json`")
        if name not in models:
            raise RunError(f"pairs result {entry!r}: the report has no model {name!r} ({', '.join(models)})")
        result = json.loads(Path(file).read_text())
        if "correct_revisions" not in result:
            raise RunError(f"{file} holds no paired evaluation (evaluate with a pairs file and --json)")
        results[name] = {**result, "file": file}
    sizes = {r["pairs"] for r in results.values()}
    if len(sizes) > 1:
        raise RunError(f"the pairs results were scored on different numbers of pairs ({sorted(sizes)})")
    return results


def revision_pairs(results: dict[str, dict]) -> list[dict]:
    """McNemar's test between every two models on the revisions."""
    return [{"a": a, "b": b, **mcnemar(results[a]["correct_revisions"], results[b]["correct_revisions"])}
            for a, b in itertools.combinations(results, 2)]


def counterfactual_finding(results: dict[str, dict], models: dict) -> str | None:
    """Who reads the deciding words best, and how the best Transformer's lead over the best BiLSTM changes from
    IMDB's test set to the revisions."""
    if len(results) < 2:
        return None
    ranked = sorted(results, key=lambda n: -results[n]["revision_accuracy"])
    best, last = ranked[0], ranked[-1]
    sentence = (f"On {results[best]['pairs']} human-edited review pairs, {best} gets {results[best]['revision_accuracy']:.1%} "
                f"of the revised reviews right (consistency {results[best]['consistency']:.1%}) and {last} "
                f"{results[last]['revision_accuracy']:.1%} ({results[last]['consistency']:.1%}), though both are "
                f"right on {min(results[best]['original_accuracy'], results[last]['original_accuracy']):.0%} or more "
                f"of the originals")
    by_kind = {kind: max((n for n in results if models[n]["kind"] == kind), default=None,
                         key=lambda n: results[n]["revision_accuracy"]) for kind in ("transformer", "bilstm")}
    transformer, bilstm = by_kind["transformer"], by_kind["bilstm"]
    if transformer and bilstm:
        on_test = models[transformer]["accuracy"] - models[bilstm]["accuracy"]
        on_revisions = results[transformer]["revision_accuracy"] - results[bilstm]["revision_accuracy"]
        p = mcnemar(results[transformer]["correct_revisions"], results[bilstm]["correct_revisions"])["p_value"]
        sentence += (f"; {transformer}'s lead over {bilstm} is {on_test * 100:+.1f} points on IMDB's test set and "
                     f"{on_revisions * 100:+.1f} on the revisions (McNemar p = {p:.2g})")
    return sentence + "." + _students_sentence(results, models)


def _students_sentence(results: dict[str, dict], models: dict) -> str:
    """Whether a BiLSTM taught by a Transformer keeps the pairs consistent more like its teacher than like the
    BiLSTMs that learnt from the labels alone: the range of each group, beside the teachers'."""
    bilstms = [n for n in results if models[n]["kind"] == "bilstm"]
    students = [n for n in bilstms if models[n].get("teacher")]
    on_labels = [n for n in bilstms if not models[n].get("teacher")]
    teachers = [n for n in results if models[n].get("run_dir") in {models[s]["teacher"] for s in students}]
    if not (students and on_labels and teachers):
        return ""

    def span(names: list[str]) -> str:
        low, high = (f(results[n]["consistency"] for n in names) for f in (min, max))
        return f"{low:.1%}" if low == high else f"{low:.1%}-{high:.1%}"

    return (f" Both of a pair right: the BiLSTMs taught by a Transformer {span(students)}, their teachers "
            f"{span(teachers)}, the BiLSTMs trained on the labels alone {span(on_labels)}.")


def counterfactual_blocks(results: dict[str, dict], ranked: list[str]) -> list[tuple]:
    """The section: a table in the report's model order and the tests between models on the revisions."""
    if not results:
        return []
    blocks: list[tuple] = [("h2", "Counterfactual pairs: does a model read the words that decide the label?"), (
        "p", f"Kaushik et al.'s (ICLR 2020) dev pairs: {next(iter(results.values()))['pairs']} IMDB reviews, each "
             "with a version a person minimally revised so that the other label applies. The originals are IMDB "
             "training reviews, so their accuracy is flattered; the revisions and consistency (both of a pair right) "
             "show whether a model reads the few words that flip the verdict. 95% bootstrap intervals over pairs. "
             "Models without a row were not scored on the pairs.")]

    def cell(value: float, ci: list) -> str:
        return f"{value:.1%} ({ci[0]:.1%}-{ci[1]:.1%})"

    rows = [[n, cell(results[n]["original_accuracy"], results[n]["original_ci95"]),
             cell(results[n]["revision_accuracy"], results[n]["revision_ci95"]),
             cell(results[n]["consistency"], results[n]["consistency_ci95"])] for n in ranked if n in results]
    blocks.append(("table", ["model", "originals", "revisions", "consistency"], rows))
    tests = [[t["a"], t["b"], str(t["only_a_correct"]), str(t["only_b_correct"]), f"{t['p_value']:.2g}"]
             for t in revision_pairs(results)]
    blocks.append(("p", "McNemar's test on the revisions, for every two models:"))
    blocks.append(("table", ["model A", "model B", "only A right", "only B right", "p"], tests))
    return blocks
