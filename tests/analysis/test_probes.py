import json
from types import SimpleNamespace

import numpy as np
import pytest

from imdb_sentiment.analysis.probes import NEGATIVE, POSITIVE, build_suite, failures, merge_rows, run_suite
from imdb_sentiment.apps.cli import main
from imdb_sentiment.inference.predictors import Prediction


def test_the_suite_is_seeded_large_enough_and_labelled_as_intended():
    suite = build_suite(200, seed=1)
    assert [c.text for c in suite[3].cases] == [c.text for c in build_suite(200, seed=1)[3].cases]
    assert [c.text for c in suite[3].cases] != [c.text for c in build_suite(200, seed=2)[3].cases]
    by_name = {c.name: c for c in suite}
    assert len(suite) >= 8 and all(len(c.cases) == 200 for c in suite)
    assert {c.label for c in by_name["negated positive"].cases} == {0}
    assert {c.label for c in by_name["negated negative"].cases} == {1}
    for name in ("vocabulary", "contrast", "change over time", "late verdict"):
        assert sum(c.label for c in by_name[name].cases) == 100
    for case in by_name["contrast"].cases:  # the verdict follows "but"
        after_but = case.text.split(", but ")[1].rstrip(".").split()
        assert after_but[-1] in (POSITIVE if case.label else NEGATIVE)
    assert all(len(c.text.split()) > 300 for c in by_name["late verdict"].cases)
    assert all(c.text != c.base for name in ("names", "typos", "neutral sentence") for c in by_name[name].cases)
    assert {c.direction for c in by_name["negative sentence added"].cases} == {-1}


def test_failures_per_kind():
    suite = {c.name: c for c in build_suite(4, seed=0)}
    mft = suite["negated positive"]  # every case is negative
    assert failures(mft, np.array([0.9, 0.1, 0.4, 0.6]), None).tolist() == [True, False, False, True]
    inv = suite["typos"]
    assert failures(inv, np.array([0.6, 0.4, 0.6, 0.4]), np.array([0.7, 0.7, 0.3, 0.3])).tolist() == \
        [False, True, True, False]
    neg = suite["negative sentence added"]  # P(positive) may not rise by more than the tolerance
    assert failures(neg, np.array([0.5, 0.505, 0.7, 0.1]), np.array([0.5, 0.5, 0.5, 0.5])).tolist() == \
        [False, False, True, False]


def test_scores_name_the_failing_examples():
    always_positive = SimpleNamespace(name="optimist", predict=lambda texts: [Prediction("positive", 0.9)] * len(texts))
    rows = {r["capability"]: r for r in run_suite([always_positive], build_suite(20, seed=0))}
    assert rows["negated positive"]["failure_rate"] == 1.0 and len(rows["negated positive"]["examples"]) == 3
    assert rows["vocabulary"]["failures"] == 10 and rows["typos"]["failures"] == 0
    low, high = rows["vocabulary"]["failure_rate_ci95"]
    assert low < 0.5 < high


def test_probe_command_writes_json_and_a_table(bilstm_run, tmp_path, capsys):
    assert main(["probe", "--run", str(bilstm_run), "--cases", "10", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "probes.json").read_text())
    assert len(rows) == len(build_suite(10)) and {"model", "capability", "kind", "cases", "failures",
                                                  "failure_rate"} <= set(rows[0])
    assert "| late verdict" in (tmp_path / "probes.md").read_text()


def _rows(model, capabilities=("vocabulary", "typos"), cases=10, failures=0):
    return [{"model": model, "capability": c, "cases": cases, "failures": failures} for c in capabilities]


def test_merge_replaces_a_models_rows_in_its_place_and_keeps_the_others():
    saved = _rows("a") + _rows("b") + _rows("c")
    merged = merge_rows(saved, _rows("b", failures=3) + _rows("d"))
    assert [(r["model"], r["capability"]) for r in merged] == [
        (m, c) for m in "abcd" for c in ("vocabulary", "typos")]
    assert [r["failures"] for r in merged if r["model"] == "b"] == [3, 3]
    with pytest.raises(ValueError, match="case counts"):
        merge_rows(saved, _rows("b", cases=20))


def test_probe_update_keeps_the_other_models_rows(bilstm_run, tmp_path):
    saved = [{**r, "model": "other-model"} for r in json.loads(
        (_probe_once(bilstm_run, tmp_path / "first") / "probes.json").read_text())]
    (tmp_path / "probes.json").write_text(json.dumps(saved))
    assert main(["probe", "--run", str(bilstm_run), "--cases", "10", "--out", str(tmp_path), "--update"]) == 0
    rows = json.loads((tmp_path / "probes.json").read_text())
    assert [r["model"] for r in rows[:len(saved)]] == ["other-model"] * len(saved)
    assert len(rows) == 2 * len(saved) and "other-model" in (tmp_path / "probes.md").read_text()
    assert main(["probe", "--run", str(bilstm_run), "--cases", "5", "--out", str(tmp_path), "--update"]) == 2


def _probe_once(run, out):
    assert main(["probe", "--run", str(run), "--cases", "10", "--out", str(out)]) == 0
    return out
