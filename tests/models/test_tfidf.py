"""TF-IDF runs are saved as data (JSON + safetensors), so loading a shared run folder cannot run code."""
import json
import pickle

import numpy as np
import pytest

from imdb_sentiment.core.config import TfidfConfig
from imdb_sentiment.core.fields import load_config
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference.predictors import load_predictor
from imdb_sentiment.models.tfidf import build_pipeline, load_tfidf_run, out_of_fold_margins
from imdb_sentiment.training.tfidf import train_tfidf


@pytest.fixture(scope="module", params=["logreg", "nbsvm"])
def tfidf_run(request, imdb_dir, tmp_path_factory):
    cfg = load_config(TfidfConfig, overrides={
        "data.data": str(imdb_dir), "data.allow_partial_dataset": True, "model.variant": request.param,
        "model.min_df": 1, "model.C": [1.0], "train.output_dir": str(tmp_path_factory.mktemp("tfidf") / "run")})
    return train_tfidf(cfg, command="pytest")


def test_the_saved_model_is_data_and_scores_as_trained(tfidf_run):
    assert sorted(p.name for p in tfidf_run.iterdir() if p.name.startswith("model")) == \
        ["model.json", "model.safetensors"]
    pipeline, _ = load_tfidf_run(tfidf_run)
    from imdb_sentiment.core.data import splits_for

    test = splits_for(load_tfidf_run(tfidf_run)[1])["test"]
    np.testing.assert_allclose(pipeline.predict_proba(test.texts)[:, 1],
                               np.load(tfidf_run / "test_probabilities.npy"), rtol=0, atol=1e-12)


class Exploit:
    """A pickle that, when loaded, runs code: here it only creates a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickled_model_is_refused_and_nothing_runs(tfidf_run, tmp_path):
    shared = tmp_path / "shared-run"
    shared.mkdir()
    (shared / "run.json").write_text((tfidf_run / "run.json").read_text())
    marker = tmp_path / "code-ran"
    (shared / "model.joblib").write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(RunError, match="pickled model .* can run any code .* --trust_pickles"):
        load_predictor(shared)
    assert not marker.exists()
    # the flag is the trust boundary: with it, the pickle is loaded (and here runs its code)
    load_predictor(shared, trust_pickles=True)
    assert marker.exists()


def test_the_cli_refuses_a_pickled_run_in_one_line(tfidf_run, tmp_path, capsys):
    from imdb_sentiment.apps.cli import main

    shared = tmp_path / "old-run"
    shared.mkdir()
    (shared / "run.json").write_text((tfidf_run / "run.json").read_text())
    (shared / "model.joblib").write_bytes(pickle.dumps({"not": "a pipeline"}))
    assert main(["predict", "--run", str(shared), "fine film"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust_pickles" in err[0]


@pytest.mark.parametrize("damage", ["vocabulary", "weights", "settings"])
def test_damaged_model_files_are_a_clear_error(tfidf_run, tmp_path, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tfidf_run, run)
    if damage == "vocabulary":
        settings = json.loads((run / "model.json").read_text())
        (run / "model.json").write_text(json.dumps({**settings, "vocabulary": settings["vocabulary"][:-1]}))
    elif damage == "weights":
        (run / "model.safetensors").write_bytes(b"\0" * 100)
    else:
        (run / "model.json").write_text("{")
    with pytest.raises(RunError, match="missing or corrupt"):
        load_tfidf_run(run)


def test_out_of_fold_margins_come_from_models_that_did_not_see_the_review():
    # Random labels and a word of its own per review: a model fits its own reviews perfectly, and can only guess on
    # reviews it did not see. Margins from a model that saw the review would be right every time.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    texts = [f"the film w{i} was" for i in range(200)]
    for variant in ("nbsvm", "logreg"):
        fitted = build_pipeline(variant, 1, 1, 1000.0, 0).fit(texts, labels)
        assert np.mean((fitted.decision_function(texts) > 0) == labels) == 1.0
        held_out = out_of_fold_margins(variant, 1, 1, 1000.0, 0, texts, labels)
        assert held_out.shape == (200,) and 0.3 < np.mean((held_out > 0) == labels) < 0.7
