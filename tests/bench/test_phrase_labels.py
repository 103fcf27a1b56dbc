"""bench/phrase_labels.py: the share of reviews containing a phrase that are labelled positive."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("phrase_labels", Path(__file__).parents[2] / "bench" / "phrase_labels.py")
phrase_labels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(phrase_labels)


def test_phrases_match_whole_words_whatever_the_case():
    texts = ["Not bad at all.", "It was not bad, but dull.", "not badly made", "Bad."]
    rows = phrase_labels.label_shares(texts, [1, 0, 1, 0], ["not bad", "not bad at all", "not great"])
    assert rows["not bad"] == {"reviews": 2, "positive": 0.5}
    assert rows["not bad at all"] == {"reviews": 1, "positive": 1.0}
    assert rows["not great"] == {"reviews": 0, "positive": None}
