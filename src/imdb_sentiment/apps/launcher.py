"""The `imdb-sentiment` command: re-executes itself once under tcmalloc (core/allocator.py says why), then runs
the CLI. It sits beside the CLI, at the top, because it starts it."""

from __future__ import annotations

import os
import sys

from imdb_sentiment.core.allocator import preload_env


def command() -> None:
    """The `imdb-sentiment` command: re-executed once under tcmalloc where preload_env says to, then the CLI."""
    env = preload_env(dict(os.environ), sys.argv[1:])
    if env is not None:
        try:
            os.execve(sys.executable, [sys.executable, "-m", "imdb_sentiment.apps.cli", *sys.argv[1:]], env)
        except OSError:  # cannot re-execute (an unusual interpreter): run as is, with the C library's allocator
            pass
    from imdb_sentiment.apps.cli import main

    sys.exit(main())


if __name__ == "__main__":  # python -m imdb_sentiment.apps.launcher ARGS: what the installed command runs
    command()
