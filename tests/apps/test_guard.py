"""serve on a network: Host check, API key, security headers, and bounded work for what clients send."""
import asyncio
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from imdb_sentiment.apps import serve as serve_module
from imdb_sentiment.apps.guard import ClientBudget
from imdb_sentiment.apps.serve import Access, Limits, create_app


@pytest.fixture(scope="module")
def keyed(bilstm_run):
    app = create_app([str(bilstm_run)], access=Access(host="0.0.0.0", api_key="s3cret", allowed_hosts=("sentiment.example",)))
    return TestClient(app, base_url="http://sentiment.example")


def test_requests_for_another_host_name_are_refused(bilstm_run):
    client = TestClient(create_app([str(bilstm_run)]), base_url="http://localhost:8000")
    assert client.get("/models").status_code == 200
    assert client.get("/models", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/models", headers={"host": "[::1]:8000"}).status_code == 200
    refused = client.get("/models", headers={"host": "attacker.example"})  # DNS rebinding: the attacker's name
    assert refused.status_code == 400 and "attacker.example" in refused.json()["detail"]


def test_the_key_is_asked_on_every_route_but_the_pages_static_files(keyed):
    for path in ("/", "/page.js"):
        assert keyed.get(path).status_code == 200
    for method, path in (("get", "/models"), ("get", "/openapi.json"), ("post", "/predict")):
        assert getattr(keyed, method)(path).status_code == 401
        assert getattr(keyed, method)(path, headers={"x-api-key": "wrong"}).status_code == 401
    body = {"texts": ["A superb film."]}
    assert keyed.post("/predict", json=body, headers={"x-api-key": "s3cret"}).status_code == 200
    assert keyed.post("/predict", json=body, headers={"authorization": "Bearer s3cret"}).status_code == 200


def test_every_answer_carries_the_security_headers(keyed):
    for response in (keyed.get("/"), keyed.get("/models"), keyed.get("/", headers={"host": "elsewhere"})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    policy = keyed.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert '<script src="page.js"></script>' in keyed.get("/").text  # no inline script for the policy to block


def test_a_non_loopback_address_warns_once(monkeypatch, capsys, bilstm_run):
    monkeypatch.setattr("uvicorn.run", lambda app, host, port: None)
    serve_module.serve([str(bilstm_run)], host="0.0.0.0")
    assert "warning: serving on 0.0.0.0" in capsys.readouterr().err
    serve_module.serve([str(bilstm_run)], host="0.0.0.0", api_key="k")
    assert "set --api_key" not in capsys.readouterr().err
    serve_module.serve([str(bilstm_run)], host="127.0.0.1")
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def open_client(bilstm_run, transformer_run):
    return TestClient(create_app([str(bilstm_run), str(transformer_run)], Limits(explain_words=20, explain_share=1)),
                      base_url="http://localhost")


@pytest.mark.parametrize("body", ['{"texts": [NaN]}', '{"texts": ["fine"], "explain": Infinity}',
                                  '{"texts": [-Infinity, "x"]}'])
def test_non_finite_numbers_are_a_422_not_a_crash(open_client, body):
    response = open_client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]


def test_explain_must_be_a_real_boolean(open_client):
    assert open_client.post("/predict", json={"texts": ["fine"], "explain": "yes"}).status_code == 422
    assert open_client.post("/predict", json={"texts": ["fine"], "explain": 1}).status_code == 422


def test_a_lone_surrogate_is_replaced_and_explained(open_client):
    body = '{"texts": ["a superb \\ud800 film"], "explain": true}'
    response = open_client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    spans = [span for span, _ in response.json()["results"][0]["models"][0]["attribution"]]
    assert spans == ["a", "superb", "\ufffd", "film"]


def test_a_long_review_is_explained_by_its_first_words_and_says_so(open_client):
    response = open_client.post("/predict", json={"texts": ["good " * 500], "explain": True})
    model = response.json()["results"][0]["models"][0]
    assert model["attribution_words"] == 20 and sum(len(s.split()) for s, _ in model["attribution"]) == 20


def test_one_failing_model_leaves_the_others_answers(bilstm_run, transformer_run, monkeypatch):
    app = create_app([str(bilstm_run), str(transformer_run)], access=Access(allowed_hosts=("*",)))
    client = TestClient(app)
    broken = next(b for b in app.state.batchers if b.predictor.kind == "transformer").predictor

    def fail(texts, progress=False):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(broken, "predict", fail)
    response = client.post("/predict", json={"texts": ["A superb film.", "Dull."]})
    assert response.status_code == 200
    for review in response.json()["results"]:
        lstm, transformer = review["models"]
        assert lstm["label"] in ("positive", "negative") and lstm["error"] is None
        assert transformer["error"] == "the model failed: RuntimeError" and transformer["label"] is None


def slow_occlusion(seconds):
    def occlusion(predictor, text, base, max_spans, max_words=None):
        time.sleep(seconds)
        return [(text, 0.0)]
    return occlusion


def test_explanations_beyond_the_cap_or_the_time_budget_get_503(bilstm_run, monkeypatch):
    monkeypatch.setattr(serve_module, "occlusion", slow_occlusion(0.5))
    app = create_app([str(bilstm_run)], Limits(explain_concurrency=1, explain_seconds=5),
                     access=Access(allowed_hosts=("*",)))

    async def two_at_once():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            explain = {"texts": ["fine"], "explain": True}
            return await asyncio.gather(client.post("/predict", json=explain), client.post("/predict", json=explain),
                                        client.post("/predict", json={"texts": ["fine"]}))

    first, second, plain = asyncio.run(two_at_once())
    assert sorted([first.status_code, second.status_code]) == [200, 503] and plain.status_code == 200

    quick = create_app([str(bilstm_run)], Limits(explain_seconds=0.1), access=Access(allowed_hosts=("*",)))
    response = TestClient(quick).post("/predict", json={"texts": ["fine"], "explain": True})
    assert response.status_code == 503 and "took over 0.1 s" in response.json()["detail"]


def test_explanations_keep_to_their_share_of_the_time(bilstm_run, monkeypatch):
    monkeypatch.setattr(serve_module, "occlusion", slow_occlusion(0.3))
    client = TestClient(create_app([str(bilstm_run)], Limits(explain_share=0.5), access=Access(allowed_hosts=("*",))))
    explain = {"texts": ["fine"], "explain": True}
    assert client.post("/predict", json=explain).status_code == 200
    refused = client.post("/predict", json=explain)  # 0.3 s spent: none for the next 0.3 s
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert client.post("/predict", json={"texts": ["fine"]}).status_code == 200  # plain requests are not held
    time.sleep(0.35)
    assert client.post("/predict", json=explain).status_code == 200


def test_refused_explanations_are_answered_before_their_body_is_parsed(bilstm_run, monkeypatch):
    monkeypatch.setattr(serve_module, "occlusion", slow_occlusion(0.3))
    client = TestClient(create_app([str(bilstm_run)], Limits(explain_share=0.5, max_body_bytes=10_000),
                                   access=Access(allowed_hosts=("*",))))
    assert client.post("/predict", json={"texts": ["fine"], "explain": True}).status_code == 200
    # Refused now: a body FastAPI would reject as invalid (422) is refused unparsed (503), as a flood's would be.
    unparsed = client.post("/predict", content=b'{"texts": 42, "explain": true}',
                           headers={"content-type": "application/json"})
    assert unparsed.status_code == 503 and unparsed.headers["retry-after"] == "1"
    hidden = client.post("/predict", content=b'{"texts": ["fine"], "expl\\u0061in": true}',
                         headers={"content-type": "application/json"})
    assert hidden.status_code == 503  # missed by the scan, refused by the route
    plain = client.post("/predict", json={"texts": ["fine"], "explain": False})
    assert plain.status_code == 200 and plain.json()["results"][0]["models"][0]["label"] in ("positive", "negative")
    chunks = (part for part in [b'{"texts": ["', b"x" * 20_000, b'"], "explain": true}'])
    assert client.post("/predict", content=chunks, headers={"content-type": "application/json"}).status_code == 413


def _call(app, client: str, body_bytes: int, chunked: bool = False):
    """One request through an ASGI app from `client`; (status, headers, whether the body was read)."""
    sent, read = [], []

    async def receive():
        read.append(True)
        return {"type": "http.request", "body": b"x" * body_bytes, "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [] if chunked else [(b"content-length", str(body_bytes).encode())]
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers, "client": (client, 5000)}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], dict(sent[0]["headers"]), bool(read)


