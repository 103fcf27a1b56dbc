import shutil
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from imdb_sentiment.apps.serve import Access, Limits, create_app


@pytest.fixture(scope="module")
def app(bilstm_run, transformer_run):
    # Any Host: the test clients send their own ("testserver", "localhost"); tests/apps/test_guard.py checks Host.
    return create_app([str(bilstm_run), str(transformer_run)], Limits(max_body_bytes=5000, max_batch=3, max_spans=10, explain_share=1),
                      access=Access(allowed_hosts=("*",)))


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


def test_predict_puts_the_models_side_by_side(client, bilstm_run, transformer_run):
    response = client.post("/predict", json={"texts": ["A superb, wonderful film.", " "], "explain": True})
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert [m["run"] for m in first["models"]] == [bilstm_run.name, transformer_run.name]
    for model in first["models"]:
        assert model["label"] == "positive" and model["p_positive"] > 0.5 and model["latency_ms"] > 0
        assert "probability" not in model  # the 0.1 name of p_positive, dropped in 0.2
        assert [span for span, _ in model["attribution"]] == ["A", "superb,", "wonderful", "film."]
    assert all(m["error"] == "empty review" for m in second["models"])


def test_long_reviews_are_explained_in_spans(client):
    text = " ".join(["great"] * 25 + ["awful"] * 25)
    model = client.post("/predict", json={"texts": [text], "explain": True}).json()["results"][0]["models"][0]
    assert len(model["attribution"]) == 10 and model["attribution"][0][0] == "great great great great great"


