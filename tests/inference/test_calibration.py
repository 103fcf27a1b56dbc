import json

import numpy as np
import pytest
from scipy.special import expit

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference.calibration import (CALIBRATION, Calibration, calibrate, expected_calibration_error,
                                                  fit_temperature, log_loss, reliability)
from imdb_sentiment.inference.predictors import load_predictor


def overconfident(n=20_000, temperature=2.0, seed=0):
    """Margins twice too large: the labels follow sigmoid(margin / 2)."""
    rng = np.random.default_rng(seed)
    margins = rng.normal(0, 4, n)
    return margins, (rng.random(n) < expit(margins / temperature)).astype(int)


def test_the_fitted_temperature_is_the_one_the_labels_follow():
    margins, labels = overconfident()
    assert fit_temperature(margins, labels) == pytest.approx(2.0, rel=0.05)
    assert fit_temperature(margins / 2, labels) == pytest.approx(1.0, rel=0.05)


def test_scaling_brings_the_calibration_error_down():
    margins, labels = overconfident()
    result = calibrate(margins, labels)
    assert result["ece_before"] > 0.05 > 0.01 > result["ece_after"]
    points = reliability(expit(margins), labels)
    assert sum(p["count"] for p in points) == len(labels) and all(0.5 <= p["confidence"] <= 1 for p in points)


def squashed(n=20_000, seed=0):
    """Scores that bunch just under 0.96 whatever the truth, as MPNet's do: the sure reviews are underconfident and
    the unsure ones overconfident, which no single temperature undoes."""
    rng = np.random.default_rng(seed)
    true_margins = rng.normal(0, 5, n)
    labels = (rng.random(n) < expit(true_margins)).astype(int)
    return 3.2 * np.tanh(true_margins / 2), labels


def test_an_isotonic_map_calibrates_what_a_temperature_cannot_and_moves_no_label():
    margins, labels = squashed()
    by_temperature, isotonic = calibrate(margins, labels), calibrate(margins, labels, "isotonic")
    assert isotonic["method"] == "isotonic" and isotonic["ece_after"] < 0.01 < by_temperature["ece_after"]
    fitted = Calibration.from_settings(isotonic)
    held_out, held_out_labels = squashed(seed=1)
    p = fitted.p_positive(held_out)
    assert np.all((p - 0.5) * held_out >= 0) and np.all((p >= 0) & (p <= 1))  # 0.5 at worst, never the other side
    assert expected_calibration_error(p, held_out_labels) < 0.015 < expected_calibration_error(expit(held_out),
                                                                                               held_out_labels)
    best = calibrate(margins, labels, "best")
    assert best["method"] == "isotonic" and set(best["cross_validated_ece"]) == {"temperature", "isotonic"}
    loss = best["cross_validated_log_loss"]
    assert set(loss) == {"none", "temperature", "isotonic"} and loss["temperature"] < loss["none"]
    with pytest.raises(ValueError, match="temperature, isotonic or best"):
        calibrate(margins, labels, "platt")


def test_ece_of_a_known_case():
    # two reviews at confidence 0.9, one right: |0.9 - 0.5| weighted by the whole set
    assert expected_calibration_error([0.9, 0.1], [1, 1]) == pytest.approx(0.4)


def test_training_calibrates_and_predictions_apply_the_temperature(imdb_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--min_df", "1", "--C", "100",
                 "--output_dir", str(run)]) == 0
    assert "temperature" in capsys.readouterr().out
    saved = json.loads((run / CALIBRATION).read_text())
    assert saved["temperature"] > 0 and {"ece_before", "ece_after", "test_ece_before", "test_ece_after"} <= set(saved)
    texts = ["a wonderful moving film", "a dull tedious film", "the film"]
    calibrated = load_predictor(run).predict(texts)
    (run / CALIBRATION).unlink()
    raw = load_predictor(run).predict(texts)
    for c, r in zip(calibrated, raw):
        assert c.label == r.label and c.margin == pytest.approx(r.margin)  # the temperature moves no label
        assert c.p_positive == pytest.approx(expit(r.margin / saved["temperature"]))
        assert r.p_positive == pytest.approx(expit(r.margin))


def test_calibrate_fits_an_isotonic_map_that_predictions_apply(imdb_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--min_df", "1", "--C", "100",
                 "--output_dir", str(run)]) == 0
    assert main(["calibrate", str(run), "--method", "isotonic"]) == 0
    assert "isotonic map of the confidence" in capsys.readouterr().out
    saved = json.loads((run / CALIBRATION).read_text())
    assert saved["method"] == "isotonic" and len(saved["confidence_in"]) == len(saved["confidence_out"]) >= 2
    texts = ["a wonderful moving film", "a dull tedious film", "the film"]
    for r in load_predictor(run).predict(texts):
        assert r.p_positive == pytest.approx(Calibration.from_settings(saved).p_positive([r.margin])[0])
        assert r.label == ("positive" if r.margin >= 0 else "negative")
    saved["confidence_out"][0] = 0.2  # below 0.5 it would flip labels
    (run / CALIBRATION).write_text(json.dumps(saved))
    with pytest.raises(RunError, match="values in"):
        load_predictor(run)


def test_a_damaged_calibration_is_named(imdb_dir, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--min_df", "1", "--C", "1",
                 "--output_dir", str(run)]) == 0
    (run / CALIBRATION).write_text('{"temperature": -1}')
    with pytest.raises(RunError, match="must be positive"):
        load_predictor(run)


def test_a_tfidf_run_is_calibrated_on_out_of_fold_training_scores(imdb_dir, tmp_path, capsys, bilstm_run):
    run = tmp_path / "run"
    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--min_df", "1", "--C", "100",
                 "--output_dir", str(run)]) == 0
    train_samples = json.loads((run / "metrics.json").read_text())["train_samples"]
    assert main(["calibrate", str(run), "--method", "best", "--fit_on", "train_folds"]) == 0
    assert f"fitted on {train_samples:,} reviews, out-of-fold" in capsys.readouterr().out
    saved = json.loads((run / CALIBRATION).read_text())
    assert saved["reviews"] == train_samples and saved["fitted_on"].startswith("out-of-fold")
    assert saved["method"] in ("temperature", "isotonic") and "test_ece_after" in saved
    assert main(["calibrate", str(bilstm_run), "--fit_on", "train_folds"]) == 2
    assert "TF-IDF runs only" in capsys.readouterr().err


def test_an_isotonic_map_that_reaches_one_half_keeps_each_review_on_its_labels_side():
    # Low confidences mapped to 0.5 exactly: a review labelled negative must not get P(positive) = 0.5, which every
    # accuracy (p >= 0.5 is positive) would count as positive.
    flat = Calibration(confidence_in=(0.5, 0.6, 1.0), confidence_out=(0.5, 0.5, 0.9))
    margins = np.array([-0.05, -0.01, 0.0, 0.01, 0.05, -3.0, 3.0])
    p = flat.p_positive(margins)
    assert np.array_equal(p >= 0.5, margins >= 0)
    assert p[0] == pytest.approx(0.5) and p[0] < 0.5


def test_a_calibrated_model_asks_for_no_calibration_by_log_loss():
    rng = np.random.default_rng(0)
    margins = rng.normal(0, 3, 4000)
    labels = (rng.random(4000) < expit(margins)).astype(int)
    loss = calibrate(margins, labels, "best")["cross_validated_log_loss"]
    assert loss["none"] <= loss["temperature"] + 1e-3 and loss["none"] < loss["isotonic"]
    assert log_loss([0.5, 0.5], [0, 1]) == pytest.approx(np.log(2))
