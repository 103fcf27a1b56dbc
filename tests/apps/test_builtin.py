import json

import pytest

from imdb_sentiment.apps import builtin
from imdb_sentiment.apps.cli import main
from imdb_sentiment.core import runs
from imdb_sentiment.inference.predictors import load_predictor

UNMISTAKABLE = {
    "One of the best films I have ever seen. Brilliant acting, a moving story, and a wonderful score.": "positive",
    "An absolute masterpiece; I loved every minute and will watch it again.": "positive",
    "The worst movie I have ever seen. Boring, badly acted and a complete waste of time.": "negative",
    "Awful. The plot makes no sense, the dialogue is terrible, and I walked out after an hour.": "negative",
}


def test_the_built_in_model_ships_small_with_its_card_and_labels_unmistakable_reviews():
    files = {p.name: p.stat().st_size for p in runs.BUILTIN_DIR.iterdir()}
    assert {"model.safetensors", "vocab.json", "run.json", "MODEL.md", "card.json"} <= set(files)
    assert sum(files.values()) <= 5_000_000
    card = json.loads((runs.BUILTIN_DIR / "card.json").read_text())
    assert card["test_n"] == 25_000 and abs(card["test_accuracy_fp16"] - card["test_accuracy_fp32"]) <= 0.001
    predictions = load_predictor("builtin").predict(list(UNMISTAKABLE))
    assert [p.label for p in predictions] == list(UNMISTAKABLE.values())


def test_predict_without_a_run_uses_the_built_in_model(capsys):
    assert main(["predict", "--json", "A wonderful, moving film."]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["predictions"]["builtin"]["label"] == "positive"


def test_export_stores_half_precision_weights_that_score_as_the_run_did(bilstm_run, imdb_dir, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("Sentiment\tText\tbatch_id\nPositive\tA superb film.\t1\nNegative\tA dull film.\t1\n")
    card = builtin.export(bilstm_run, tmp_path / "builtin", str(imdb_dir), str(pairs))
    assert card["dev_pairs"]["pairs"] == 1
    assert "Counterfactual dev pairs (1)" in (tmp_path / "builtin" / "MODEL.md").read_text()
    assert (tmp_path / "builtin" / "calibration.json").exists() == (bilstm_run / "calibration.json").exists()
    assert f"| Calibration of P(positive), fitted on its validation split | {card['calibration']} |" in \
        (tmp_path / "builtin" / "MODEL.md").read_text()
    run_metrics = json.loads((bilstm_run / "metrics.json").read_text())
    assert card["test_accuracy_fp32"] == run_metrics["test_accuracy"]
    assert card["test_accuracy_fp16"] == pytest.approx(run_metrics["test_accuracy"], abs=0.01)
    assert "English movie reviews" in (tmp_path / "builtin" / "MODEL.md").read_text()
    answers = card["first_sentences"]
    assert list(answers) == [sentence for sentence, _ in builtin.FIRST_SENTENCES]
    assert all(a["right"] == (a["label"] == expected) for a, (_, expected) in zip(answers.values(),
                                                                                   builtin.FIRST_SENTENCES))
    card_text = (tmp_path / "builtin" / "MODEL.md").read_text()
    assert all((f'"{s}" ({a["label"]}' in card_text) != a["right"] for s, a in answers.items())
    text = ["A wonderful, moving film, brilliant and superb."]
    shipped, original = load_predictor(tmp_path / "builtin").predict(text), load_predictor(bilstm_run).predict(text)
    assert shipped[0].p_positive == pytest.approx(original[0].p_positive, abs=1e-2)


def test_the_card_explains_only_the_mistakes_it_has_an_explanation_for():
    card = json.loads((runs.BUILTIN_DIR / "card.json").read_text())
    wrong = {"label": "negative", "p_positive": 0.4, "right": False}
    card["first_sentences"] = {"I expected to hate it, but I loved it": wrong}
    assert "IMDB's own labels" not in builtin.model_card(card)
    card["first_sentences"] = {"not bad at all": wrong}
    assert "IMDB's own labels" in builtin.model_card(card)
    card["first_sentences"] = {"not bad at all": {**wrong, "label": "positive", "right": True}}
    assert "it gets every one right" in builtin.model_card(card)