async def _reads_and_answers(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_a_client_over_its_byte_budget_is_refused_before_its_body_is_read():
    budget = ClientBudget(_reads_and_answers, bytes_per_second=1000, burst=1500, hold_seconds=0.05)
    assert _call(budget, "10.0.0.1", 1000) == (200, {}, True)
    status, headers, read = _call(budget, "10.0.0.1", 1000)  # 500 bytes left
    assert status == 429 and not read and headers[b"connection"] == b"close"
    assert int(headers[b"retry-after"]) >= 1  # refused requests are charged too: the flooder waits its debt out
    assert _call(budget, "10.0.0.2", 1000)[0] == 200  # another address has its own budget
    assert _call(budget, "10.0.0.3", 2000, chunked=True)[0] == 200  # a chunked body is charged as it arrives...
    assert _call(budget, "10.0.0.3", 10)[0] == 429  # ...and counts against the next request
    assert _call(ClientBudget(_reads_and_answers, 0, 0), "10.0.0.1", 10**6)[0] == 200  # 0: no budget


def test_serve_refuses_a_flood_from_one_address_and_serves_the_others(bilstm_run):
    app = create_app([str(bilstm_run)], Limits(client_bytes_per_second=10_000, max_body_bytes=40_000),
                     access=Access(allowed_hosts=("*",)))
    body = {"texts": ["a fine film " * 3000]}  # 36 kB of a 40 kB burst
    flooder = TestClient(app, client=("10.0.0.9", 1234))
    assert [flooder.post("/predict", json=body).status_code for _ in range(2)] == [200, 429]
    assert TestClient(app, client=("10.0.0.8", 1234)).post("/predict", json=body).status_code == 200