def test_limits_answer_with_clear_statuses(client):
    assert client.post("/predict", json={"texts": ["ok"] * 4}).status_code == 413
    too_big = client.post("/predict", content=b'{"texts": ["' + b"a" * 6000 + b'"]}',
                          headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and "5000 bytes" in too_big.json()["detail"]
    chunks = iter([b'{"texts": ["', b"a" * 3000, b"a" * 3000, b'"]}'])  # no Content-Length: sent chunked
    chunked = client.post("/predict", content=chunks, headers={"content-type": "application/json"})
    assert chunked.status_code == 413 and "5000 bytes" in chunked.json()["detail"]
    small_chunks = iter([b'{"texts": ', b'["fine"]}'])
    assert client.post("/predict", content=small_chunks, headers={"content-type": "application/json"}).is_success
    bad_length = client.post("/predict", content=b"{}", headers={"content-length": "x"})
    assert bad_length.status_code == 400 and "Content-Length" in bad_length.json()["detail"]
    assert client.post("/predict", json={"texts": []}).status_code == 422
    assert client.post("/predict", json={"texts": [3]}).status_code == 422


def test_openapi_documents_predict(client):
    spec = client.get("/openapi.json").json()
    assert "/predict" in spec["paths"] and "post" in spec["paths"]["/predict"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()  # offline: the assets come from the package
    assets = [part.split('"')[0] for part in docs.text.split('src="')[1:] + docs.text.split('href="')[1:]]
    assert assets and all(client.get(asset).status_code == 200 for asset in assets if asset.startswith("/"))


def test_serve_labels_a_long_review_as_predict_does(client, bilstm_run):
    from imdb_sentiment.inference.predictors import load_predictor

    long_review = "A superb, wonderful film. " * 180  # 4,680 characters, over the model's 48-token window
    served = client.post("/predict", json={"texts": [long_review]}).json()["results"][0]["models"][0]
    predicted = load_predictor(bilstm_run).predict([long_review])[0]
    assert served["truncated"] and predicted.truncated
    assert served["p_positive"] == pytest.approx(predicted.p_positive)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(app):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(app):
    yield from _running(app)


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them with apt-get)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to read CSP violations from the console
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    yield browser
    browser.quit()


def test_page_in_a_real_browser(server, browser, bilstm_run, transformer_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    browser.find_element(By.ID, "review").send_keys("An awful, terrible and boring waste of time.")
    browser.find_element(By.ID, "submit").click()
    rows = WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_all_elements_located((By.CSS_SELECTOR, "tr.model-result")))
    labels = {row.get_attribute("data-run"): row.find_element(By.CSS_SELECTOR, ".label").text for row in rows}
    assert labels == {bilstm_run.name: "negative", transformer_run.name: "negative"}
    assert browser.find_elements(By.CSS_SELECTOR, ".words span")  # the attribution is drawn

    # Over the 5,000-byte body limit: the page shows the service's message instead of results.
    browser.execute_script("document.getElementById('review').value = 'x'.repeat(6000)")
    browser.find_element(By.ID, "submit").click()
    error = WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.ID, "request-error")))
    assert "over 5000 bytes" in error.text
    # The page ran under its Content-Security-Policy: the browser reported no violation.
    assert not [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def test_the_service_answers_every_request_its_schema_allows_without_a_server_error(app):
    """schemathesis generates requests from the service's own OpenAPI schema (valid and invalid bodies, odd
    Unicode, huge and empty lists); no response may be a 5xx or break the schema."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    cases = 0
    for operation in schema.get_all_operations():
        strategy = operation.ok().as_strategy()

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=strategy)
        def check(case):
            nonlocal cases
            cases += 1
            response = case.call()
            assert response.status_code < 500, (case.body, response.text)

        check()
    assert cases >= 25
    # What JSON allows beyond the schema's strings: non-finite numbers and half a UTF-16 pair.
    client = TestClient(app)
    for body in ('{"texts": [NaN]}', '{"texts": [Infinity], "explain": true}', '{"texts": ["x"], "explain": -Infinity}',
                 '{"texts": ["a \\ud800 b", "\\udfff"], "explain": true}'):
        response = client.post("/predict", content=body, headers={"content-type": "application/json"})
        assert response.status_code < 500, (body, response.text)


def test_concurrent_requests_are_labelled_in_shared_batches(bilstm_run, monkeypatch):
    import asyncio

    import httpx

    from imdb_sentiment.inference.predictors import BiLSTMPredictor, load_predictor

    texts = [f"A {'great' if i % 2 else 'dull'} film, number {i}." for i in range(16)]
    expected = [p.p_positive for p in load_predictor(bilstm_run).predict(texts)]
    batches = []
    original = BiLSTMPredictor.predict

    def counted(self, batch, progress=False):
        batches.append(len(batch))
        return original(self, batch, progress)

    monkeypatch.setattr(BiLSTMPredictor, "predict", counted)
    app = create_app([str(bilstm_run)], Limits(batch_wait_ms=50), access=Access(allowed_hosts=("*",)))

    async def sixteen_clients():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post("/predict", json={"texts": [t]}) for t in texts))

    responses = asyncio.run(sixteen_clients())
    assert all(r.status_code == 200 for r in responses)
    got = [r.json()["results"][0]["models"][0]["p_positive"] for r in responses]
    assert got == pytest.approx(expected, abs=1e-6)  # each client gets its own review's answer
    assert sum(batches) == 16 and len(batches) < 16  # in fewer model calls than requests


def test_the_page_asks_for_the_key_and_shows_replies_that_are_not_json(browser, bilstm_run):
    from fastapi.responses import PlainTextResponse
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    keyed = create_app([str(bilstm_run)], access=Access(api_key="s3cret"))
    for url in _running(keyed):
        browser.get(url)
        browser.find_element(By.ID, "review").send_keys("A superb film.")
        browser.find_element(By.ID, "submit").click()
        error = WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, "request-error")))
        assert "needs an API key" in error.text and browser.find_element(By.ID, "key-field").is_displayed()
        browser.find_element(By.ID, "api-key").send_keys("s3cret")
        browser.find_element(By.ID, "submit").click()
        row = WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "tr.model-result")))
        assert row.find_element(By.CSS_SELECTOR, ".label").text == "positive"

    # A proxy's error page in front of the service: the page says so instead of hanging on "working...".
    broken = create_app([str(bilstm_run)])
    broken.router.routes = [r for r in broken.router.routes if getattr(r, "path", "") != "/predict"]
    broken.add_api_route("/predict", lambda: PlainTextResponse("<html>502 Bad Gateway</html>", 502), methods=["POST"])
    for url in _running(broken):
        browser.get(url)
        browser.find_element(By.ID, "review").send_keys("A superb film.")
        browser.find_element(By.ID, "submit").click()
        error = WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, "request-error")))
        assert "answered 502" in error.text and browser.find_element(By.ID, "status").text == ""
