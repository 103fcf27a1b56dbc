"""Train, measure and explain sentiment classifiers on IMDB."""

import logging

__version__ = "0.1.0"


class _CpuBuildNotices(logging.Filter):
    """torchao, where installed (transformers imports it whenever a model loads), logs, on a CPU-only torch, that its
    CUDA kernels cannot load, and torch then notes torchao's enum registrations: warnings about nothing this project
    uses, printed on every model load."""

    NOTICES = ("Failed to load", "is an Enum subclass and is now natively supported")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(notice in str(record.msg) for notice in self.NOTICES)


for _name in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_name).addFilter(_CpuBuildNotices())
