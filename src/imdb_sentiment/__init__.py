"""Train, measure and explain sentiment classifiers on IMDB.

    from imdb_sentiment import load
    model = load("builtin")                      # or a run folder; quantize="int8", precision="bf16"
    model.predict(["Not bad at all."])           # [Prediction(label=..., p_positive=..., truncated=False, error=None)]
    model.evaluate("reviews.csv", label_column="sentiment")

The package's layers, each importing only those below it: core (config, data, runs), models (load and run a saved
model), training and inference, analysis (the report), apps (the command line, the web service).
"""

import logging

__version__ = "0.2.0"
__all__ = ["Model", "Prediction", "load"]


def __getattr__(name: str):
    # The API loads torch; `import imdb_sentiment` alone must not, since the command starts from it and re-executes
    # itself under another allocator before any heavy import.
    if name in __all__:
        from imdb_sentiment.inference import api

        return getattr(api, name)
    raise AttributeError(f"module 'imdb_sentiment' has no attribute {name!r}")


class _CpuBuildNotices(logging.Filter):
    """torchao, where installed (transformers imports it whenever a model loads), logs, on a CPU-only torch, that its
    CUDA kernels cannot load, and torch then notes torchao's enum registrations: warnings about nothing this project
    uses, printed on every model load."""

    NOTICES = ("Failed to load", "is an Enum subclass and is now natively supported")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(notice in str(record.msg) for notice in self.NOTICES)


for _name in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_name).addFilter(_CpuBuildNotices())
