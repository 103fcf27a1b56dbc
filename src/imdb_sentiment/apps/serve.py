"""A small web service: `POST /predict` (OpenAPI docs at /docs, served from the package, so they work offline) and one page that puts the models side by side.

    imdb-sentiment serve --run runs/bilstm-glove --run runs/minilm-l6

Concurrent requests are batched: each model collects the reviews that arrive within `batch_wait_ms` of each other
(up to `serve_batch`) and labels them in one call, off the event loop.

Word attributions are by occlusion (apps/explain.py), at one forward pass per span of words, so only the first
`explain_words` words are explained, at most `explain_concurrency` requests explain at once, at most `explain_share`
of the time goes to explaining (others get 503 at once rather than queueing), and an explanation that runs past
`explain_seconds` is abandoned with 503. With `explain_nice` (the command's default), explanations run in worker
processes at that niceness, which plain requests preempt.

Each client address may send `client_bytes_per_second` of request bodies; past that, 429 from the headers alone.
On any address but loopback, see apps/guard.py: an API key, the Host check and the security headers.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, StrictBool, field_validator

from imdb_sentiment.apps.explain import ExplainWorkers, ExplanationsStarting, occlusion
from imdb_sentiment.apps.guard import ClientBudget, Guard, is_loopback
from imdb_sentiment.inference.predictors import Predictor, load_predictor

log = logging.getLogger("imdb_sentiment.serve")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins a valid pair into one character


@dataclass
class Limits:
    max_body_bytes: int = 1_000_000
    max_batch: int = 32  # reviews in one request
    max_spans: int = 40  # occlusion variants per review and model
    serve_batch: int = 64  # reviews of concurrent requests run together
    batch_wait_ms: float = 2.0  # how long a model waits for more reviews before running a batch
    explain_words: int = 400  # words of a review that occlusion explains (a longer review: its first ones)
    explain_concurrency: int = 1  # requests explaining at once (on 2 cores, one leaves the other to plain requests)
    explain_seconds: float = 10.0  # an explanation's time budget per request
    explain_share: float = 0.25  # of the time, at most, spent explaining (after one taking t s, none for 3t s)
    explain_nice: int | None = None  # explain in worker processes this much nicer (`serve`: 19); None: in threads
    client_bytes_per_second: float = 2_000_000  # request bodies per client address (0: no budget, as behind a proxy)


class Batcher:
    """Runs one predictor on the reviews of concurrent requests together: a batch of 16 costs far less than 16
    batches of one, and one worker per model keeps requests from fighting over the CPU's cores."""

    def __init__(self, predictor: Predictor, max_size: int, wait_ms: float):
        self.predictor, self.max_size, self.wait = predictor, max_size, wait_ms / 1000
        self.queue: asyncio.Queue | None = None
        self.worker: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def predict(self, texts: list) -> list:
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.worker.done():  # made on the loop serving requests (a test client's
            self.loop, self.queue = loop, asyncio.Queue()  # loop may end and another begin)
            self.worker = asyncio.create_task(self._run())
        futures = [loop.create_future() for _ in texts]
        for text, future in zip(texts, futures):
            self.queue.put_nowait((text, future))
        return await asyncio.gather(*futures)

    def _take(self, items: list) -> None:
        while len(items) < self.max_size and not self.queue.empty():
            items.append(self.queue.get_nowait())

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            self._take(items)
            if len(items) < self.max_size and self.wait > 0:
                await asyncio.sleep(self.wait)
                self._take(items)
            items = [(text, future) for text, future in items if not future.done()]  # callers that gave up
            try:
                results = await asyncio.to_thread(self.predictor.predict, [text for text, _ in items])
            except Exception as err:  # noqa: BLE001 - every waiting request gets the error, the worker lives on
                for _, future in items:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_, future), result in zip(items, results):
                if not future.done():
                    future.set_result(result)


class PredictRequest(BaseModel):
    texts: list[str] = Field(..., min_length=1, description="reviews to label")
    explain: StrictBool = Field(False, description="add word attributions (occlusion) for each review")

    @field_validator("texts")
    @classmethod
    def replace_lone_surrogates(cls, texts: list[str]) -> list[str]:
        # JSON may escape half a UTF-16 pair ("\ud800"): no UTF-8 text holds one, so it becomes U+FFFD here.
        return [t if t.isascii() or _encodes(t) else LONE_SURROGATE.sub("\ufffd", t) for t in texts]


