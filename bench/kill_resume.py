"""Kill training at random and resume until it finishes; the result must equal an uninterrupted run.

    python bench/kill_resume.py --runs 20 --out results/reliability/kill_resume.json
    python bench/kill_resume.py --model transformer --runs 10 --out results/reliability/kill_resume_transformer.json

A small BiLSTM (a few hundred reviews, 3 epochs), or a tiny DistilBERT checkpointing every 5 steps, is trained once without interruption, then `--runs` times with a
SIGKILL at a random moment, followed by `--resume`, again and again until the run finishes. Every finished run's
history (train loss and accuracy, validation loss and accuracy per epoch) and test metrics are compared with the
reference, exactly and to a tolerance. A kill that lands after metrics.json was written, while the process exits,
is counted apart: it interrupts nothing.

Random times mostly hit start-up (imports, tokenizing) when training itself takes a second, as the tiny Transformer's
does: `--kill_at checkpoint` instead kills each start at a random moment (up to --kill_delay) after the next
checkpoint is written, so every start dies inside training and the kills walk through every checkpoint, epoch
boundaries included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "bilstm": ["--max_train_samples", "400", "--max_eval_samples", "200", "--embeddings", "random",
               "--embedding_dim", "16", "--hidden_size", "32", "--max_length", "64", "--max_epochs", "3",
               "--patience", "3", "--num_threads", "1"],
    # A checkpoint every 5 of the 25 steps per epoch, so kills land between checkpoints inside an epoch too.
    "transformer": ["--max_train_samples", "200", "--max_eval_samples", "100", "--max_length", "64",
                    "--num_epochs", "2", "--batch_size", "8", "--eval_batch_size", "32", "--learning_rate", "1e-3",
                    "--save_steps", "5", "--patience", "2", "--num_threads", "1"],
}
COMPARED = {"bilstm": ("train_loss", "train_accuracy", "val_loss", "val_accuracy"),
            "transformer": ("epoch", "train_loss", "val_loss", "val_accuracy")}


def command(model: str, out: Path, resume: bool, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "imdb_sentiment.apps.cli", "train", model, "--output_dir", str(out), *SETTINGS[model],
            *extra, *(["--resume"] if resume else [])]


def outcome(model: str, out: Path) -> dict:
    history = json.loads((out / "history.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return {"history": [{k: row[k] for k in COMPARED[model]} for row in history],
            "test": {k: metrics[k] for k in ("test_accuracy", "test_roc_auc", "best_epoch") if k in metrics}}


def tiny_transformer(work: Path) -> list[str]:
    """A tiny DistilBERT with a WordPiece vocabulary learned from the training reviews, as in the unit tests."""
    from imdb_sentiment.core.data import load_splits
    from imdb_sentiment.models.transformer import build_tiny_distilbert

    texts = load_splits(max_train_samples=200)["train"].texts
    return ["--model_name", str(build_tiny_distilbert(texts, work / "tiny-distilbert", max_position_embeddings=64))]


def checkpoint_position(out: Path) -> int:
    """How far the newest complete checkpoint in `out` is: the Trainer's step, or the BiLSTM's epoch."""
    steps = [int(p.parent.name.rsplit("-", 1)[1]) for p in out.glob("checkpoints/checkpoint-*/trainer_state.json")]
    try:
        steps.append(json.loads((out / "checkpoint" / "trainer_state.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):  # none yet, or caught mid-write
        pass
    return max(steps, default=0)


def next_checkpoint(process, out: Path, after: int) -> int | None:
    """Wait until `out` holds a complete checkpoint past `after`; its position, or None if the process ended."""
    while process.poll() is None:
        if (reached := checkpoint_position(out)) > after:
            return reached
        time.sleep(0.002)
    return None


def close(a, b, tol: float) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    return abs(a - b) <= tol * max(1.0, abs(a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(SETTINGS), default="bilstm")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--work_dir", default="runs/kill_resume")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/reliability/kill_resume.json")
    parser.add_argument("--kill_at", choices=("time", "checkpoint"), default="time",
                        help="a random time after start, or a random moment after the next checkpoint (see above)")
    parser.add_argument("--kill_delay", type=float, default=0.1, help="seconds after a checkpoint, at most")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)

    extra = tiny_transformer(work) if args.model == "transformer" else []
    start = time.perf_counter()
    subprocess.run(command(args.model, work / "reference", False, extra), check=True, capture_output=True)
    reference_seconds = time.perf_counter() - start
    reference = outcome(args.model, work / "reference")
    rows = []
    for i in range(args.runs):
        out, kills, late_kills, starts, last_checkpoint = work / f"run-{i}", 0, 0, 0, 0
        while not (out / "metrics.json").exists():
            process = subprocess.Popen(command(args.model, out, starts > 0, extra), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            starts += 1
            try:
                if args.kill_at == "checkpoint":
                    reached = next_checkpoint(process, out, last_checkpoint)
                    if reached is None:  # finished without writing another checkpoint
                        process.wait()
                        continue
                    last_checkpoint = reached
                    process.wait(timeout=rng.uniform(0, args.kill_delay))
                else:
                    process.wait(timeout=rng.uniform(0.5, reference_seconds))
            except subprocess.TimeoutExpired:
                finished = (out / "metrics.json").exists()  # killed while the process was exiting
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                kills += not finished
                late_kills += finished
            if starts > 50:
                raise SystemExit(f"{out}: not finished after 50 starts")
        got = outcome(args.model, out)
        rows.append({"run": i, "kills": kills, "kills_after_metrics": late_kills, "starts": starts, "identical": got == reference,
                     "within_1e-6": close(got, reference, 1e-6)})
        print(rows[-1], flush=True)
    summary = {"runs": len(rows), "kills": sum(r["kills"] for r in rows),
               "kills_after_metrics": sum(r["kills_after_metrics"] for r in rows),
               "identical": sum(r["identical"] for r in rows), "within_1e-6": sum(r["within_1e-6"] for r in rows),
               "reference_seconds": round(reference_seconds, 1), "model": args.model,
               "kill_at": args.kill_at, "settings": SETTINGS[args.model] + extra, "per_run": rows,
               "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d")}
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    print({k: v for k, v in summary.items() if k != "per_run"})


if __name__ == "__main__":
    main()
