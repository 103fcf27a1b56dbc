"""Occlusion, and the worker processes that explain for serve."""
import time

import pytest
from fastapi.testclient import TestClient

from imdb_sentiment.apps.explain import ExplainWorkers, ExplanationsStarting, occlusion
from imdb_sentiment.apps.serve import Access, Limits, create_app
from imdb_sentiment.inference.calibration import margins_of
from imdb_sentiment.inference.predictors import Predictor, load_predictor


class CountingPredictor(Predictor):
    """P(positive) = share of words that are "good": occlusion weights are known exactly."""

    kind, name = "stub", "stub"

    def __init__(self):
        self.batch_size = 8

    def _encode(self, texts):
        return list(texts), [False] * len(texts)

    def _margins(self, texts):
        return margins_of([t.split().count("good") / len(t.split()) for t in texts])


def test_occlusion_weights_are_the_change_in_probability():
    predictor = CountingPredictor()
    weights = occlusion(predictor, "good bad good bad", base_p_positive=0.5, max_spans=10)
    assert [span for span, _ in weights] == ["good", "bad", "good", "bad"]
    # Removing a "good" leaves 1/3 good (P falls, weight +1/6); removing a "bad" leaves 2/3 good (weight -1/6).
    assert [w for _, w in weights] == pytest.approx([1 / 6, -1 / 6, 1 / 6, -1 / 6], abs=1e-4)
    spans = occlusion(predictor, "good good bad bad", base_p_positive=0.5, max_spans=2)
    assert spans == [("good good", 0.5), ("bad bad", -0.5)]


@pytest.fixture(scope="module")
def workers(bilstm_run):
    workers = ExplainWorkers([str(bilstm_run)], {}, nice=5)
    yield workers
    workers.close()


def test_a_worker_explains_as_the_server_would(workers, bilstm_run):
    text = "a dull start, then a wonderful and moving film"
    predictor = load_predictor(bilstm_run)
    base = predictor.predict([text])[0].p_positive
    assert workers.explain(0, text, base, 10, None, seconds=120) == occlusion(predictor, text, base, 10)


def test_an_explanation_past_its_budget_is_killed_with_its_worker(workers):
    workers.explain(0, "fine", 0.5, 10, None, seconds=120)  # started
    first = workers.idle.queue[0].process
    with pytest.raises(TimeoutError):
        workers.explain(0, " ".join(["word"] * 400), 0.5, 40, None, seconds=1e-4)
    assert not first.is_alive() and workers.idle.queue[0].process is not first
    assert workers.explain(0, "fine", 0.5, 10, None, seconds=120)[0][0] == "fine"  # the new worker answers


def test_a_worker_still_loading_is_reported_as_starting(bilstm_run):
    starting = ExplainWorkers([str(bilstm_run)], {})
    try:
        with pytest.raises(ExplanationsStarting):
            starting.explain(0, "fine", 0.5, 10, None, seconds=0)
    finally:
        starting.close()


def test_serve_explains_in_niced_workers(bilstm_run):
    text = {"texts": ["not bad at all, a lovely film"], "explain": True}
    answers = []
    for nice in (None, 1):  # 1, not 19: a test run may share the machine with a training run
        app = create_app([str(bilstm_run)], Limits(explain_nice=nice, explain_share=1, explain_seconds=120),
                         access=Access(allowed_hosts=("*",)))
        with TestClient(app) as client:  # its shutdown stops the workers
            for _ in range(60):  # the worker loads its models first: 503 "starting" meanwhile
                response = client.post("/predict", json=text)
                if response.status_code != 503:
                    break
                assert "starting" in response.json()["detail"]
                time.sleep(1)
        answers.append(response.json()["results"][0]["models"][0]["attribution"])
    assert answers[0] == answers[1] and answers[0][0][0] == "not"