def _encodes(text: str) -> bool:
    """Whether `text` holds no lone surrogate; in C, far faster on a long review than the regular expression."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class ModelResult(BaseModel):
    run: str
    kind: str
    label: str | None = None
    p_positive: float | None = Field(None, description="P(positive), whichever label was chosen; calibrated where "
                                                       "the run has a calibration")
    margin: float | None = Field(None, description="the model's raw logit of positive against negative")
    temperature: float | None = Field(None, description="the temperature p_positive was calibrated with, if any")
    calibration: str | None = Field(None, description="how p_positive was calibrated (temperature or isotonic), "
                                                      "if it was")
    truncated: bool = False
    latency_ms: float | None = None
    error: str | None = None
    attribution: list[tuple[str, float]] | None = None
    attribution_words: int | None = Field(None, description="words explained: the first ones of a longer review")


class ReviewResult(BaseModel):
    models: list[ModelResult]


class PredictResponse(BaseModel):
    results: list[ReviewResult]


class BodyLimit:
    """Answers 413 to a request body over `max_bytes`, whether it declares its length or arrives in chunks."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"request body over {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            return await JSONResponse({"detail": "invalid Content-Length header"}, 400)(scope, receive, send)
        if declared is not None and int(declared) > self.max_bytes:
            return await JSONResponse({"detail": too_large}, 413)(scope, receive, send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # FastAPI passes an HTTPException raised while it reads the body on to its handler as it is.
                raise HTTPException(413, too_large)
            return message

        await self.app(scope, counting_receive, send)


EXPLAIN_ASKED = re.compile(rb'"explain"\s*:\s*true')


class ExplainGate:
    """Answers 503 to a request asking for explanations while they are refused (`refused()` gives the seconds to
    wait, or None), before FastAPI parses its body: a flood of large explain requests would otherwise spend the
    event loop's time parsing and validating JSON only to refuse it, and plain requests would wait behind it. The
    route checks again, so a body that hides the flag from this scan is still refused there."""

    def __init__(self, app, refused):
        self.app, self.refused = app, refused

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/predict" or \
                self.refused() is None:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        try:
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
        except HTTPException as err:  # BodyLimit's, raised here outside FastAPI's handlers
            return await JSONResponse({"detail": err.detail}, err.status_code)(scope, receive, send)
        body = b"".join(chunks)
        wait = self.refused()
        if wait is not None and EXPLAIN_ASKED.search(body):
            return await JSONResponse({"detail": TOO_MANY_EXPLANATIONS}, 503,
                                      {"Retry-After": str(max(1, round(wait)))})(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


TOO_MANY_EXPLANATIONS = "too many explanations; retry shortly, or ask without explain"


@dataclass
class Access:
    """Who may call the server: the address it is bound to, an API key, and other names it may be reached by."""

    host: str = "127.0.0.1"
    api_key: str | None = None
    allowed_hosts: tuple[str, ...] = ()


def create_app(run_dirs: list[str], limits: Limits | None = None, quantize: str | None = None,
               precision: str = "fp32", trust_pickles: bool = False, access: Access | None = None,
               min_confidence: float | None = None) -> FastAPI:
    limits, access = limits or Limits(), access or Access()
    load_options = {"quantize": quantize, "precision": precision, "trust_pickles": trust_pickles,
                    "min_confidence": min_confidence}
    predictors = [load_predictor(run, **load_options) for run in run_dirs]
    batchers = [Batcher(p, limits.serve_batch, limits.batch_wait_ms) for p in predictors]
    workers = None if limits.explain_nice is None else ExplainWorkers(run_dirs, load_options, limits.explain_nice,
                                                                      limits.explain_concurrency)
    explaining = asyncio.Semaphore(limits.explain_concurrency)
    next_explanation = [0.0]  # when the explanations' share of the time allows the next one
    # Swagger UI's assets come from the fastapi-offline package instead of a CDN, so /docs works offline too.
    app = FastAPIOffline(title="imdb-sentiment", description=__doc__,
                         version=importlib.metadata.version("imdb-sentiment"))
    app.state.batchers = batchers
    if workers:
        app.router.add_event_handler("shutdown", workers.close)
    def explanations_refused() -> float | None:
        """Seconds until an explanation is taken, or None when one would be now."""
        wait = next_explanation[0] - time.monotonic()
        return max(wait, 1.0) if explaining.locked() or wait > 0 else None

    app.add_middleware(ExplainGate, refused=explanations_refused)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(ClientBudget, bytes_per_second=limits.client_bytes_per_second,
                       burst=int(max(limits.max_body_bytes, limits.client_bytes_per_second)))
    app.add_middleware(Guard, bound_host=access.host, api_key=access.api_key, allowed_hosts=access.allowed_hosts)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, err: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, which fails to serialise when it holds NaN or Infinity.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in err.errors()]
        log.warning("422 on %s: %s", request.url.path, "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)[:200])
        return JSONResponse({"detail": errors}, 422)

    @app.get("/models")
    def models() -> list[dict]:
        return [{"run": p.name, "kind": p.kind} for p in predictors]

    async def explain(model: int, text: str, p_positive: float) -> list[tuple[str, float]]:
        args = (text, p_positive, limits.max_spans, limits.explain_words)
        if workers:
            return await asyncio.to_thread(workers.explain, model, *args, limits.explain_seconds)
        return await asyncio.wait_for(asyncio.to_thread(occlusion, predictors[model], *args), limits.explain_seconds)

    async def label(model: int, request: PredictRequest) -> list[ModelResult]:
        predictor, batcher = predictors[model], batchers[model]
        start = time.perf_counter()
        try:
            results = await batcher.predict(request.texts)
        except Exception as err:  # noqa: BLE001 - one failing model must not take the others' answers with it
            log.error("%s failed on a batch: %s: %s", predictor.name, type(err).__name__, err)
            return [ModelResult(run=predictor.name, kind=predictor.kind, error=f"the model failed: "
                                f"{type(err).__name__}") for _ in request.texts]
        latency = 1000 * (time.perf_counter() - start) / len(request.texts)  # waiting for the batch included
        rows = []
        for text, r in zip(request.texts, results):
            attribution, error = None, r.error
            if request.explain and r.error is None:
                try:
                    attribution = await explain(model, text, r.p_positive)
                except RuntimeError as err:  # a worker's failure: on this model's entry, the others' answers stand
                    log.error("%s failed to explain: %s", predictor.name, err)
                    error = f"the explanation failed: {err}"
            rows.append(ModelResult(run=predictor.name, kind=predictor.kind, label=r.label, p_positive=r.p_positive,
                                    margin=r.margin, temperature=predictor.calibration.temperature
                                    if predictor.calibration.method == "temperature" else None,
                                    calibration=predictor.calibration.method, truncated=r.truncated, error=error,
                                    latency_ms=None if r.error else round(latency, 2), attribution=attribution,
                                    attribution_words=min(len(text.split()), limits.explain_words)
                                    if attribution is not None else None))
        return rows

    @app.post("/predict", response_model=PredictResponse)
    async def predict(request: PredictRequest) -> PredictResponse:
        if len(request.texts) > limits.max_batch:
            raise HTTPException(413, f"{len(request.texts)} reviews in one request; the limit is {limits.max_batch}")
        if not request.explain:
            per_model = await asyncio.gather(*(label(model, request) for model in range(len(predictors))))
            return PredictResponse(results=[ReviewResult(models=list(row)) for row in zip(*per_model)])
        # Explanations cost a forward pass per span: refuse at once rather than queue, and keep their share of the
        # time under explain_share, so a flood of them leaves plain requests their cores.
        wait = explanations_refused()
        if wait is not None:
            raise HTTPException(503, TOO_MANY_EXPLANATIONS, headers={"Retry-After": str(round(wait))})
        async with explaining:
            start, charged = time.monotonic(), True
            try:
                per_model = await asyncio.gather(*(label(model, request) for model in range(len(predictors))))
            except ExplanationsStarting as err:
                charged = False  # the workers' start is not time spent explaining
                raise HTTPException(503, str(err), headers={"Retry-After": "5"}) from None
            except TimeoutError:
                raise HTTPException(503, f"the explanation took over {limits.explain_seconds:g} s; ask for fewer "
                                         f"or shorter reviews") from None
            finally:
                if charged:
                    spent = time.monotonic() - start
                    next_explanation[0] = time.monotonic() + spent * (1 / limits.explain_share - 1)
        return PredictResponse(results=[ReviewResult(models=list(row)) for row in zip(*per_model)])

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (Path(__file__).parent / "page.html").read_text()

    @app.get("/page.js")
    def page_script() -> Response:
        return Response((Path(__file__).parent / "page.js").read_text(), media_type="text/javascript")

    return app


def serve(run_dirs: list[str], host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          quantize: str | None = None, precision: str = "fp32", trust_pickles: bool = False,
          api_key: str | None = None, allowed_hosts: tuple[str, ...] = (), min_confidence: float | None = None) -> None:
    import uvicorn

    if not is_loopback(host):
        print(f"warning: serving on {host}, reachable from other machines"
              + ("" if api_key else "; anyone who can reach it can use it (set --api_key or IMDB_SENTIMENT_API_KEY)"),
              file=sys.stderr)
    app = create_app(run_dirs, limits, quantize, precision, trust_pickles, Access(host, api_key, allowed_hosts),
                     min_confidence)
    uvicorn.run(app, host=host, port=port)
