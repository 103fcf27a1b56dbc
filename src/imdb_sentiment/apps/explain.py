"""Word attributions by occlusion, and the worker processes that compute them for `serve`.

Occlusion removes each word (or span of words, for long reviews) in turn; the change in P(positive) is its weight,
and positive weights pushed the model toward "positive". Model-agnostic, so the BiLSTM, the Transformer and the
TF-IDF baseline are explained the same way, at one forward pass per span.

In `serve`, an explanation runs in a worker process of its own at a low priority (`nice`), holding its own copy of
the models. A thread of the server would compete with plain requests as an equal: an explanation takes both cores
for a third of a second, and under a flood of explain requests plain requests' p95 doubled from that alone. The
operating system lets a plain request preempt a niced process at once. A process can also be stopped: an
explanation past its time budget is killed with its worker (a fresh one starts), not left running on.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time

from imdb_sentiment.inference.predictors import Predictor, load_predictor


def occlusion(predictor: Predictor, text: str, base_p_positive: float, max_spans: int,
              max_words: int | None = None) -> list[tuple[str, float]]:
    """(span, P(positive) with the span minus P without it) for consecutive spans covering the review; a review over
    `max_words` words is explained as its first `max_words` words alone."""
    words = text.split()
    if max_words and len(words) > max_words:
        words = words[:max_words]
        base_p_positive = predictor.predict([" ".join(words)])[0].p_positive
    size = max(1, -(-len(words) // max_spans))
    spans = [words[i:i + size] for i in range(0, len(words), size)]
    variants = [" ".join(w for j, span in enumerate(spans) if j != k for w in span) or "." for k in range(len(spans))]
    without = predictor.predict(variants)
    return [(" ".join(span), round(base_p_positive - (r.p_positive if r.p_positive is not None else 0.5), 4))
            for span, r in zip(spans, without)]


class ExplanationsStarting(Exception):
    """The workers are still loading their models."""


def _work(conn, run_dirs: list[str], load_options: dict, nice: int) -> None:
    predictors = [load_predictor(run, **load_options) for run in run_dirs]
    os.nice(nice)  # after loading: a start on a busy machine would otherwise wait behind everything
    conn.send("ready")
    while True:
        try:
            model, text, base_p_positive, max_spans, max_words = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        try:
            conn.send(("ok", occlusion(predictors[model], text, base_p_positive, max_spans, max_words)))
        except Exception as err:  # noqa: BLE001 - the server reports it on that model's entry
            conn.send(("error", f"{type(err).__name__}: {err}"))


class _Worker:
    def __init__(self, args: tuple):
        context = multiprocessing.get_context("spawn")  # no copy of the server's threads, sockets or event loop
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_work, args=(theirs, *args), daemon=True,
                                       name="imdb-sentiment-explain")
        self.process.start()
        theirs.close()
        self.ready = False

    def wait_ready(self, seconds: float) -> bool:
        if not self.ready and self.conn.poll(seconds):
            self.ready = self.conn.recv() == "ready"
        return self.ready

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class ExplainWorkers:
    """`count` worker processes at niceness `nice`, each with the models of `run_dirs` loaded with `load_options`
    (as `load_predictor` takes them). `explain` blocks: call it from a thread."""

    def __init__(self, run_dirs: list[str], load_options: dict, nice: int = 19, count: int = 1):
        self.args = (list(run_dirs), load_options, nice)
        self.idle: queue.Queue[_Worker] = queue.Queue()
        for _ in range(count):
            self.idle.put(_Worker(self.args))

    def explain(self, model: int, text: str, base_p_positive: float, max_spans: int, max_words: int | None,
                seconds: float) -> list[tuple[str, float]]:
        """Occlusion by model number `model`; TimeoutError past `seconds` (the worker is replaced), and
        ExplanationsStarting while the worker is still loading."""
        deadline = time.monotonic() + seconds
        worker = self.idle.get()
        try:
            if not worker.wait_ready(max(0.0, deadline - time.monotonic())):
                raise ExplanationsStarting("explanations are starting; retry in a few seconds")
            worker.conn.send((model, text, base_p_positive, max_spans, max_words))
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                worker.stop()
                worker = _Worker(self.args)
                raise TimeoutError
            status, value = worker.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            worker.stop()
            worker = _Worker(self.args)
            raise RuntimeError("the explanation worker stopped; a new one is starting") from None
        finally:
            self.idle.put(worker)
        if status == "error":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get().stop()
