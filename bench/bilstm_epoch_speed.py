"""One real training epoch of the BiLSTM per LSTM path, on the full training split: the whole-epoch counterpart of
bilstm_speed.py's 50 batches.

    python bench/bilstm_epoch_speed.py [--out results/bilstm/epoch_speed] [--allocators default tuned] [TRAIN FLAGS]

Each run is `imdb-sentiment train bilstm --config configs/bilstm_glove_head_tail.toml --max_epochs 1` with one
encoder, in its own process, with the same seed and so the same batches. "tuned" runs the process with
GLIBC_TUNABLES raising glibc's mmap and trim thresholds to 1 GB (what jemalloc or tcmalloc give): freed blocks are
reused instead of returned to the kernel and faulted back in as zeroed pages; "jemalloc" and "tcmalloc" preload those
allocators (bench/allocators.py, which times any command under each). The training epoch's seconds come from
the run's history.json (validation and the final test pass are not in them); peak memory and CPU time from the
operating system, for the whole process. Any other flag goes to `train bilstm`: `--max_train_samples 500` makes a
quick check, `--bucket_batches 0` times shuffled batches instead of length-bucketed ones. Needs IMDB_SENTIMENT_DATA
or --data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from allocators import allocator_env, run_measured  # bench/allocators.py, beside this script

ALLOCATORS = {"default": "glibc", "tuned": "glibc_tuned", "jemalloc": "jemalloc", "tcmalloc": "tcmalloc"}
ENCODERS = ("padded_exact", "packed")


def run_epoch(encoder: str, allocator: str, args) -> dict:
    run_dir = Path(args.runs) / f"epoch-speed-{encoder}-{allocator}"
    command = [sys.executable, "-m", "imdb_sentiment.apps.cli", "train", "bilstm", "--config", args.config,
               "--max_epochs", "1", "--num_threads", str(args.num_threads), "--encoder", encoder,
               "--variant", f"epoch_speed_{encoder}_{allocator}", "--output_dir", str(run_dir)]
    if args.data:
        command += ["--data", args.data]
    command += args.train_flags
    env = allocator_env(ALLOCATORS[allocator])
    if env is None:
        raise SystemExit(f"{allocator} is not installed here")
    print(f"[{time.strftime('%H:%M:%S')}] {encoder}, {allocator} allocator -> {run_dir}", flush=True)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    measured = run_measured(command, env, Path(f"{run_dir}.log"))
    epoch = json.loads((run_dir / "history.json").read_text())[0]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"encoder": encoder, "allocator": allocator, "epoch_seconds": epoch["epoch_seconds"],
            "val_accuracy": epoch["val_accuracy"], "process_seconds": measured["wall_seconds"],
            "peak_memory_mb": measured["peak_memory_mb"], "user_seconds": measured["user_seconds"],
            "system_seconds": measured["system_seconds"], "hardware": metrics["hardware"],
            "command": " ".join(command[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/bilstm_glove_head_tail.toml")
    parser.add_argument("--data", default=None, help="default: $IMDB_SENTIMENT_DATA")
    parser.add_argument("--num_threads", type=int, default=2)
    parser.add_argument("--allocators", nargs="+", choices=tuple(ALLOCATORS), default=["default", "tuned"],
                        help="glibc's defaults, glibc tuned (above), or jemalloc / tcmalloc preloaded")
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=list(ENCODERS))
    parser.add_argument("--runs", default="runs", help="where the run directories go")
    parser.add_argument("--out", default="results/bilstm/epoch_speed", help="summary.txt and summary.json go here")
    args, args.train_flags = parser.parse_known_args()

    results = [run_epoch(encoder, allocator, args) for allocator in args.allocators for encoder in args.encoders]
    from imdb_sentiment.core.runs import today

    lines = [f"one training epoch of {args.config}, {results[0]['hardware']}, {today()}",
             f"{'encoder':<14}{'allocator':<11}{'epoch s':>9}{'vs packed':>11}{'val acc':>9}{'peak MB':>9}"
             f"{'user s':>8}{'sys s':>7}"]
    for row in results:
        packed = next((r for r in results if r["allocator"] == row["allocator"] and r["encoder"] == "packed"), None)
        row["speedup_vs_packed"] = packed["epoch_seconds"] / row["epoch_seconds"] if packed else None
        versus = f"{row['speedup_vs_packed']:>10.2f}x" if packed else f"{'-':>11}"
        lines.append(f"{row['encoder']:<14}{row['allocator']:<11}{row['epoch_seconds']:>9.1f}"
                     f"{versus}{row['val_accuracy']:>9.4f}{row['peak_memory_mb']:>9}"
                     f"{row['user_seconds']:>8.0f}{row['system_seconds']:>7.0f}")
    print("\n".join(lines))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps({"date": today(), "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
