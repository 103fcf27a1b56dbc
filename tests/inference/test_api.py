import doctest
from pathlib import Path

import pytest

import imdb_sentiment
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference import api

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)  # they read examples/reviews.csv
    failed, attempted = doctest.testmod(api)
    assert attempted >= 5 and failed == 0


def test_the_package_exports_the_api_without_importing_torch_first():
    assert imdb_sentiment.load is api.load and imdb_sentiment.Prediction is api.Prediction
    with pytest.raises(AttributeError):
        imdb_sentiment.not_there  # noqa: B018


def test_any_run_folder_loads_and_a_bare_string_is_refused(bilstm_run, transformer_run):
    for run in (bilstm_run, transformer_run):
        model = imdb_sentiment.load(run)
        predictions = model.predict(["a fine film", 3])
        assert predictions[0].label in ("positive", "negative") and 0 <= predictions[0].p_positive <= 1
        assert predictions[1].error == "not text (got int)"
    with pytest.raises(TypeError, match=r"predict\(\[review\]\)"):
        model.predict("a fine film")


def test_a_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="not a run directory"):
        imdb_sentiment.load(tmp_path)
