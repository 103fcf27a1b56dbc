"""Property-based tests: any input either gets a prediction or its own error, never an exception, and the text
pipeline keeps its invariants. `HYPOTHESIS_PROFILE=long` runs many more cases (bench, not CI)."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdb_sentiment.core.text import UNK_ID, Vocab, tokenize, truncate
from imdb_sentiment.inference.evaluate import predict_items
from imdb_sentiment.inference.io import Item
from imdb_sentiment.inference.predictors import load_predictor
from imdb_sentiment.models.batches import encode_review

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Every code point, lone surrogates and control characters included, plus the shapes that break text code.
any_text = st.one_of(
    st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=300),
    st.text(st.sampled_from("\u202e\u200f\u0000\r\n\t \U0001F600a.<br />'"), max_size=200),
    st.integers(1, 100_000).map(lambda n: "a" * n),  # one very long word
    st.builds(lambda w, n: " ".join([w] * n), st.sampled_from(["good", "bad", "n't", "<br />"]), st.integers(0, 3000)),
)
json_like = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | any_text,
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                    max_size=3), max_leaves=8)
VOCAB = Vocab(["<pad>", "<unk>", "good", "bad", "film", ".", "n't"])


@given(any_text, st.integers(1, 300), st.sampled_from(["head", "head_tail"]))
def test_tokenize_truncate_encode_keep_their_invariants(text, max_length, strategy):
    tokens = tokenize(text)
    assert all(token and token == token.lower() and not token.isspace() for token in tokens)
    kept = truncate(tokens, max_length, strategy)
    assert len(kept) == min(len(tokens), max_length)
    if strategy == "head_tail" and len(tokens) > max_length:
        head = max_length // 4
        assert kept[:head] == tokens[:head] and kept[head:] == tokens[len(tokens) - (max_length - head):]
    ids, cut = encode_review(text, VOCAB, max_length, strategy)
    assert 1 <= len(ids) <= max_length and cut == (len(tokens) > max_length)
    assert all(0 < i < len(VOCAB) for i in ids) and (tokens or ids == [UNK_ID])


@pytest.fixture(scope="module")
def predictors(bilstm_run, transformer_run):
    return [load_predictor(bilstm_run), load_predictor(transformer_run)]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.one_of(any_text, json_like), min_size=1, max_size=4))
def test_predict_labels_or_errors_every_item_and_never_raises(predictors, values):
    records = predict_items([Item(f"item {i}", v) for i, v in enumerate(values)], predictors)
    assert len(records) == len(values)
    for value, record in zip(values, records):
        for result in record["predictions"].values():
            if isinstance(value, str) and value.strip():
                assert result["label"] in ("negative", "positive") and 0 <= result["p_positive"] <= 1
            else:
                assert result["error"] in ("empty review", f"not text (got {type(value).__name__})")
