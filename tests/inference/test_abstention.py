import json
from pathlib import Path

import pytest

from imdb_sentiment import load
from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference.evaluate import selective


def test_reviews_below_the_confidence_are_uncertain():
    plain, cautious = load("builtin"), load("builtin", min_confidence=0.99)
    texts = ["A superb, moving, wonderful film.", "Not bad at all."]
    for before, after in zip(plain.predict(texts), cautious.predict(texts)):
        confident = max(before.p_positive, 1 - before.p_positive) >= 0.99
        assert after.label == (before.label if confident else "uncertain") and after.p_positive == before.p_positive
    with pytest.raises(RunError, match="between 0.5 and 1"):
        load("builtin", min_confidence=0.3)


def test_selective_accuracy_and_coverage():
    result = selective([1, 0, 1, 0], [0.95, 0.6, 0.3, 0.01], min_confidence=0.9)
    assert result == {"min_confidence": 0.9, "coverage": 0.5, "accuracy": 1.0}
    assert selective([1], [0.6], 0.9)["accuracy"] is None


def test_evaluate_reports_what_abstaining_buys(capsys):
    flags = ["--data", str(Path(__file__).resolve().parents[2] / "examples" / "reviews.csv"), "--text_column", "review", "--label_column", "sentiment"]
    assert main(["evaluate", "builtin", *flags, "--min_confidence", "0.9", "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 12 and 0 < result["selective"]["coverage"] <= 1
    assert main(["predict", "--min_confidence", "0.999", "Not bad at all."]) == 0
    assert "builtin: uncertain" in capsys.readouterr().out
