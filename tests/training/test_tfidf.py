import json

import numpy as np
import pytest
from scipy import sparse

from imdb_sentiment.core.config import TfidfConfig
from imdb_sentiment.core.fields import load_config
from imdb_sentiment.inference.evaluate import evaluate_run
from imdb_sentiment.inference.predictors import load_predictor
from imdb_sentiment.models.tfidf import NBFeatures
from imdb_sentiment.training.tfidf import train_tfidf


def test_nb_features_are_log_count_ratios():
    X = sparse.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]]))
    y = np.array([1, 1, 0])
    nb = NBFeatures(alpha=1.0).fit(X, y)
    p, q = np.array([3, 2]), np.array([1, 2])  # smoothed counts in positive / negative reviews
    np.testing.assert_allclose(nb.ratios_, np.log((p / 5) / (q / 3)))
    np.testing.assert_allclose(nb.transform(X).toarray(), X.toarray() * nb.ratios_)


@pytest.mark.parametrize("variant", ["logreg", "nbsvm"])
def test_baseline_trains_picks_c_on_validation_and_reloads(variant, imdb_dir, tmp_path, caplog):
    cfg = load_config(TfidfConfig, overrides={
        "data.data": str(imdb_dir), "data.allow_partial_dataset": True, "model.variant": variant,
        "model.min_df": 1, "model.C": [0.1, 10.0], "train.output_dir": str(tmp_path / variant)})
    run_dir = train_tfidf(cfg, command="pytest")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    assert [row["C"] for row in history] == [0.1, 10.0]
    assert metrics["val_accuracy"] == max(row["val_accuracy"] for row in history)
    # Either C of a two-value grid is at its edge, which the run must point out.
    assert metrics["C_grid"] == [0.1, 10.0] and f"C={metrics['C']}, the edge of the grid" in caplog.text
    assert metrics["test_accuracy"] >= 0.8 and metrics["test_n"] == 120  # chance is 0.5
    assert evaluate_run(run_dir)["accuracy"] == pytest.approx(metrics["test_accuracy"])
    results = load_predictor(run_dir).predict(["superb wonderful film", "awful boring waste", ""])
    assert [r.label for r in results] == ["positive", "negative", None] and results[2].error == "empty review"


def test_c_grid_from_the_command_line():
    from imdb_sentiment.apps.cli import build_parser
    from imdb_sentiment.core.fields import overrides_from_namespace

    args = build_parser().parse_args(["train", "tfidf", "--C", "0.5,2", "--variant", "nbsvm"])
    config = load_config(TfidfConfig, None, overrides_from_namespace(args))
    assert config.model.C == [0.5, 2.0] and config.model.variant == "nbsvm"
