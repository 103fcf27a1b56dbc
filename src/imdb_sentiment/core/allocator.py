"""The C memory allocator the command runs with: tcmalloc where it is installed, glibc's otherwise.

glibc returns every freed block over 32 MB to the kernel and takes it back as fresh zeroed pages, which costs a
BiLSTM epoch on this project's 2-core machine 109 s of system time. Preloading tcmalloc made that epoch 1.43x
faster at 1.6 GB peak memory instead of 1.3 GB, and a MiniLM training step 1.10x faster at less memory; jemalloc
was slower than glibc on both (results/allocators/, docs/speed.md). An allocator can only be swapped before the
process starts, so the command re-executes itself once with LD_PRELOAD set (apps/launcher.py). No torch here: this runs
first.
"""

from __future__ import annotations

import sys
from pathlib import Path

SETTING = "IMDB_SENTIMENT_ALLOCATOR"  # "tcmalloc" (default) or "system" to keep the C library's own
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                "/usr/local/lib")
LIBRARIES = {"jemalloc": "libjemalloc.so.2", "tcmalloc": "libtcmalloc_minimal.so.4"}


def find_library(name: str) -> str | None:
    """Path of allocator `name`'s shared library (Debian: libjemalloc2, libtcmalloc-minimal4), if installed."""
    found = [Path(d) / LIBRARIES[name] for d in LIBRARY_DIRS if (Path(d) / LIBRARIES[name]).exists()]
    return str(found[0]) if found else None


PRELOADED = ("tcmalloc", "jemalloc", "mimalloc")


def preloaded(environ: dict[str, str]) -> str | None:
    """The allocator LD_PRELOAD puts in front of the C library's, if any."""
    return next((name for name in PRELOADED if name in environ.get("LD_PRELOAD", "")), None)


def uses_openvino(argv: list[str]) -> bool:
    """Whether the command line asks for int8 (a model's, or a teacher's in its config file), which runs
    Transformers on OpenVINO. OpenVINO's CPU plugin aborts on its first use ("free(): invalid pointer") with a
    preloaded allocator: its libtbbbind frees memory with the C library's own free (openvinotoolkit/openvino#29025;
    here too, without that library it ran)."""
    options = dict(zip(argv, argv[1:] + [""]))
    options.update(a.split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    return (argv[:1] == ["export"] or options.get("--quantize") in ("int8", "auto")
            or options.get("--teacher_precision") == "int8" or _teacher_int8(options.get("--config")))


def _teacher_int8(config: str | None) -> bool:
    if not config or not Path(config).is_file():
        return False
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        distill = tomllib.loads(Path(config).read_text()).get("distill", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return False  # the command itself says what is wrong with the file
    cached = distill.get("logits_cache") and Path(distill["logits_cache"]).is_file()
    return distill.get("teacher_precision") == "int8" and not cached  # a cached teacher never runs


def preload_env(environ: dict[str, str], argv: list[str] = ()) -> dict[str, str] | None:
    """The environment to re-execute with so that tcmalloc is preloaded, or None where nothing should change: not
    Linux, opted out, already preloaded, not installed, or an int8 command (`uses_openvino`)."""
    if not sys.platform.startswith("linux") or environ.get(SETTING, "tcmalloc") != "tcmalloc":
        return None
    if preloaded(environ) or uses_openvino(list(argv)):
        return None  # an allocator chosen already (by the user or a benchmark), or one OpenVINO would crash under
    library = find_library("tcmalloc")
    if library is None:
        return None
    preload = ":".join(filter(None, [library, environ.get("LD_PRELOAD")]))
    # tcmalloc reports every allocation over 1 GB on stderr; a full-test batch of scores can be that large.
    return {**environ, "LD_PRELOAD": preload, "TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD": str(1 << 40)}
