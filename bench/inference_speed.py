"""Inference in fp32, bf16 (CPU autocast) and int8 (`--quantize int8`, src/imdb_sentiment/quantize.py): accuracy
and speed, one process each.

    python bench/inference_speed.py --run runs/minilm-l6-bf16 --run runs/bilstm-distilled --out results/inference
    python bench/inference_speed.py --quick     # a tiny DistilBERT and BiLSTM on 200 reviews, in about a minute
    python bench/inference_speed.py --run builtin --max_isa AVX2 ...  # an AVX-512 CPU running AVX2 kernels

For each run and precision, in a fresh process (so no variant warms the caches of another): P(positive) on
`--accuracy_reviews` test reviews (all 25,000 by default), then throughput at batch 64 over the same `--reviews`
random test reviews for every variant, and latency one review at a time over the first 100 of them. McNemar's test
compares each variant's predictions with fp32's on the same reviews. Tokenizing the timed reviews is then timed
alone: no precision speeds it up, so `speedup_after_tokenizing` compares the rest of the time. The last line
printed is `int8_speedup=<Transformer int8 throughput over fp32>`.

`--max_isa AVX2` caps the instruction sets the kernels may use (oneDNN's ONEDNN_MAX_CPU_ISA, PyTorch's
ATEN_CPU_CAPABILITY, MKL's MKL_ENABLE_INSTRUCTIONS), so that a CPU with AVX-512 runs what a CPU with AVX2 alone
would. It is an approximation of that CPU, not a measurement on one: OpenVINO's own kernels (its layer norm, for one)
keep AVX-512 in release builds, and the core, its caches and its clock stay this CPU's. Each row's `hardware` says
when it ran capped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

VARIANTS = ("fp32", "bf16", "int8")
BATCH_SIZE = 64  # for every kind of run (a Transformer predictor's own default is 32)


def measure(run: str, variant: str, accuracy_reviews: int | None, reviews: int, threads: int, seed: int) -> dict:
    """One variant of one run, in this process."""
    import torch

    from imdb_sentiment.core import hardware, runs
    from imdb_sentiment.core.data import splits_for, stratified_sample
    from imdb_sentiment.inference.predictors import load_predictor

    torch.set_num_threads(threads)
    start = time.perf_counter()
    predictor = load_predictor(run, BATCH_SIZE, quantize="int8" if variant == "int8" else None)
    load_s = time.perf_counter() - start  # int8: building or reading its cache, and compiling
    context = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if variant == "bf16" else nullcontext
    test = splits_for(predictor.cfg)["test"]
    scored = stratified_sample(test, accuracy_reviews, seed)
    with context():
        probs = np.array([r.p_positive for r in predictor.predict(scored.texts, progress=True)])
        correct = (probs >= 0.5) == scored.labels.astype(bool)
        accuracy = {"run": run, "kind": predictor.kind, "variant": variant, "reviews_scored": len(scored),
                    "ids_fingerprint": scored.fingerprint(), "correct": correct.tolist(),
                    "accuracy": float(correct.mean()), "load_s": load_s, "hardware": hardware.hardware(),
                    "date": runs.today()}
        if not reviews:  # accuracy only: a long scoring run whose speed would be a second, noisier measurement
            return {**accuracy, "throughput": None, "latency_p50_ms": None, "latency_p95_ms": None}
        rng = np.random.default_rng(seed)
        sample = [test.texts[i] for i in rng.choice(len(test), size=min(reviews, len(test)), replace=False)]
        predictor.predict(sample[:64])  # warm-up: the first batch pays for allocations and kernel selection
        start = time.perf_counter()
        predictor.predict(sample)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        predictor._encode(sample)  # the share of those seconds that no precision changes: tokenizing
        encode_seconds = time.perf_counter() - start
        latencies = []
        for text in sample[:100]:
            start = time.perf_counter()
            predictor.predict([text])
            latencies.append(1000 * (time.perf_counter() - start))
    return {**accuracy, "throughput": len(sample) / seconds, "seconds": seconds, "encode_seconds": encode_seconds,
            "latency_p50_ms": float(np.percentile(latencies, 50)), "latency_p95_ms": float(np.percentile(latencies, 95))}


def isa_cap_environment(max_isa: str | None) -> dict[str, str]:
    """The environment that caps oneDNN, PyTorch's own kernels and MKL at `max_isa` (a ONEDNN_MAX_CPU_ISA value)."""
    if not max_isa:
        return dict(os.environ)
    family = "AVX512" if max_isa.upper().startswith("AVX512") else "AVX2"
    return {**os.environ, "ONEDNN_MAX_CPU_ISA": max_isa.upper(), "ATEN_CPU_CAPABILITY": family.lower(),
            "MKL_ENABLE_INSTRUCTIONS": family}


def in_subprocess(run: str, variant: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, __file__, "--one", run, variant, out.name, "--reviews", str(args.reviews),
                        "--threads", str(args.threads), "--seed", str(args.seed),
                        *(["--accuracy_reviews", str(args.accuracy_reviews)] if args.accuracy_reviews else [])],
                       check=True, env=isa_cap_environment(args.max_isa))
        return json.loads(Path(out.name).read_text())


SMALL = {"data.max_train_samples": 200, "data.max_eval_samples": 200}


