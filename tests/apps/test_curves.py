import json

import numpy as np
import pytest

from imdb_sentiment.apps import curves
from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.config import BiLSTMConfig, CurvesConfig, TransformerConfig
from imdb_sentiment.core.data import load_imdb
from imdb_sentiment.core.fields import load_config
from imdb_sentiment.core.metrics import classification_metrics
from imdb_sentiment.core.runs import RunError


def write_configs(folder, tiny_distilbert) -> dict:
    configs = {
        "tfidf_tiny": "# imdb-sentiment train tfidf --config x\n[model]\nvariant = \"nbsvm\"\nC = [0.5, 2.0]\n",
        "bilstm_tiny": "# imdb-sentiment train bilstm --config x\n[model]\nembeddings = \"random\"\n"
                       "embedding_dim = 16\nhidden_size = 16\nmax_length = 48\n"
                       "[train]\nbatch_size = 8\nlearning_rate = 0.02\nmax_epochs = 2\npatience = 2\n",
        "distilbert_tiny": f"# imdb-sentiment train transformer --config x\n[model]\nmodel_name = \"{tiny_distilbert}\"\n"
                           "max_length = 64\n[train]\nbatch_size = 8\nlearning_rate = 0.001\nnum_epochs = 1.0\n",
    }
    paths = {}
    for name, text in configs.items():
        paths[name] = folder / f"{name}.toml"
        paths[name].write_text(text)
    return paths


def curves_config(imdb_dir, tmp_path, paths, **more):
    return load_config(CurvesConfig, overrides={
        "curves.configs": [str(p) for p in paths.values()], "curves.data": str(imdb_dir),
        "curves.sizes": [40, 80], "curves.seeds": 2, "curves.multi_seed_max": 40, "curves.test_size": 60,
        "curves.min_val": 10, "curves.min_updates": 12, "curves.output_dir": str(tmp_path / "out"),
        "curves.runs_dir": str(tmp_path / "runs"), **more})


def test_every_neural_model_gets_at_least_min_updates_and_patience_scaled_alike():
    bilstm = load_config(BiLSTMConfig)  # 15 epochs, patience 3, batch 64
    assert curves.schedule("bilstm", bilstm, 50, 250) == {"train.max_epochs": 250, "train.patience": 50}
    assert curves.schedule("bilstm", bilstm, 22_500, 250) == {"train.max_epochs": 15, "train.patience": 3}
    minilm = load_config(TransformerConfig, "configs/minilm_l6_bf16.toml")  # 1 epoch, batch 32, patience 2
    assert curves.schedule("transformer", minilm, 1800, 250) == {"train.num_epochs": 5.0, "train.patience": 10,
                                                                 "train.save_steps": 0}
    assert curves.schedule("tfidf", None, 50, 250) == {}


def test_a_point_holds_out_at_least_min_val_of_its_own_stratified_subset(imdb_dir):
    data = load_imdb(str(imdb_dir), allow_partial=True)
    c = load_config(CurvesConfig, overrides={"curves.min_val": 10}).curves
    splits = curves.point_splits(data["train"], data["test"], 40, 0, c)
    assert len(splits["train"]) + len(splits["val"]) == 40 and len(splits["val"]) >= 10
    assert not set(splits["train"].ids) & set(splits["val"].ids)
    assert set(splits["train"].ids) <= set(data["train"].ids) and splits["train"].labels.mean() == 0.5
    other = curves.point_splits(data["train"], data["test"], 40, 1, c)
    assert set(other["train"].ids) != set(splits["train"].ids)  # another seed, another subset
    with pytest.raises(Exception, match="min_val"):
        curves.point_splits(data["train"], data["test"], 12, 0, c)


