"""How far int8 can speed up a Transformer on this CPU: its measured speed-up at several review lengths, next to
the most it could reach while attention stays in floating point.

    pip install -e '.[int8]'
    python bench/int8_ceiling.py --run runs/minilm-l6-bf16 [--json results/inference/ceiling.json]
    python bench/int8_ceiling.py --quick        # a tiny DistilBERT: the code path in seconds, not the numbers

`--quantize int8` turns the Transformer's linear layers into int8 matrix multiplies but leaves attention (softmax of
query-key products, PyTorch's flash kernel) in floating point: torchao's int8 attention for x86 (qsdpa) needs AMX or a
kernel the PyPI wheel lacks. For each length the script times, on batches of `--batch_size` reviews of random tokens
(speed does not depend on which):

- the model in fp32, and as `--quantize int8` runs it (static int8, compiled, bf16 where the CPU has it);
- attention alone: every layer's scaled-dot-product attention on inputs of the model's shapes, as the int8 model
  runs it (bf16 if the CPU has it);

and once, the int8 peak: one `--peak_size`-cubed matrix multiply through the same code (quantize.py's
`calibrated_int8` and `CompiledInt8`).
The linear layers' floor is their operation count at that peak. `ceiling` = fp32 time / (attention + that floor):
the speed-up int8 would give if its matrix multiplies ran at the peak and everything else (layer norms, GELU,
quantizing activations, small-matrix inefficiency) took no time; `rest_ms` is what the int8 model spends beyond
attention and that floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inference_speed import tiny_transformer_run  # bench/, the script's own folder


def seconds_per_call(fn, repeats: int) -> float:
    fn()  # warm-up: compilation, kernel selection, allocations
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def int8_linear(in_features: int, out_features: int, tokens: int, bf16: bool):
    """One Linear layer in int8 as `--quantize int8` runs a Transformer's (quantize.py: calibrated, compiled),
    as a function of a (tokens, in) activation."""
    from imdb_sentiment.quantize import CompiledInt8, calibrated_int8

    layer, x = nn.Linear(in_features, out_features).eval(), torch.randn(tokens, in_features)
    with torch.no_grad():
        int8 = CompiledInt8(calibrated_int8(torch.export.export(layer, (x,)).module(), [((x,), {})]), bf16)
    return lambda: int8(x)


def linear_ops_per_token(model: nn.Module) -> int:
    """Multiply-adds x 2 of the encoder's Linear layers for one token (the classifier head is negligible)."""
    return sum(2 * m.in_features * m.out_features for name, m in model.named_modules()
               if isinstance(m, nn.Linear) and "classifier" not in name)


def int8_peak(bf16: bool, size: int, repeats: int) -> float:
    """Operations per second of one large int8 matrix multiply through the same recipe: what this machine's
    int8 kernels reach when nothing else is in the way."""
    return 2 * size ** 3 / seconds_per_call(int8_linear(size, size, size, bf16), repeats)


def one_length(model: nn.Module, int8, length: int, batch_size: int, repeats: int, bf16: bool, peak: float) -> dict:
    c = model.config
    heads, layers = c.num_attention_heads, c.num_hidden_layers
    ids = torch.randint(c.vocab_size, (batch_size, length))
    mask = torch.ones_like(ids)
    t_fp32 = seconds_per_call(lambda: model(input_ids=ids, attention_mask=mask), repeats)
    t_int8 = seconds_per_call(lambda: int8(ids, mask), repeats)
    q, k, v = (torch.randn(batch_size, heads, length, c.hidden_size // heads) for _ in range(3))
    additive_mask = torch.zeros(batch_size, 1, 1, length)
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
        t_attention = layers * seconds_per_call(
            lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=additive_mask), repeats)
    t_linear = linear_ops_per_token(model) * batch_size * length / peak
    return {"length": length, "batch_size": batch_size, "fp32_ms": 1000 * t_fp32, "int8_ms": 1000 * t_int8,
            "speedup": t_fp32 / t_int8, "attention_ms": 1000 * t_attention, "int8_linear_floor_ms": 1000 * t_linear,
            "rest_ms": 1000 * (t_int8 - t_attention - t_linear), "ceiling": t_fp32 / (t_attention + t_linear),
            "attention_share_of_int8": t_attention / t_int8}


def measure(run: str, lengths: list[int], batch_size: int, repeats: int, peak_size: int) -> dict:
    from imdb_sentiment import runs
    from imdb_sentiment.predict import load_predictor

    model = load_predictor(run, batch_size).model.eval()
    int8 = load_predictor(run, batch_size, quantize="int8").int8
    bf16 = runs.cpu_has_bf16()
    with torch.inference_mode():
        peak = int8_peak(bf16, peak_size, repeats)
        print(f"int8 peak ({peak_size}^3 matrix multiply): {peak / 1e9:.0f} GOPS", flush=True)
        rows = []
        for length in lengths:
            rows.append(one_length(model, int8, length, batch_size, repeats, bf16, peak))
            print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()),
                  flush=True)
    return {"int8_peak_gops": peak / 1e9, "peak_size": peak_size, "bf16": bf16, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a Transformer run directory")
    parser.add_argument("--lengths", default="64,128,256", help="tokens per review, comma-separated")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peak_size", type=int, default=4096, help="side of the matrices timed for the int8 peak")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from imdb_sentiment import runs

    if args.quick:
        import tempfile

        args.run, args.lengths, args.batch_size, args.repeats, args.peak_size = (
            tiny_transformer_run(Path(tempfile.mkdtemp())), "16", 4, 1, 256)
    if not args.run:
        parser.error("--run is required (or --quick)")
    start = time.perf_counter()
    result = measure(args.run, [int(n) for n in args.lengths.split(",")], args.batch_size, args.repeats,
                     args.peak_size)
    result = {"run": args.run, "threads": args.threads, **result, "hardware": runs.hardware(), "date": runs.today(),
              "seconds": time.perf_counter() - start, "command": " ".join(["python", *sys.argv])}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    last = result["rows"][-1]
    print(f"ceiling_at_{last['length']}={last['ceiling']:.2f}")


if __name__ == "__main__":
    main()