def tiny_transformer_run(work: Path, steps: int = 10) -> str:
    """A tiny DistilBERT (vocabulary learned from 200 training reviews) fine-tuned for `steps` steps: a Transformer
    run in seconds, for the code path, not the numbers."""
    from imdb_sentiment.core.config import TransformerConfig
    from imdb_sentiment.core.data import load_splits
    from imdb_sentiment.core.fields import load_config
    from imdb_sentiment.models.transformer import build_tiny_distilbert
    from imdb_sentiment.training.transformer import train_transformer

    texts = load_splits(max_train_samples=200)["train"].texts
    tiny = build_tiny_distilbert(texts, work / "tiny-distilbert", max_position_embeddings=128)
    return str(train_transformer(load_config(TransformerConfig, overrides={
        **SMALL, "model.model_name": str(tiny), "model.max_length": 128, "train.output_dir": str(work / "transformer"),
        "train.max_steps": steps})))


def quick_runs(work: Path) -> list[str]:
    """A tiny DistilBERT and BiLSTM trained for seconds on 200 reviews: the code path, not the numbers."""
    from imdb_sentiment.core.config import BiLSTMConfig
    from imdb_sentiment.core.fields import load_config
    from imdb_sentiment.training.bilstm import train_bilstm

    transformer = tiny_transformer_run(work)
    bilstm = train_bilstm(load_config(BiLSTMConfig, overrides={
        **SMALL, "model.embeddings": "random", "model.hidden_size": 64, "train.max_epochs": 1,
        "train.output_dir": str(work / "bilstm")}))
    return [transformer, str(bilstm)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", dest="runs", default=[])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--accuracy_reviews", type=int, help="stratified test reviews scored (default: all)")
    parser.add_argument("--reviews", type=int, default=2000, help="random test reviews timed (0: accuracy only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max_isa", help="run the kernels of an older CPU: a ONEDNN_MAX_CPU_ISA value, e.g. AVX2")
    parser.add_argument("--out", help="folder for inference.json and inference.md")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # RUN VARIANT OUT: one measurement, internal
    args = parser.parse_args()
    if args.one:
        run, variant, out = args.one
        Path(out).write_text(json.dumps(measure(run, variant, args.accuracy_reviews, args.reviews, args.threads,
                                                args.seed)))
        return

    from imdb_sentiment.core.stats import mcnemar

    work = Path(tempfile.mkdtemp(prefix="inference-"))
    if args.quick:
        args.runs, args.accuracy_reviews, args.reviews = quick_runs(work), 200, 200
    from imdb_sentiment.core.hardware import cpu_features, cpu_has_bf16

    if args.max_isa:  # this process decides what to skip as the capped ones will run
        os.environ.update(isa_cap_environment(args.max_isa))
    variants = args.variants.split(",")
    if "bf16" in variants and not cpu_has_bf16():
        # oneDNN has no bf16 LSTM without native bf16 ("could not create a primitive descriptor"), and emulated
        # bf16 elsewhere would only measure the emulation.
        cap = f"; kernels capped at {args.max_isa.upper()}" if args.max_isa else ""
        print(f"skipping bf16: this CPU has neither AVX-512 BF16 nor AMX (it has {', '.join(cpu_features())}{cap})")
        variants.remove("bf16")
    rows = []
    for run in args.runs:
        by_variant = {v: in_subprocess(run, v, args) for v in variants}
        base = by_variant.get("fp32")
        for variant, row in by_variant.items():
            if base is not None:
                row["speedup"] = row["throughput"] / base["throughput"] if row["throughput"] else None
                if row["throughput"]:  # what the precision changes: the time after tokenizing
                    row["speedup_after_tokenizing"] = ((base["seconds"] - base["encode_seconds"])
                                                       / (row["seconds"] - row["encode_seconds"]))
                row["accuracy_change_points"] = 100 * (row["accuracy"] - base["accuracy"])
                row["mcnemar_p_vs_fp32"] = 1.0 if variant == "fp32" else mcnemar(row["correct"], base["correct"])["p_value"]
        for row in by_variant.values():
            del row["correct"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = ["| run | variant | accuracy | vs fp32 (points, McNemar p) | reviews/s (batch 64) | speedup | "
             "after tokenizing | latency p50 / p95 ms |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = (f"{r['throughput']:.1f} | {r.get('speedup', 1):.2f}x | {r.get('speedup_after_tokenizing', 1):.2f}x | "
                 f"{r['latency_p50_ms']:.1f} / {r['latency_p95_ms']:.1f}") if r["throughput"] else "not timed | | | "
        lines.append(f"| {Path(r['run']).name} | {r['variant']} | {r['accuracy']:.2%} ({r['reviews_scored']:,}) | "
                     f"{r.get('accuracy_change_points', 0):+.2f}, p = {r.get('mcnemar_p_vs_fp32', 1):.2g} | "
                     f"{speed} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "inference.json").write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "rows": rows},
                                                       indent=2) + "\n")
        (out / "inference.md").write_text(table + "\n")
    transformer = {r["variant"]: r for r in rows if r["kind"] == "transformer"}
    if "int8" in transformer and "fp32" in transformer and transformer["fp32"]["throughput"]:
        print(f"int8_speedup={transformer['int8']['throughput'] / transformer['fp32']['throughput']:.2f}")


if __name__ == "__main__":
    main()
