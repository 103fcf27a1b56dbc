"""Time the BiLSTM's three LSTM paths on the same batches: packed, padded-exact and naive.

    python bench/bilstm_speed.py [--quick] [--data PATH] [--one_process] [--json results/bilstm/speed.json]

Batches come from real IMDB reviews (length-bucketed in pools of 50 batches, as training makes them) when a dataset
is given by --data or $IMDB_SENTIMENT_DATA, else from synthetic lengths shaped like IMDB's. Each path runs in a fresh
process, as training would run it: in one shared process the packed path's allocations leave glibc's heap grown, and
the padded kernel then page-faults half as often and runs about 10% faster than it does alone (--one_process
measures that way, interleaving the paths batch by batch). The last line is
`speedup_vs_packed=<training-step speed-up of padded_exact>`. bilstm_epoch_speed.py times a whole training epoch of
each path instead: slower to run, a larger sample.

Training steps are also split by batch kind. When every review in a batch has the same length (at the default
max length, the batches of reviews truncated to 256 tokens), PyTorch runs packed input through the same oneDNN
kernel as padded input, so an encoder can gain little there. On mixed lengths it falls back to a per-step loop whose
backward zero-fills the whole precomputed input projection at every step (pytorch/pytorch#149194), so its cost
grows with the square of the length.

Against the hardware: the padded-exact training step's achieved GFLOP/s counts the LSTM's matrix multiplies
(forward 2 directions x 2*4H*(E+H) per token; backward twice the forward), on the real tokens and on the padded
positions the kernel actually runs, next to fp32 matmul peaks measured in the same run: a large square matmul (what
the cores can do) and one of the recurrent step's own shape, (batch, H) x (H, 4H). --profile adds where a
padded-exact step's time goes, by operator (torch.profiler).

--raise_malloc_thresholds makes glibc keep freed blocks of up to 1 GB for reuse instead of returning every block
over 32 MB to the kernel, which is what jemalloc or tcmalloc (PyTorch's CPU tuning guide) give. It shows how much
of each path's time is the allocator's: the packed path, with its many per-step buffers, gains the most.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import multiprocessing
import os
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F

from imdb_sentiment.core.config import BiLSTMTrainArgs
from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import today
from imdb_sentiment.core.text import Vocab, tokenize
from imdb_sentiment.models.batches import EncodedReviews, LengthBucketSampler, encode_texts, pad_collate
from imdb_sentiment.models.bilstm import BiLSTMClassifier

MODES = ("packed", "padded_exact", "naive")


def make_batches(n_batches: int, batch_size: int, max_length: int, vocab_size: int, data: str | None, seed: int,
                 bucket_batches: int):
    rng = np.random.default_rng(seed)
    n = n_batches * batch_size
    if data:
        from imdb_sentiment.core.data import load_imdb, stratified_sample

        reviews = stratified_sample(load_imdb(data, allow_partial=True)["train"], n, seed)
        vocab = Vocab.build((tokenize(t) for t in reviews.texts), vocab_size - 2)
        ids = encode_texts(reviews.texts, vocab, max_length)
        source = f"{len(reviews)} IMDB train reviews from {data}"
    else:
        # IMDB reviews run to about 280 tokens on average with a long tail; a log-normal with that shape.
        lengths = np.clip(rng.lognormal(5.4, 0.6, size=n).astype(int), 10, max_length)
        ids = [rng.integers(2, vocab_size, size=length).tolist() for length in lengths]
        source = f"{n} synthetic reviews with IMDB-like lengths"
    dataset = EncodedReviews(ids, rng.integers(0, 2, size=len(ids)))
    sampler = LengthBucketSampler(dataset.lengths, batch_size, shuffle=True, bucket_batches=bucket_batches, seed=seed)
    return [pad_collate([dataset[i] for i in batch]) for batch in sampler], source


def raise_glibc_malloc_thresholds() -> bool:
    """True where glibc accepted the new mmap and trim thresholds (mallopt parameters -3 and -1 of malloc.h)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(-3, 1 << 30) and mallopt(-1, (1 << 31) - 1))