def test_curves_trains_every_point_once_scores_all_on_one_test_subset_and_resumes(
        imdb_dir, tiny_distilbert, tmp_path, monkeypatch):
    from imdb_sentiment.core.config import TfidfConfig
    from imdb_sentiment.training.tfidf import train_tfidf

    paths = write_configs(tmp_path, tiny_distilbert)
    full = train_tfidf(load_config(TfidfConfig, paths["tfidf_tiny"], {
        "data.data": str(imdb_dir), "data.allow_partial_dataset": True, "train.output_dir": str(tmp_path / "full")}))
    cfg = curves_config(imdb_dir, tmp_path, paths, **{
        "curves.sizes": [40, 80, 120], "curves.full_runs": [f"{paths['tfidf_tiny']}={full}"]})
    out = curves.run_curves(cfg)

    points = json.loads((out / "curves.json").read_text())
    keys = {(p["model"], p["train_size"], p["seed"]) for p in points}
    assert keys == {(m, 40, s) for m in paths for s in (0, 1)} | {(m, n, 0) for m in paths for n in (80, 120)}
    assert all(p["test_n"] == 60 and 0 <= p["test_accuracy"] <= 1 and p["hardware"] for p in points)
    reused = next(p for p in points if p["model"] == "tfidf_tiny" and p["train_size"] == 120)
    assert reused["source"] == str(full)
    test = load_imdb(str(imdb_dir), allow_partial=True)["test"]
    subset = curves.stratified_indices(test.labels, 60 / len(test), 0)[1]
    probs = np.load(full / "test_probabilities.npy")
    assert reused["test_accuracy"] == classification_metrics(test.labels[subset], probs[subset])["accuracy"]
    small = next(p for p in points if p["model"] == "bilstm_tiny" and p["train_size"] == 40)
    assert small["trained_on"] + small["validated_on"] == 40 and small["epochs"] > 2  # more passes when small
    assert not list((tmp_path / "runs").iterdir())  # point runs are deleted once scored
    table = (out / "curves.md").read_text()
    assert "| tfidf_tiny |" in table and "reaches 80% at" in table and (out / "curves.png").stat().st_size > 0

    def no_training(*args, **kwargs):
        raise AssertionError("a point already in curves.json was trained again")

    monkeypatch.setattr(curves, "train", no_training)
    curves.run_curves(cfg)
    assert json.loads((out / "curves.json").read_text()) == points


def test_a_full_run_of_other_test_reviews_is_refused(imdb_dir, tmp_path):
    test = load_imdb(str(imdb_dir), allow_partial=True)["test"]
    (tmp_path / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    np.save(tmp_path / "test_probabilities.npy", np.full(len(test) - 1, 0.9))
    with pytest.raises(RunError, match="not of these"):
        curves.full_run_point(tmp_path, test, np.arange(10))


def test_cli_curves_names_a_bad_full_runs_pair(tmp_path, capsys):
    assert main(["curves", "--full_runs", "configs/unknown.toml=x", "--output_dir", str(tmp_path)]) == 2
    assert "full_runs must be CONFIG=DIR pairs" in capsys.readouterr().err


def test_points_trained_elsewhere_are_merged_and_other_test_subsets_refused(imdb_dir, tmp_path, monkeypatch):
    test = load_imdb(str(imdb_dir), allow_partial=True)["test"]
    subset = curves.stratified_indices(test.labels, 60 / len(test), 0)[1]
    point = {"model": "tfidf_tiny", "train_size": 40, "seed": 0, "test_accuracy": 0.9, "train_seconds": 1.0,
             "test_n": 60, "test_fingerprint": test.take(subset).fingerprint()}
    (tmp_path / "gpu.json").write_text(json.dumps([point]))
    config = tmp_path / "tfidf_tiny.toml"
    config.write_text("# imdb-sentiment train tfidf --config x\n")
    monkeypatch.setattr(curves, "train", lambda *args: pytest.fail("a merged point was trained again"))
    cfg = curves_config(imdb_dir, tmp_path, {"tfidf_tiny": config}, **{
        "curves.sizes": [40], "curves.seeds": 1, "curves.merge": [str(tmp_path / "gpu.json")]})
    out = curves.run_curves(cfg)
    assert json.loads((out / "curves.json").read_text()) == [point]
    (tmp_path / "other.json").write_text(json.dumps([{**point, "seed": 1, "test_fingerprint": "another"}]))
    cfg.curves.merge = [str(tmp_path / "other.json")]
    with pytest.raises(RunError, match="another test subset"):
        curves.run_curves(cfg)
