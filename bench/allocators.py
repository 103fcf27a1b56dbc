"""One command under each memory allocator, each in its own process: glibc's defaults, glibc with its mmap and trim
thresholds raised to 1 GB, jemalloc and tcmalloc (preloaded with LD_PRELOAD where installed; Debian:
`libjemalloc2`, `libtcmalloc-minimal4`). PyTorch's CPU tuning guide recommends the last two.

    python bench/allocators.py --out results/allocators/bilstm_epoch [--metric history.json:0.epoch_seconds] \
        -- imdb-sentiment train bilstm ... --output_dir runs/alloc-{allocator}

`{allocator}` in the command becomes each allocator's name, so every process writes its own files. For each one:
wall time, user and system CPU time and peak memory from the operating system (the whole process, start-up and
data loading included), and, with --metric FILE:PATH, one number the command wrote into a JSON file (FILE, with
{allocator} filled in; PATH, dot-separated keys or list indices), e.g. the epoch's own seconds without start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

# torch-free: a child forked from a parent that holds torch counts the parent's pages in its peak memory
from imdb_sentiment.core.allocator import LIBRARIES, SETTING, find_library

TUNED_GLIBC = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=2147483647"


def allocator_env(name: str) -> dict[str, str] | None:
    """Environment variables that make a process use allocator `name`; None where it is not installed. The
    imdb-sentiment command is told to keep it (it would otherwise preload tcmalloc itself)."""
    if name in ("glibc", "glibc_tuned"):
        return {SETTING: "system", **({"GLIBC_TUNABLES": TUNED_GLIBC} if name == "glibc_tuned" else {})}
    library = find_library(name)
    return {SETTING: "system", "LD_PRELOAD": library} if library else None


def run_measured(command: list[str], env: dict[str, str], log: Path) -> dict:
    """Run `command` with `env` added; its wall, user and system seconds and peak memory (MB)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {log}")
    return {"wall_seconds": time.perf_counter() - start, "user_seconds": usage.ru_utime,
            "system_seconds": usage.ru_stime, "peak_memory_mb": usage.ru_maxrss // 1024}


def read_metric(spec: str, allocator: str) -> float:
    file, path = spec.replace("{allocator}", allocator).split(":", 1)
    value = json.loads(Path(file).read_text())
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--allocators", nargs="+", default=["glibc", "glibc_tuned", "jemalloc", "tcmalloc"],
                        choices=("glibc", "glibc_tuned", "jemalloc", "tcmalloc"))
    parser.add_argument("--metric", help="FILE:PATH of one number the command writes (see above)")
    parser.add_argument("--higher_is_better", action="store_true", help="the metric is a rate, not seconds")
    parser.add_argument("--out", required=True, help="folder for summary.txt, summary.json and the logs")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to time after --")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for allocator in args.allocators:
        env = allocator_env(allocator)
        if env is None:
            print(f"{allocator}: not installed, skipped ({LIBRARIES[allocator]})", flush=True)
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {allocator} {env}", flush=True)
        filled = [part.replace("{allocator}", allocator) for part in command]
        row = {"allocator": allocator, "env": env,
               **run_measured(filled, env, out / f"{allocator}.log")}
        if args.metric:
            row["metric"] = read_metric(args.metric, allocator)
        rows.append(row)

    from imdb_sentiment.core.hardware import hardware
    from imdb_sentiment.core.runs import today

    base = rows[0]
    key = "metric" if args.metric else "wall_seconds"
    lines = [f"$ {' '.join(command)}", f"{hardware()}, {today()}; speed-up of {args.metric or 'wall time'} over "
             f"{base['allocator']}",
             f"{'allocator':<13}{'metric':>9}{'wall s':>9}{'user s':>9}{'sys s':>8}{'peak MB':>9}{'speed-up':>10}"]
    for row in rows:
        ratio = row[key] / base[key]
        row["speedup"] = ratio if args.higher_is_better else 1 / ratio
        metric = f"{row['metric']:>9.4g}" if args.metric else f"{'-':>9}"
        lines.append(f"{row['allocator']:<13}{metric}{row['wall_seconds']:>9.1f}{row['user_seconds']:>9.1f}"
                     f"{row['system_seconds']:>8.1f}{row['peak_memory_mb']:>9}{row['speedup']:>9.2f}x")
    print("\n".join(lines))
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps({"command": command, "metric": args.metric, "hardware": hardware(),
                                                  "date": today(), "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