def time_step(model, optimizer, batch, train: bool) -> float:
    start = time.perf_counter()
    if train:
        loss = F.binary_cross_entropy_with_logits(model(batch["input_ids"], batch["lengths"]), batch["labels"].float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    else:
        with torch.no_grad():
            model(batch["input_ids"], batch["lengths"])
    return time.perf_counter() - start


def time_modes(modes, batches, hidden_size: int, raise_malloc_thresholds: bool) -> dict:
    """{(mode, train): seconds per batch}, the modes interleaved batch by batch on one model in this process."""
    if raise_malloc_thresholds:  # per process: the setting does not cross into a spawned one
        raise_glibc_malloc_thresholds()
    torch.manual_seed(0)
    model = BiLSTMClassifier(25_002, 50, hidden_size, dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds = {(mode, train): [] for mode in modes for train in (True, False)}
    for mode in modes:  # warm-up: first calls pay for allocation
        if mode != "packed":  # too slow for that to matter
            model.encoder.mode = mode
            time_step(model.train(), optimizer, batches[0], train=True)
    for batch in batches:
        for train in (True, False):
            for mode in modes:
                model.encoder.mode = mode
                model.train(train)
                seconds[mode, train].append(time_step(model, optimizer, batch, train))
    return seconds


def lstm_step_flops(batches, embedding_dim: int, hidden_size: int, padded: bool) -> float:
    """Matrix-multiply FLOPs of the BiLSTM's training steps on `batches`: input and recurrent projections of both
    directions, forward once and backward twice (gradients of the inputs and of the weights)."""
    tokens = sum(b["input_ids"].numel() if padded else int(b["lengths"].sum()) for b in batches)
    per_token_forward = 2 * 2 * 4 * hidden_size * (embedding_dim + hidden_size)
    return 3 * per_token_forward * tokens


def matmul_gflops(m: int, k: int, n: int, seconds: float = 2.0) -> float:
    """fp32 GFLOP/s of repeated (m, k) x (k, n) products with torch's threads, after a warm-up."""
    a, b, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
    for _ in range(3):
        torch.mm(a, b, out=out)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        count += 1
    return 2 * m * k * n * count / (time.perf_counter() - start) / 1e9


def profile_padded_exact(batches, hidden_size: int, steps: int = 5, top: int = 12) -> list[dict]:
    """Self CPU time of a few padded-exact training steps by operator, largest first."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = BiLSTMClassifier(25_002, 50, hidden_size, dropout=0.5).train()
    model.encoder.mode = "padded_exact"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    time_step(model, optimizer, batches[0], train=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches[:steps]:
            time_step(model, optimizer, batch, train=True)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "calls": e.count, "self_seconds": e.self_cpu_time_total / 1e6,
             "share": e.self_cpu_time_total / total} for e in events[:top]]


def print_against_hardware(batches, seconds, hidden_size: int, batch_size: int, results: dict) -> None:
    """Achieved GFLOP/s of the padded-exact training step next to matmul peaks measured now; add to `results`."""
    step_seconds = sum(seconds["padded_exact", True])
    achieved = {kind: lstm_step_flops(batches, 50, hidden_size, padded=kind == "padded") / step_seconds / 1e9
                for kind in ("real", "padded")}
    peaks = {"square 2048": matmul_gflops(2048, 2048, 2048),
             f"recurrent ({batch_size}, {hidden_size}) x ({hidden_size}, {4 * hidden_size})":
                 matmul_gflops(batch_size, hidden_size, 4 * hidden_size)}
    square = peaks["square 2048"]
    print("\nagainst the hardware (fp32, torch's threads)")
    print(f"padded-exact training step: {achieved['padded']:.1f} GFLOP/s run ({achieved['real']:.1f} on real tokens)")
    for name, gflops in peaks.items():
        print(f"matmul peak, {name}: {gflops:.1f} GFLOP/s; the step runs at {achieved['padded'] / gflops:.0%} of it")
    results["against_hardware"] = {"padded_exact_train_gflops": achieved["padded"],
                                   "padded_exact_train_gflops_real_tokens": achieved["real"],
                                   "matmul_peak_gflops": peaks, "share_of_square_peak": achieved["padded"] / square}


def in_fresh_process(function, *args):
    pool = multiprocessing.get_context("spawn").Pool(1)
    try:
        return pool.apply(function, args)
    finally:
        pool.close()
        pool.join()


def print_by_batch_kind(batches, seconds, results) -> None:
    """Print training steps split into equal-length and mixed-length batches; add them to `results`."""
    equal_length = [len(set(b["lengths"].tolist())) == 1 for b in batches]
    print("\ntraining step by batch kind")
    print(f"{'batches':<30}{'count':>6}{'packed s':>10}{'exact s':>9}{'vs packed':>11}")
    results["train_by_batch_kind"] = {}
    for kind, wanted in (("equal lengths", True), ("mixed lengths", False)):
        picked = [i for i, equal in enumerate(equal_length) if equal == wanted]
        if not picked:
            continue
        packed, exact = (sum(seconds[mode, True][i] for i in picked) for mode in ("packed", "padded_exact"))
        row = results["train_by_batch_kind"][kind] = {
            "batches": len(picked), "packed_seconds_per_batch": packed / len(picked),
            "padded_exact_seconds_per_batch": exact / len(picked), "speedup_vs_packed": packed / exact}
        print(f"{kind:<30}{row['batches']:>6}{row['packed_seconds_per_batch']:>10.3f}"
              f"{row['padded_exact_seconds_per_batch']:>9.3f}{row['speedup_vs_packed']:>10.1f}x")
    results["train_per_batch"] = [
        {"min_length": int(b["lengths"].min()), "max_length": int(b["lengths"].max()),
         **{mode: seconds[mode, True][i] for mode in MODES}} for i, b in enumerate(batches)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one synthetic batch of 32 reviews: under 40 s")
    parser.add_argument("--data", default=os.environ.get("IMDB_SENTIMENT_DATA"))
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--hidden_size", type=int, default=256)
    parser.add_argument("--max_length", type=int, default=256)
    parser.add_argument("--bucket_batches", type=int, default=BiLSTMTrainArgs.bucket_batches,
                        help="length-sorted pool size, as in training; 0: shuffled batches, as a plain DataLoader "
                             "makes them (each still trimmed to its longest review)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--raise_malloc_thresholds", action="store_true",
                        help="let glibc reuse freed blocks of up to 1 GB (see above)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile a few padded-exact training steps by operator (see above)")
    parser.add_argument("--one_process", action="store_true",
                        help="time every path in this process, interleaved batch by batch (see above)")
    args = parser.parse_args()
    # Checked here, not in the timing process: a SystemExit there would leave the pool waiting for it forever.
    if args.raise_malloc_thresholds and not raise_glibc_malloc_thresholds():
        parser.error("--raise_malloc_thresholds needs glibc's mallopt")
    malloc = "glibc mmap/trim thresholds raised to 1 GB" if args.raise_malloc_thresholds else "glibc defaults"
    if args.quick:
        args.batches, args.batch_size, args.data = 1, 32, None
    batches, source = make_batches(args.batches, args.batch_size, args.max_length, 25_002, args.data, seed=0,
                                   bucket_batches=args.bucket_batches)
    timing = (batches, args.hidden_size, args.raise_malloc_thresholds)
    if args.one_process:
        seconds = time_modes(MODES, *timing)
    else:
        seconds = {key: value for mode in MODES for key, value in in_fresh_process(time_modes, [mode], *timing).items()}

    reviews = sum(len(b["lengths"]) for b in batches)
    tokens = sum(int(b["lengths"].sum()) for b in batches)
    padded = sum(b["input_ids"].numel() for b in batches)
    batching = f"length-bucketed in pools of {args.bucket_batches}" if args.bucket_batches > 0 else "shuffled"
    print(f"{source}; {len(batches)} {batching} batches of {args.batch_size}, hidden {args.hidden_size}, "
          f"max length {args.max_length}; padding is {1 - tokens / padded:.1%} of the batches")
    machine = hardware()
    processes = "all paths in one process" if args.one_process else "one process per path"
    print(f"hardware: {machine}; allocator: {malloc}; {processes}")
    results = {"source": source, "batches": len(batches), "batch_size": args.batch_size,
               "hidden_size": args.hidden_size, "max_length": args.max_length, "batching": batching,
               "hardware": machine, "malloc": malloc, "processes": processes, "date": today(), "modes": {}}
    for train, label in ((True, "training step (forward+backward+Adam)"), (False, "inference (forward)")):
        print(f"\n{label}")
        print(f"{'mode':<14}{'s/batch':>10}{'reviews/s':>12}{'vs packed':>11}")
        packed = sum(seconds["packed", train])
        for mode in MODES:
            total = sum(seconds[mode, train])
            print(f"{mode:<14}{total / len(batches):>10.3f}{reviews / total:>12.1f}{packed / total:>10.1f}x")
            results["modes"].setdefault(mode, {})["train" if train else "inference"] = {
                "seconds_per_batch": total / len(batches), "reviews_per_second": reviews / total,
                "speedup_vs_packed": packed / total}
    print_by_batch_kind(batches, seconds, results)
    print_against_hardware(batches, seconds, args.hidden_size, args.batch_size, results)
    if args.profile:
        results["padded_exact_profile"] = in_fresh_process(profile_padded_exact, batches, args.hidden_size)
        print("\nwhere a padded-exact training step's time goes (self CPU time, 5 steps)")
        for row in results["padded_exact_profile"]:
            print(f"{row['op']:<48}{row['calls']:>7}{row['self_seconds']:>9.2f} s{row['share']:>7.1%}")
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    results["peak_memory_mb"] = max(u.ru_maxrss for u in usage) // 1024  # of the largest process; Linux reports KB
    results["cpu_seconds"] = {"user": sum(u.ru_utime for u in usage), "system": sum(u.ru_stime for u in usage)}
    print(f"\npeak memory {results['peak_memory_mb']} MB; CPU time {results['cpu_seconds']['user']:.1f} s user, "
          f"{results['cpu_seconds']['system']:.1f} s system")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(f"speedup_vs_packed={results['modes']['padded_exact']['train']['speedup_vs_packed']:.2f}")


if __name__ == "__main__":
    main()
