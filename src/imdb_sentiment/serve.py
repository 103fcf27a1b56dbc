"""A small web service: `POST /predict` (OpenAPI docs at /docs, served from the package, so they work offline) and one page that puts the models side by side.

    imdb-sentiment serve --run runs/bilstm-glove --run runs/minilm-l6

Word attributions are by occlusion: each word (or span of words, for long reviews) is removed in turn and the
change in P(positive) is its weight; positive weights pushed the model toward "positive". Model-agnostic, so the
BiLSTM, the Transformer and the TF-IDF baseline are explained the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi_offline import FastAPIOffline
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from .predict import Predictor, load_predictor


@dataclass
class Limits:
    max_body_bytes: int = 1_000_000
    max_batch: int = 32
    max_spans: int = 40  # occlusion variants per review and model


class PredictRequest(BaseModel):
    texts: list[str] = Field(..., min_length=1, description="reviews to label")
    explain: bool = Field(False, description="add word attributions (occlusion) for each review")


class ModelResult(BaseModel):
    run: str
    kind: str
    label: str | None = None
    p_positive: float | None = Field(None, description="P(positive), whichever label was chosen")
    probability: float | None = Field(None, description="deprecated: the same as p_positive, removed in the "
                                                      "next release")
    truncated: bool = False
    latency_ms: float | None = None
    error: str | None = None
    attribution: list[tuple[str, float]] | None = None


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


def occlusion(predictor: Predictor, text: str, base_p_positive: float, max_spans: int) -> list[tuple[str, float]]:
    """(span, P(positive) with the span minus P without it) for consecutive spans covering the review."""
    words = text.split()
    size = max(1, -(-len(words) // max_spans))
    spans = [words[i:i + size] for i in range(0, len(words), size)]
    variants = [" ".join(w for j, span in enumerate(spans) if j != k for w in span) or "." for k in range(len(spans))]
    without = predictor.predict(variants)
    return [(" ".join(span), round(base_p_positive - (r.p_positive if r.p_positive is not None else 0.5), 4))
            for span, r in zip(spans, without)]


def create_app(run_dirs: list[str], limits: Limits | None = None, quantize: str | None = None,
               precision: str = "fp32") -> FastAPI:
    limits = limits or Limits()
    predictors = [load_predictor(run, quantize=quantize, precision=precision) for run in run_dirs]
    # Swagger UI's assets come from the fastapi-offline package instead of a CDN, so /docs works offline too.
    app = FastAPIOffline(title="imdb-sentiment", description=__doc__, version="0.1.0")

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.get("/models")
    def models() -> list[dict]:
        return [{"run": p.name, "kind": p.kind} for p in predictors]

    @app.post("/predict", response_model=PredictResponse)
    def predict(request: PredictRequest) -> PredictResponse:
        if len(request.texts) > limits.max_batch:
            raise HTTPException(413, f"{len(request.texts)} reviews in one request; the limit is {limits.max_batch}")
        # A long review is truncated as in training and as `predict` does; the body-size limit bounds the work.
        per_model = []
        for predictor in predictors:
            start = time.perf_counter()
            results = predictor.predict(request.texts)
            latency = 1000 * (time.perf_counter() - start) / len(request.texts)
            per_model.append([
                ModelResult(run=predictor.name, kind=predictor.kind, label=r.label, p_positive=r.p_positive,
                            probability=r.p_positive,
                            truncated=r.truncated, error=r.error, latency_ms=None if r.error else round(latency, 2),
                            attribution=occlusion(predictor, text, r.p_positive, limits.max_spans)
                            if request.explain and r.error is None else None)
                for text, r in zip(request.texts, results)])
        return PredictResponse(results=[ReviewResult(models=list(row)) for row in zip(*per_model)])

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (Path(__file__).parent / "page.html").read_text()

    return app


def serve(run_dirs: list[str], host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          quantize: str | None = None, precision: str = "fp32") -> None:
    import uvicorn

    uvicorn.run(create_app(run_dirs, limits, quantize, precision), host=host, port=port)
